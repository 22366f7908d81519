"""The sync feed over real HTTP: a phone mirrors the library while another client changes it.

The phone takes a snapshot, then pulls deltas after every change another client makes over the
API; its mirror must always equal what GET /api/timeline, /api/trash and /api/albums say.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import httpx

from http_support import Server, User, assert_problem, image_bytes, jpeg_with_exif
from test_sync import Mirror


def pull(phone: httpx.Client, mirror: Mirror, *, limit: int = 2) -> list[dict[str, Any]]:
    """Pull until the feed says there is no more, applying every event; small pages on purpose."""
    seen: list[dict[str, Any]] = []
    while True:
        r = phone.get("/api/sync/events", params={"cursor": mirror.cursor, "limit": limit})
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store" and r.headers["octopus-sync-version"] == "1"
        page = r.json()
        for event in page["events"]:
            mirror.apply(event)
        seen.extend(page["events"])
        mirror.cursor = page["cursor"]
        if not page["more"]:
            return seen


def server_state(client: httpx.Client) -> dict[str, Any]:
    """The library as the read-model endpoints show it."""
    library: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        page = client.get("/api/timeline", params={"cursor": cursor} if cursor else {}).json()
        for day in page["days"]:
            for photo in day["photos"]:
                library[photo["id"]] = photo
        cursor = page["cursor"]
        if not cursor:
            break
    trash = {p["id"]: p for p in client.get("/api/trash").json()["photos"]}
    albums = {}
    for album in client.get("/api/albums").json():
        detail = client.get(f"/api/albums/{album['id']}").json()
        albums[album["id"]] = {**album, "photos": [p["id"] for p in detail["photos"]]}
    return {"library": library, "trash": trash, "albums": albums}


def mirror_state(mirror: Mirror) -> dict[str, Any]:
    """The same view computed on the phone from its mirror alone."""
    def by_state(state: str) -> dict[str, dict[str, Any]]:
        return {pid: p for pid, p in mirror.photos.items() if p["state"] == state}

    albums = {}
    for album in mirror.albums.values():
        visible = [p for p in album["photo_ids"] if mirror.photos[p]["state"] == "library"]
        albums[album["id"]] = {
            "id": album["id"], "name": album["name"], "cover": visible[0] if visible else None,
            "count": len(visible), "created_at": album["created_at"], "version": album["version"], "photos": visible,
            # The mirror holds the user's own albums, unshared here (docs/sharing.md adds these fields).
            "shared": False, "owner": None, "role": "owner",
        }
    return {"library": by_state("library"), "trash": by_state("trash"), "albums": albums}


def assert_mirrors(mirror: Mirror, client: httpx.Client) -> None:
    assert mirror_state(mirror) == server_state(client)


def test_a_phone_mirrors_the_library_while_another_client_changes_it(alice: User) -> None:
    with alice.client() as phone, alice.client() as web:
        first = alice.upload(image_bytes(1), "first.jpg", tags=["start"], description="before the phone").json()
        snap = phone.get("/api/sync/snapshot")
        assert snap.status_code == 200 and snap.headers["cache-control"] == "no-store"
        mirror = Mirror(snap.json())
        assert list(mirror.photos) == [first["id"]]
        assert_mirrors(mirror, web)

        ids: list[str] = [first["id"]]
        album: dict[str, str] = {}

        def upload(seed: int, name: str, **fields: Any) -> None:
            r = alice.upload(jpeg_with_exif(seed, "Canon", "EOS 5D", "2019:08:01 10:00:00"), name, **fields)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])

        def ok(r: httpx.Response) -> None:
            assert r.status_code < 300, r.text

        steps = [
            ("upload", lambda: upload(2, "second.jpg")),
            ("upload with fields", lambda: upload(3, "third.jpg", tags=["a", "b"], description="three",
                                                    taken_at="2015-05-05T05:05:05+02:00")),
            ("tag", lambda: ok(web.put(f"/api/photos/{ids[1]}/tags", json={"tags": ["Beach", "sea"]}))),
            ("favourite", lambda: ok(web.put(f"/api/photos/{ids[1]}/favourite"))),
            ("describe", lambda: ok(web.patch(f"/api/photos/{ids[0]}", json={"description": "after"}))),
            ("redate", lambda: ok(web.patch(f"/api/photos/{ids[2]}", json={"taken_at": "2001-01-01T01:01:01Z"}))),
            ("create album", lambda: album.update(id=web.post("/api/albums", json={"name": "Trip"}).json()["id"])),
            ("add to album", lambda: ok(web.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": ids[:3]}))),
            ("rename album", lambda: ok(web.patch(f"/api/albums/{album['id']}", json={"name": "Road trip"}))),
            ("trash", lambda: ok(web.post(f"/api/photos/{ids[1]}/trash"))),
            ("tag in trash", lambda: ok(web.put(f"/api/photos/{ids[1]}/tags", json={"tags": ["binned"]}))),
            ("restore", lambda: ok(web.post(f"/api/photos/{ids[1]}/restore"))),
            ("trash again", lambda: ok(web.post(f"/api/photos/{ids[0]}/trash"))),
            ("purge", lambda: ok(web.delete(f"/api/photos/{ids[0]}"))),
            ("remove from album", lambda: ok(web.request("DELETE", f"/api/albums/{album['id']}/photos",
                                                           json={"photo_ids": [ids[2]]}))),
            ("unfavourite", lambda: ok(web.delete(f"/api/photos/{ids[1]}/favourite"))),
            ("second album", lambda: ok(web.post("/api/albums", json={"name": "Keep"}))),
            ("delete album", lambda: ok(web.delete(f"/api/albums/{album['id']}"))),
        ]
        for name, step in steps:
            step()
            events = pull(phone, mirror)
            assert events, f"{name}: the phone heard nothing"
            assert_mirrors(mirror, web)

        # The purge arrived as a tombstone carrying only the id.
        everything = pull_from(phone, snap.json()["cursor"])
        tombstones = [e for e in everything if e["type"] == "photo.removed"]
        assert tombstones == [{"type": "photo.removed", "cursor": tombstones[0]["cursor"], "at": tombstones[0]["at"],
                               "photo_id": ids[0], "data": {}}]
        assert "first.jpg" not in str(everything) and "before the phone" not in str(everything)


def pull_from(client: httpx.Client, cursor: str | None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = client.get("/api/sync/events", params={"cursor": cursor} if cursor else {}).json()
        events.extend(page["events"])
        cursor = page["cursor"]
        if not page["more"]:
            return events


def test_a_vault_move_reaches_the_phone_as_left_library_without_metadata(alice: User) -> None:
    with alice.client() as c:
        photo = alice.upload(image_bytes(40), "VAULTED_NAME.jpg", tags=["VAULTED_TAG"]).json()
        mirror = Mirror(c.get("/api/sync/snapshot").json())
        assert c.post("/api/vault", json={"passphrase": "a long vault passphrase"}).status_code == 201
        token = c.post("/api/vault/unlock", json={"passphrase": "a long vault passphrase"}).json()["vault_token"]
        r = c.post(f"/api/photos/{photo['id']}/vault", headers={"X-Vault-Token": token})
        assert r.status_code == 200, r.text
        events = pull(c, mirror)
        assert [(e["type"], e["photo_id"], e["data"]) for e in events] == [("photo.left_library", photo["id"], {})]
        assert_mirrors(mirror, c)
        everything = str(pull_from(c, None))
        assert "VAULTED" not in everything
        # Back out: the phone gets the photo again, with its fields.
        r = c.post(f"/api/vault/photos/{photo['id']}/restore", headers={"X-Vault-Token": token})
        assert r.status_code == 200, r.text
        events = pull(c, mirror)
        assert [e["type"] for e in events] == ["photo.added"] and events[0]["data"]["filename"] == "VAULTED_NAME.jpg"
        assert_mirrors(mirror, c)


def test_long_poll_answers_within_100_ms_of_an_upload(alice: User) -> None:
    with alice.client() as phone:
        cursor = phone.get("/api/sync/snapshot").json()["cursor"]
        result: dict[str, Any] = {}

        def wait() -> None:
            r = phone.get("/api/sync/events", params={"cursor": cursor, "wait": 10})
            result["done"] = time.perf_counter()
            result["response"] = r

        poller = threading.Thread(target=wait)
        started = time.perf_counter()
        poller.start()
        time.sleep(0.5)
        assert "done" not in result, "the poll must be held while nothing happens"
        r = alice.upload(image_bytes(50), "live.jpg")
        uploaded = time.perf_counter()
        poller.join(5)
        assert r.status_code == 201
        page = result["response"].json()
        assert [e["photo_id"] for e in page["events"]] == [r.json()["id"]]
        # The upload commits before its response is sent, so the poll may even finish first.
        assert result["done"] - uploaded < 0.1, result["done"] - uploaded
        assert result["done"] - started < 5


def test_long_poll_returns_empty_after_the_wait_and_ignores_other_users(alice: User, bob: User) -> None:
    with alice.client() as phone:
        cursor = phone.get("/api/sync/snapshot").json()["cursor"]
        threading.Timer(0.2, lambda: bob.upload(image_bytes(60), "bobs.jpg")).start()
        started = time.perf_counter()
        r = phone.get("/api/sync/events", params={"cursor": cursor, "wait": 1.2})
        elapsed = time.perf_counter() - started
        assert r.status_code == 200
        assert r.json() == {"events": [], "cursor": cursor, "more": False}
        assert 1.1 < elapsed < 3, elapsed


def test_another_users_photos_and_albums_never_appear(alice: User, bob: User) -> None:
    mine = alice.upload(image_bytes(70), "alice.jpg").json()["id"]
    theirs = bob.upload(image_bytes(71), "bob.jpg").json()["id"]
    with bob.client() as b:
        b.post("/api/albums", json={"name": "Bob's"})
    with alice.client() as a:
        events = pull_from(a, None)
        snap = a.get("/api/sync/snapshot").json()
    assert {e.get("photo_id") for e in events} == {mine}
    assert all(e["type"].startswith("photo.") for e in events)
    assert [p["id"] for p in snap["photos"]] == [mine] and snap["albums"] == []
    assert theirs not in str(events) and "bob.jpg" not in str(events)


def test_bad_cursors_limits_and_signed_out(server: Server, alice: User) -> None:
    with alice.client() as c:
        assert_problem(c.get("/api/sync/events", params={"cursor": "not a cursor"}), 400)
        future = base64.urlsafe_b64encode(b"v1:999999999").decode().rstrip("=")
        assert_problem(c.get("/api/sync/events", params={"cursor": future}), 410)
        retired = base64.urlsafe_b64encode(b"v0:1").decode().rstrip("=")
        assert_problem(c.get("/api/sync/events", params={"cursor": retired}), 410)
        for params in ({"limit": 0}, {"limit": 1001}, {"wait": 61}, {"wait": -1}, {"limit": "many"}):
            assert_problem(c.get("/api/sync/events", params=params), 400)
        assert c.get("/api/sync/events", params={"limit": 1000}).status_code == 200
    with server.client() as anonymous:
        assert_problem(anonymous.get("/api/sync/events"), 401)
        assert_problem(anonymous.get("/api/sync/snapshot"), 401)
        spec = anonymous.get("/schema/openapi.json")
        assert spec.status_code == 200, spec.text
        assert {"/api/sync/events", "/api/sync/snapshot"} <= set(spec.json()["paths"])
