"""A photo deleted for good does not come back from the phone's Uploads folder, and the data dir
keeps nothing of it, not even its filename (CONTRACT.md, Deletion; docs/webdav.md, "Deleted
for good")."""

from __future__ import annotations

import time
from pathlib import Path

from dav_support import app_password, dav, dav_server  # noqa: F401  (fixture)
from http_support import Server, jpeg_with_exif

NAME = "IMG_Qx7Zk41.jpg"  # a name nothing else in the data dir could hold by chance

PROPPATCH = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test:"><D:set><D:prop><Z:album>holiday</Z:album></D:prop></D:set></D:propertyupdate>"""
LOCK = b"""<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>phone</D:owner></D:lockinfo>"""

ALLPROP = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


def files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def wait_until_gone(root: Path, *needles: bytes) -> None:
    deadline = time.monotonic() + 10
    while any(files_holding(root, n) for n in needles) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_purged_photo_leaves_no_entry_no_name_and_is_not_reingested(dav_server: Server) -> None:
    user = dav_server.new_user()
    secret = app_password(user)
    data = jpeg_with_exif(4242, "Pixel", "8", taken="2020:02:02 02:02:02")
    needle = data[len(data) // 2: len(data) // 2 + 64]  # image data, not a header every JPEG shares
    name = NAME.encode()
    with dav(dav_server, user, secret) as phone:
        assert phone.request("MKCOL", "/Uploads/Camera/").status_code == 201
        assert phone.put(f"/Uploads/Camera/{NAME}", content=data, headers={"X-OC-Mtime": "1580608922"}).status_code == 201
        # A dead property and a lock on it: both are keyed by the name.
        assert phone.request("PROPPATCH", f"/Uploads/Camera/{NAME}", content=PROPPATCH).status_code == 207
        assert "holiday" in phone.request("PROPFIND", f"/Uploads/Camera/{NAME}", headers={"Depth": "0"}, content=ALLPROP).text
        locked = phone.request("LOCK", f"/Uploads/Camera/{NAME}", content=LOCK, headers={"Timeout": "Second-600"})
        assert locked.status_code == 200, locked.text
        api = user.client()
        [photo] = [p for day in api.get("/api/timeline").json()["days"] for p in day["photos"]]
        assert files_holding(dav_server.data_dir, needle)  # the scan can see the bytes at all
        assert files_holding(dav_server.data_dir, name)  # ... and the name
        assert api.delete(f"/api/photos/{photo['id']}").status_code == 204

        wait_until_gone(dav_server.data_dir, needle, name)
        assert files_holding(dav_server.data_dir, needle) == []
        assert files_holding(dav_server.data_dir, name) == []
        # The entry is gone from the device's folder: listing, GET, properties.
        listing = phone.request("PROPFIND", "/Uploads/Camera/", headers={"Depth": "1"})
        assert listing.status_code == 207 and NAME not in listing.text
        assert phone.get(f"/Uploads/Camera/{NAME}").status_code == 404

        # The app sends the same bytes again (a sync that compares listings does): a success, so
        # it does not retry for ever, but nothing is kept: not listed, not in the library. The
        # lock went with the file, so no lock token is needed.
        again = phone.put(f"/Uploads/Camera/{NAME}", content=data, headers={"X-OC-Mtime": "1580608922"})
        assert again.status_code == 201, again.text
        assert phone.put("/Uploads/Camera/IMG_1 (1).jpg", content=data).status_code == 201
        assert api.get("/api/timeline").json()["days"] == []
        listing = phone.request("PROPFIND", "/Uploads/Camera/", headers={"Depth": "1"})
        assert NAME not in listing.text and "IMG_1%20(1).jpg" not in listing.text
        assert phone.get(f"/Uploads/Camera/{NAME}").status_code == 404
        assert files_holding(dav_server.data_dir, needle) == []
        assert files_holding(dav_server.data_dir, name) == []
        # A new file under that name with no properties: the old property did not survive.
        assert phone.put(f"/Uploads/Camera/{NAME}", content=b"notes").status_code == 201
        props = phone.request("PROPFIND", f"/Uploads/Camera/{NAME}", headers={"Depth": "0"}, content=ALLPROP)
        assert "holiday" not in props.text
    # Other photos are unaffected: a different photo is still taken in.
    with dav(dav_server, user, secret) as phone:
        assert phone.put("/Uploads/Camera/IMG_2.jpg", content=jpeg_with_exif(4243, "Pixel", "8")).status_code == 201
    assert len(user.client().get("/api/timeline").json()["days"]) == 1
