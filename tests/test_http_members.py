"""Shared albums over HTTP (docs/sharing.md): roles, what members see and may not do, and what a
non-member or a former member meets (exactly what an unknown id meets)."""

from __future__ import annotations

from typing import Any

import httpx

from http_support import Server, User, assert_problem, image_bytes

UNKNOWN_PHOTO = "p" + "0" * 20
UNKNOWN_ALBUM = "a" + "0" * 16
# Every way to read an item's bytes or fields.
READS = ("/api/photos/{id}", "/api/photos/{id}/thumbnail", "/api/photos/{id}/thumbnail?size=preview",
         "/api/photos/{id}/original")
# Every way to change an item: a member changes only their own.
WRITES = (("PATCH", "/api/photos/{id}", {"description": "mine now"}), ("PUT", "/api/photos/{id}/tags", {"tags": ["x"]}),
          ("PUT", "/api/photos/{id}/favourite", None), ("POST", "/api/photos/{id}/trash", None),
          ("DELETE", "/api/photos/{id}", None))


def _album(owner: User, name: str, *photo_ids: str) -> dict[str, Any]:
    with owner.client() as c:
        album = c.post("/api/albums", json={"name": name}).json()
        if photo_ids:
            assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": list(photo_ids)}).status_code == 200
    return album


def _invite(owner: User, album_id: str, who: User, role: str) -> httpx.Response:
    with owner.client() as c:
        return c.post(f"/api/albums/{album_id}/members", json={"username": who.name, "role": role})


def _same_as_unknown(c: httpx.Client, path: str, photo_id: str, method: str = "GET", body: Any = None) -> None:
    theirs = c.request(method, path.format(id=photo_id), json=body)
    unknown = c.request(method, path.format(id=UNKNOWN_PHOTO), json=body)
    a, u = assert_problem(theirs, 404), assert_problem(unknown, 404)
    assert a["detail"].replace(photo_id, "ID") == u["detail"].replace(UNKNOWN_PHOTO, "ID"), (path, a, u)


def test_roles_of_a_shared_album(server: Server) -> None:
    alice, bob, carol, dave = (server.new_user() for _ in range(4))
    mine = alice.upload(image_bytes(401), "alice-beach.jpg", tags="beach", description="alice's").json()
    private = alice.upload(image_bytes(402), "alice-private.jpg").json()
    album = _album(alice, "Trip", mine["id"])
    r = _invite(alice, album["id"], bob, "viewer")
    assert r.status_code == 201, r.text
    listed = r.json()
    assert [(m["username"], m["role"]) for m in listed] == [(alice.name, "owner"), (bob.name, "viewer")]
    assert _invite(alice, album["id"], carol, "contributor").status_code == 201
    carols = carol.upload(image_bytes(403), "carol-dune.jpg").json()
    bobs = bob.upload(image_bytes(404), "bob.jpg").json()

    with bob.client() as c:
        albums = c.get("/api/albums").json()
        shared = [a for a in albums if a["id"] == album["id"]]
        assert shared and shared[0]["shared"] is True and shared[0]["owner"] == alice.name and shared[0]["role"] == "viewer"
        got = c.get(f"/api/albums/{album['id']}").json()
        assert [p["id"] for p in got["photos"]] == [mine["id"]] and got["photos"][0]["owner"] == alice.name
        assert {m["username"] for m in c.get(f"/api/albums/{album['id']}/members").json()} == {alice.name, bob.name, carol.name}
        # The item reads as its owner sees it (read-only), with whose it is.
        one = c.get(f"/api/photos/{mine['id']}").json()
        assert one["filename"] == "alice-beach.jpg" and one["owner"] == alice.name
        for path in READS:
            assert c.get(path.format(id=mine["id"])).status_code == 200, path
        assert c.get(f"/api/photos/{mine['id']}/original").content == image_bytes(401)
        # A viewer adds nothing and removes nothing (403: they can see the album).
        assert_problem(c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [bobs["id"]]}), 403)
        assert_problem(c.request("DELETE", f"/api/albums/{album['id']}/photos", json={"photo_ids": [mine["id"]]}), 403)
        # ...renames, deletes and invites nothing either.
        assert_problem(c.patch(f"/api/albums/{album['id']}", json={"name": "mine"}), 403)
        assert_problem(c.delete(f"/api/albums/{album['id']}"), 403)
        assert_problem(c.post(f"/api/albums/{album['id']}/members", json={"username": dave.name, "role": "viewer"}), 403)
        assert_problem(c.delete(f"/api/albums/{album['id']}/members/{carol.name}"), 403)
        # Alice's item is not Bob's to change: exactly as an id he does not know.
        for method, path, body in WRITES:
            _same_as_unknown(c, path, mine["id"], method, body)
        # Alice's item outside the album stays unknown to him, and no list of his shows her items.
        for path in READS:
            _same_as_unknown(c, path, private["id"])
        for path in ("/api/timeline", "/api/search?q=alice", "/api/favourites", "/api/tags", "/api/trash"):
            text = c.get(path).text
            assert mine["id"] not in text and private["id"] not in text and "alice" not in text, path

    with carol.client() as c:
        # A contributor adds their own items (not someone else's: 404), which stay theirs.
        assert_problem(c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [bobs["id"]]}), 404)
        r = c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [carols["id"]]})
        assert r.status_code == 200, r.text
        assert {p["id"]: p["owner"] for p in r.json()["photos"]} == {mine["id"]: alice.name, carols["id"]: carol.name}
        assert c.get("/api/users/me/storage").json()["photos"] == 1
        # ...and removes only their own.
        assert_problem(c.request("DELETE", f"/api/albums/{album['id']}/photos", json={"photo_ids": [mine["id"]]}), 403)
        assert_problem(c.patch(f"/api/albums/{album['id']}", json={"name": "mine"}), 403)
        # Alice's item is readable, not changeable.
        assert c.get(f"/api/photos/{mine['id']}/thumbnail").status_code == 200
        for method, path, body in WRITES:
            _same_as_unknown(c, path, mine["id"], method, body)

    with alice.client() as c:
        assert c.get("/api/users/me/storage").json()["photos"] == 2  # Carol's item is not counted as Alice's
        # The owner sees the contributor's item, through the album and the photo routes...
        assert c.get(f"/api/photos/{carols['id']}/thumbnail").status_code == 200
        assert c.get(f"/api/photos/{carols['id']}").json()["owner"] == carol.name
        # ...may take it out of the album, but it stays Carol's, in Carol's library.
        _same_as_unknown(c, "/api/photos/{id}/tags", carols["id"], "PUT", {"tags": ["x"]})
        r = c.request("DELETE", f"/api/albums/{album['id']}/photos", json={"photo_ids": [carols["id"]]})
        assert r.status_code == 200 and [p["id"] for p in r.json()["photos"]] == [mine["id"]]
    with carol.client() as c:
        assert c.get(f"/api/photos/{carols['id']}").json()["state"] == "library"

    # Dave, no member: the album and its item are exactly as unknown ones.
    with dave.client() as c:
        for path in (f"/api/albums/{{id}}", f"/api/albums/{{id}}/members"):
            a = assert_problem(c.get(path.format(id=album["id"])), 404)
            u = assert_problem(c.get(path.format(id=UNKNOWN_ALBUM)), 404)
            assert a["detail"].replace(album["id"], "ID") == u["detail"].replace(UNKNOWN_ALBUM, "ID")
        assert_problem(c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [mine["id"]]}), 404)
        assert_problem(c.delete(f"/api/albums/{album['id']}/members/{dave.name}"), 404)
        for path in READS:
            _same_as_unknown(c, path, mine["id"])
        assert album["id"] not in c.get("/api/albums").text


def test_leaving_and_removal_take_everything_away(server: Server) -> None:
    alice, bob, carol = (server.new_user() for _ in range(3))
    mine = alice.upload(image_bytes(411), "a.jpg").json()
    album = _album(alice, "Family", mine["id"])
    _invite(alice, album["id"], bob, "viewer")
    _invite(alice, album["id"], carol, "contributor")
    carols = carol.upload(image_bytes(412), "c.jpg").json()
    with carol.client() as c:
        assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [carols["id"]]}).status_code == 200
    with bob.client() as c:
        assert c.get(f"/api/photos/{carols['id']}/thumbnail").status_code == 200
    # Carol leaves: her item leaves the album with her; she no longer sees Alice's.
    with carol.client() as c:
        assert c.delete(f"/api/albums/{album['id']}/members/{carol.name}").status_code == 204
        assert_problem(c.get(f"/api/albums/{album['id']}"), 404)
        _same_as_unknown(c, "/api/photos/{id}/thumbnail", mine["id"])
        assert c.get(f"/api/photos/{carols['id']}").json()["state"] == "library"  # still hers
    with bob.client() as c:
        got = c.get(f"/api/albums/{album['id']}").json()
        assert [p["id"] for p in got["photos"]] == [mine["id"]]
        _same_as_unknown(c, "/api/photos/{id}/original", carols["id"])
    # Alice removes Bob: a former member meets exactly what a stranger meets.
    with alice.client() as c:
        assert c.delete(f"/api/albums/{album['id']}/members/{bob.name}").status_code == 204
        assert_problem(c.delete(f"/api/albums/{album['id']}/members/{bob.name}"), 404)
        assert [m["username"] for m in c.get(f"/api/albums/{album['id']}/members").json()] == [alice.name]
        assert c.get(f"/api/albums/{album['id']}").json()["shared"] is False
    with bob.client() as c:
        assert_problem(c.get(f"/api/albums/{album['id']}"), 404)
        assert album["id"] not in c.get("/api/albums").text
        for path in READS:
            _same_as_unknown(c, path, mine["id"])


def test_trashed_and_vaulted_items_leave_the_share_at_once(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    one = alice.upload(image_bytes(421), "one.jpg").json()
    two = alice.upload(image_bytes(422), "two.jpg").json()
    album = _album(alice, "Shared", one["id"], two["id"])
    _invite(alice, album["id"], bob, "viewer")
    with alice.client() as c:
        assert c.post(f"/api/photos/{one['id']}/trash").status_code == 200
    with bob.client() as c:
        got = c.get(f"/api/albums/{album['id']}").json()
        assert [p["id"] for p in got["photos"]] == [two["id"]] and got["count"] == 1
        for path in READS:
            _same_as_unknown(c, path, one["id"])
    with alice.client() as c:
        assert c.post(f"/api/photos/{one['id']}/restore").status_code == 200
    with bob.client() as c:
        assert c.get(f"/api/photos/{one['id']}/thumbnail").status_code == 200


def test_bad_invitations_are_refused_clearly(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    album = _album(alice, "Mine")
    with alice.client() as c:
        url = f"/api/albums/{album['id']}/members"
        assert_problem(c.post(url, json={"username": bob.name, "role": "admin"}), 422)
        assert_problem(c.post(url, json={"username": alice.name, "role": "viewer"}), 422)
        missing = assert_problem(c.post(url, json={"username": "nobody-here", "role": "viewer"}), 404)
        assert "nobody-here" in missing["detail"]
        assert_problem(c.post(url, json={"username": 5}), 400)
        assert_problem(c.post(url, content=b"{not json", headers={"content-type": "application/json"}), 400)
        assert_problem(c.delete(f"{url}/{bob.name}"), 404)  # not a member
        # Inviting again changes the role; the list says so.
        assert c.post(url, json={"username": bob.name, "role": "viewer"}).status_code == 201
        assert c.post(url, json={"username": bob.name, "role": "contributor"}).json()[1]["role"] == "contributor"
        assert c.get(url).json()[1]["role"] == "contributor"


def _feed(user: User, cursor: str | None = None) -> tuple[list[dict[str, Any]], str]:
    with user.client() as c:
        r = c.get("/api/sync/events", params={"cursor": cursor} if cursor else {})
        assert r.status_code == 200, r.text
        page = r.json()
        return page["events"], page["cursor"]


def test_the_sync_feed_brings_shared_items_in_and_takes_them_out(server: Server) -> None:
    alice, bob, carol = (server.new_user() for _ in range(3))
    first = alice.upload(image_bytes(431), "first.jpg").json()
    second = alice.upload(image_bytes(432), "second.jpg").json()
    private = alice.upload(image_bytes(433), "private-QZX.jpg").json()
    album = _album(alice, "Holiday", first["id"])
    _, start = _feed(bob)
    # Joining brings the album and its items in, as the photo routes show them, with the owner.
    _invite(alice, album["id"], bob, "viewer")
    events, cursor = _feed(bob, start)
    assert [e["type"] for e in events] == ["album.joined"]
    joined = events[0]
    assert joined["album_id"] == album["id"]
    assert joined["data"]["name"] == "Holiday" and joined["data"]["owner"] == alice.name and joined["data"]["role"] == "viewer"
    assert [(p["id"], p["filename"], p["owner"]) for p in joined["data"]["photos"]] == [(first["id"], "first.jpg", alice.name)]
    # Later additions and removals follow.
    with alice.client() as c:
        c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [second["id"]]})
        c.request("DELETE", f"/api/albums/{album['id']}/photos", json={"photo_ids": [first["id"]]})
    events, cursor = _feed(bob, cursor)
    assert [e["type"] for e in events] == ["album.shared_added", "album.shared_removed"]
    assert [p["id"] for p in events[0]["data"]["photos"]] == [second["id"]]
    assert events[1]["data"]["photo_ids"] == [first["id"]]
    # A contributor's item reaches the owner's feed too (the owner's phone has no copy of it).
    _invite(alice, album["id"], carol, "contributor")
    carols = carol.upload(image_bytes(434), "carol.jpg").json()
    _, alice_cursor = _feed(alice)
    with carol.client() as c:
        c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [carols["id"]]})
    events, _ = _feed(alice, alice_cursor)
    shared = [e for e in events if e["type"] == "album.shared_added"]
    assert [p["id"] for p in shared[0]["data"]["photos"]] == [carols["id"]] and shared[0]["data"]["photos"][0]["owner"] == carol.name
    events, cursor = _feed(bob, cursor)
    assert [e["type"] for e in events] == ["album.shared_added"]
    # Removal: one `album.left`; from then on the earlier rows show nothing of the album.
    with alice.client() as c:
        assert c.delete(f"/api/albums/{album['id']}/members/{bob.name}").status_code == 204
    events, cursor = _feed(bob, cursor)
    assert [(e["type"], e["album_id"]) for e in events] == [("album.left", album["id"])]
    everything, _ = _feed(bob)
    text = str(everything)
    for photo in (first, second, carols, private):
        if photo is not first:  # the removal row named `first` when Bob could see it
            assert photo["id"] not in text
    assert "Holiday" not in text and "private-QZX" not in text and "carol.jpg" not in text
    # The small pages of a merged feed never lose a row at a page boundary.
    seen, cur = [], None
    while True:
        with bob.client() as c:
            page = c.get("/api/sync/events", params={"limit": 1, **({"cursor": cur} if cur else {})}).json()
        seen += page["events"]
        cur = page["cursor"]
        if not page["more"]:
            break
    assert [e["type"] for e in seen] == [e["type"] for e in everything]


def test_route_walk_a_former_member_and_a_former_partner_meet_only_unknown_ids(server: Server, tmp_path_factory: Any) -> None:
    """Every route that takes a photo or album id (from the app's own route table, so later
    routes are walked too), called by a former member and by a partner after the share ended,
    answers exactly as for ids that do not exist; and no list of theirs names anything."""
    from test_http_ownership import PARAM, fill, route_table

    routes = route_table(tmp_path_factory.mktemp("walk-routes"))
    alice, former, partner = (server.new_user() for _ in range(3))
    photo = alice.upload(image_bytes(441), "walk-QZXFILE.jpg", tags="walkQZXtag").json()
    album = _album(alice, "Walk QZXALBUM", photo["id"])
    _invite(alice, album["id"], former, "contributor")
    with alice.client() as c:
        assert c.put(f"/api/partners/{partner.name}", json={}).status_code == 200
    with former.client() as c:
        assert c.get(f"/api/photos/{photo['id']}/original").status_code == 200
    with partner.client() as c:
        assert c.get(f"/api/photos/{photo['id']}/original").status_code == 200
    with alice.client() as c:
        assert c.delete(f"/api/albums/{album['id']}/members/{former.name}").status_code == 204
        assert c.delete(f"/api/partners/{partner.name}").status_code == 204
    bodies = {
        ("PATCH", "/api/photos/{photo_id:str}"): {"description": "mine now", "version": 1},
        ("PUT", "/api/photos/{photo_id:str}/tags"): {"tags": ["stolen"]},
        ("PATCH", "/api/albums/{album_id:str}"): {"name": "mine now"},
        ("POST", "/api/albums/{album_id:str}/photos"): {"photo_ids": ["p0"]},
        ("DELETE", "/api/albums/{album_id:str}/photos"): {"photo_ids": ["p0"]},
        ("POST", "/api/albums/{album_id:str}/members"): {"username": "admin", "role": "viewer"},
    }
    for who in (former, partner):
        walked = 0
        with who.client() as c:
            for method, template in routes:
                params = set(PARAM.findall(template))
                if not params & {"photo_id", "album_id"} or "vault" in template:
                    continue
                walked += 1
                body = bodies.get((method, template))
                theirs = c.request(method, fill(template, photo_id=photo["id"], album_id=album["id"], username=who.name), json=body)
                unknown = c.request(method, fill(template, photo_id=UNKNOWN_PHOTO, album_id=UNKNOWN_ALBUM, username=who.name), json=body)
                assert theirs.status_code == unknown.status_code, (who.name, method, template, theirs.text, unknown.text)
                if theirs.status_code >= 400:
                    a, u = assert_problem(theirs, theirs.status_code), assert_problem(unknown, unknown.status_code)
                    assert a["detail"].replace(photo["id"], "ID").replace(album["id"], "ID") == \
                        u["detail"].replace(UNKNOWN_PHOTO, "ID").replace(UNKNOWN_ALBUM, "ID"), (method, template)
                assert "QZX" not in theirs.text
            assert walked >= 15
            for path in ("/api/timeline", "/api/albums", "/api/search?q=walk", "/api/tags", "/api/partners",
                         "/api/sync/snapshot", "/api/favourites", "/api/timeline/months"):
                r = c.get(path)
                assert r.status_code == 200 and photo["id"] not in r.text and "QZX" not in r.text, (who.name, path)
            feed = c.get("/api/sync/events").text
            assert "QZX" not in feed and '"gps"' not in feed
    with alice.client() as c:  # nothing they tried changed anything
        still = c.get(f"/api/photos/{photo['id']}").json()
        assert still["tags"] == ["walkQZXtag"] and still["state"] == "library"
        assert [p["id"] for p in c.get(f"/api/albums/{album['id']}").json()["photos"]] == [photo["id"]]


def test_a_members_long_poll_wakes_when_the_owner_adds(server: Server) -> None:
    import threading
    import time

    alice, bob = server.new_user(), server.new_user()
    photo = alice.upload(image_bytes(451), "late.jpg").json()
    album = _album(alice, "Live")
    _invite(alice, album["id"], bob, "viewer")
    _, cursor = _feed(bob)
    got: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        with bob.client() as c:
            got["page"] = c.get("/api/sync/events", params={"cursor": cursor, "wait": 20}).json()
        got["seconds"] = time.monotonic() - started

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    with alice.client() as c:
        assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [photo["id"]]}).status_code == 200
    waiter.join(30)
    assert [e["type"] for e in got["page"]["events"]] == ["album.shared_added"]
    assert got["seconds"] < 10, got["seconds"]  # woken by the add, not by the end of the wait


def test_the_feed_follows_trash_restore_and_an_item_in_two_albums(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    photo = alice.upload(image_bytes(461), "twice.jpg").json()
    one, two = _album(alice, "One", photo["id"]), _album(alice, "Two", photo["id"])
    _invite(alice, one["id"], bob, "viewer")
    _invite(alice, two["id"], bob, "viewer")
    _, cursor = _feed(bob)
    with alice.client() as c:
        assert c.post(f"/api/photos/{photo['id']}/trash").status_code == 200
    events, cursor = _feed(bob, cursor)
    assert sorted((e["type"], e["album_id"], tuple(e["data"]["photo_ids"])) for e in events) == sorted(
        ("album.shared_removed", a["id"], (photo["id"],)) for a in (one, two))
    assert len({e["cursor"] for e in events}) == 1  # one change, one cursor, a row per album
    with alice.client() as c:
        assert c.post(f"/api/photos/{photo['id']}/restore").status_code == 200
    events, cursor = _feed(bob, cursor)
    assert sorted((e["type"], e["album_id"]) for e in events) == sorted(("album.shared_added", a["id"]) for a in (one, two))
    assert all([p["id"] for p in e["data"]["photos"]] == [photo["id"]] for e in events)
    with alice.client() as c:
        assert c.delete(f"/api/photos/{photo['id']}").status_code == 204
    events, _ = _feed(bob, cursor)
    assert sorted((e["type"], e["album_id"]) for e in events) == sorted(("album.shared_removed", a["id"]) for a in (one, two))
    # Purged: every earlier row stops naming it; only the tombstones do.
    everything, _ = _feed(bob)
    named = [e["type"] for e in everything if photo["id"] in str(e["data"])]
    assert named == ["album.shared_removed"] * 2


def test_the_owners_edits_reach_members_feeds(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    photo = alice.upload(image_bytes(471), "edited.jpg").json()
    album = _album(alice, "Edits", photo["id"])
    _invite(alice, album["id"], bob, "viewer")
    _, cursor = _feed(bob)
    with alice.client() as c:
        assert c.put(f"/api/photos/{photo['id']}/tags", json={"tags": ["sea"]}).status_code == 200
        assert c.patch(f"/api/photos/{photo['id']}", json={"description": "at the sea"}).status_code == 200
    events, _ = _feed(bob, cursor)
    assert [e["type"] for e in events] == ["album.shared_updated"] * 2
    # Each carries the item as it is when the page is read.
    assert all(e["data"]["photos"][0]["description"] == "at the sea" and e["data"]["photos"][0]["tags"] == ["sea"]
               for e in events)
