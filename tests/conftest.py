"""Fixtures for the HTTP tests: one shared server for the session, a second with tight limits.

Both run `octopus serve` in a child process on 127.0.0.1 over a fresh data dir, so the tests
exercise the real thing: uvicorn, Litestar, SQLite files and the blob store on disk. They boot
side by side at the start of the session; each test makes its own fresh users.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from http_support import Server, User

# A missing corpus, browser or tool skips locally and fails under CI=true (see ci_support).
from ci_support import pytest_configure, pytest_runtest_setup  # noqa: F401  (pytest hooks)


@pytest.fixture(scope="session")
def _servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    # Registration open on the main server so every test can make fresh users. They all come
    # from 127.0.0.1, so its per-address budgets are wide here (a few wrong passwords in one test
    # must not block the next test's sign-ins); tests/test_http_signin_limits.py tests the limits.
    main = Server(tmp_path_factory.mktemp("server") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_REGISTER_MAX_ATTEMPTS": "1000000",
        "OCTOPUS_AUTH_LOGIN_MAX_FAILURES": "100",
    })
    # Uploads limited to 1 MB (videos to 2 MB), registration closed (the default), one extra
    # trusted origin.
    small = Server(tmp_path_factory.mktemp("small") / "data", env={
        "OCTOPUS_STORAGE_MAX_UPLOAD_MB": "1", "OCTOPUS_STORAGE_MAX_VIDEO_MB": "2",
        "OCTOPUS_SERVER_TRUSTED_ORIGINS": "https://photos.example",
    })
    try:
        main.launch()
        small.launch()
        yield main, small
    finally:
        main.stop()
        small.stop()


@pytest.fixture(scope="session")
def server(_servers: tuple[Server, Server]) -> Server:
    """The shared server; its first user, `admin`, is the admin."""
    main = _servers[0]
    if main.admin is None:
        main.wait_ready()
        main.admin = main.new_user("admin")
    return main


@pytest.fixture(scope="session")
def small_server(_servers: tuple[Server, Server]) -> Server:
    """The tight server; its first user, `founder`, is the admin (registration is then closed)."""
    small = _servers[1]
    if small.admin is None:
        small.wait_ready()
        assert small.register("founder").status_code == 201
        small.admin = small.sign_in("founder")
    return small


@pytest.fixture
def alice(server: Server) -> User:
    return server.new_user()


@pytest.fixture
def bob(server: Server) -> User:
    return server.new_user()
