"""A photo deleted for good does not come back from the phone's Uploads folder, and the data dir
keeps nothing recoverable of it (docs/webdav.md, "Deleted for good")."""

from __future__ import annotations

import time
from pathlib import Path

from dav_support import app_password, dav, dav_server  # noqa: F401  (fixture)
from http_support import Server, jpeg_with_exif


def files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_purged_photo_is_not_reingested_and_leaves_no_bytes(dav_server: Server) -> None:
    user = dav_server.new_user()
    secret = app_password(user)
    data = jpeg_with_exif(4242, "Pixel", "8", taken="2020:02:02 02:02:02")
    needle = data[len(data) // 2: len(data) // 2 + 64]  # image data, not a header every JPEG shares
    with dav(dav_server, user, secret) as phone:
        assert phone.request("MKCOL", "/Uploads/Camera/").status_code == 201
        assert phone.put("/Uploads/Camera/IMG_1.jpg", content=data, headers={"X-OC-Mtime": "1580608922"}).status_code == 201
        before = phone.request("PROPFIND", "/Uploads/Camera/IMG_1.jpg", headers={"Depth": "0"}).text
        api = user.client()
        [photo] = [p for day in api.get("/api/timeline").json()["days"] for p in day["photos"]]
        assert files_holding(dav_server.data_dir, needle)  # the check can see the bytes at all
        assert api.delete(f"/api/photos/{photo['id']}").status_code == 204

        deadline = time.monotonic() + 10
        while files_holding(dav_server.data_dir, needle) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert files_holding(dav_server.data_dir, needle) == []
        # The device still sees the file it put (name, size, mtime, ETag), so it uploads nothing.
        after = phone.request("PROPFIND", "/Uploads/Camera/IMG_1.jpg", headers={"Depth": "0"}).text
        assert after == before
        assert phone.get("/Uploads/Camera/IMG_1.jpg").status_code == 404

        # The app uploads the same bytes again anyway (reinstalled, another folder): refused
        # quietly, kept only as an entry without bytes; the library stays without it.
        assert phone.put("/Uploads/Camera/IMG_1 (1).jpg", content=data).status_code == 201
        assert phone.put("/Uploads/Camera/IMG_1.jpg", content=data).status_code == 204
        assert api.get("/api/timeline").json()["days"] == []
        assert files_holding(dav_server.data_dir, needle) == []
        listing = phone.request("PROPFIND", "/Uploads/Camera/", headers={"Depth": "1"}).text
        assert "IMG_1%20(1).jpg" in listing and f">{len(data)}</" in listing  # listed at its full size
    # Other photos are unaffected: a different photo is still taken in.
    with dav(dav_server, user, secret) as phone:
        assert phone.put("/Uploads/Camera/IMG_2.jpg", content=jpeg_with_exif(4243, "Pixel", "8")).status_code == 201
    assert len(user.client().get("/api/timeline").json()["days"]) == 1
