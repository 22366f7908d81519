"""Vault videos through stream URLs (`POST /api/vault/photos/{id}/stream`), over real HTTP.

One server of its own: stream URLs live 3 s here (so expiry is testable), its log runs at debug
(uvicorn's access log on, so the check that no vault token is logged sees every request line),
and its peak RSS is not raised by other tests' uploads.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from http_support import Server, User, assert_problem, fresh_name
from video_support import H264, clip_bytes

PASSPHRASE = "stream passphrase 1"
STREAM_SECONDS = 3


@pytest.fixture(scope="module")
def stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("stream") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_REGISTER_MAX_ATTEMPTS": "1000000",
        "OCTOPUS_AUTH_VAULT_STREAM_SECONDS": str(STREAM_SECONDS), "OCTOPUS_LOG_LEVEL": "debug",
    })
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def small_clip() -> bytes:
    return clip_bytes(H264, "mp4", seconds=3, fps=25, audio=True, seed=61)


def padded_clip(megabytes: int) -> bytes:
    """A real MP4 grown to `megabytes` by a trailing `free` box (players skip it), so one vaulted
    file spans hundreds of 64 KiB chunks without encoding a long clip."""
    data = clip_bytes(H264, "mp4", seconds=2, fps=10, faststart=True, seed=62)
    pad = megabytes * 1024 * 1024 - len(data)
    # Not zeros: a run of equal bytes could hide an off-by-a-chunk slip in the comparison.
    filler = (bytes(range(251)) * (pad // 251 + 1))[: pad - 8]
    return data + struct.pack(">I", pad) + b"free" + filler


def vaulted(server: Server, data: bytes, filename: str = "clip.mp4") -> tuple[User, str, str]:
    """A fresh user with `data` uploaded and moved into their unlocked vault: (user, id, token)."""
    user = server.new_user(fresh_name("streamer"))
    r = user.upload(data, filename)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    with user.client() as c:
        assert c.post("/api/vault", json={"passphrase": PASSPHRASE}).status_code == 201
        token = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()["vault_token"]
        moved = c.post(f"/api/photos/{pid}/vault", headers={"X-Vault-Token": token})
        assert moved.status_code == 200, moved.text
    return user, pid, token


def stream_url(c: httpx.Client, pid: str, token: str) -> dict[str, Any]:
    r = c.post(f"/api/vault/photos/{pid}/stream", headers={"X-Vault-Token": token})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"url", "expires_at"} and body["url"].startswith("/api/vault/stream/")
    return body


def assert_refused(c: httpx.Client, url: str) -> None:
    body = assert_problem(c.get(url, headers={"Range": "bytes=0-99"}), 404)
    assert body["detail"] == "this stream link is not valid (it expired, or the vault was locked)"


def test_the_stream_url_serves_byte_exact_ranges(stream_server: Server) -> None:
    data = padded_clip(3)  # ~48 chunks: ranges inside one, across several, to the end
    user, pid, token = vaulted(stream_server, data)
    size = len(data)
    with user.client() as c:
        body = stream_url(c, pid, token)
        url = body["url"]
        # Opaque: neither the photo id nor the vault token is in it.
        assert pid not in url and token not in url
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == data
        for header, value in (("cache-control", "no-store"), ("x-content-type-options", "nosniff"),
                              ("accept-ranges", "bytes"), ("content-type", "video/mp4")):
            assert whole.headers[header] == value, header
        etag = whole.headers["etag"]
        middle = size // 2 - 777
        for first, last in [(0, 0), (65_530, 65_545), (middle, middle + 300_000), (size - 10, size - 1)]:
            r = c.get(url, headers={"Range": f"bytes={first}-{last}"})
            assert r.status_code == 206, r.text
            assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
            assert r.content == data[first:last + 1]
            assert r.headers["etag"] == etag and r.headers["cache-control"] == "no-store"
        r = c.get(url, headers={"Range": "bytes=-300"})
        assert r.status_code == 206 and r.content == data[-300:]
        r = c.get(url, headers={"Range": f"bytes={size}-"})
        assert_problem(r, 416)
        assert r.headers["content-range"] == f"bytes */{size}"
        r = c.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
        assert r.status_code == 206 and r.content == data[10:20]
        r = c.get(url, headers={"Range": "bytes=10-19", "If-Range": '"another"'})
        assert r.status_code == 200 and len(r.content) == size
        # The same URL without the session opens nothing (the route needs a signed-in caller).
        with stream_server.client() as anonymous:
            assert anonymous.get(url).status_code == 401


def test_the_stream_url_follows_the_vault_rules_for_ids(stream_server: Server, small_clip: bytes) -> None:
    user, pid, token = vaulted(stream_server, small_clip)
    other = stream_server.new_user(fresh_name("stranger"))
    library = user.upload(clip_bytes(H264, "mp4", seconds=1, fps=10, seed=63), "plain.mp4").json()["id"]
    with user.client() as c:
        # A library photo, an unknown id: the same 404 as the other vault routes.
        for missing in (library, "p0000000000000000"):
            assert_problem(c.post(f"/api/vault/photos/{missing}/stream", headers={"X-Vault-Token": token}), 404)
        # No token, or a wrong one: 403 as everywhere in the vault.
        assert_problem(c.post(f"/api/vault/photos/{pid}/stream"), 403)
        assert_problem(c.post(f"/api/vault/photos/{pid}/stream", headers={"X-Vault-Token": "x" * 43}), 403)
    # Another user cannot even ask for one (their vault, their token, not this photo).
    with other.client() as c:
        assert c.post("/api/vault", json={"passphrase": PASSPHRASE}).status_code == 201
        theirs = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()["vault_token"]
        assert_problem(c.post(f"/api/vault/photos/{pid}/stream", headers={"X-Vault-Token": theirs}), 404)


def test_a_tampered_or_foreign_stream_url_is_refused(stream_server: Server, small_clip: bytes) -> None:
    user, pid, token = vaulted(stream_server, small_clip)
    with user.client() as c:
        url = stream_url(c, pid, token)["url"]
        assert c.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
        prefix, handle, mac = url.rsplit("/", 1)[1].split(".")
        flipped_mac = mac[:-1] + ("A" if mac[-1] != "A" else "B")
        flipped_handle = ("A" if handle[0] != "A" else "B") + handle[1:]
        for bad in (f"{prefix}.{handle}.{flipped_mac}", f"{prefix}.{flipped_handle}.{mac}", f"s2.{handle}.{mac}",
                    f"{prefix}.{handle}", "nonsense", "x" * 300):
            assert_refused(c, f"/api/vault/stream/{bad}")
    # The same user signed in elsewhere (another session) is refused: the URL is this session's.
    again = stream_server.sign_in(user.name)
    with again.client() as c:
        assert_refused(c, url)
    # The owner's own session still plays it.
    with user.client() as c:
        assert c.get(url, headers={"Range": "bytes=0-99"}).content == small_clip[:100]


def test_the_stream_ends_with_the_vault_token(stream_server: Server, small_clip: bytes) -> None:
    user, pid, token = vaulted(stream_server, small_clip)
    with user.client() as c:
        # Lock: every URL of this session stops at once.
        url = stream_url(c, pid, token)["url"]
        assert c.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
        assert c.post("/api/vault/lock").status_code == 204
        assert_refused(c, url)
        # Unlocking again does not revive the old URL: it was bound to the old token.
        token = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()["vault_token"]
        assert_refused(c, url)
        url = stream_url(c, pid, token)["url"]
        # A passphrase change ends the other sessions' tokens, and so their streams.
    second = stream_server.sign_in(user.name)
    with second.client() as c2:
        token2 = c2.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()["vault_token"]
        url2 = stream_url(c2, pid, token2)["url"]
        assert c2.get(url2, headers={"Range": "bytes=0-9"}).status_code == 206
        with user.client() as c:
            r = c.post("/api/vault/passphrase", json={"old": PASSPHRASE, "new": PASSPHRASE + "x"},
                       headers={"X-Vault-Token": token})
            assert r.status_code == 204, r.text
            assert c.get(url, headers={"Range": "bytes=0-9"}).status_code == 206  # the changer's own token stays
        assert_refused(c2, url2)
    # Signing out ends the session's tokens and streams.
    with user.client() as c:
        assert c.post("/api/auth/logout").status_code in (200, 204)
        assert c.get(url, headers={"Range": "bytes=0-9"}).status_code == 401
    third = stream_server.sign_in(user.name)
    with third.client() as c:
        assert_refused(c, url)


def test_the_stream_url_expires(stream_server: Server, small_clip: bytes) -> None:
    user, pid, token = vaulted(stream_server, small_clip)
    with user.client() as c:
        unlocked = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()
        token = unlocked["vault_token"]
        issued = time.monotonic()
        body = stream_url(c, pid, token)
        assert body["expires_at"] <= unlocked["expires_at"]  # never outlives its token
        assert c.get(body["url"], headers={"Range": "bytes=0-9"}).content == small_clip[:10]
        deadline = issued + STREAM_SECONDS + 10
        while c.get(body["url"], headers={"Range": "bytes=0-9"}).status_code == 206:
            assert time.monotonic() < deadline, "the stream URL did not expire"
            time.sleep(0.1)
        assert time.monotonic() - issued >= STREAM_SECONDS - 0.5  # it lived its lifetime, not less
        assert_refused(c, body["url"])
        # The token itself lives on: a new URL works.
        assert c.get(stream_url(c, pid, token)["url"], headers={"Range": "bytes=0-9"}).status_code == 206


def _peak_rss_kb(server: Server) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_streaming_a_large_vaulted_file_keeps_memory_flat(stream_server: Server) -> None:
    data = padded_clip(64)
    user, pid, token = vaulted(stream_server, data)
    with user.client() as c:
        url = stream_url(c, pid, token)["url"]
        c.get(url, headers={"Range": "bytes=0-65535"})  # first request's one-off allocations
        # The upload and the move raised the peak already: reset it to the current RSS, so the
        # peak below is the stream's own.
        assert stream_server.proc is not None
        Path(f"/proc/{stream_server.proc.pid}/clear_refs").write_text("5")
        before = _peak_rss_kb(stream_server)
        first = 1_000_003
        received = 0
        with c.stream("GET", url, headers={"Range": f"bytes={first}-"}) as r:
            assert r.status_code == 206
            assert int(r.headers["content-length"]) == len(data) - first
            for part in r.iter_bytes():
                assert part == data[first + received:first + received + len(part)]
                received += len(part)
        assert received == len(data) - first
        grown_mb = (_peak_rss_kb(stream_server) - before) / 1024
        # Locking ends a response already under way: it stops short of its Content-Length.
        got = 0
        with pytest.raises(httpx.RemoteProtocolError), c.stream("GET", url) as r:
            assert r.status_code == 200
            for part in r.iter_bytes():
                if got == 0:
                    assert c.post("/api/vault/lock").status_code == 204
                got += len(part)
        assert got < len(data) // 2, got
    print(f"\nstreaming {received / 1e6:.0f} MB from the vault: server peak RSS grew {grown_mb:.1f} MB")
    assert grown_mb < 20, grown_mb


def test_no_vault_token_reaches_the_server_log(stream_server: Server, small_clip: bytes) -> None:
    user, pid, token = vaulted(stream_server, small_clip)
    with user.client() as c:
        url = stream_url(c, pid, token)["url"]
        assert c.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
        assert c.post("/api/vault/lock").status_code == 204
        assert_refused(c, url)
    path = stream_server.data_dir.parent / f"server-{stream_server.port}.log"
    deadline = time.monotonic() + 5
    # The access log is written as requests finish: wait until this test's last one is there.
    while url not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the access log never showed the stream request"
        time.sleep(0.05)
    text = path.read_text(errors="replace")
    assert token not in text
    assert user.token not in text
