"""Every error is problem+json (RFC 9457) with type, title, status and detail; bad input is a
4xx that names what is wrong, never a 5xx."""

from __future__ import annotations

import httpx

from http_support import Server, User, assert_problem


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
