"""Devices over HTTP against a real `octopus serve`: app passwords created, listed, used (Bearer and
Basic), scoped to their device, revoked at once, rate limited; sessions listed and revoked.

The scope walk takes the routes from the app's own route table, so a route added later is walked
too: with an app password it must answer 403 unless it declares `opt={"device": True}`."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from http_support import Server, User, assert_problem, image_bytes
from octopus_events.application import Octopus
from octopus_events.config import load_config
from octopus_events.web.app import create_app

PARAM = re.compile(r"\{(\w+):\w+\}")
# What the issue says a device may never do, whatever a route declares.
NEVER = [
    ("PATCH", "/api/users/me"), ("DELETE", "/api/users/me"), ("POST", "/api/users/me/password"),
    ("GET", "/api/devices"), ("POST", "/api/devices"), ("DELETE", "/api/devices/{device_id:str}"),
    ("POST", "/api/vault"), ("POST", "/api/vault/unlock"), ("GET", "/api/vault/photos"),
    ("GET", "/api/admin/users"), ("GET", "/api/admin/projections"),
    ("DELETE", "/api/photos/{photo_id:str}"), ("POST", "/api/photos/{photo_id:str}/vault"),
    # Share links hand the library to anyone with the link: a session decides that, never a phone.
    ("GET", "/api/shares"), ("POST", "/api/shares"), ("PATCH", "/api/shares/{share_id:str}"),
    ("DELETE", "/api/shares/{share_id:str}"),
    # Sharing albums and libraries with other accounts is the account's decision (docs/sharing.md).
    ("POST", "/api/albums/{album_id:str}/members"), ("DELETE", "/api/albums/{album_id:str}/members/{username:str}"),
    ("PUT", "/api/partners/{username:str}"), ("DELETE", "/api/partners/{username:str}"),
    ("GET", "/api/partners"), ("PATCH", "/api/users/me/sharing"),
]
# ...and what it must be able to do.
ALWAYS = [
    ("POST", "/api/photos"), ("GET", "/api/timeline"), ("GET", "/api/photos/{photo_id:str}"),
    ("GET", "/api/photos/{photo_id:str}/original"), ("GET", "/api/photos/{photo_id:str}/thumbnail"),
    ("POST", "/api/photos/{photo_id:str}/trash"), ("POST", "/api/photos/{photo_id:str}/restore"),
    ("POST", "/api/photos/check"), ("GET", "/api/sync/events"), ("GET", "/api/sync/snapshot"),
    ("GET", "/api/albums"), ("GET", "/api/search"), ("GET", "/api/trash"),
    ("GET", "/api/places/clusters"), ("GET", "/api/places/items"),
]

# The web UI's selection bar and Archive: a phone backs up, it does not edit in bulk.
SELECTION_BAR = [
    ("POST", "/api/photos/bulk"), ("POST", "/api/downloads"), ("GET", "/api/downloads/{token:str}"),
    ("POST", "/api/photos/{photo_id:str}/archive"), ("POST", "/api/photos/{photo_id:str}/unarchive"),
    ("GET", "/api/archive"),
]


def declared_routes(tmp: Path) -> list[tuple[str, str, bool, bool]]:
    """(method, path, device allowed, public) of every /api route, from the app itself."""
    octopus = Octopus(load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(tmp)}))
    app = create_app(octopus)
    out = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in sorted(getattr(handler, "http_methods", ())):
                if method in ("OPTIONS", "HEAD") or not route.path.startswith("/api/"):
                    continue
                out.append((method, route.path, bool(handler.opt.get("device")), handler.opt.get("auth") == "public"))
    return out


def fill(template: str, **values: str) -> str:
    return PARAM.sub(lambda m: values.get(m.group(1), "x1"), template)


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def bearer(password: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {password}"}


def add_device(user: User, name: str = "Pixel") -> dict[str, Any]:
    with user.client() as c:
        r = c.post("/api/devices", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_list_use_and_revoke(server: Server) -> None:
    alice = server.new_user()
    device = add_device(alice, "Alice's phone")
    assert set(device) == {"id", "name", "created_at", "app_password"} and device["name"] == "Alice's phone"
    password = device["app_password"]
    with server.client(headers=bearer(password)) as phone:
        r = phone.post("/api/photos", files={"file": ("a.jpg", image_bytes(901), "image/jpeg")})
        assert r.status_code == 201, r.text
        photo = r.json()
        assert phone.get("/api/timeline").status_code == 200
        assert phone.get(f"/api/photos/{photo['id']}/original").content == image_bytes(901)
        assert phone.post(f"/api/photos/{photo['id']}/trash").status_code == 200
        assert phone.post(f"/api/photos/{photo['id']}/restore").status_code == 200
        assert_problem(phone.delete(f"/api/photos/{photo['id']}"), 403)  # never for good
        assert_problem(phone.get("/api/devices"), 403)
    with server.client(headers=basic(alice.name, password)) as dav_like:
        assert dav_like.get("/api/users/me/storage").status_code == 403
        assert dav_like.get("/api/timeline").status_code == 200
    with server.client(headers=basic("someone-else", password)) as wrong_user:
        assert_problem(wrong_user.get("/api/timeline"), 401)
    with server.client(headers=basic(alice.name, "the account password")) as account:
        assert_problem(account.get("/api/timeline"), 401)  # Basic takes app passwords only
    with alice.client() as c:
        listed = c.get("/api/devices").json()
        mine = [d for d in listed if d["id"] == device["id"]]
        assert len(mine) == 1 and "app_password" not in mine[0]
        assert password not in c.get("/api/devices").text
        d = mine[0]
        assert d["kind"] == "app_password" and d["uploads"] == 1 and d["last_upload"] and d["last_seen"]
        sessions = [x for x in listed if x["kind"] == "session"]
        assert [s["current"] for s in sessions] == [True]
        # Revoked: refused at once, on the very next request.
        assert c.delete(f"/api/devices/{device['id']}").status_code == 204
        assert device["id"] not in c.get("/api/devices").text
    with server.client(headers=bearer(password)) as phone:
        assert_problem(phone.get("/api/timeline"), 401)


def test_another_users_device_is_404(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    device = add_device(alice)
    with bob.client() as c:
        assert_problem(c.delete(f"/api/devices/{device['id']}"), 404)
        assert_problem(c.delete("/api/devices/dnothere"), 404)
        assert device["id"] not in c.get("/api/devices").text
        assert_problem(c.post("/api/devices", json={"name": " "}), 422)
    with server.client(headers=bearer(device["app_password"])) as phone:
        assert phone.get("/api/timeline").status_code == 200  # still alive


def test_sessions_are_listed_and_revocable(server: Server) -> None:
    alice = server.new_user()
    with server.client() as c:
        r = c.post("/api/auth/login", json={"username": alice.name, "password": "correct horse battery",
                                             "device": "Laptop Firefox"})
        laptop = r.json()["token"]
    with alice.client() as c:
        sessions = [d for d in c.get("/api/devices").json() if d["kind"] == "session"]
        other = [s for s in sessions if s["name"] == "Laptop Firefox"]
        assert len(other) == 1 and not other[0]["current"] and other[0]["created_at"]
        current = [s for s in sessions if s["current"]]
        assert len(current) == 1
        assert c.delete(f"/api/devices/{other[0]['id']}").status_code == 204
    with server.client(headers=bearer(laptop)) as c:
        assert_problem(c.get("/api/timeline"), 401)
    with alice.client() as c:
        r = c.delete(f"/api/devices/{current[0]['id']}")  # the session in use: signs out
        assert r.status_code == 204 and "octopus_session=" in r.headers.get("set-cookie", "")
        assert_problem(c.get("/api/timeline"), 401)


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, bool, bool]]:
    return declared_routes(tmp_path_factory.mktemp("routes"))


def test_route_table_walk_with_an_app_password(server: Server, routes: list[tuple[str, str, bool, bool]]) -> None:
    table = {(m, p): allowed for m, p, allowed, _ in routes}
    for route in NEVER:
        assert table.get(route) is False, route
    for route in ALWAYS:
        assert table.get(route) is True, route
    for bulk_route in SELECTION_BAR:
        assert table.get(bulk_route) is False, bulk_route
    alice = server.new_user()
    device = add_device(alice)
    denied = 0
    with server.client(headers=bearer(device["app_password"])) as phone:
        for method, template, allowed, public in routes:
            if public:
                continue
            r = phone.request(method, fill(template), json={})
            if allowed:
                assert r.status_code not in (401, 403) and r.status_code < 500, (method, template, r.status_code, r.text)
            else:
                assert_problem(r, 403)
                denied += 1
        # The vault stays shut even on a route a device may use.
        assert_problem(phone.get("/api/timeline", headers={"X-Vault-Token": "anything"}), 403)
    assert denied >= 20
    # The walk changed nothing: the device still works and is still listed.
    with alice.client() as c:
        assert device["id"] in c.get("/api/devices").text


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("strict") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_LOGIN_MAX_FAILURES": "3"}).start()
    try:
        yield s
    finally:
        s.stop()


def test_wrong_app_passwords_are_rate_limited(strict_server: Server) -> None:
    alice = strict_server.new_user()
    device = add_device(alice)
    wrong = device["app_password"][:-4] + "aaaa"
    with strict_server.client() as c:
        for _ in range(3):
            assert_problem(c.get("/api/timeline", headers=bearer(wrong)), 401)
        r = c.get("/api/timeline", headers=basic(alice.name, wrong))
        body = assert_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1 and body["detail"]


def test_password_change_keeps_app_passwords_and_account_deletion_ends_them(server: Server) -> None:
    alice = server.new_user()
    device = add_device(alice)
    password = device["app_password"]
    with alice.client() as c:
        r = c.post("/api/users/me/password", json={"old": "correct horse battery", "new": "a brand new password"})
        assert r.status_code == 204, r.text
    with server.client(headers=bearer(password)) as phone:
        assert phone.get("/api/timeline").status_code == 200  # a separate credential: it survives
    with alice.client() as c:
        assert c.request("DELETE", "/api/users/me", json={"password": "a brand new password"}).status_code == 204
    with server.client(headers=bearer(password)) as phone:
        assert_problem(phone.get("/api/timeline"), 401)
    # The secret never reached the server's logs.
    logs = server.log_text() + "".join(p.read_text(errors="replace") for p in (server.data_dir / "logs").glob("*") if p.is_file())
    assert password not in logs and password.rsplit("_", 1)[1] not in logs
