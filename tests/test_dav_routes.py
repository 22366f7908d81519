"""The route walk over /dav/: who may do what where, each method on each tree; the Albums/ and
Favourites/ views; `Octopus-Photo-Id` on a media PUT."""

from __future__ import annotations

import httpx

from dav_support import app_password, dav, dav_server  # noqa: F401  (fixture)
from http_support import Server, User, jpeg_with_exif

LOCK = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        b'<D:locktype><D:write/></D:locktype><D:owner>walk</D:owner></D:lockinfo>')
PROPPATCH = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
             b'<x xmlns="urn:test">1</x></D:prop></D:set></D:propertyupdate>')


def setup(server: Server) -> tuple[User, str, str]:
    """A user with one photo (put through DAV), in an album and a favourite."""
    user = server.new_user()
    secret = app_password(user)
    with dav(server, user, secret) as client:
        put = client.put("/Uploads/IMG_1.jpg", content=jpeg_with_exif(1401, "Pixel", "8", taken="2020:02:03 10:00:00"))
        assert put.status_code == 201
        photo_id = put.headers["Octopus-Photo-Id"]
        assert client.put("/Uploads/notes.txt", content=b"x").headers.get("Octopus-Photo-Id") is None
    with user.client() as c:
        album = c.post("/api/albums", json={"name": "Trip"}).json()["id"]
        assert c.post(f"/api/albums/{album}/photos", json={"photo_ids": [photo_id]}).status_code == 200
        assert c.put(f"/api/photos/{photo_id}/favourite").status_code in (200, 204)
    return user, secret, photo_id


def test_who_may_reach_dav(dav_server: Server, server: Server) -> None:
    user, secret, _ = setup(dav_server)
    other = dav_server.new_user()
    other_secret = app_password(other)
    for method in ("GET", "PUT", "PROPFIND", "PROPPATCH", "MKCOL", "DELETE", "COPY", "MOVE", "LOCK", "UNLOCK"):
        for path in ("/Uploads/IMG_1.jpg", "/Library/2020/2020-02/IMG_1.jpg", "/Albums/Trip/IMG_1.jpg", "/Favourites/IMG_1.jpg"):
            r = httpx.request(method, f"{dav_server.url}/dav{path}", headers={"Depth": "0"})
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), (method, path)
    # Depth infinity is refused before sign-in, as documented (no work for anyone).
    assert httpx.request("PROPFIND", f"{dav_server.url}/dav/Library/", headers={"Depth": "infinity"}).status_code == 403
    # Another user's app password reaches only their own (empty) folders.
    with dav(dav_server, user.name, other_secret) as wrong:
        assert wrong.get("/Uploads/IMG_1.jpg").status_code == 401  # not this user's password
    with dav(dav_server, other, other_secret) as theirs:
        assert theirs.get("/Uploads/IMG_1.jpg").status_code == 404
        for path in ("/Library/2020/2020-02/IMG_1.jpg", "/Albums/Trip/", "/Favourites/IMG_1.jpg"):
            assert theirs.get(path).status_code == 404, path
        assert theirs.delete("/Favourites/IMG_1.jpg").status_code == 404
    # The account password with dav.allow_account_password = false (the shared server): 401.
    plain = server.new_user()
    with dav(server, plain) as client:
        assert client.request("PROPFIND", "/", headers={"Depth": "0"}).status_code == 401


def test_each_method_on_each_tree(dav_server: Server) -> None:
    user, secret, photo_id = setup(dav_server)
    views = ("/Library/2020/2020-02/IMG_1.jpg", "/Albums/Trip/IMG_1.jpg", "/Favourites/IMG_1.jpg")
    with dav(dav_server, user, secret) as client:
        for path in views:
            assert client.get(path).status_code == 200
            assert client.request("PROPFIND", path, headers={"Depth": "0"}).status_code == 207
            assert client.put(path, content=b"x").status_code == 403, path
            assert client.request("MKCOL", path.rsplit("/", 1)[0] + "/new/").status_code in (403, 405), path
            assert client.request("COPY", path, headers={"Destination": f"{dav_server.url}/dav/Uploads/c.jpg"}).status_code in (201, 204, 403)
            assert client.request("MOVE", path, headers={"Destination": f"{dav_server.url}/dav/Uploads/m.jpg"}).status_code == 403, path
            assert client.request("COPY", "/Uploads/notes.txt", headers={"Destination": f"{dav_server.url}/dav{path}"}).status_code == 403
            assert client.request("LOCK", path, content=LOCK).status_code == 403, path
            assert client.request("UNLOCK", path, headers={"Lock-Token": "<opaquelocktoken:nope>"}).status_code in (400, 403, 404, 409)
            proppatch = client.request("PROPPATCH", path, content=PROPPATCH)
            assert proppatch.status_code == 403 or b"403" in proppatch.content, path
        # Uploads: everything works.
        assert client.request("MKCOL", "/Uploads/walk/").status_code == 201
        assert client.request("COPY", "/Uploads/notes.txt", headers={"Destination": f"{dav_server.url}/dav/Uploads/walk/n.txt"}).status_code == 201
        assert client.request("MOVE", "/Uploads/walk/n.txt", headers={"Destination": f"{dav_server.url}/dav/Uploads/walk/o.txt"}).status_code == 201
        assert client.request("PROPPATCH", "/Uploads/walk/o.txt", content=PROPPATCH).status_code == 207
        lock = client.request("LOCK", "/Uploads/walk/o.txt", content=LOCK)
        assert lock.status_code == 200
        assert client.request("UNLOCK", "/Uploads/walk/o.txt", headers={"Lock-Token": lock.headers["lock-token"]}).status_code == 204
        assert client.delete("/Uploads/walk/").status_code == 204
        # Albums/ and Favourites/ list the photo, GET ranges work, DELETE trashes.
        for folder in ("/Albums/Trip/", "/Favourites/"):
            listing = client.request("PROPFIND", folder, headers={"Depth": "1"})
            assert listing.status_code == 207 and b"IMG_1.jpg" in listing.content, folder
        full = client.get("/Albums/Trip/IMG_1.jpg").content
        ranged = client.get("/Favourites/IMG_1.jpg", headers={"Range": "bytes=5-14"})
        assert ranged.status_code == 206 and ranged.content == full[5:15]
        assert b"Trip" in client.request("PROPFIND", "/Albums/", headers={"Depth": "1"}).content
        assert client.delete("/Favourites/IMG_1.jpg").status_code == 204
    assert user.client().get(f"/api/photos/{photo_id}").json()["state"] == "trash"
    with dav(dav_server, user, secret) as client:
        assert b"IMG_1.jpg" not in client.request("PROPFIND", "/Albums/Trip/", headers={"Depth": "1"}).content
        assert client.get("/Favourites/IMG_1.jpg").status_code == 404
