"""Quotas over real HTTP: concurrent uploads never store more than the quota allows."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from http_support import Server, User, assert_problem, fresh_name, image_bytes, upload

QUOTA = 60 * 1024
BURST = 40


def quota_user(server: Server, quota: int) -> User:
    assert server.admin is not None
    name = fresh_name("quota")
    with server.admin.client() as c:
        r = c.post("/api/admin/users", json={"username": name, "password": "correct horse battery", "quota_bytes": quota})
        assert r.status_code == 201, r.text
    return server.sign_in(name)


def storage(user: User) -> dict[str, int]:
    with user.client() as c:
        r = c.get("/api/users/me/storage")
        assert r.status_code == 200
        return r.json()  # type: ignore[no-any-return]


def test_concurrent_uploads_never_exceed_the_quota(server: Server) -> None:
    user = quota_user(server, QUOTA)
    photos = [image_bytes(7000 + i) for i in range(BURST)]
    assert sum(len(p) for p in photos) > 5 * QUOTA  # far more than fits, or the race cannot show
    start = threading.Barrier(BURST)

    def send(data: bytes) -> httpx.Response:
        with user.client() as c:
            start.wait()  # every upload is in flight at once
            return upload(c, data, "burst.jpg")

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(send, photos))

    stored = [r.json() for r in answers if r.status_code == 201]
    refused = [r for r in answers if r.status_code != 201]
    for r in refused:
        body = assert_problem(r, 413)
        assert "quota" in body["detail"]
    used = storage(user)
    assert used["quota_bytes"] == QUOTA
    assert used["bytes"] <= QUOTA, f"{used['bytes']} bytes stored against a quota of {QUOTA}"
    assert used["bytes"] == sum(p["bytes"] for p in stored) and used["photos"] == len(stored)
    assert len(stored) >= 1 and len(refused) >= BURST - QUOTA // min(len(p) for p in photos)

    # Deleting frees the quota again: a refused photo now fits.
    with user.client() as c:
        for p in stored:
            assert c.delete(f"/api/photos/{p['id']}").status_code == 204
        assert storage(user)["bytes"] == 0
        refused_bytes = photos[[r.status_code for r in answers].index(413)]
        again = upload(c, refused_bytes, "again.jpg")
        assert again.status_code == 201, again.text
        assert storage(user)["bytes"] == len(refused_bytes)


def test_a_photo_that_would_pass_the_quota_is_refused_and_a_duplicate_is_not(server: Server) -> None:
    first, second = image_bytes(7100), image_bytes(7101)
    user = quota_user(server, len(first) + len(second) - 1)
    with user.client() as c:
        assert upload(c, first, "a.jpg").status_code == 201
        assert_problem(upload(c, second, "b.jpg"), 413)
        # The same bytes again cost nothing: the existing photo, not a refusal.
        again = upload(c, first, "a.jpg")
        assert again.status_code == 200 and again.json()["duplicate"] is True
    assert storage(user)["bytes"] == len(first)
