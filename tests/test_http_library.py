"""The read models over real HTTP: timeline paging, months, tags, favourites, memories, trash,
search, duplicates and albums; trashed photos show up only in the trash. Also the housekeeping
task that purges expired trash."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from http_support import Server, User, assert_problem, image_bytes, jpeg_with_exif
from octopus_events.application import Octopus
from octopus_events.config import load_config
from octopus_events.eventstore import Meta
from octopus_events.web import housekeeping


def _put(user: User, seed: int, taken_at: str, name: str = "", **fields: object) -> dict:
    r = user.upload(image_bytes(seed), name or f"img{seed}.jpg", taken_at=taken_at, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def test_timeline_days_cursor_paging_and_months(server: Server) -> None:
    user = server.new_user()
    dates = ["2023-05-01T09:00:00+02:00", "2023-05-01T18:00:00+02:00", "2023-04-20T12:00:00+00:00",
             "2022-12-31T23:30:00-05:00", "2022-12-31T08:00:00-05:00"]
    ids = [_put(user, 400 + n, d)["id"] for n, d in enumerate(dates)]
    with user.client() as c:
        page = c.get("/api/timeline").json()
        assert [d["date"] for d in page["days"]] == ["2023-05-01", "2023-04-20", "2022-12-31"]
        assert [p["id"] for p in page["days"][0]["photos"]] == [ids[1], ids[0]]
        assert page["cursor"] is None
        seen, cursor, pages = [], None, 0
        while True:
            r = c.get("/api/timeline", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200
            body = r.json()
            seen += [p["id"] for d in body["days"] for p in d["photos"]]
            pages += 1
            cursor = body["cursor"]
            if not cursor:
                break
        assert seen == [ids[1], ids[0], ids[2], ids[3], ids[4]] and pages == 3
        assert c.get("/api/timeline/months").json() == [
            {"month": "2023-05", "count": 2}, {"month": "2023-04", "count": 1}, {"month": "2022-12", "count": 2}]
        assert_problem(c.get("/api/timeline", params={"cursor": "!!not-ours"}), 400)
        assert_problem(c.get("/api/timeline", params={"limit": 0}), 400)


def test_tags_favourites_and_memories(server: Server) -> None:
    user = server.new_user()
    a = _put(user, 410, "2020-06-15T10:00:00+00:00", tags=["Beach", "family"])
    b = _put(user, 411, "2019-06-15T11:00:00+00:00", tags="beach")
    c_ = _put(user, 412, "2024-06-15T12:00:00+00:00")
    _put(user, 413, "2019-06-16T12:00:00+00:00")
    with user.client() as c:
        assert c.get("/api/tags").json() == [{"tag": "Beach", "count": 2}, {"tag": "family", "count": 1}]
        assert [p["id"] for p in c.get("/api/tags/BEACH").json()["photos"]] == [a["id"], b["id"]]
        assert c.get("/api/tags/nothing").json()["photos"] == []
        c.put(f"/api/photos/{b['id']}/favourite")
        assert [p["id"] for p in c.get("/api/favourites").json()["photos"]] == [b["id"]]
        memories = c.get("/api/memories", params={"date": "2024-06-15"}).json()
        assert [(m["year"], m["years_ago"], [p["id"] for p in m["photos"]]) for m in memories] == [
            (2020, 4, [a["id"]]), (2019, 5, [b["id"]])]
        assert c_["id"] not in str(memories)
        assert c.get("/api/memories", params={"date": "2024-01-01"}).json() == []
        assert c.get("/api/memories").status_code == 200  # today by default
        assert_problem(c.get("/api/memories", params={"date": "15/06/2024"}), 400)


def test_search_filters(server: Server) -> None:
    user = server.new_user()
    canon = user.upload(jpeg_with_exif(420, "Canon", "EOS 5D", "2021:03:04 10:00:00"), "harbour.jpg").json()
    nikon = user.upload(jpeg_with_exif(421, "Nikon", "D70", "2018:08:09 10:00:00"), "mountain.jpg",
                        description="Snowy summit at dawn", tags="hiking").json()
    assert canon["camera"]["make"] == "Canon" and canon["taken_at"].startswith("2021-03-04T10:00:00")
    with user.client() as c:
        c.put(f"/api/photos/{nikon['id']}/favourite")

        def found(**params: str) -> list[str]:
            r = c.get("/api/search", params=params)
            assert r.status_code == 200, r.text
            return [p["id"] for p in r.json()["photos"]]

        assert found(q="harbour") == [canon["id"]]
        assert found(q="summit") == [nikon["id"]]
        assert found(q="hik") == [nikon["id"]]  # prefix match on tags
        assert found(tag="Hiking") == [nikon["id"]]
        assert found(camera="canon") == [canon["id"]]
        assert found(q="eos") == [canon["id"]]
        assert found(**{"from": "2020-01-01"}) == [canon["id"]]
        assert found(**{"to": "2018-08-09"}) == [nikon["id"]]
        assert found(**{"from": "2018-01-01", "to": "2021-12-31"}) == [canon["id"], nikon["id"]]
        assert found(favourite="true") == [nikon["id"]]
        assert found(favourite="false") == [canon["id"]]
        assert found(q="nothing-like-this") == []
        assert found(q='"AND OR (') == []  # operators never reach FTS5
        assert_problem(c.get("/api/search", params={"from": "last week"}), 400)


def test_duplicates_group_near_identical_photos(server: Server) -> None:
    user = server.new_user()
    one = user.upload(image_bytes(430, quality=95), "one.jpg").json()
    two = user.upload(image_bytes(430, quality=60, size=(300, 225)), "two.jpg").json()
    other = user.upload(image_bytes(431), "other.jpg").json()
    assert one["sha256"] != two["sha256"]
    with user.client() as c:
        groups = c.get("/api/duplicates").json()
        assert len(groups) == 1
        assert {p["id"] for p in groups[0]["photos"]} == {one["id"], two["id"]}
        assert other["id"] not in str(groups)


def test_albums_crud(server: Server) -> None:
    user = server.new_user()
    p1 = _put(user, 440, "2022-01-01T10:00:00+00:00")
    p2 = _put(user, 441, "2022-01-02T10:00:00+00:00")
    with user.client() as c:
        r = c.post("/api/albums", json={"name": "  Holiday  "})
        assert r.status_code == 201
        album = r.json()
        assert (album["name"], album["count"], album["cover"], album["photos"]) == ("Holiday", 0, None, [])
        url = f"/api/albums/{album['id']}"
        added = c.post(f"{url}/photos", json={"photo_ids": [p1["id"], p2["id"], p1["id"]]})
        assert added.status_code == 200
        assert added.json()["count"] == 2 and added.json()["cover"] == p1["id"]
        assert [p["id"] for p in c.get(url).json()["photos"]] == [p1["id"], p2["id"]]
        listed = c.get("/api/albums").json()
        assert [(a["id"], a["name"], a["count"], a["cover"]) for a in listed] == [(album["id"], "Holiday", 2, p1["id"])]
        renamed = c.patch(url, json={"name": "Summer"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Summer"
        assert_problem(c.patch(url, json={"name": "Stale", "version": 1}), 409)
        assert_problem(c.patch(url, json={"name": ""}), 422)
        removed = c.request("DELETE", f"{url}/photos", json={"photo_ids": [p1["id"]]})
        assert removed.status_code == 200 and [p["id"] for p in removed.json()["photos"]] == [p2["id"]]
        assert_problem(c.post(f"{url}/photos", json={"photo_ids": []}), 422)
        assert_problem(c.post(f"{url}/photos", json={"photo_ids": ["p-no-such"]}), 404)
        assert c.delete(url).status_code == 204
        assert_problem(c.get(url), 404)
        assert c.get("/api/albums").json() == []
        assert c.get(f"/api/photos/{p2['id']}").status_code == 200  # photos outlive their album


def test_trashed_photos_appear_only_in_the_trash(server: Server) -> None:
    user = server.new_user()
    gone = user.upload(image_bytes(450, quality=95), "trashme.jpg", taken_at="2020-02-02T10:00:00+00:00",
                       tags="secret", description="findable words").json()
    twin = user.upload(image_bytes(450, quality=60), "twin.jpg", taken_at="2020-02-03T10:00:00+00:00").json()
    with user.client() as c:
        album = c.post("/api/albums", json={"name": "Box"}).json()
        c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [gone["id"], twin["id"]]})
        c.put(f"/api/photos/{gone['id']}/favourite")
        assert len(c.get("/api/duplicates").json()) == 1
        before = datetime.now(timezone.utc)
        trashed = c.post(f"/api/photos/{gone['id']}/trash").json()
        purge_at = datetime.fromisoformat(trashed["purge_at"])
        assert timedelta(days=29) < purge_at - before < timedelta(days=31)
        trash = c.get("/api/trash").json()["photos"]
        assert [(p["id"], p["state"], p["purge_at"]) for p in trash] == [(gone["id"], "trash", trashed["purge_at"])]
        for path in ("/api/timeline", "/api/timeline/months", "/api/tags", "/api/tags/secret", "/api/favourites",
                     "/api/memories?date=2024-02-02", "/api/search?q=findable", "/api/search?tag=secret",
                     "/api/search?favourite=true", "/api/duplicates", f"/api/albums/{album['id']}", "/api/albums"):
            r = c.get(path)
            assert r.status_code == 200 and gone["id"] not in r.text, path
        assert c.get("/api/timeline/months").json() == [{"month": "2020-02", "count": 1}]
        assert c.get(f"/api/albums/{album['id']}").json()["count"] == 1
        # Restored, it is everywhere again.
        c.post(f"/api/photos/{gone['id']}/restore")
        assert gone["id"] in c.get("/api/search?q=findable").text and c.get("/api/trash").json()["photos"] == []


def test_housekeeping_purges_expired_trash_and_stale_temp_files(tmp_path: Path) -> None:
    config = load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(tmp_path), "OCTOPUS_TRASH_RETENTION_DAYS": "0"})

    async def scenario() -> None:
        with Octopus(config) as octopus:
            user = await octopus.accounts.register("keeper", "a long password", meta=Meta())
            incoming = octopus.photos.new_upload()
            incoming.write(image_bytes(460))
            photo, _ = await octopus.photos.upload(user.id, incoming, filename="old.jpg", meta=Meta(actor=user.id))
            await octopus.photos.trash(user.id, photo.id, Meta(actor=user.id))
            stale = octopus.paths.tmp / "upload-crashed.part"
            stale.write_bytes(b"half a photo")
            os.utime(stale, (time.time() - 7200, time.time() - 7200))
            fresh = octopus.paths.tmp / "upload-streaming.part"
            fresh.write_bytes(b"still arriving")
            await asyncio.sleep(1.1)  # purge_at has second precision
            task = asyncio.create_task(housekeeping.run(octopus, every_s=0.05))
            for _ in range(100):
                if not octopus.photos.blobs.has("original", photo.sha256 or ""):
                    break
                await asyncio.sleep(0.05)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            assert not octopus.photos.blobs.has("original", photo.sha256 or "")
            assert not stale.exists() and fresh.exists()
            from octopus_events.readmodels import library as lib
            assert lib.trash(octopus.store.reader(), user.id) == []

    asyncio.run(scenario())
