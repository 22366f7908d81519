"""`POST /api/photos/check`, "already backed up?" in bulk, on a real server: exact answers for
known, unknown, trashed, vaulted and other users' hashes, and the limits of one call."""

from __future__ import annotations

import hashlib
import secrets

import httpx

from http_support import User, assert_problem, image_bytes
from test_http_vault import open_vault


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(c: httpx.Client, hashes: list[str]) -> dict[str, str]:
    r = c.post("/api/photos/check", json={"sha256": hashes})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"existing"}
    return dict(body["existing"])


def test_known_trashed_and_unknown_hashes_get_exact_answers(alice: User, bob: User) -> None:
    kept, trashed, bobs = image_bytes(4101), image_bytes(4102), image_bytes(4103)
    kept_id = alice.upload(kept, "kept.jpg").json()["id"]
    trashed_id = alice.upload(trashed, "trashed.jpg").json()["id"]
    bob.upload(bobs, "bobs.jpg")
    unknown = secrets.token_hex(32)
    with alice.client() as c:
        assert c.post(f"/api/photos/{trashed_id}/trash").status_code == 200
        # In the trash the bytes are still stored: re-uploading would only make a duplicate.
        asked = [sha(kept), sha(trashed), sha(bobs), unknown]
        assert check(c, asked) == {sha(kept): kept_id, sha(trashed): trashed_id}
        # Repeats and upper case: one answer, under the lower-case hash the API shows everywhere.
        assert check(c, [sha(kept).upper(), sha(kept), unknown, unknown]) == {sha(kept): kept_id}
        assert check(c, []) == {}
    with bob.client() as c:
        # Another user's bytes are never revealed, even though the server stores them.
        assert check(c, [sha(kept), sha(trashed)]) == {}


def test_a_vaulted_photo_does_not_reveal_itself(alice: User) -> None:
    data = image_bytes(4111)
    photo_id = alice.upload(data, "secret.jpg").json()["id"]
    token = open_vault(alice)
    with alice.client() as c:
        assert check(c, [sha(data)]) == {sha(data): photo_id}
        assert c.post(f"/api/photos/{photo_id}/vault", headers={"X-Vault-Token": token}).status_code == 200
        # Its hash is sealed with the rest of it, even with the vault unlocked; a phone that
        # uploads it again gets a visible copy (docs/sync.md says why that is the price).
        assert check(c, [sha(data)]) == {}
        r = c.post("/api/photos/check", json={"sha256": [sha(data)]}, headers={"X-Vault-Token": token})
        assert r.status_code == 200 and r.json() == {"existing": {}}
    again = alice.upload(data, "secret-again.jpg")
    assert again.status_code == 201 and again.json()["id"] != photo_id
    with alice.client() as c:
        assert check(c, [sha(data)]) == {sha(data): again.json()["id"]}


def test_five_thousand_hashes_are_one_call_and_one_more_is_refused(alice: User) -> None:
    data = image_bytes(4121)
    photo_id = alice.upload(data, "one.jpg").json()["id"]
    many = [secrets.token_hex(32) for _ in range(4_999)] + [sha(data)]
    with alice.client() as c:
        assert check(c, many) == {sha(data): photo_id}
        body = assert_problem(c.post("/api/photos/check", json={"sha256": [*many, secrets.token_hex(32)]}), 413)
        assert "5,000" in body["detail"] and "5,001" in body["detail"]


def test_a_bad_hash_is_refused_naming_its_index(alice: User) -> None:
    good = secrets.token_hex(32)
    with alice.client() as c:
        for bad in ("xyz", good[:63], good + "0", "g" * 64, " " + good[1:], good[:63] + "\n", "٣" * 64):
            body = assert_problem(c.post("/api/photos/check", json={"sha256": [good, good, bad]}), 422)
            assert body["detail"].startswith("sha256[2]: "), body
        # Not a list of strings at all: malformed (400), as every other body decoding failure.
        assert_problem(c.post("/api/photos/check", json={"sha256": [good, 7]}), 400)
        assert_problem(c.post("/api/photos/check", json={"hashes": [good]}), 400)
