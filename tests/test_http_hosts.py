"""DNS rebinding: only names that are ours are served, against real `octopus serve` processes.

A rebound page talks to us from the victim's browser with its own name in `Host` (and its own
`Origin`), from a LAN or loopback address. Here that is `evil.example`: it must get a 421 problem
for the UI, its files, sign-in, the docs and /metrics, and no cookie. The server's own addresses,
localhost, this machine's name and configured names keep working.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterator

import pytest

from http_support import PASSWORD, Server, assert_problem, fresh_name
from octopus_events.config import load_config
from octopus_events.errors import ConfigError

EVIL = "evil.example"


@pytest.fixture(scope="module")
def lan_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Listening on every interface (as a home user serving the LAN), with two configured names."""
    server = Server(tmp_path_factory.mktemp("lan") / "data", host="0.0.0.0",
                    env={"OCTOPUS_SERVER_ALLOWED_HOSTS": "photos.example, *.home.lan"})
    try:
        server.start()
        yield server
    finally:
        server.stop()


def foreign(server: Server, method: str, path: str, **kwargs: object) -> None:
    with server.client() as c:
        r = c.request(method, path, headers={"Host": EVIL, "Origin": f"http://{EVIL}"}, **kwargs)  # type: ignore[arg-type]
    body = assert_problem(r, 421)
    assert EVIL in body["detail"] and "server.allowed_hosts" in body["detail"]
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/index.html"), ("GET", "/app.js"), ("GET", "/api/health"), ("GET", "/metrics"),
    ("GET", "/schema"), ("GET", "/schema/openapi.json"), ("GET", "/api/users/me"),
])
def test_a_foreign_host_is_refused_before_any_route(server: Server, method: str, path: str) -> None:
    foreign(server, method, path)


def test_sign_in_and_registration_from_a_foreign_host_are_refused(server: Server) -> None:
    name = fresh_name()
    assert server.register(name).status_code == 201
    foreign(server, "POST", "/api/auth/login", json={"username": name, "password": PASSWORD})
    foreign(server, "POST", "/api/auth/register", json={"username": fresh_name(), "password": PASSWORD})
    # The same sign-in addressed to the server itself works and sets the cookie.
    r = server.login(name, Origin=server.origin)
    assert r.status_code == 200 and "octopus_session" in r.headers["set-cookie"]


def test_a_foreign_host_cannot_use_a_session_cookie(server: Server) -> None:
    user = server.new_user()
    with server.client() as c:
        r = c.get("/api/users/me", headers={"Host": EVIL, "Cookie": f"octopus_session={user.token}"})
    assert_problem(r, 421)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "localhost.", "[::1]:{port}",
                                  "127.0.0.2:{port}", "app.localhost:{port}"])
def test_loopback_names_are_served(server: Server, host: str) -> None:
    with server.client() as c:
        headers = {"Host": host.format(port=server.port)}
        assert c.get("/", headers=headers).status_code == 200
        assert c.get("/api/health", headers=headers).json()["status"] == "ok"
        # A local tool (Prometheus on this machine) reads /metrics without signing in.
        r = c.get("/metrics", headers=headers)
    assert r.status_code == 200 and "octopus_log_head" in r.text


def test_this_machines_own_name_is_served(server: Server) -> None:
    name = socket.gethostname().split(".")[0]
    with server.client() as c:
        for host in (name, f"{name}.local:{server.port}"):
            assert c.get("/api/health", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize("host", ["192.0.2.7:{port}", "[2001:db8::1]", "photos.example", "evil.example:{port}",
                                  "127.0.0.1.evil.example", "localhost.evil.example"])
def test_a_loopback_server_refuses_other_addresses_and_names(server: Server, host: str) -> None:
    with server.client() as c:
        r = c.get("/api/health", headers={"Host": host.format(port=server.port)})
    assert_problem(r, 421)


@pytest.mark.parametrize("host", ["bad host", "a:b:c", "[::1", "[::1]x", "localhost:http", "[evil.example]"])
def test_a_host_that_is_not_a_host_is_malformed(server: Server, host: str) -> None:
    with server.client() as c:
        assert_problem(c.get("/", headers={"Host": host}), 400)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost", "192.0.2.7:{port}", "[2001:db8::1]:{port}",
                                  "photos.example", "PHOTOS.example:443", "nas.home.lan"])
def test_a_lan_server_serves_any_ip_and_its_configured_names(lan_server: Server, host: str) -> None:
    with lan_server.client() as c:
        r = c.get("/", headers={"Host": host.format(port=lan_server.port)})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("host", [EVIL, "home.lan", "photos.example.evil.example", "xphotos.example"])
def test_a_lan_server_refuses_unconfigured_names(lan_server: Server, host: str) -> None:
    with lan_server.client() as c:
        assert_problem(c.get("/", headers={"Host": host}), 421)


def test_metrics_through_a_configured_name_is_not_taken_as_loopback(lan_server: Server) -> None:
    # A reverse proxy on this machine forwards the LAN's requests from 127.0.0.1 under its name:
    # they must not get the scrape access a local tool gets.
    with lan_server.client() as c:
        assert_problem(c.get("/metrics", headers={"Host": "photos.example"}), 401)
        assert c.get("/metrics", headers={"Host": f"127.0.0.1:{lan_server.port}"}).status_code == 200
        assert lan_server.register("owner").status_code == 201  # the first account is the admin
    admin = lan_server.sign_in("owner")
    with admin.client() as c:
        assert c.get("/metrics", headers={"Host": "photos.example"}).status_code == 200


@pytest.mark.parametrize("entry", ["photos.example:8000", "http://photos.example", "photos.example/", "*photos", ""])
def test_an_allowed_host_that_is_not_a_name_stops_start_up_with_one_line(entry: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[server]\nallowed_hosts = [{entry!r}]\n")
    with pytest.raises(ConfigError) as info:
        load_config(config, environ={})
    assert "server.allowed_hosts" in str(info.value) and "\n" not in str(info.value)
