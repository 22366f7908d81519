"""Photos over real HTTP: the streaming upload and its failures, the bytes (ETag, Range),
upright derivatives (pixels, not only sizes) for every EXIF orientation, and the commands on one photo."""

from __future__ import annotations

import hashlib
import io
import socket

import httpx
import pytest
from PIL import Image

from http_support import CORPUS, Server, User, assert_problem, image_bytes, needs_corpus, upload
from orientation_support import assert_upright, closest_turn, oriented_jpeg


def _healthy(server: Server) -> None:
    assert httpx.get(f"{server.url}/api/health").status_code == 200
    assert server.tmp_files() == []


@pytest.mark.parametrize(
    ("fmt", "mime", "save"),
    [
        ("JPEG", "image/jpeg", {"quality": 85}),
        ("PNG", "image/png", {}),
        ("WEBP", "image/webp", {"quality": 80}),
        ("GIF", "image/gif", {}),
        ("TIFF", "image/tiff", {}),
    ],
)
def test_upload_each_pillow_format(server: Server, alice: User, fmt: str, mime: str, save: dict) -> None:
    data = image_bytes(200, fmt, size=(300, 200), **save)
    r = alice.upload(data, f"picture.{fmt.lower()}", description="a test", tags="one, Two")
    assert r.status_code == 201, r.text
    photo = r.json()
    assert r.headers["location"] == f"/api/photos/{photo['id']}"
    assert (photo["mime"], photo["width"], photo["height"]) == (mime, 300, 200)
    assert photo["sha256"] == hashlib.sha256(data).hexdigest() and photo["bytes"] == len(data)
    assert photo["filename"] == f"picture.{fmt.lower()}" and photo["tags"] == ["one", "Two"]
    assert photo["state"] == "library" and photo["duplicate"] is False and photo["version"] == 1
    with alice.client() as c:
        thumb = c.get(f"/api/photos/{photo['id']}/thumbnail")
        assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size[0] <= 300
    _healthy(server)


@needs_corpus
def test_upload_a_corpus_heic(server: Server, alice: User) -> None:
    path = CORPUS / "heic" / "IMG_5195.HEIC"
    r = alice.upload(path.read_bytes(), path.name)
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["mime"] == "image/heic" and photo["width"] > 0 and photo["height"] > 0
    with alice.client() as c:
        thumb = Image.open(io.BytesIO(c.get(f"/api/photos/{photo['id']}/thumbnail?size=thumb").content))
    assert max(thumb.size) <= 512
    assert (thumb.width > thumb.height) == (photo["width"] > photo["height"])


def test_same_bytes_again_is_a_duplicate(server: Server, alice: User) -> None:
    data = image_bytes(201)
    first = alice.upload(data, "first.jpg")
    assert first.status_code == 201
    again = alice.upload(data, "renamed.jpg")
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
    with alice.client() as c:
        assert c.get("/api/users/me/storage").json()["photos"] == 1
        found = c.post("/api/photos/check", json={"sha256": [hashlib.sha256(data).hexdigest().upper(), "0" * 64]})
        assert found.status_code == 200
        assert found.json() == {"existing": {hashlib.sha256(data).hexdigest(): first.json()["id"]}}
        assert_problem(c.post("/api/photos/check", json={"sha256": ["xyz"]}), 422)
    _healthy(server)


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "application/pdf"),
        (b"just some notes, not a photo at all\n" * 20, "text/plain"),
    ],
)
def test_not_an_image_is_415_naming_the_type(server: Server, alice: User, data: bytes, detected: str) -> None:
    body = assert_problem(alice.upload(data, "sneaky.jpg"), 415)
    assert detected in body["detail"]
    with alice.client() as c:
        assert c.get("/api/timeline").json()["days"] == []
    _healthy(server)


def test_truncated_jpeg_is_422_and_nothing_is_stored(server: Server, alice: User) -> None:
    data = image_bytes(202, size=(640, 480), quality=95)
    assert_problem(alice.upload(data[: len(data) // 2], "cut.jpg"), 422)
    with alice.client() as c:
        assert c.get("/api/users/me/storage").json()["photos"] == 0
    _healthy(server)


def test_bad_forms(server: Server, alice: User) -> None:
    with alice.client() as c:
        assert_problem(c.post("/api/photos", content=b"not a form", headers={"Content-Type": "image/jpeg"}), 400)
        assert_problem(c.post("/api/photos", data={"description": "no file here"}, files={"other": ("x", b"y")}), 422)
        broken = b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n" + image_bytes(203)
        assert_problem(c.post("/api/photos", content=broken, headers={"Content-Type": "multipart/form-data; boundary=XYZ"}), 400)
        assert_problem(upload(c, image_bytes(204), taken_at="yesterday-ish"), 422)
        assert_problem(upload(c, image_bytes(205), description="x" * 70_000), 413)
    _healthy(server)


def test_upload_over_the_limit_while_streaming_is_413(small_server: Server) -> None:
    user = small_server.admin
    assert user is not None

    def body():  # chunked: the server only learns the size while reading
        head = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n"
        yield head + image_bytes(206)
        for _ in range(24):
            yield b"\0" * 65536
        yield b"\r\n--B--\r\n"

    with user.client() as c:
        r = c.post("/api/photos", content=body(), headers={"Content-Type": "multipart/form-data; boundary=B"})
        assert_problem(r, 413)
        assert c.get("/api/users/me/storage").json()["photos"] == 0
    _healthy(small_server)


def test_upload_announcing_too_many_bytes_is_refused_before_reading(small_server: Server) -> None:
    assert small_server.admin is not None
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=10) as s:
        s.sendall(
            b"POST /api/photos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {small_server.admin.token}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 50000000\r\n\r\n"
        )
        answer = s.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "application/problem+json" in answer
    _healthy(small_server)


def test_original_etag_and_ranges(alice: User) -> None:
    data = image_bytes(207, size=(400, 300))
    photo = alice.upload(data, "original.jpg").json()
    url = f"/api/photos/{photo['id']}/original"
    with alice.client() as c:
        full = c.get(url)
        assert full.status_code == 200 and full.content == data
        assert full.headers["etag"] == f'"{photo["sha256"]}"' and full.headers["accept-ranges"] == "bytes"
        assert full.headers["content-type"] == "image/jpeg"
        assert c.get(url, headers={"If-None-Match": full.headers["etag"]}).status_code == 304
        part = c.get(url, headers={"Range": "bytes=10-109"})
        assert part.status_code == 206 and part.content == data[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(data)}"
        tail = c.get(url, headers={"Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == data[-50:]
        rest = c.get(url, headers={"Range": f"bytes={len(data) - 5}-"})
        assert rest.status_code == 206 and rest.content == data[-5:]
        bad = c.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert_problem(bad, 416)
        assert bad.headers["content-range"] == f"bytes */{len(data)}"
        stale = c.get(url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
        assert stale.status_code == 200 and stale.content == data


@pytest.mark.parametrize("shape", ["landscape", "portrait"])
@needs_corpus
def test_thumbnails_are_upright_for_every_orientation(server: Server, shape: str) -> None:
    user = server.new_user()
    upright: dict[str, Image.Image] = {}  # orientation 1's derivatives: stored upright
    with user.client() as c:
        for n in range(1, 9):
            path = CORPUS / "jpg" / "orientation" / f"{shape}_{n}.jpg"
            r = upload(c, path.read_bytes(), path.name)
            assert r.status_code == 201, r.text
            photo = r.json()
            assert (photo["width"], photo["height"]) == ((600, 450) if shape == "landscape" else (450, 600))
            for size, longest in (("thumb", 256), ("preview", 1440)):
                t = c.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": size})
                assert t.status_code == 200, t.text
                assert t.headers["cache-control"] == "private, max-age=31536000, immutable"
                img = Image.open(io.BytesIO(t.content))
                assert max(img.size) <= longest
                assert abs(img.width / img.height - photo["width"] / photo["height"]) < 0.03, (path.name, size, img.size)
                # The same scene the same way up as orientation 1, not mirrored or turned.
                reference = upright.setdefault(size, img)
                assert img.size == reference.size, (path.name, size, img.size)
                assert closest_turn(reference, img) == "as it is", (path.name, size)
                assert c.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": size},
                             headers={"If-None-Match": t.headers["etag"]}).status_code == 304
        assert_problem(c.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": "huge"}), 422)


def test_thumb_and_preview_pixels_are_upright_for_every_orientation(alice: User) -> None:
    # Stored turned or mirrored for its EXIF orientation; served upright, corner by corner.
    with alice.client() as c:
        for orientation in range(1, 9):
            r = upload(c, oriented_jpeg(orientation, (1600, 1200)), f"o{orientation}.jpg")
            assert r.status_code == 201, r.text
            photo = r.json()
            assert (photo["width"], photo["height"]) == (1600, 1200)
            for size, expected in (("thumb", (256, 192)), ("preview", (1440, 1080))):
                t = c.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": size})
                assert t.status_code == 200, t.text
                assert_upright(t.content, expected, f"orientation {orientation} {size}")


def test_edit_tags_favourite_trash_restore_delete(alice: User) -> None:
    photo = alice.upload(image_bytes(208), "edit.jpg").json()
    pid = photo["id"]
    with alice.client() as c:
        r = c.patch(f"/api/photos/{pid}", json={"description": "Sunset", "taken_at": "2019-07-04T20:15:00-04:00", "version": 1})
        assert r.status_code == 200, r.text
        edited = r.json()
        assert edited["description"] == "Sunset" and edited["taken_at"] == "2019-07-04T20:15:00-04:00"
        assert edited["version"] == 3
        stale = assert_problem(c.patch(f"/api/photos/{pid}", json={"description": "again", "version": 1}), 409)
        assert "version" in stale["detail"]
        assert c.get(f"/api/photos/{pid}").json()["description"] == "Sunset"
        tagged = c.put(f"/api/photos/{pid}/tags", json={"tags": [" Beach ", "beach", "Sun  set", ""]})
        assert tagged.status_code == 200 and tagged.json()["tags"] == ["Beach", "Sun set"]
        assert c.put(f"/api/photos/{pid}/favourite").json()["favourite"] is True
        assert c.put(f"/api/photos/{pid}/favourite").json()["favourite"] is True
        assert c.delete(f"/api/photos/{pid}/favourite").json()["favourite"] is False
        trashed = c.post(f"/api/photos/{pid}/trash")
        assert trashed.status_code == 200 and trashed.json()["state"] == "trash" and trashed.json()["purge_at"]
        assert_problem(c.put(f"/api/photos/{pid}/tags", json={"tags": "not a list"}), 400)
        assert c.post(f"/api/photos/{pid}/restore").json()["state"] == "library"
        assert c.delete(f"/api/photos/{pid}").status_code == 204
        for path in ("", "/original", "/thumbnail"):
            assert_problem(c.get(f"/api/photos/{pid}{path}"), 404)
        assert_problem(c.delete(f"/api/photos/{pid}"), 404)
        assert c.get("/api/users/me/storage").json()["photos"] == 0
