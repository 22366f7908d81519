"""Security headers on every kind of response of a real `octopus serve`: the UI, its files, the API,
problems (404, 401, 405, 421), photo files and the API docs. Also: /api/health tells strangers
only that the server is up, and the API docs name no other host."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from http_support import Server, User, image_bytes
from octopus_events.web.api_docs import SWAGGER_UI_FILES, SWAGGER_UI_VERSION

ROOT = Path(__file__).resolve().parents[1]
CSP = {
    "default-src": "'self'", "script-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
    "frame-ancestors": "'none'", "form-action": "'self'",
}


def assert_secured(r: httpx.Response) -> None:
    where = (r.request.method, r.request.url.path, r.status_code)
    policy = dict(part.strip().split(None, 1) for part in r.headers.get("content-security-policy", "").split(";") if part.strip())
    for directive, value in CSP.items():
        assert policy.get(directive) == value, (where, directive, policy)
    # Nothing anywhere may run inline script or eval, whatever the directive it is allowed by.
    assert "unsafe" not in r.headers["content-security-policy"], where
    # The app shell's page alone may show OpenStreetMap's tiles (the Places map's background).
    tiles = {"https://tile.openstreetmap.org"} if r.request.url.path in ("/", "/index.html") else set()
    assert set(policy["img-src"].split()) == {"'self'", "blob:", "data:"} | tiles, where
    assert r.headers.get("x-frame-options") == "DENY", where
    assert r.headers.get_list("x-content-type-options") == ["nosniff"], where
    assert r.headers.get("referrer-policy") == "same-origin", where


@pytest.fixture(scope="module")
def owner(server: Server) -> User:
    return server.new_user()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/", 200), ("GET", "/index.html", 200), ("GET", "/app.js", 200), ("GET", "/style.css", 200),
    ("GET", "/favicon.svg", 200), ("GET", "/api/health", 200), ("GET", "/schema", 200),
    ("GET", "/schema/openapi.json", 200), (f"GET", f"/{SWAGGER_UI_FILES[1]}", 200),
    ("GET", "/api/timeline", 401), ("GET", "/no/such/page.js", 404), ("GET", "/api/nope", 404),
    ("PUT", "/api/health", 405), ("POST", "/api/auth/login", 400),
])
def test_every_kind_of_response_carries_the_security_headers(server: Server, method: str, path: str,
                                                              status: int) -> None:
    with server.client() as c:
        r = c.request(method, path, content=b"{" if method == "POST" else None,
                      headers={"Content-Type": "application/json"} if method == "POST" else None)
    assert r.status_code == status, (path, r.status_code, r.text[:200])
    assert_secured(r)


def test_api_answers_and_photo_files_carry_them_too(server: Server, owner: User) -> None:
    r = owner.upload(image_bytes(81))
    assert r.status_code == 201, r.text
    assert_secured(r)
    photo = r.json()["id"]
    with owner.client() as c:
        for path in (f"/api/photos/{photo}", f"/api/photos/{photo}/original", f"/api/photos/{photo}/thumbnail",
                     "/api/timeline", "/api/users/me"):
            got = c.get(path)
            assert got.status_code == 200, (path, got.text[:200])
            assert_secured(got)
        ranged = c.get(f"/api/photos/{photo}/original", headers={"Range": "bytes=0-9"})
        assert ranged.status_code == 206
        assert_secured(ranged)


def test_a_refused_host_carries_them(server: Server) -> None:
    with server.client() as c:
        r = c.get("/", headers={"Host": "evil.example"})
    assert r.status_code == 421
    assert_secured(r)


def test_health_shows_the_log_position_only_to_an_admin(server: Server, owner: User) -> None:
    with server.client() as c:
        assert c.get("/api/health").json() == {"status": "ok", "version": c.get("/api/health").json()["version"]}
        assert set(c.get("/api/health", headers={"Authorization": "Bearer not-a-token"}).json()) == {"status", "version"}
    with owner.client() as c:  # signed in, not an admin
        assert set(c.get("/api/health").json()) == {"status", "version"}
    assert server.admin is not None
    with server.admin.client() as c:
        body = c.get("/api/health").json()
    assert body["status"] == "ok" and isinstance(body["log_position"], int) and body["log_position"] > 0
    # The browser's cookie session counts as well as a bearer token.
    with server.client() as c:
        c.cookies.set("octopus_session", server.admin.token)
        assert "log_position" in c.get("/api/health").json()


def test_the_api_docs_name_no_other_host_and_their_files_are_ours(server: Server) -> None:
    with server.client() as c:
        page = c.get("/schema")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert refs, page.text
        for ref in refs:
            assert ref.startswith("/") and not ref.startswith("//"), ref
            assert c.get(ref).status_code == 200, ref
        assert "<script>" not in page.text.replace(" ", "") and "style=" not in page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"
    assert f"/{SWAGGER_UI_FILES[1]}" in refs and f"/{SWAGGER_UI_FILES[0]}" in refs
    for name in SWAGGER_UI_FILES:
        assert SWAGGER_UI_VERSION in name and (ROOT / "webroot" / name).is_file()


def test_a_request_the_app_never_saw_carries_them_too(server: Server) -> None:
    # Refused by the HTTP protocol layer (web/server.py) before the app runs: 431, then close.
    with server.client() as c:
        r = c.get("/api/health", headers={"X-Padding": "x" * 100_000})
    assert r.status_code == 431
    assert_secured(r)
