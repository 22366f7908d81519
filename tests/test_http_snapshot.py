"""The streamed snapshot: one read transaction from first piece to last, so it is consistent at
its cursor while writes land mid-stream, and a server sends thousands of items without holding
them in memory (VmHWM). tests/benchmarks/bench_sync.py measures 100,000."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

import factories as f
from http_support import Server, User, image_bytes
from octopus_events import sync
from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from test_sync import Mirror, comparable, pull_all, snapshot_of

ITEMS = 8_000  # about 6 MB of JSON: more than loopback socket buffers hold, so the stream waits on us


def test_the_pieces_hold_one_view_while_commits_land_between_them(tmp_path: Path) -> None:
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open()
    try:
        store = octopus.store
        store.transact(lambda tx: f.add_user(tx, "u1", "one"))
        ids = f.seed_photos(store, "u1", sync.SNAPSHOT_CHUNK * 3 + 7)
        store.transact(lambda tx: (f.album_event(tx, "u1", "al1", "create", "Trip"),
                                   f.album_event(tx, "u1", "al1", "add", ids[:3])))
        before = comparable(snapshot_of(octopus, "u1"))
        conn = store.reader()
        pieces = sync.snapshot_chunks(conn, "u1")
        got = [next(pieces), next(pieces)]  # the transaction is open and has read its first rows
        # Meanwhile (the writer is not blocked by the open read): new items, a trash, an album change.
        store.transact(lambda tx: f.upload(tx, "u1", "pnew", f.details()))
        store.transact(lambda tx: f.photo_event(tx, "u1", ids[-1], "trash"))
        store.transact(lambda tx: f.album_event(tx, "u1", "al1", "add", [ids[-1]]))
        got.extend(pieces)
        streamed = json.loads(b"".join(got))
        assert comparable(streamed) == before
        mirror = Mirror(streamed)
        for event in pull_all(octopus, "u1", streamed["cursor"])[0]:
            mirror.apply(event)
        assert mirror.state() == comparable(snapshot_of(octopus, "u1"))
        assert "pnew" in mirror.photos and mirror.photos[ids[-1]]["state"] == "trash"
    finally:
        octopus.close()


@pytest.fixture(scope="module")
def big_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, User]]:
    """A real server over a data dir with ITEMS items of one signed-up user (seeded through the
    event store while the server was stopped: no image work) and two albums."""
    server = Server(tmp_path_factory.mktemp("snapshot") / "data").start()
    try:
        assert server.register("mirror").status_code == 201
        owner = server.sign_in("mirror").id
        server.stop()
        octopus = Octopus(Config(storage=StorageConfig(data_dir=str(server.data_dir)))).open()
        try:
            ids = f.seed_photos(octopus.store, owner, ITEMS, batch=2000)
            octopus.store.transact(lambda tx: (f.album_event(tx, owner, "al1", "create", "Half"),
                                               f.album_event(tx, owner, "al1", "add", ids[::2]),
                                               f.album_event(tx, owner, "al2", "create", "Empty")))
        finally:
            octopus.close()
        server.start()
        yield server, server.sign_in("mirror")
    finally:
        server.stop()


def _high_water_kb(server: Server) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc")


def _paused_get(server: Server, user: User, path: str) -> socket.socket:
    """A GET whose reader takes nothing yet: a small receive buffer, so the server's stream has to
    wait for us once the socket buffers are full."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {user.token}\r\n"
                 "Connection: close\r\n\r\n".encode())
    return sock


def _read_response(sock: socket.socket, first: bytes) -> tuple[str, bytes]:
    sock.settimeout(60)
    data = bytearray(first)
    while chunk := sock.recv(1 << 20):
        data += chunk
    sock.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower(), head
    out, rest = bytearray(), body
    while True:  # de-chunk
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head.decode(), bytes(out)
        out += rest[:size]
        rest = rest[size + 2:]


def test_a_snapshot_streamed_while_uploads_land_holds_exactly_its_cursors_items(
        big_library: tuple[Server, User]) -> None:
    server, user = big_library
    sock = _paused_get(server, user, "/api/sync/snapshot")
    # The server has started the stream (its read transaction is open) before the writes below.
    sock.settimeout(30)
    first = sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200"), first
    with user.client() as c:
        before = c.get("/api/timeline/months").json()
        landed = [user.upload(image_bytes(5200 + i), f"during-{i}.jpg").json()["id"] for i in range(3)]
        trashed = "p07000000005"  # one of the seeded items (factories.seed_photos names them)
        assert c.post(f"/api/photos/{trashed}/trash").status_code == 200
        head, body = _read_response(sock, first)
        snapshot: dict[str, Any] = json.loads(body)
        assert "no-store" in head.lower()
        assert len(snapshot["photos"]) == ITEMS and not set(landed) & {p["id"] for p in snapshot["photos"]}
        assert {p["id"]: p["state"] for p in snapshot["photos"]}[trashed] == "library"
        assert sum(m["count"] for m in before) == ITEMS
        albums = {a["name"]: a for a in snapshot["albums"]}
        assert len(albums["Half"]["photo_ids"]) == ITEMS // 2 and albums["Empty"]["photo_ids"] == []
        # The feed from its cursor brings exactly what landed after it.
        events = []
        cursor = snapshot["cursor"]
        while True:
            page = c.get("/api/sync/events", params={"cursor": cursor, "limit": 1000}).json()
            events.extend(page["events"])
            cursor = page["cursor"]
            if not page["more"]:
                break
        assert [(e["type"], e["photo_id"]) for e in events] == [
            *[("photo.added", pid) for pid in landed], ("photo.trashed", trashed)]


def test_a_snapshot_of_thousands_of_items_does_not_grow_the_server(big_library: tuple[Server, User]) -> None:
    server, user = big_library
    with user.client() as c:
        # Warm: the first requests import and cache what every later request uses.
        assert c.get("/api/timeline").status_code == 200
        assert c.get("/api/sync/events", params={"limit": 1000}).status_code == 200
        start_kb = _high_water_kb(server)
        for _ in range(2):
            r = c.get("/api/sync/snapshot")
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
            assert len(r.json()["photos"]) >= ITEMS - 1
        grown_mb = (_high_water_kb(server) - start_kb) / 1024
    # ~6 MB of JSON for 8,000 items: built in memory it would need several times that.
    assert grown_mb <= 8, f"server peak RSS grew {grown_mb:.1f} MB for a {len(r.content) / 2**20:.1f} MB snapshot"
