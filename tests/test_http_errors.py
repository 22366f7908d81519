"""Every error is problem+json (RFC 9457) with type, title, status and detail; bad input is a
4xx that names what is wrong, never a 5xx."""

from __future__ import annotations

import httpx

from http_support import PASSWORD, Server, User, assert_problem, jpeg_with_exif


def test_malformed_json_is_400(alice: User) -> None:
    with alice.client() as c:
        for body in (b"{not json", b"", b"[1, 2", b"\xff\xfe"):
            assert_problem(c.post("/api/albums", content=body, headers={"Content-Type": "application/json"}), 400)


def test_wrong_field_types_name_the_field(alice: User) -> None:
    with alice.client() as c:
        body = assert_problem(c.post("/api/albums", json={"name": 42}), 400)
        assert "name" in body["detail"]
        body = assert_problem(c.patch("/api/photos/p1", json={"version": "three"}), 400)
        assert "version" in body["detail"]
        body = assert_problem(c.post("/api/photos/check", json={"sha256": "abc"}), 400)
        assert "sha256" in body["detail"]
        body = assert_problem(c.post("/api/albums", json={}), 400)
        assert "name" in body["detail"]
        body = assert_problem(c.post("/api/albums", json=["a list"]), 400)
        body = assert_problem(c.get("/api/timeline", params={"limit": "many"}), 400)
        assert "limit" in body["detail"]
        body = assert_problem(c.get("/api/search", params={"favourite": "maybe"}), 400)
        assert "favourite" in body["detail"]


def test_invalid_values_are_422(alice: User) -> None:
    with alice.client() as c:
        assert_problem(c.patch("/api/users/me", json={"display_name": "x" * 500}), 422)
        assert_problem(c.post("/api/albums", json={"name": "   "}), 422)


def test_unknown_routes_and_methods(server: Server, alice: User) -> None:
    with alice.client() as c:
        assert_problem(c.get("/api/no-such-thing"), 404)
        assert_problem(c.get("/api/photos/p1/no-such-part"), 404)
        assert_problem(c.get("/definitely/not/here.html"), 404)
        assert_problem(c.request("PATCH", "/api/timeline"), 405)
    assert_problem(httpx.get(f"{server.url}/api/no-such-thing"), 404)  # the route list is public (/schema)


def test_too_large_json_body_is_413(alice: User) -> None:
    with alice.client() as c:
        assert_problem(c.post("/api/photos/check", content=b'{"sha256": ["' + b"a" * (5 * 1024 * 1024) + b'"]}',
                              headers={"Content-Type": "application/json"}), 413)


def test_every_problem_has_a_stable_code(server: Server, alice: User) -> None:
    """Issue 11: clients translate `code` (docs/errors.md), never `detail`. A walk of the kinds of
    error: generic codes per status, precise ones with the params a client's text needs."""
    anonymous = httpx.Client(base_url=server.url)
    with alice.client() as c, anonymous:
        photo = alice.upload(jpeg_with_exif(11, "Octopus", "Code Camera"), "code.jpg").json()
        cases = [
            (c.post("/api/albums", content=b"{not json", headers={"Content-Type": "application/json"}), 400, "bad_request"),
            (c.post("/api/albums", json={"name": 42}), 400, "malformed_field"),
            (anonymous.get("/api/timeline"), 401, "not_signed_in"),
            (anonymous.post("/api/auth/login", json={"username": alice.name, "password": "not it at all"}), 401,
             "wrong_credentials"),
            (c.get("/api/admin/users"), 403, "admin_only"),
            (c.get("/api/photos/p" + "0" * 20), 404, "not_found"),
            (c.get("/api/no-such-thing"), 404, "not_found"),
            (c.request("PATCH", "/api/timeline"), 405, "method_not_allowed"),
            (c.patch(f"/api/photos/{photo['id']}", json={"description": "x", "version": photo["version"] + 5}), 409,
             "stale_version"),
            (c.post("/api/photos", files={"file": ("notes.txt", b"plain words, not a photo", "text/plain")}), 415,
             "unsupported_media"),
            (c.post("/api/albums", json={"name": "   "}), 422, "album_name_length"),
            (c.patch("/api/users/me", json={"display_name": "x" * 500}), 422, "display_name_length"),
            (c.post("/api/users/me/password", json={"old": PASSWORD, "new": "short"}), 422, "password_length"),
        ]
        for response, status, code in cases:
            body = assert_problem(response, status)
            assert body["code"] == code, (code, body)
        body = assert_problem(c.post("/api/users/me/password", json={"old": PASSWORD, "new": "short"}), 422)
        assert body["params"] == {"min": 8, "max": 1024}, body
        assert body["detail"] == "The password must have 8 to 1,024 characters.", body


def test_the_openapi_document_describes_the_problem_code(server: Server) -> None:
    doc = httpx.get(f"{server.url}/schema/openapi.json").json()
    schema = doc["components"]["responses"]["Problem"]["content"]["application/problem+json"]["schema"]
    assert "code" in schema["required"] and "stale_version" in schema["properties"]["code"]["examples"]
