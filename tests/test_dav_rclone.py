"""WebDAV with rclone (a real sync client) and the protocol edges a phone app meets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from dav_support import Rclone, app_password, dav, dav_server  # noqa: F401  (fixture)
from http_support import PASSWORD, Server, User, image_bytes, jpeg_with_exif
from video_support import clip


def timeline_ids(user: User) -> list[str]:
    page = user.client().get("/api/timeline", params={"limit": 500}).json()
    return [p["id"] for day in page["days"] for p in day["photos"]]


def camera_folder(tmp: Path) -> Path:
    folder = tmp / "DCIM" / "Camera"
    folder.mkdir(parents=True)
    for i in range(4):
        (folder / f"IMG_{i:04d}.jpg").write_bytes(jpeg_with_exif(700 + i, "Pixel", "8", taken=f"2023:0{i + 1}:15 10:00:00"))
    (folder / "VID_0001.mp4").write_bytes(clip(seconds=1.0, seed=7).read_bytes())
    (folder / ".nomedia").write_bytes(b"")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def transferred_files(output: str) -> int:
    for line in output.splitlines():
        text = line.split("INFO  :")[-1].strip()
        if text.startswith("Transferred:") and "/" in text and "Byte" not in text and "B," not in text:
            return int(text.split(":", 1)[1].split("/")[0].strip())
    # rclone leaves the file count out when it transferred none (and says so).
    assert "There was nothing to transfer" in output, output
    return 0


def test_rclone_copy_backs_up_once_and_lists_the_library(dav_server: Server, tmp_path: Path) -> None:
    user = dav_server.new_user()
    secret = app_password(user)
    rclone = Rclone(dav_server, user.name, secret, tmp_path)
    folder = camera_folder(tmp_path)
    stats = ("--stats", "1h", "--stats-log-level", "NOTICE", "-v")
    first = rclone.run("copy", str(folder), "oct:Uploads/Camera", *stats)
    assert transferred_files(first.stderr) == 7
    ids = timeline_ids(user)
    assert len(ids) == 5  # four photos and the video; .nomedia and notes.txt are device files only
    second = rclone.run("copy", str(folder), "oct:Uploads/Camera", *stats)
    assert transferred_files(second.stderr) == 0
    rclone.run("check", str(folder), "oct:Uploads/Camera")  # exits non-zero on any difference
    assert sorted(timeline_ids(user)) == sorted(ids)
    # GET returns what was PUT, the notes included.
    with dav(dav_server, user, secret) as client:
        assert client.get("/Uploads/Camera/notes.txt").content == b"not a photo"
        assert client.get("/Uploads/Camera/IMG_0002.jpg").content == (folder / "IMG_0002.jpg").read_bytes()


def test_depth_infinity_is_refused_with_the_precondition(dav_server: Server) -> None:
    user = dav_server.new_user()
    with dav(dav_server, user) as client:
        response = client.request("PROPFIND", "/Uploads/", headers={"Depth": "infinity"})
        assert response.status_code == 403
        assert b"propfind-finite-depth" in response.content and b'xmlns:D="DAV:"' in response.content
        assert client.request("PROPFIND", "/Uploads/", headers={"Depth": "1"}).status_code == 207


def test_another_users_uploads_are_not_reachable_and_wrong_passwords_are_401(dav_server: Server) -> None:
    alice, bob = dav_server.new_user(), dav_server.new_user()
    with dav(dav_server, alice) as a, dav(dav_server, bob) as b:
        assert a.put("/Uploads/secret.txt", content=b"alice only").status_code == 201
        assert b.get("/Uploads/secret.txt").status_code == 404
        listing = b.request("PROPFIND", "/Uploads/", headers={"Depth": "1"}).text
        assert "secret.txt" not in listing
        for path in ("/Uploads/../../" + alice.name + "/secret.txt", "/Uploads/%2e%2e/secret.txt"):
            assert b.get(path).status_code in (403, 404)
    with dav(dav_server, alice, "wrong password") as wrong:
        assert wrong.request("PROPFIND", "/Uploads/", headers={"Depth": "0"}).status_code == 401
    assert httpx.request("PROPFIND", f"{dav_server.url}/dav/Uploads/", headers={"Depth": "0"}).status_code == 401


def test_put_keeps_mtime_size_and_etag(dav_server: Server) -> None:
    user = dav_server.new_user()
    data = image_bytes(901)
    with dav(dav_server, user) as client:
        put = client.put("/Uploads/2024/x.jpg", content=data)
        assert put.status_code == 409  # no folder yet: MKCOL first, like any WebDAV client
        assert client.request("MKCOL", "/Uploads/2024/").status_code == 201
        put = client.put("/Uploads/2024/x.jpg", content=data, headers={"X-OC-Mtime": "1500000000"})
        assert put.status_code == 201
        head = client.head("/Uploads/2024/x.jpg")
        assert head.headers["last-modified"] == "Fri, 14 Jul 2017 02:40:00 GMT"
        assert int(head.headers["content-length"]) == len(data)
        assert head.headers["etag"] == client.head("/Uploads/2024/x.jpg").headers["etag"]


def test_library_views_list_by_month_stream_ranges_and_trash_on_delete(dav_server: Server, tmp_path: Path) -> None:
    user = dav_server.new_user()
    secret = app_password(user)
    rclone = Rclone(dav_server, user.name, secret, tmp_path)
    folder = tmp_path / "pics"
    folder.mkdir()
    # Two different photos with the same name taken the same month: the later gets a suffix.
    (folder / "a").mkdir()
    (folder / "a" / "IMG.jpg").write_bytes(jpeg_with_exif(801, "Pixel", "8", taken="2022:05:01 09:00:00"))
    (folder / "b").mkdir()
    (folder / "b" / "IMG.jpg").write_bytes(jpeg_with_exif(802, "Pixel", "8", taken="2022:05:02 09:00:00"))
    (folder / "c.jpg").write_bytes(jpeg_with_exif(803, "Pixel", "8", taken="2021:12:24 18:00:00"))
    # One after the other: the earlier upload keeps the name.
    rclone.run("copy", str(folder / "a"), "oct:Uploads/a")
    rclone.run("copy", str(folder), "oct:Uploads/")
    listed = sorted(rclone.run("lsf", "-R", "oct:Library/").stdout.splitlines())
    ids = timeline_ids(user)
    assert len(ids) == 3
    # The later upload (then the higher id: uploaded_at has whole seconds) gets the suffix.
    may = [user.client().get(f"/api/photos/{i}").json() for i in ids]
    second = max((p["uploaded_at"], p["id"]) for p in may if p["taken_at"].startswith("2022-05"))[1]
    assert listed == sorted(["2021/", "2021/2021-12/", "2021/2021-12/c.jpg", "2022/", "2022/2022-05/",
                             "2022/2022-05/IMG.jpg", f"2022/2022-05/IMG ({second[:8]}).jpg"])
    with dav(dav_server, user, secret) as client:
        original = (folder / "c.jpg").read_bytes()
        ranged = client.get("/Library/2021/2021-12/c.jpg", headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == original[10:20]
        assert client.put("/Library/2021/2021-12/new.jpg", content=b"x").status_code == 403
        assert client.request("MKCOL", "/Library/2020/").status_code == 403
        assert client.request("PROPPATCH", "/Library/2021/2021-12/c.jpg", content=_PROPPATCH).status_code in (403, 207)
        assert client.delete(f"/Library/2022/2022-05/IMG ({second[:8]}).jpg").status_code == 204
    assert user.client().get(f"/api/photos/{second}").json()["state"] == "trash"
    assert second not in timeline_ids(user)
    assert sorted(rclone.run("lsf", "oct:Library/2022/2022-05/").stdout.splitlines()) == ["IMG.jpg"]


_PROPPATCH = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
              b'<x xmlns="urn:test">1</x></D:prop></D:set></D:propertyupdate>')


def test_app_password_is_needed_unless_the_account_password_is_allowed(server: Server, dav_server: Server) -> None:
    # The shared server runs with the default dav.allow_account_password = false.
    user = server.new_user()
    with dav(server, user) as client:
        assert client.request("PROPFIND", "/Uploads/", headers={"Depth": "0"}).status_code == 401
    secret = app_password(user)
    with dav(server, user, secret) as client:
        assert client.request("PROPFIND", "/Uploads/", headers={"Depth": "0"}).status_code == 207
    # Two devices of one user have their own Uploads folders.
    other = app_password(user, "tablet")
    with dav(server, user, secret) as phone, dav(server, user, other) as tablet:
        assert phone.put("/Uploads/only-phone.txt", content=b"x").status_code == 201
        assert tablet.get("/Uploads/only-phone.txt").status_code == 404


def test_a_revoked_app_password_is_401_at_once(dav_server: Server) -> None:
    user = dav_server.new_user()
    secret = app_password(user)
    with dav(dav_server, user, secret) as client:
        assert client.request("PROPFIND", "/Uploads/", headers={"Depth": "0"}).status_code == 207
        device_id = user.client().get("/api/devices").json()
        device_id = (device_id["devices"] if isinstance(device_id, dict) else device_id)[0]["id"]
        assert user.client().delete(f"/api/devices/{device_id}").status_code in (200, 204)
        assert client.request("PROPFIND", "/Uploads/", headers={"Depth": "0"}).status_code == 401
