"""Bulk commands and ZIP downloads over real HTTP: each action on many photos, all or nothing,
ownership (another user's id is 404 and nothing changes), caps, and byte-exact ZIPs."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import httpx

from http_support import Server, User, assert_problem, image_bytes, jpeg_with_exif


def _photos(user: User, n: int, seed: int, **fields: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        r = user.upload(image_bytes(seed + i), f"IMG_{seed + i}.jpg", **fields)
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def _bulk(c: httpx.Client, action: str, ids: list[str], **extra: Any) -> httpx.Response:
    return c.post("/api/photos/bulk", json={"action": action, "photo_ids": ids, **extra})


def _get(c: httpx.Client, pid: str) -> dict[str, Any]:
    r = c.get(f"/api/photos/{pid}")
    assert r.status_code == 200, r.text
    return r.json()


def test_favourite_unfavourite_and_tags_in_bulk(alice: User) -> None:
    photos = _photos(alice, 3, 7100, tags="keep")
    ids = [p["id"] for p in photos]
    with alice.client() as c:
        r = _bulk(c, "favourite", ids)
        assert r.status_code == 200, r.text
        assert r.json()["changed"] == 3 and all(p["favourite"] for p in r.json()["photos"])
        assert _bulk(c, "favourite", ids).json()["changed"] == 0  # already so: no events
        assert {p["id"] for p in c.get("/api/favourites").json()["photos"]} == set(ids)
        assert _bulk(c, "unfavourite", ids[:2]).json()["changed"] == 2
        assert [p["id"] for p in c.get("/api/favourites").json()["photos"]] == [ids[2]]

        r = _bulk(c, "add_tags", ids, tags=["Beach", " sea ", "KEEP"])
        assert r.status_code == 200, r.text
        assert [p["tags"] for p in r.json()["photos"]] == [["keep", "Beach", "sea"]] * 3
        r = _bulk(c, "remove_tags", ids[:2], tags=["beach", "nothere"])
        assert [p["tags"] for p in r.json()["photos"]] == [["keep", "sea"]] * 2
        counts = {t["tag"]: t["count"] for t in c.get("/api/tags").json()}
        assert counts["Beach"] == 1 and counts["sea"] == 3 and counts["keep"] == 3
        assert [p["id"] for p in c.get("/api/tags/beach").json()["photos"]] == [ids[2]]


def test_set_and_shift_dates_follow_into_the_timeline_and_months(alice: User) -> None:
    wrong = [jpeg_with_exif(7200 + i, "Canon", "EOS", f"2038:01:19 0{i}:14:07") for i in range(2)]
    ids = []
    for i, data in enumerate(wrong):
        r = alice.upload(data, f"clock{i}.jpg")
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    with alice.client() as c:
        assert c.get("/api/timeline").json()["days"][0]["date"] == "2038-01-19"  # on top of everything
        # A camera whose clock ran 12 years and 3 hours fast: "-12 y -3 h".
        r = _bulk(c, "shift_date", ids, shift={"years": -12, "hours": -3})
        assert r.status_code == 200, r.text
        assert [p["taken_at"] for p in r.json()["photos"]] == ["2026-01-18T21:14:07+00:00", "2026-01-18T22:14:07+00:00"]
        assert all(p["taken_source"] == "user" for p in r.json()["photos"])
        months = {m["month"]: m["count"] for m in c.get("/api/timeline/months").json()}
        assert "2038-01" not in months and months["2026-01"] == 2
        day = [d for d in c.get("/api/timeline").json()["days"] if d["date"] == "2026-01-18"][0]
        assert [p["id"] for p in day["photos"]] == [ids[1], ids[0]]  # newest first, in the new order
        # Set one date for both (a bare date is noon UTC).
        r = _bulk(c, "set_date", ids, taken_at="2001-02-03")
        assert [p["taken_at"] for p in r.json()["photos"]] == ["2001-02-03T12:00:00+00:00"] * 2
        memories = c.get("/api/memories", params={"date": "2026-02-03"}).json()
        assert [m["year"] for m in memories] == [2001] and len(memories[0]["photos"]) == 2
        # Calendar arithmetic: 31 January + 1 month is the last day of February.
        assert _bulk(c, "set_date", ids[:1], taken_at="2024-01-31T10:00:00+01:00").status_code == 200
        r = _bulk(c, "shift_date", ids[:1], shift={"months": 1})
        assert r.json()["photos"][0]["taken_at"] == "2024-02-29T10:00:00+01:00"  # the offset is kept


def test_bad_bulk_input_is_a_clear_problem_and_changes_nothing(alice: User) -> None:
    ids = [p["id"] for p in _photos(alice, 2, 7300)]
    with alice.client() as c:
        before = [_get(c, i) for i in ids]
        assert "action" in assert_problem(_bulk(c, "paint", ids), 400)["detail"]
        assert_problem(c.post("/api/photos/bulk", json={"action": "favourite"}), 400)  # no photo_ids
        assert_problem(_bulk(c, "favourite", []), 422)
        assert_problem(_bulk(c, "add_tags", ids, tags=[]), 422)
        assert_problem(_bulk(c, "set_date", ids, taken_at="yesterday"), 422)
        assert_problem(_bulk(c, "shift_date", ids, shift={}), 422)
        # Out of range for one photo refuses the whole request.
        body = assert_problem(_bulk(c, "shift_date", ids, shift={"years": 300}), 422)
        assert "outside 1800-2200" in body["detail"]
        assert_problem(_bulk(c, "shift_date", ids, shift={"days": 10**12}), 422)  # no OverflowError, no 500
        assert_problem(_bulk(c, "favourite", [f"p{i:020x}" for i in range(1001)]), 413)
        assert [_get(c, i) for i in ids] == before


def test_another_users_id_is_404_and_nothing_changes(alice: User, bob: User) -> None:
    mine = [p["id"] for p in _photos(alice, 2, 7400)]
    theirs = _photos(bob, 1, 7410)[0]["id"]
    with alice.client() as c:
        for action, extra in [("favourite", {}), ("archive", {}), ("trash", {}), ("add_tags", {"tags": ["x"]}),
                              ("shift_date", {"shift": {"days": 1}})]:
            assert_problem(_bulk(c, action, [*mine, theirs], **extra), 404)
            assert_problem(_bulk(c, action, [*mine, "pdoesnotexist"], **extra), 404)
        after = [_get(c, i) for i in mine]
        assert all(p["version"] == 1 and p["state"] == "library" and p["tags"] == [] for p in after)
        assert_problem(c.post("/api/downloads", json={"photo_ids": [*mine, theirs]}), 404)
    with bob.client() as c:
        assert _get(c, theirs)["version"] == 1


def test_trash_archive_and_restore_in_bulk(alice: User) -> None:
    ids = [p["id"] for p in _photos(alice, 3, 7500)]
    with alice.client() as c:
        r = _bulk(c, "archive", ids[:2])
        assert [p["state"] for p in r.json()["photos"]] == ["archived", "archived"]
        assert {p["id"] for p in c.get("/api/archive").json()["photos"]} == set(ids[:2])
        r = _bulk(c, "trash", ids)
        assert [p["state"] for p in r.json()["photos"]] == ["trash"] * 3
        # Archiving a trashed photo is a conflict, for all of them.
        assert_problem(_bulk(c, "archive", ids[2:]), 409)
        r = _bulk(c, "restore", ids)
        # Back from the trash an archived photo is archived again (the flag survives the trash).
        assert [p["state"] for p in r.json()["photos"]] == ["archived", "archived", "library"]
        assert _bulk(c, "unarchive", ids).json()["changed"] == 2


def _zip_of(c: httpx.Client, ids: list[str]) -> tuple[dict[str, Any], httpx.Response]:
    r = c.post("/api/downloads", json={"photo_ids": ids})
    assert r.status_code == 201, r.text
    link = r.json()
    got = c.get(link["url"])
    assert got.status_code == 200, got.text
    return link, got


def test_zip_download_is_byte_exact_with_unique_names(alice: User, bob: User) -> None:
    datas = [image_bytes(7600 + i, size=(200 + i, 150)) for i in range(3)]
    ids = []
    for data, name in zip(datas, ["IMG_1.jpg", "img_1.JPG", "other.jpg"]):
        r = alice.upload(data, name)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    with alice.client() as c:
        link, got = _zip_of(c, ids)
        assert got.headers["content-type"] == "application/zip"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert int(got.headers["content-length"]) == len(got.content) == link["bytes"] and link["count"] == 3
        z = zipfile.ZipFile(io.BytesIO(got.content))
        assert z.namelist() == ["IMG_1.jpg", "img_1 (2).JPG", "other.jpg"]
        assert z.testzip() is None
        for info, data in zip(z.infolist(), datas):
            assert info.compress_type == zipfile.ZIP_STORED
            assert hashlib.sha256(z.read(info)).digest() == hashlib.sha256(data).digest()
        # The link is this user's only: anyone else (or nobody) gets 404.
        with bob.client() as other:
            assert_problem(other.get(link["url"]), 404)
        assert httpx.get(alice.server.url + link["url"]).status_code == 401
        assert_problem(c.get("/api/downloads/not-a-token"), 404)
        assert_problem(c.post("/api/downloads", json={"photo_ids": []}), 422)
        assert_problem(c.post("/api/downloads", json={"photo_ids": [f"p{i}" for i in range(5001)]}), 413)
        # Trashed meanwhile: still the owner's, still in the ZIP; deleted for good: left out.
        link = c.post("/api/downloads", json={"photo_ids": ids}).json()
        assert c.delete(f"/api/photos/{ids[2]}").status_code == 204
        z = zipfile.ZipFile(io.BytesIO(c.get(link["url"]).content))
        assert z.namelist() == ["IMG_1.jpg", "img_1 (2).JPG"]


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_large_zip_streams_without_growing_the_servers_memory(server: Server) -> None:
    """A 150 MB original (a JPEG with a long trailer, as cameras append) goes out in a ZIP while
    the server's RSS stays within a few chunks of where it was (a copy in memory would add 150)."""
    user = server.new_user()
    big = image_bytes(7700) + b"\0" * (150 * 1024 * 1024)
    r = user.upload(big, "big.jpg")
    assert r.status_code == 201, r.text
    assert server.proc is not None
    pid = server.proc.pid
    with user.client() as c:
        link = c.post("/api/downloads", json={"photo_ids": [r.json()["id"]]}).json()
        before = peak = _rss_mb(pid)
        total, digest = 0, hashlib.sha256()
        with c.stream("GET", link["url"]) as got:
            for chunk in got.iter_bytes(1024 * 1024):
                total += len(chunk)
                digest.update(chunk)
                peak = max(peak, _rss_mb(pid))
    assert total == link["bytes"] > len(big)
    print(f"ZIP of 150 MB: server RSS {before:.0f} MB before, peak growth {peak - before:.1f} MB")
    assert peak - before < 40, f"RSS grew {peak - before:.1f} MB while streaming"


def test_zip64_records_and_unique_names(tmp_path: Any) -> None:
    """The ZIP64 paths without 4 GiB of data: with the limit lowered, every entry and the end of
    the archive use ZIP64 records; Python's zipfile (and unzip where installed) reads them back."""
    import os
    import shutil
    import subprocess
    from datetime import datetime

    from octopus_events.zipstream import ZipEntry, ZipPlan, unique_names

    assert unique_names(["a.jpg", "A.JPG", "a.jpg", "..", "", "x/y.png", ".hidden"]) == \
        ["a.jpg", "A (2).JPG", "a (3).jpg", "photo", "photo (2)", "x_y.png", ".hidden"]
    files = []
    for i, size in enumerate([0, 1, 70_000, 3 * 1024 * 1024 + 7]):
        path = tmp_path / f"f{i}"
        path.write_bytes(os.urandom(size))
        files.append(ZipEntry(name=f"IMG_{i}.jpg", path=path, size=size, modified=datetime(2038, 1, 19, 3, 14, 7)))
    for zip64_at in (0xFFFFFFFF, 1):
        plan = ZipPlan(files, zip64_at=zip64_at)
        out = tmp_path / f"z{zip64_at}.zip"
        with open(out, "wb") as fh:
            for chunk in plan.chunks(chunk=64 * 1024):
                fh.write(chunk)
        assert out.stat().st_size == plan.size
        data = out.read_bytes()
        assert (b"PK\x06\x06" in data) == (zip64_at == 1)  # the ZIP64 end record
        with zipfile.ZipFile(out) as z:
            assert z.testzip() is None
            assert [i.date_time for i in z.infolist()] == [(2038, 1, 19, 3, 14, 6)] * 4  # DOS: 2-second steps
            for info, entry in zip(z.infolist(), files):
                assert z.read(info) == entry.path.read_bytes()
        if shutil.which("unzip"):
            assert subprocess.run(["unzip", "-tq", str(out)], capture_output=True).returncode == 0
    # A file that shrank after planning raises instead of writing a broken archive.
    plan = ZipPlan(files[3:], zip64_at=1)
    files[3].path.write_bytes(b"short")
    try:
        b"".join(plan.chunks())
    except OSError as exc:
        assert "shorter" in str(exc)
    else:
        raise AssertionError("a shrunk file went into the ZIP")
