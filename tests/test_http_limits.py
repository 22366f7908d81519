"""Unauthenticated clients cannot hold the server's memory or its connections (docs/admin.md,
"Limits"). Raw sockets against a real `octopus serve` with short limits: a huge head is refused
with 431 at once and costs no memory, a head or body that never finishes is closed within its
timeout, and connections beyond the bound are refused with 503 while service resumes after."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

import io
import os

from PIL import Image

from http_support import Server

HEAD_TIMEOUT = 1
BODY_WINDOW = 1
MAX_CONNECTIONS = 6
SEND_TIMEOUT = 1


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    limits = {
        "OCTOPUS_SERVER_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
        "OCTOPUS_SERVER_BODY_TIMEOUT_SECONDS": str(BODY_WINDOW),
        "OCTOPUS_SERVER_BODY_MIN_BYTES_PER_SECOND": "1024",
        "OCTOPUS_SERVER_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
    }
    # One for the connection bound alone, so other tests' connections never count against it.
    main = Server(tmp_path_factory.mktemp("limits") / "data", env=limits)
    crowded = Server(tmp_path_factory.mktemp("crowded") / "data",
                     env={**limits, "OCTOPUS_SERVER_MAX_CONNECTIONS": str(MAX_CONNECTIONS)})
    try:
        main.launch()
        crowded.launch()
        yield main.wait_ready(), crowded.wait_ready()
    finally:
        main.stop()
        crowded.stop()


@pytest.fixture(scope="module")
def limited(servers: tuple[Server, Server]) -> Server:
    return servers[0]


def connect(server: Server, timeout: float = 10) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return conn


def read_response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return status, headers, body


def assert_raw_problem(response: tuple[int, dict[str, str], bytes], status: int) -> dict[str, object]:
    got, headers, body = response
    assert got == status, (got, body)
    assert headers["content-type"].startswith("application/problem+json"), headers
    problem = msgspec.json.decode(body)
    assert problem["status"] == status and problem["detail"], problem
    return problem


def closed_after(conn: socket.socket, limit: float) -> float:
    """Seconds until the server closes `conn` (reads and drops whatever it answers first)."""
    started = time.monotonic()
    conn.settimeout(limit)
    try:
        while conn.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for more than {limit} s")
    return time.monotonic() - started


def high_water_kb(server: Server) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def health(server: Server, conn: socket.socket | None = None) -> int:
    own = conn is None
    conn = conn or connect(server)
    try:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return read_response(conn)[0]
    finally:
        if own:
            conn.close()


def send_huge_head(server: Server, size: int, results: list[tuple[float, tuple[int, dict[str, str], bytes]]]) -> None:
    conn = connect(server)
    started = time.monotonic()
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * size + b"\r\n\r\n"
    try:
        # Like a browser: keep sending until the server answers (an old server read it all).
        for i in range(0, len(request), 256 * 1024):
            try:
                conn.sendall(request[i:i + 256 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                break  # refused while still sending: the answer is already waiting to be read
            if select.select([conn], [], [], 0)[0]:
                break
        results.append((time.monotonic() - started, read_response(conn)))
    finally:
        conn.close()


# -- heads -------------------------------------------------------------------------------------


def test_huge_heads_get_431_at_once_and_cost_no_memory(limited: Server) -> None:
    # Warm up whatever the first requests allocate, so the high-water mark measures the heads.
    for _ in range(3):
        assert health(limited) == 200
    before = high_water_kb(limited)
    results: list[tuple[float, tuple[int, dict[str, str], bytes]]] = []
    threads = [threading.Thread(target=send_huge_head, args=(limited, 16 * 1024 * 1024, results)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4
    for elapsed, response in results:
        assert_raw_problem(response, 431)
        assert response[1]["connection"] == "close"
        assert elapsed < 3, elapsed
    grown_kb = high_water_kb(limited) - before
    # Four 16 MB heads held even once would be 64 MB; the limit keeps each under 64 KB + one read.
    assert grown_kb < 8 * 1024, f"peak RSS grew by {grown_kb} KB"
    assert health(limited) == 200


def test_the_head_limit_is_exact_when_a_head_arrives_in_one_piece(limited: Server) -> None:
    def head(filler: int) -> bytes:
        return b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * filler + b"\r\n\r\n"

    with connect(limited) as conn:
        conn.sendall(head(60 * 1024))  # under the default 64 KiB
        assert read_response(conn)[0] == 200
    with connect(limited) as conn:
        conn.sendall(head(65 * 1024))
        assert_raw_problem(read_response(conn), 431)
        assert closed_after(conn, 5) < 5


def test_a_head_that_never_ends_is_closed_within_the_timeout(limited: Server) -> None:
    with connect(limited) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        assert_raw_problem(read_response(conn), 408)
        elapsed = time.monotonic() - started + closed_after(conn, 5)
    assert HEAD_TIMEOUT * 0.8 < elapsed < HEAD_TIMEOUT + 2, elapsed


def test_a_head_trickled_a_byte_at_a_time_is_closed_within_the_timeout(limited: Server) -> None:
    # Each byte is activity; only a deadline for the whole head ends this.
    with connect(limited) as conn:
        started = time.monotonic()
        closed = None
        for byte in b"GET /api/health HTTP/1.1\r\nX-Slow: " + b"s" * 1000:
            try:
                conn.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - started
                break
            conn.settimeout(0.1)
            try:
                if conn.recv(65536):
                    closed = time.monotonic() - started  # the 408 arrived
                    break
            except TimeoutError:
                pass
        assert closed is not None, "the server took a 100 s head"
    assert closed < HEAD_TIMEOUT + 2, closed


def test_a_connection_that_says_nothing_is_closed(limited: Server) -> None:
    with connect(limited) as conn:
        elapsed = closed_after(conn, HEAD_TIMEOUT + 4)
    assert HEAD_TIMEOUT * 0.8 < elapsed < HEAD_TIMEOUT + 2, elapsed


# -- bodies ------------------------------------------------------------------------------------


def login_head(length: int) -> bytes:
    return (b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(length).encode() + b"\r\n\r\n")


def test_a_body_trickled_a_byte_at_a_time_is_closed(limited: Server) -> None:
    with connect(limited) as conn:
        conn.sendall(login_head(10_000))
        started = time.monotonic()
        closed = None
        while time.monotonic() - started < BODY_WINDOW + 5:
            try:
                conn.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - started
                break
            conn.settimeout(0.05)
            try:
                if not conn.recv(65536):
                    closed = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = time.monotonic() - started
                break
        assert closed is not None, "a 20 bytes/s body was still being read"
    assert closed < 2 * BODY_WINDOW + 1, closed


def test_a_body_that_stops_is_closed(limited: Server) -> None:
    with connect(limited) as conn:
        conn.sendall(login_head(10_000) + b'{"username": ')
        assert closed_after(conn, BODY_WINDOW + 4) < 2 * BODY_WINDOW + 1


def test_a_slow_body_above_the_minimum_rate_is_served(limited: Server) -> None:
    # 4 KB every 0.25 s for ~2.5 s: slower than a LAN, above 1 KB/s, across several windows.
    body = b'{"username": "nobody", "password": "wrong password"}' + b" " * 40_000
    with connect(limited) as conn:
        conn.sendall(login_head(len(body)))
        for i in range(0, len(body), 4096):
            conn.sendall(body[i:i + 4096])
            time.sleep(0.25)  # pacing the client, not waiting for the server
        status, _, _ = read_response(conn)
    assert status == 401


# -- connections -------------------------------------------------------------------------------


def test_connections_beyond_the_bound_get_503_and_service_resumes(servers: tuple[Server, Server]) -> None:
    crowded = servers[1]
    held = [connect(crowded) for _ in range(MAX_CONNECTIONS)]
    try:
        for conn in held:
            assert health(crowded, conn) == 200  # served, and kept alive
        with connect(crowded) as extra:
            extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            response = read_response(extra)
            assert_raw_problem(response, 503)
            assert response[1]["retry-after"]
            assert closed_after(extra, 5) < 5
        for conn in held:
            assert health(crowded, conn) == 200  # the held ones are still served
    finally:
        for conn in held:
            conn.close()
    deadline = time.monotonic() + 5
    while health(crowded) != 200:
        assert time.monotonic() < deadline, "service did not resume after the connections closed"
        time.sleep(0.05)


def test_a_client_that_stops_reading_a_response_is_dropped(limited: Server) -> None:
    # A ~20 MB original (incompressible PNG) is far more than the socket buffers hold, so a client
    # that reads nothing leaves the server's writes paused; after send_timeout it is dropped.
    user = limited.new_user()
    img = Image.frombytes("RGB", (2600, 2600), os.urandom(2600 * 2600 * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=0)
    data = buf.getvalue()
    r = user.upload(data, "noise.png")
    assert r.status_code == 201, r.text
    photo_id = r.json()["id"]
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.settimeout(10)
    conn.connect(("127.0.0.1", limited.port))
    conn.sendall(f"GET /api/photos/{photo_id}/original HTTP/1.1\r\nHost: 127.0.0.1:{limited.port}\r\n"
                 f"Authorization: Bearer {user.token}\r\n\r\n".encode())
    deadline = time.monotonic() + 10 * SEND_TIMEOUT
    while "read nothing of its response" not in limited.log_text():
        assert time.monotonic() < deadline, "the stalled reader was never dropped"
        time.sleep(0.05)
    received = b""
    try:
        while chunk := conn.recv(1 << 20):
            received += chunk
    except ConnectionResetError:
        pass  # aborted: what was in flight may be lost, which is the point
    conn.close()
    assert len(received) < len(data)  # the response never finished: the connection was dropped
    # The server is fine, and a client that reads gets the whole file.
    with user.client() as c:
        assert c.get(f"/api/photos/{photo_id}/original").content == data
