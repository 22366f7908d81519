"""Resumable uploads (tus 1.0.0 at /api/uploads) against a real server, with the real tuspy client
(and raw sockets where a client must misbehave: a body cut short, two PATCHes at once)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from http_support import Server, User, assert_problem, fresh_name, image_bytes
from video_support import clip_bytes

TUS = {"Tus-Resumable": "1.0.0"}


def poll(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def uploader(user: User, data: bytes, *, chunk: int = 16 * 1024, url: str | None = None, **meta: str) -> Any:
    client = tus_client.TusClient(f"{user.server.url}/api/uploads", headers={"Authorization": f"Bearer {user.token}"})
    return client.uploader(file_stream=io.BytesIO(data), chunk_size=chunk, url=url,
                           metadata={"filename": "photo.jpg", **meta}, retries=0)


def create(user: User, length: int, **meta: str) -> httpx.Response:
    header = ",".join(f"{k} {b64(v)}" for k, v in {"filename": "x.jpg", **meta}.items())
    with user.client() as c:
        return c.post("/api/uploads", headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": header})


def head(user: User, location: str) -> httpx.Response:
    with user.client() as c:
        return c.head(location, headers=TUS)


def patch(user: User, location: str, offset: int, body: bytes, **headers: str) -> httpx.Response:
    with user.client() as c:
        return c.patch(location, content=body, headers={
            **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers})


def original(user: User, photo_id: str) -> bytes:
    with user.client() as c:
        r = c.get(f"/api/photos/{photo_id}/original")
        assert r.status_code == 200, r.text
        return r.content


def timeline_ids(user: User) -> set[str]:
    with user.client() as c:
        return {p["id"] for day in c.get("/api/timeline").json()["days"] for p in day["photos"]}


def raw_patch_head(server: Server, user: User, location: str, offset: int, length: int) -> socket.socket:
    """A PATCH whose head promises `length` bytes of body; the caller sends (some of) them."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall((f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                  f"Authorization: Bearer {user.token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
                  f"Content-Type: application/offset+octet-stream\r\nContent-Length: {length}\r\n\r\n").encode())
    return sock


def uploads_dir(server: Server) -> Path:
    return server.data_dir / "tmp" / "uploads"


def pending(server: Server) -> list[str]:
    folder = uploads_dir(server)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def tus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: its tmp/ gains an uploads/ folder the shared ones must not."""
    server = Server(tmp_path_factory.mktemp("tus") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_REGISTER_MAX_ATTEMPTS": "1000000",
        "OCTOPUS_STORAGE_MAX_UPLOAD_MB": "4", "OCTOPUS_STORAGE_MAX_VIDEO_MB": "8"})
    server.start()
    server.admin = server.new_user("admin")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def user(tus: Server) -> User:
    return tus.new_user()


# -- the protocol ------------------------------------------------------------------------------------


def test_options_advertise_the_protocol(tus: Server) -> None:
    r = httpx.options(f"{tus.url}/api/uploads")
    assert r.status_code == 204
    assert r.headers["tus-resumable"] == "1.0.0" and r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "expiration", "checksum"}
    assert r.headers["tus-max-size"] == str(8 * 1024 * 1024)
    assert set(r.headers["tus-checksum-algorithm"].split(",")) == {"sha1", "sha256"}


def test_another_version_is_412_and_errors_carry_tus_resumable(user: User) -> None:
    with user.client() as c:
        r = c.post("/api/uploads", headers={"Tus-Resumable": "0.2.2", "Upload-Length": "10"})
    assert_problem(r, 412)
    assert r.headers["tus-version"] == "1.0.0" and r.headers["tus-resumable"] == "1.0.0"
    r = create(user, 8 * 1024 * 1024 + 1)  # over the larger (video) limit: refused before any byte
    assert_problem(r, 413)
    assert r.headers["tus-resumable"] == "1.0.0"
    with user.client() as c:
        r = c.post("/api/uploads", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "filename !!!"})
    assert_problem(r, 400)


def test_a_photo_and_a_video_through_tuspy_become_items(user: User) -> None:
    photo = image_bytes(901)
    up = uploader(user, photo, chunk=4096, filename="beach.jpg")
    up.upload()
    assert up.offset == len(photo)
    photo_id = up.request.response_headers["octopus-photo-id"]
    assert "octopus-duplicate" not in up.request.response_headers

    video = clip_bytes(seconds=1.0, seed=1)
    up = uploader(user, video, chunk=64 * 1024, filename="clip.mp4")
    up.upload()
    video_id = up.request.response_headers["octopus-photo-id"]

    assert {photo_id, video_id} <= timeline_ids(user)
    assert original(user, photo_id) == photo and original(user, video_id) == video
    with user.client() as c:
        assert c.get(f"/api/photos/{video_id}").json()["kind"] == "video"
        assert c.get(f"/api/photos/{photo_id}").json()["filename"] == "beach.jpg"
    assert head(user, up.url).status_code == 404  # a finished upload is gone


def test_the_same_bytes_again_are_a_duplicate(user: User) -> None:
    photo = image_bytes(902)
    first = uploader(user, photo)
    first.upload()
    again = uploader(user, photo)
    again.upload()
    assert again.request.response_headers["octopus-photo-id"] == first.request.response_headers["octopus-photo-id"]
    assert again.request.response_headers["octopus-duplicate"] == "true"


def test_a_known_sha256_answers_at_creation(user: User, bob_on_tus: User) -> None:
    photo = image_bytes(903)
    first = uploader(user, photo)
    first.upload()
    sha = hashlib.sha256(photo).hexdigest()
    r = create(user, len(photo), sha256=sha)
    assert r.status_code == 200 and "location" not in r.headers
    assert r.headers["octopus-photo-id"] == first.request.response_headers["octopus-photo-id"]
    assert r.headers["octopus-duplicate"] == "true"
    # Another user's library does not have it: a normal upload is created.
    r = create(bob_on_tus, len(photo), sha256=sha)
    assert r.status_code == 201 and r.headers["location"].startswith("/api/uploads/")
    assert_problem(create(user, 10, sha256="nothex"), 422)


@pytest.fixture
def bob_on_tus(tus: Server) -> User:
    return tus.new_user()


def test_creation_with_upload_and_metadata(user: User) -> None:
    photo = image_bytes(904)
    header = f"filename {b64('dated.jpg')},taken_at {b64('2001-02-03T04:05:06')}"
    with user.client() as c:
        r = c.post("/api/uploads", content=photo, headers={
            **TUS, "Upload-Length": str(len(photo)), "Upload-Metadata": header,
            "Content-Type": "application/offset+octet-stream"})
        assert r.status_code == 201, r.text
        assert r.headers["upload-offset"] == str(len(photo))
        item = c.get(f"/api/photos/{r.headers['octopus-photo-id']}").json()
    assert item["filename"] == "dated.jpg" and item["taken_at"].startswith("2001-02-03")


def test_head_reports_the_offset_without_caching(user: User) -> None:
    photo = image_bytes(905)
    location = create(user, len(photo)).headers["location"]
    assert patch(user, location, 0, photo[:1000]).status_code == 204
    r = head(user, location)
    assert r.status_code == 200
    assert r.headers["upload-offset"] == "1000" and r.headers["upload-length"] == str(len(photo))
    assert r.headers["cache-control"] == "no-store" and "upload-expires" in r.headers
    r = patch(user, location, 500, photo[500:])
    assert_problem(r, 409)
    assert head(user, location).headers["upload-offset"] == "1000"
    with user.client() as c:
        r = c.patch(location, content=b"x", headers={**TUS, "Upload-Offset": "1000", "Content-Type": "text/plain"})
    assert_problem(r, 415)


def test_checksums_are_checked_per_patch(user: User) -> None:
    photo = image_bytes(906)
    location = create(user, len(photo)).headers["location"]
    good = base64.b64encode(hashlib.sha1(photo[:2000]).digest()).decode()
    bad = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    r = patch(user, location, 0, photo[:2000], **{"Upload-Checksum": f"sha256 {bad}"})
    assert_problem(r, 460)
    assert r.headers["tus-resumable"] == "1.0.0"
    assert head(user, location).headers["upload-offset"] == "0"  # nothing of that PATCH kept
    assert_problem(patch(user, location, 0, photo[:2000], **{"Upload-Checksum": "md5 AAAA"}), 400)
    assert patch(user, location, 0, photo[:2000], **{"Upload-Checksum": f"sha1 {good}"}).status_code == 204
    rest = base64.b64encode(hashlib.sha256(photo[2000:]).digest()).decode()
    r = patch(user, location, 2000, photo[2000:], **{"Upload-Checksum": f"sha256 {rest}"})
    assert r.status_code == 204
    assert original(user, r.headers["octopus-photo-id"]) == photo


def test_termination(tus: Server, user: User) -> None:
    location = create(user, 5000).headers["location"]
    upload_id = location.rsplit("/", 1)[1]
    assert upload_id in pending(tus) and len(upload_id) >= 32
    with user.client() as c:
        r = c.delete(location, headers=TUS)
    assert r.status_code == 204 and r.headers["tus-resumable"] == "1.0.0"
    assert head(user, location).status_code == 404
    assert upload_id not in pending(tus)


def test_another_users_upload_is_404(user: User, bob_on_tus: User) -> None:
    location = create(user, 5000).headers["location"]
    assert head(bob_on_tus, location).status_code == 404
    assert_problem(patch(bob_on_tus, location, 0, b"abc"), 404)
    with bob_on_tus.client() as c:
        assert_problem(c.delete(location, headers=TUS), 404)
    assert head(user, location).headers["upload-offset"] == "0"
    assert head(user, "/api/uploads/../../etc").status_code == 404


def test_a_patch_cut_mid_body_keeps_what_arrived_and_tuspy_resumes(tus: Server, user: User) -> None:
    # A photo with padding after its end: large enough that bytes reach the disk before the end
    # of the body (they are written a megabyte at a time), which the test can then watch for.
    data = image_bytes(907) + os.urandom(3 * 1024 * 1024)
    location = create(user, len(data), filename="cut.jpg").headers["location"]
    stored = uploads_dir(tus) / location.rsplit("/", 1)[1] / "data"
    sock = raw_patch_head(user.server, user, location, 0, len(data))
    sock.sendall(data[:2 * 1024 * 1024])
    poll(lambda: stored.stat().st_size >= 1024 * 1024, "the first bytes written")
    sock.close()  # half the body, then the connection is gone
    offset = poll(lambda: int(head(user, location).headers["upload-offset"]) or None, "the cut PATCH acknowledged")
    assert 1024 * 1024 <= offset <= 2 * 1024 * 1024
    up = uploader(user, data, chunk=len(data), url=f"{user.server.url}{location}")
    assert up.offset == offset  # tuspy asked HEAD where to go on
    up.upload()
    assert original(user, up.request.response_headers["octopus-photo-id"]) == data


def test_two_patches_at_once_one_gets_409(user: User) -> None:
    data = clip_bytes(seconds=1.0, seed=3)
    location = create(user, len(data), filename="race.mp4").headers["location"]
    sock = raw_patch_head(user.server, user, location, 0, len(data))
    sock.sendall(data[:1000])
    # While the first PATCH is receiving, a second one (an empty body, harmless if it got in
    # first) is refused: the upload is locked.
    poll(lambda: patch(user, location, 0, b"").status_code == 409, "a 409 while the first PATCH runs")
    sock.sendall(data[1000:])
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(65536)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 204"), reply[:200]
    photo_id = next(line.split(b":", 1)[1].strip().decode() for line in reply.split(b"\r\n")
                    if line.lower().startswith(b"octopus-photo-id:"))
    assert original(user, photo_id) == data


def test_pipeline_errors_come_back_on_the_last_patch(tus: Server, user: User) -> None:
    junk = os.urandom(5000)
    location = create(user, len(junk), filename="junk.bin").headers["location"]
    r = patch(user, location, 0, junk)
    assert_problem(r, 415)
    assert r.headers["tus-resumable"] == "1.0.0"
    assert location.rsplit("/", 1)[1] not in pending(tus)
    # A JPEG over the photo limit (4 MB) that declared a video-sized length: refused once its
    # first bytes tell its type, and removed.
    location = create(user, 6 * 1024 * 1024).headers["location"]
    assert_problem(patch(user, location, 0, image_bytes(909)[:4096]), 413)
    assert head(user, location).status_code == 404


def test_pending_uploads_count_against_the_quota(tus: Server) -> None:
    assert tus.admin is not None
    name = fresh_name("tusquota")
    with tus.admin.client() as c:
        r = c.post("/api/admin/users", json={"username": name, "password": "correct horse battery",
                                             "quota_bytes": 100_000})
        assert r.status_code == 201, r.text
    user = tus.sign_in(name)
    location = create(user, 80_000).headers["location"]
    assert "quota" in assert_problem(create(user, 40_000), 413)["detail"]
    big = image_bytes(910, size=(1200, 900))
    assert len(big) > 100_000 - 80_000
    assert "quota" in assert_problem(user.upload(big), 413)["detail"]
    with user.client() as c:
        assert c.delete(location, headers=TUS).status_code == 204
    # Released on termination; and a finished upload fills the quota once, not twice.
    photo = image_bytes(911)
    up = uploader(user, photo)
    up.upload()
    assert "octopus-photo-id" in up.request.response_headers
    assert create(user, 100_000 - len(photo) - 1000).status_code == 201


# -- crashes and expiry (a server of their own, restarted) --------------------------------------------


@pytest.fixture
def lone(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data", env={"OCTOPUS_AUTH_REGISTRATION": "open"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_sigkill_mid_upload_resumes_after_restart(lone: Server) -> None:
    user = lone.new_user()
    data = clip_bytes(seconds=2.0, seed=4)
    up = uploader(user, data, chunk=8192, filename="killed.mp4")
    up.upload(stop_at=len(data) // 2)
    acknowledged = up.offset
    path = up.url.split(str(lone.port), 1)[1]
    # A PATCH in flight when the server dies: its bytes were never acknowledged.
    sock = raw_patch_head(lone, user, path, acknowledged, len(data) - acknowledged)
    sock.sendall(data[acknowledged:acknowledged + 5000])
    assert lone.proc is not None
    lone.proc.send_signal(signal.SIGKILL)
    lone.proc.wait(10)
    sock.close()
    lone.start()
    offset = int(head(user, path).headers["upload-offset"])
    assert acknowledged <= offset <= acknowledged + 5000
    again = uploader(user, data, chunk=8192, url=f"{lone.url}{path}")
    assert again.offset == offset
    again.upload()
    assert original(user, again.request.response_headers["octopus-photo-id"]) == data


def _wait_expired(server: Server, upload_id: str) -> None:
    state = json.loads((uploads_dir(server) / upload_id / "state").read_bytes())
    poll(lambda: time.time() > state["expires_at"], "the upload's expiry to pass", timeout=10)


def test_expired_uploads_are_removed_by_housekeeping_and_gc(lone: Server) -> None:
    lone.stop()
    lone.env["OCTOPUS_UPLOADS_EXPIRE_HOURS"] = "0.0003"  # about a second
    lone.start()
    user = lone.new_user()
    r = create(user, 5000)
    location = r.headers["location"]
    first = location.rsplit("/", 1)[1]
    assert "upload-expires" in r.headers
    second = create(user, 5000).headers["location"].rsplit("/", 1)[1]
    lone.stop()
    _wait_expired(lone, first)
    _wait_expired(lone, second)
    # `octopus gc` over the stopped server's data dir removes them...
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    env.update({"OCTOPUS_STORAGE_DATA_DIR": str(lone.data_dir), "OCTOPUS_UPLOADS_EXPIRE_HOURS": "0.0003"})
    (uploads_dir(lone) / first).rename(uploads_dir(lone) / "keep-aside")  # this one is for housekeeping
    out = subprocess.run([sys.executable, "-m", "octopus_events.cli", "gc"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "1 expired uploads" in out.stdout, out.stdout
    assert second not in pending(lone)
    # ...and so does the running server's housekeeping, as soon as it starts.
    (uploads_dir(lone) / "keep-aside").rename(uploads_dir(lone) / first)
    lone.start()
    poll(lambda: first not in pending(lone), "housekeeping to remove the expired upload")
    assert head(user, location).status_code == 404


def test_a_client_library_error_is_not_ours(user: User) -> None:
    # tuspy against a URL that is not an upload: a clean 404, not a hang or a 500.
    with pytest.raises(TusCommunicationError) as caught:
        uploader(user, image_bytes(913), url=f"{user.server.url}/api/uploads/{'0' * 32}").upload()
    assert caught.value.status_code == 404
