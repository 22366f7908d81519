"""Partner sharing over HTTP (docs/sharing.md): share my library (from a day) read-only, list
both directions, the partner's view, the merged timeline with each item's owner, and what a
partner meets after the share ends (exactly what a stranger meets)."""

from __future__ import annotations

import httpx

from http_support import Server, User, assert_problem, image_bytes

UNKNOWN = "p" + "0" * 20
READS = ("/api/photos/{id}", "/api/photos/{id}/thumbnail", "/api/photos/{id}/thumbnail?size=preview",
         "/api/photos/{id}/original")


def _upload(user: User, seed: int, name: str, taken: str) -> dict:
    r = user.upload(image_bytes(seed), name, taken_at=taken)
    assert r.status_code == 201, r.text
    return r.json()


def _ids(page: dict) -> list[str]:
    return [p["id"] for d in page["days"] for p in d["photos"]]


def _unknown(c: httpx.Client, path: str, photo_id: str, method: str = "GET", body: object = None) -> None:
    a = assert_problem(c.request(method, path.format(id=photo_id), json=body), 404)
    u = assert_problem(c.request(method, path.format(id=UNKNOWN), json=body), 404)
    assert a["detail"].replace(photo_id, "ID") == u["detail"].replace(UNKNOWN, "ID"), (path, a, u)


def test_a_partner_sees_my_library_read_only_and_nothing_after_it_ends(server: Server) -> None:
    alice, bob, eve = server.new_user(), server.new_user(), server.new_user()
    old = _upload(alice, 501, "alice-2018.jpg", "2018-03-04T10:00:00+01:00")
    new = _upload(alice, 502, "alice-2022.jpg", "2022-07-08T10:00:00+02:00")
    archived = _upload(alice, 503, "alice-archived.jpg", "2022-07-09T10:00:00+02:00")
    trashed = _upload(alice, 504, "alice-trashed.jpg", "2022-07-10T10:00:00+02:00")
    vaulted = _upload(alice, 505, "alice-vaulted.jpg", "2022-07-11T10:00:00+02:00")
    bobs = _upload(bob, 506, "bob.jpg", "2021-01-01T10:00:00+00:00")
    with alice.client() as c:
        assert c.post(f"/api/photos/{archived['id']}/archive").status_code == 200
        assert c.post(f"/api/photos/{trashed['id']}/trash").status_code == 200
        assert c.post("/api/vault", json={"passphrase": "a long vault passphrase"}).status_code in (200, 201)
        token = c.post("/api/vault/unlock", json={"passphrase": "a long vault passphrase"}).json()["vault_token"]
        assert c.post(f"/api/photos/{vaulted['id']}/vault", headers={"X-Vault-Token": token}).status_code == 200
        r = c.put(f"/api/partners/{bob.name}", json={})
        assert r.status_code == 200, r.text
        assert [(p["username"], p["since"]) for p in r.json()["shared_by_me"]] == [(bob.name, None)]
    hidden = (archived["id"], trashed["id"], vaulted["id"])

    with bob.client() as c:
        listed = c.get("/api/partners").json()
        assert [p["username"] for p in listed["shared_with_me"]] == [alice.name] and listed["shared_by_me"] == []
        page = c.get(f"/api/partners/{alice.name}/timeline").json()
        assert _ids(page) == [new["id"], old["id"]]
        assert all(p["owner"] == alice.name for d in page["days"] for p in d["photos"])
        for path in READS:
            assert c.get(path.format(id=new["id"])).status_code == 200, path
        assert c.get(f"/api/photos/{new['id']}").json()["owner"] == alice.name
        # Archive, trash and vault are never shown to a partner.
        for photo_id in hidden:
            for path in READS:
                _unknown(c, path, photo_id)
        # Read-only: Alice's items are not Bob's to change.
        for method, path, body in (("PUT", "/api/photos/{id}/tags", {"tags": ["x"]}), ("PUT", "/api/photos/{id}/favourite", None),
                                   ("POST", "/api/photos/{id}/trash", None), ("DELETE", "/api/photos/{id}", None),
                                   ("PATCH", "/api/photos/{id}", {"description": "mine"})):
            _unknown(c, path, new["id"], method, body)
        # Bob's own timeline stays his until he asks for the merge; his search never shows hers.
        assert _ids(c.get("/api/timeline").json()) == [bobs["id"]]
        assert new["id"] not in c.get("/api/search?q=alice").text
        assert c.get("/api/users/me/sharing").json() == {"merge_partners": False}
        assert c.patch("/api/users/me/sharing", json={"merge_partners": True}).json() == {"merge_partners": True}
        merged = c.get("/api/timeline").json()
        assert _ids(merged) == [new["id"], bobs["id"], old["id"]]
        assert [p["owner"] for d in merged["days"] for p in d["photos"]] == [alice.name, bob.name, alice.name]
        # Cursor pages of the merged timeline walk the same order.
        first = c.get("/api/timeline?limit=2").json()
        rest = c.get(f"/api/timeline?limit=2&cursor={first['cursor']}").json()
        assert _ids(first) + _ids(rest) == _ids(merged) and rest["cursor"] is None
        assert new["id"] not in c.get("/api/sync/events").text  # partners are not mirrored (docs/sync.md)

    # Eve, no partner: all of it unknown.
    with eve.client() as c:
        _unknown(c, "/api/photos/{id}/thumbnail", new["id"])
        assert_problem(c.get(f"/api/partners/{alice.name}/timeline"), 404)

    # A share from a day on: older items leave Bob's view at once.
    with alice.client() as c:
        assert c.put(f"/api/partners/{bob.name}", json={"since": "2020-01-01"}).json()["shared_by_me"][0]["since"] == "2020-01-01"
    with bob.client() as c:
        assert _ids(c.get(f"/api/partners/{alice.name}/timeline").json()) == [new["id"]]
        _unknown(c, "/api/photos/{id}/original", old["id"])
        assert _ids(c.get("/api/timeline").json()) == [new["id"], bobs["id"]]

    # The share ends: a former partner meets exactly what Eve meets.
    with alice.client() as c:
        assert c.delete(f"/api/partners/{bob.name}").status_code == 204
        assert_problem(c.delete(f"/api/partners/{bob.name}"), 404)
    with bob.client() as c:
        assert_problem(c.get(f"/api/partners/{alice.name}/timeline"), 404)
        for path in READS:
            _unknown(c, path, new["id"])
        assert _ids(c.get("/api/timeline").json()) == [bobs["id"]]
        assert c.get("/api/partners").json()["shared_with_me"] == []


def test_a_partner_may_end_a_share_and_bad_requests_are_clear(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    with alice.client() as c:
        assert_problem(c.put(f"/api/partners/{alice.name}", json={}), 422)
        assert_problem(c.put("/api/partners/nobody-here-at-all", json={}), 404)
        for since in ("yesterday", "2020-13-01", "20200101", 5):
            assert_problem(c.put(f"/api/partners/{bob.name}", json={"since": since}), 422 if isinstance(since, str) else 400)
        assert_problem(c.patch("/api/users/me/sharing", json={"merge_partners": "yes"}), 400)
        assert c.put(f"/api/partners/{bob.name}").status_code == 200  # no body: the whole library
        assert c.get("/api/partners").json()["shared_by_me"][0]["username"] == bob.name
    with bob.client() as c:
        assert c.delete(f"/api/partners/{alice.name}").status_code == 204  # the partner stops seeing it
        assert c.get("/api/partners").json()["shared_with_me"] == []
    with alice.client() as c:
        assert c.get("/api/partners").json()["shared_by_me"] == []
