"""Hostile input is a 4xx problem, never a 500, and never writes a line of its own into the log.

Each case once reached the handler for bugs (a 500 with a traceback in the log): a NUL in the
path (the static files router), JSON nested a thousand deep (msgspec's recursion limit), and a
Range with thousands of digits (Python's int digit limit). The server's log is read after each.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from http_support import Server, User, assert_problem, image_bytes

FORGED = "FORGED 2000-01-01 00:00:00 INFO octopus: admin signed in"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("hostile") / "data", env={
        # Debug, so the access log writes every request's path too.
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_LOG_LEVEL": "debug"})
    try:
        yield server.start()
    finally:
        server.stop()


def full_log(server: Server) -> str:
    return (server.data_dir.parent / f"server-{server.port}.log").read_text(errors="replace")


def assert_clean_log(server: Server) -> None:
    log = full_log(server)
    assert "Traceback" not in log, log[-4000:]
    assert " 500" not in log and "unhandled" not in log, log[-4000:]
    for line in log.splitlines():
        assert not line.startswith("FORGED"), log[-4000:]


def raw_get(server: Server, target: bytes) -> tuple[int, bytes, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(server.port).encode()
                     + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.lower(), body


def test_a_nul_in_the_path_is_not_found(hostile: Server) -> None:
    for target in (b"/%00", b"/%00/", b"/index.html%00", b"/js/%00.js", b"/api/photos/%00/original"):
        status, head, body = raw_get(hostile, target)
        assert 400 <= status < 500, (target, status, body)
        assert b"content-type: application/problem+json" in head, head
    assert_clean_log(hostile)


def test_a_newline_in_the_path_forges_no_log_line(hostile: Server) -> None:
    encoded = FORGED.replace(" ", "%20").encode()
    for target in (b"/%00%0a" + encoded, b"/%0a" + encoded, b"/%0d%0a" + encoded, b"/api/%00%0a" + encoded):
        status, head, _ = raw_get(hostile, target)
        assert 400 <= status < 500, (target, status)
        assert b"content-type: application/problem+json" in head, head
    assert_clean_log(hostile)


def test_a_request_that_is_not_http_is_a_400_problem(hostile: Server) -> None:
    for garbage in (b"HELLO\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"\x16\x03\x01\x02\x00\x01"):
        with socket.create_connection(("127.0.0.1", hostile.port), timeout=10) as conn:
            conn.sendall(garbage)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), data
        assert b"content-type: application/problem+json" in head.lower(), head
        assert b'"status":400' in body
    assert_clean_log(hostile)


def test_json_nested_too_deeply_is_400(hostile: Server) -> None:
    user = hostile.new_user()
    bodies = [b"[" * depth + b"]" * depth for depth in (1_000, 100_000)]
    bodies += [b'{"username": ' + b"[" * 1_000 + b"]" * 1_000 + b', "password": "x"}',
               b'{"a":' * 5_000 + b"1" + b"}" * 5_000]
    with hostile.client() as anonymous, user.client() as signed_in:
        for body in bodies:
            headers = {"Content-Type": "application/json"}
            for client, path in ((anonymous, "/api/auth/login"), (anonymous, "/api/auth/register"),
                                 (signed_in, "/api/albums")):
                problem = assert_problem(client.post(path, content=body, headers=headers), 400)
                assert "nested" in problem["detail"], problem
        # Ordinary bodies still work on the same routes.
        assert signed_in.post("/api/albums", json={"name": "Holiday"}).status_code == 201
    assert_clean_log(hostile)


def test_a_range_with_thousands_of_digits_is_answered(hostile: Server) -> None:
    user: User = hostile.new_user()
    data = image_bytes(7)
    r = user.upload(data)
    assert r.status_code == 201, r.text
    original = f"/api/photos/{r.json()['id']}/original"
    huge = "9" * 10_000
    with user.client() as c:
        assert_problem(c.get(original, headers={"Range": f"bytes={huge}-"}), 416)
        assert_problem(c.get(original, headers={"Range": f"bytes={huge}-{huge}"}), 416)
        # An end or a suffix beyond the file is the whole file.
        for spec in (f"bytes=0-{huge}", f"bytes=-{huge}", f"bytes={'0' * 10_000}5-"):
            got = c.get(original, headers={"Range": spec})
            assert got.status_code == 206, (spec[:20], got.status_code, got.text[:200])
            first = 5 if spec.endswith("5-") else 0
            assert got.content == data[first:]
            assert got.headers["content-range"] == f"bytes {first}-{len(data) - 1}/{len(data)}"
    assert_clean_log(hostile)


def test_the_log_of_serve_has_one_record_a_line(hostile: Server) -> None:
    # `serve` configures logging itself (not Litestar's default, not uvicorn's): every record,
    # the access log's included, starts with a timestamp and the level; any other line is a
    # traceback's, indented.
    assert raw_get(hostile, b"/api/health")[0] == 200
    lines = [line for line in full_log(hostile).splitlines() if line.strip()]
    records = [line for line in lines if not line.startswith(("Octopus Photos is running", " "))]
    assert any("uvicorn.access" in line and "/api/health" in line for line in records), lines[-20:]
    for line in records:
        assert line[:4].isdigit() and line[4] == "-", line
        assert line.split()[2] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), line
