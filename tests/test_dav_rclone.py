"""WebDAV with rclone (a real sync client) and the protocol edges a phone app meets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from dav_support import Rclone, dav, dav_server  # noqa: F401  (fixture)
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
    rclone = Rclone(dav_server, user.name, PASSWORD, tmp_path)
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
    with dav(dav_server, user) as client:
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
