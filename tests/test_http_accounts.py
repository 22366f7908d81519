"""Accounts over real HTTP: registration, sessions (bearer and cookie), profile, password,
storage, account deletion, admin user management and request ids. Sign-in limits have their own
servers in test_http_signin_limits.py (and forwarded addresses in test_http_proxies.py)."""

from __future__ import annotations

import httpx

from http_support import PASSWORD, Server, User, assert_problem, fresh_name, image_bytes


def test_register_ignores_a_requested_role(server: Server) -> None:
    name = fresh_name("mallory")
    r = server.register(name, role="ADMIN", admin=True, is_admin=True, quota_bytes=1)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["username"] == name and body["admin"] is False and body["quota_bytes"] == 0
    user = server.sign_in(name)
    assert user.info["admin"] is False
    with user.client() as c:
        assert_problem(c.get("/api/admin/users"), 403)
        assert_problem(c.post("/api/admin/users", json={"username": fresh_name(), "password": PASSWORD, "admin": True}), 403)
        assert_problem(c.get("/api/admin/projections"), 403)


def test_register_rejects_a_taken_name_and_bad_fields(server: Server) -> None:
    name = fresh_name()
    assert server.register(name).status_code == 201
    assert_problem(server.register(name.upper()), 409)
    assert_problem(server.register(fresh_name(), password="short"), 422)
    assert_problem(server.register("no spaces allowed"), 422)


def test_login_sets_a_strict_http_only_cookie_and_returns_a_token(server: Server) -> None:
    name = fresh_name()
    server.register(name)
    r = server.login(name)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"token", "user"} and body["user"]["username"] == name
    cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
    cookie = cookies["octopus_session"]
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in cookie.split(";")}
    assert cookie.startswith(f"octopus_session={body['token']}")
    assert "httponly" in parts and parts["samesite"].lower() == "samesite=strict"
    assert parts["path"] == "Path=/" and parts["max-age"] == f"Max-Age={30 * 86400}"
    assert "secure" not in parts  # plain http here; https requests get Secure
    # The device token (docs/security.md): in a header for API clients, and as a cookie that
    # script cannot read and only the sign-in routes receive.
    device = cookies["octopus_device"]
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in device.split(";")}
    assert device.startswith(f"octopus_device={r.headers['octopus-device-token']}")
    assert "httponly" in parts and parts["samesite"].lower() == "samesite=strict"
    assert parts["path"] == "Path=/api/auth" and "secure" not in parts
    # The cookie alone signs the browser in.
    with server.client() as c:
        c.cookies.set("octopus_session", body["token"])
        assert c.get("/api/users/me").json()["id"] == body["user"]["id"]
    # Wrong passwords and unknown users answer the same.
    a = assert_problem(server.login(name, "wrong password!"), 401)
    b = assert_problem(server.login(fresh_name("ghost"), "wrong password!"), 401)
    assert a["detail"] == b["detail"]


def test_logout_revokes_the_token(server: Server, alice: User) -> None:
    with alice.client() as c:
        r = c.post("/api/auth/logout")
        assert r.status_code == 204
        assert "octopus_session=" in r.headers.get("set-cookie", "")
        assert_problem(c.get("/api/users/me"), 401)
    assert_problem(httpx.get(f"{server.url}/api/users/me", headers={"Authorization": "Bearer nonsense"}), 401)
    assert_problem(httpx.get(f"{server.url}/api/users/me", headers={"Authorization": "Basic abc"}), 401)


def test_profile_and_storage(alice: User) -> None:
    with alice.client() as c:
        me = c.get("/api/users/me").json()
        assert me["username"] == alice.name and me["display_name"] == alice.name
        r = c.patch("/api/users/me", json={"display_name": "  Alice   Liddell "})
        assert r.status_code == 200 and r.json()["display_name"] == "Alice Liddell"
        assert c.get("/api/users/me").json()["display_name"] == "Alice Liddell"
        assert_problem(c.patch("/api/users/me", json={"display_name": ""}), 422)
        empty = {"photos": 0, "bytes": 0, "quota_bytes": 0, "videos": 0, "video_bytes": 0, "live_clip_bytes": 0,
                 "device_file_bytes": 0}
        assert c.get("/api/users/me/storage").json() == empty
        data = image_bytes(101)
        assert alice.upload(data).status_code == 201
        assert c.get("/api/users/me/storage").json() == {**empty, "photos": 1, "bytes": len(data)}


def test_password_change_keeps_this_session_and_ends_the_others(server: Server, alice: User) -> None:
    other = server.sign_in(alice.name)
    with alice.client() as c:
        assert_problem(c.post("/api/users/me/password", json={"old": "not it at all", "new": "a new password"}), 403)
        assert c.post("/api/users/me/password", json={"old": PASSWORD, "new": "a new password"}).status_code == 204
        assert c.get("/api/users/me").status_code == 200
    with other.client() as c:
        assert_problem(c.get("/api/users/me"), 401)
    assert_problem(server.login(alice.name, PASSWORD), 401)
    assert server.login(alice.name, "a new password").status_code == 200


def test_account_deletion_needs_the_password_and_removes_everything(server: Server, alice: User) -> None:
    r = alice.upload(image_bytes(102))
    photo_id = r.json()["id"]
    with alice.client() as c:
        assert_problem(c.request("DELETE", "/api/users/me", json={"password": "not the password"}), 403)
        assert c.get(f"/api/photos/{photo_id}").status_code == 200
        assert c.request("DELETE", "/api/users/me", json={"password": PASSWORD}).status_code == 204
        assert_problem(c.get("/api/users/me"), 401)
    assert_problem(server.login(alice.name), 401)
    assert server.admin is not None
    with server.admin.client() as c:
        assert alice.name not in [u["username"] for u in c.get("/api/admin/users").json()]


def test_admin_lists_and_creates_users(server: Server) -> None:
    assert server.admin is not None
    name = fresh_name("made")
    with server.admin.client() as c:
        r = c.post("/api/admin/users", json={"username": name, "password": PASSWORD, "admin": True, "quota_bytes": 5000})
        assert r.status_code == 201, r.text
        assert r.json()["admin"] is True and r.json()["quota_bytes"] == 5000
        listed = {u["username"]: u for u in c.get("/api/admin/users").json()}
        assert listed["admin"]["admin"] is True and listed[name]["quota_bytes"] == 5000
        assert_problem(c.post("/api/admin/users", json={"username": name, "password": PASSWORD}), 409)
    made = server.sign_in(name)
    with made.client() as c:
        assert c.get("/api/admin/users").status_code == 200  # made an admin by an admin
        # the quota is enforced on upload
        assert_problem(made.upload(image_bytes(103, size=(400, 300))), 413)
    assert_problem(httpx.get(f"{server.url}/api/admin/users"), 401)


def test_closed_registration_only_lets_the_first_user_in(small_server: Server) -> None:
    # The fixture registered `founder` first, which made them admin.
    assert small_server.admin is not None and small_server.admin.info["admin"] is True
    assert_problem(small_server.register(fresh_name()), 403)
    with small_server.admin.client() as c:
        assert c.post("/api/admin/users", json={"username": "family", "password": PASSWORD}).status_code == 201
    assert small_server.login("family").status_code == 200


def test_auth_status_says_first_run_and_whether_anyone_may_register(tmp_path, server: Server,
                                                                      small_server: Server) -> None:
    """GET /api/auth/status (no auth): the sign-in screen knows before any form is filled."""
    fresh = Server(tmp_path / "data").start()  # a new server, closed registration by default
    try:
        assert httpx.get(f"{fresh.url}/api/auth/status").json() == {
            "first_run": True, "registration": "closed", "can_register": True}
        assert fresh.register("first").status_code == 201
        assert httpx.get(f"{fresh.url}/api/auth/status").json() == {
            "first_run": False, "registration": "closed", "can_register": False}
    finally:
        fresh.stop()
    small = httpx.get(f"{small_server.url}/api/auth/status").json()
    assert small["first_run"] is False and small["can_register"] is False
    shared = httpx.get(f"{server.url}/api/auth/status").json()  # the shared server's registration is open
    assert shared == {"first_run": False, "registration": "open", "can_register": True}


def test_every_response_names_its_request_id(server: Server) -> None:
    with server.client() as c:
        generated = c.get("/api/health").headers["x-request-id"]
        assert 8 <= len(generated) <= 64
        assert c.get("/api/health", headers={"X-Request-Id": "trace-42.a"}).headers["x-request-id"] == "trace-42.a"
        odd = c.get("/api/timeline", headers={"X-Request-Id": "bad id\twith junk"})
        assert odd.status_code == 401 and odd.headers["x-request-id"] not in ("bad id\twith junk", "")
