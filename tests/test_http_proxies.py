"""Forwarded headers are believed only from configured proxies (`server.trusted_proxies`).

By default nobody is trusted: a client that sends `X-Forwarded-For` is still counted under its
real address, so rotating the header does not dodge the per-address sign-in limit, and
`X-Forwarded-Proto: https` does not make the server think it is behind TLS. With the proxy's
address configured, both headers are honoured.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from http_support import Server, assert_problem, fresh_name

MAX_FAILURES = 3


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Server]]:
    """Not trusting, trusting 127.0.0.1, and another not trusting for the cookie test (the first
    one's address gets blocked on purpose)."""
    common = {"OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_LOGIN_MAX_FAILURES": str(MAX_FAILURES)}
    direct = Server(tmp_path_factory.mktemp("direct") / "data", env=common)
    proxied = Server(tmp_path_factory.mktemp("proxied") / "data",
                     env={**common, "OCTOPUS_SERVER_TRUSTED_PROXIES": "127.0.0.1"})
    cookies = Server(tmp_path_factory.mktemp("cookies") / "data", env=common)
    started = [direct, proxied, cookies]
    try:
        for server in started:
            server.launch()
        yield direct.wait_ready(), proxied.wait_ready(), cookies.wait_ready()
    finally:
        for server in started:
            server.stop()


def failed_login(server: Server, forwarded_for: str) -> httpx.Response:
    # A fresh unknown name each time, so only the address's budget can run out.
    return server.login(fresh_name("ghost"), "wrong password!", **{"X-Forwarded-For": forwarded_for})


def session_cookie(response: httpx.Response) -> set[str]:
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("octopus_session="))
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")}


def test_forwarded_for_from_an_untrusted_peer_does_not_change_the_address(servers: tuple[Server, Server, Server]) -> None:
    direct = servers[0]
    for i in range(MAX_FAILURES):
        assert_problem(failed_login(direct, f"198.51.100.{i + 1}"), 401)
    # Every attempt came from 127.0.0.1, whatever the header said: that address is now blocked.
    assert_problem(failed_login(direct, "198.51.100.200"), 429)


def test_forwarded_for_from_a_trusted_proxy_is_the_client_address(servers: tuple[Server, Server, Server]) -> None:
    proxied = servers[1]
    # Many clients behind the one proxy: each is its own address.
    for i in range(MAX_FAILURES + 2):
        assert_problem(failed_login(proxied, f"198.51.100.{i + 1}"), 401)
    for _ in range(MAX_FAILURES):
        assert_problem(failed_login(proxied, "203.0.113.9"), 401)
    assert_problem(failed_login(proxied, "203.0.113.9"), 429)
    assert_problem(failed_login(proxied, "203.0.113.10"), 401)


def test_the_session_cookie_is_secure_only_behind_a_trusted_https_proxy(servers: tuple[Server, Server, Server]) -> None:
    _, proxied, direct = servers
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.50"}
    for server in (direct, proxied):
        name = fresh_name()
        assert server.register(name).status_code == 201
        plain = server.login(name)
        assert plain.status_code == 200 and "secure" not in session_cookie(plain)
        forwarded = server.login(name, **https)
        assert forwarded.status_code == 200, forwarded.text
        assert ("secure" in session_cookie(forwarded)) is (server is proxied)


def test_metrics_through_a_trusted_proxy_are_for_this_machine_only(servers: tuple[Server, Server, Server]) -> None:
    direct, proxied, _ = servers
    # Behind a proxy the client's real address decides: a LAN client forwarded by the proxy on
    # this machine is not "loopback", a scrape from this machine through it still is.
    assert_problem(proxied.client().get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}), 401)
    assert proxied.client().get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    # Without trust the header changes nothing: the peer really is this machine.
    assert direct.client().get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
