"""Device files (non-media files kept in Uploads) count in storage and against the quota."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dav_support import Rclone, app_password, dav, dav_server  # noqa: F401  (fixture)
from http_support import PASSWORD, Server, User, fresh_name, jpeg_with_exif

QUOTA = 400_000


def storage(user: User) -> dict[str, Any]:
    r = user.client().get("/api/users/me/storage")
    assert r.status_code == 200, r.text
    return dict(r.json())


def quota_user(server: Server) -> User:
    name = fresh_name()
    r = server.admin.client().post("/api/admin/users", json={"username": name, "password": PASSWORD, "quota_bytes": QUOTA})
    assert r.status_code == 201, r.text
    return server.sign_in(name)


def test_device_files_count_in_storage_and_the_quota(dav_server: Server, tmp_path: Path) -> None:
    user = quota_user(dav_server)
    secret = app_password(user)
    notes = os.urandom(150_000)
    photo = jpeg_with_exif(1301, "Pixel", "8", taken="2023:01:15 10:00:00")
    with dav(dav_server, user, secret) as client:
        assert client.put("/Uploads/notes.bin", content=notes).status_code == 201
        assert storage(user)["device_file_bytes"] == 150_000 and storage(user)["bytes"] == 150_000
        # A media file is counted once, as its library item; its Uploads copy is not a device file.
        assert client.put("/Uploads/IMG.jpg", content=photo).status_code == 201
        used = storage(user)
        assert used["photos"] == 1 and used["device_file_bytes"] == 150_000
        assert used["bytes"] == 150_000 + len(photo)
        # Beyond the quota: 507, nothing kept, nothing counted.
        big = client.put("/Uploads/big.bin", content=os.urandom(QUOTA - used["bytes"] + 1))
        assert big.status_code == 507, big.status_code
        assert client.get("/Uploads/big.bin").status_code == 404
        assert storage(user)["bytes"] == used["bytes"]
        # The device files' bytes hold the API's uploads back too.
        assert client.put("/Uploads/more.bin", content=os.urandom(QUOTA - used["bytes"] - 1000)).status_code == 201
        assert user.upload(jpeg_with_exif(1302, "Pixel", "8")).status_code == 413
        # rclone says what went wrong.
        folder = tmp_path / "phone"
        folder.mkdir()
        (folder / "video.bin").write_bytes(os.urandom(50_000))
        done = Rclone(dav_server, user.name, secret, tmp_path).run("copy", str(folder), "oct:Uploads/", "--retries", "1",
                                                                    "--low-level-retries", "1", check=False)
        assert done.returncode != 0
        assert "507" in done.stderr and "Insufficient Storage" in done.stderr, done.stderr
        # Deleting device files gives their bytes back at once.
        assert client.delete("/Uploads/more.bin").status_code == 204
        assert client.delete("/Uploads/notes.bin").status_code == 204
        after = storage(user)
        assert after["device_file_bytes"] == 0 and after["bytes"] == len(photo)


def test_the_device_file_total_follows_each_write(dav_server: Server) -> None:
    """The total is kept as each write happens (no walk per PUT): overwrite, MOVE, COPY and a
    folder's DELETE each leave it equal to what is on disk."""
    user = quota_user(dav_server)
    secret = app_password(user)
    with dav(dav_server, user, secret) as client:
        assert client.put("/Uploads/a.bin", content=os.urandom(10_000)).status_code == 201
        assert storage(user)["device_file_bytes"] == 10_000
        assert client.put("/Uploads/a.bin", content=os.urandom(25_000)).status_code == 204  # overwritten, bigger
        assert storage(user)["device_file_bytes"] == 25_000
        assert client.request("MKCOL", "/Uploads/dir/").status_code == 201
        moved = client.request("MOVE", "/Uploads/a.bin", headers={"Destination": f"{dav_server.url}/dav/Uploads/dir/b.bin"})
        assert moved.status_code == 201, moved.status_code
        assert storage(user)["device_file_bytes"] == 25_000
        copied = client.request("COPY", "/Uploads/dir/b.bin", headers={"Destination": f"{dav_server.url}/dav/Uploads/c.bin"})
        assert copied.status_code == 201, copied.status_code
        assert storage(user)["device_file_bytes"] == 50_000
        assert client.delete("/Uploads/dir/").status_code == 204
        assert storage(user)["device_file_bytes"] == 25_000
        assert client.put("/Uploads/c.bin", content=b"").status_code == 204  # emptied
        assert storage(user)["device_file_bytes"] == 0
