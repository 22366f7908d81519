"""The Archive over real HTTP: an archived photo leaves the timeline, its months and memories,
and stays in albums, search, tags, favourites, the trash round trip and sync; unarchive brings it
back; the vault round trip and true deletion end it."""

from __future__ import annotations

from typing import Any

import httpx

from http_support import Server, User, assert_problem, jpeg_with_exif


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {p["id"] for p in items}


def _timeline(c: httpx.Client) -> set[str]:
    return {p["id"] for d in c.get("/api/timeline", params={"limit": 500}).json()["days"] for p in d["photos"]}


def _feed(c: httpx.Client, after: str | None = None) -> dict[str, Any]:
    r = c.get("/api/sync/events", params={"cursor": after} if after else {})
    assert r.status_code == 200, r.text
    return r.json()


def test_archived_photos_leave_the_timeline_only(alice: User) -> None:
    # Two photos of 3 March 2019; "on this day" in 2026 shows them until one is archived.
    ids = []
    for i in range(2):
        r = alice.upload(jpeg_with_exif(8000 + i, "Sony", "A7", f"2019:03:03 1{i}:00:00"), f"march{i}.jpg",
                         tags="Trip", description=f"lighthouse {i}")
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    keep, hide = ids
    with alice.client() as c:
        album = c.post("/api/albums", json={"name": "Coast"}).json()
        assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": ids}).status_code == 200
        assert c.put(f"/api/photos/{hide}/favourite").status_code == 200
        cursor = _feed(c)["cursor"]

        r = c.post(f"/api/photos/{hide}/archive")
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "archived" and r.json()["favourite"] is True
        assert c.post(f"/api/photos/{hide}/archive").json()["version"] == r.json()["version"]  # again: no event
        assert c.get(f"/api/photos/{hide}").json()["state"] == "archived"

        # Gone from the timeline, its month counts and memories...
        assert _timeline(c) == {keep}
        assert {m["month"]: m["count"] for m in c.get("/api/timeline/months").json()}["2019-03"] == 1
        memories = c.get("/api/memories", params={"date": "2026-03-03"}).json()
        assert [_ids(m["photos"]) for m in memories] == [{keep}]
        # ...listed in the Archive...
        archive = c.get("/api/archive").json()
        assert _ids(archive["photos"]) == {hide} and archive["cursor"] is None
        # ...and everywhere else as before.
        assert _ids(c.get(f"/api/albums/{album['id']}").json()["photos"]) == set(ids)
        assert c.get("/api/albums").json()[0]["count"] == 2
        assert hide in _ids(c.get("/api/search", params={"q": "lighthouse"}).json()["photos"])
        assert _ids(c.get("/api/tags/trip").json()["photos"]) == set(ids)
        assert {t["tag"]: t["count"] for t in c.get("/api/tags").json()}["Trip"] == 2
        assert _ids(c.get("/api/favourites").json()["photos"]) == {hide}
        assert c.get(f"/api/photos/{hide}/thumbnail").status_code == 200
        assert c.get(f"/api/photos/{hide}/original").status_code == 200
        # Sync says so, and the snapshot carries the state.
        changes = [e for e in _feed(c, cursor)["events"] if e["photo_id"] == hide]
        assert [(e["type"], e["data"].get("state")) for e in changes] == [("photo.updated", "archived")]
        snapshot = {p["id"]: p for p in c.get("/api/sync/snapshot").json()["photos"]}
        assert snapshot[hide]["state"] == "archived" and snapshot[keep]["state"] == "library"

        # Through the trash and back it is archived again; the trash shows it as trashed.
        assert c.post(f"/api/photos/{hide}/trash").json()["state"] == "trash"
        assert_problem(c.post(f"/api/photos/{hide}/archive"), 409)
        assert c.get("/api/archive").json()["photos"] == []
        assert c.post(f"/api/photos/{hide}/restore").json()["state"] == "archived"

        r = c.post(f"/api/photos/{hide}/unarchive")
        assert r.json()["state"] == "library"
        assert _timeline(c) == set(ids) and c.get("/api/archive").json()["photos"] == []
        assert {m["month"]: m["count"] for m in c.get("/api/timeline/months").json()}["2019-03"] == 2
        changes = [e for e in _feed(c, cursor)["events"] if e["photo_id"] == hide]
        assert changes[-1]["type"] == "photo.updated" and changes[-1]["data"]["state"] == "library"


def test_archive_of_another_users_photo_is_404(alice: User, bob: User) -> None:
    photo = alice.upload(jpeg_with_exif(8100, "Sony", "A7"), "mine.jpg").json()
    with bob.client() as c:
        assert_problem(c.post(f"/api/photos/{photo['id']}/archive"), 404)
        assert_problem(c.post(f"/api/photos/{photo['id']}/unarchive"), 404)
    with alice.client() as c:
        assert c.get(f"/api/photos/{photo['id']}").json()["version"] == 1


def test_the_archive_pages_with_a_cursor(server: Server) -> None:
    user, ids = server.seed_library("archivist" + server.data_dir.name[-6:], 7)
    with user.client() as c:
        r = c.post("/api/photos/bulk", json={"action": "archive", "photo_ids": ids})
        assert r.status_code == 200 and r.json()["changed"] == 7
        seen, cursor = [], None
        while True:
            page = c.get("/api/archive", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
            seen += [p["id"] for p in page["photos"]]
            cursor = page["cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 7
        assert c.get("/api/timeline").json()["days"] == [] and c.get("/api/timeline/months").json() == []
        assert_problem(c.get("/api/archive", params={"limit": 0}), 400)
