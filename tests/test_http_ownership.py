"""Nobody reaches what is not theirs: every route walked anonymously and with another user's ids,
and cookie-authenticated writes checked for their Origin.

The routes come from the app's own route table, so a route added later is walked too.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from http_support import Server, User, assert_problem, image_bytes
from octopus_events.application import Octopus
from octopus_events.config import load_config
from octopus_events.web.app import create_app

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# The only /api routes a stranger may use.
PUBLIC_API = {("GET", "/api/health"), ("GET", "/api/auth/status"), ("POST", "/api/auth/register"),
              ("POST", "/api/auth/login")}
# The only write outside /api: the phone's share sheet posts here when no service worker caught
# it (webroot.py). It stores nothing and only redirects to a page that says to share again.
SHARE_TARGET = ("POST", "/share")
# A share link's visitor (docs/sharing.md) has no account: the token in the path is the
# credential, and tests/test_http_shares.py walks these routes with good and bad links.
SHARE_LINK_API = {("GET", "/api/s/{token:str}"), ("POST", "/api/s/{token:str}/unlock"),
                  ("GET", "/api/s/{token:str}/photos/{photo_id:str}/thumbnail"),
                  ("GET", "/api/s/{token:str}/photos/{photo_id:str}/original"),
                  ("GET", "/api/s/{token:str}/photos/{photo_id:str}/video"),
                  ("GET", "/api/s/{token:str}/photos/{photo_id:str}/motion")}
PUBLIC_API |= SHARE_LINK_API
PARAM = re.compile(r"\{(\w+):\w+\}")


def route_table(tmp: Path) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, from the app itself."""
    octopus = Octopus(load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(tmp)}))
    app = create_app(octopus)
    out = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", ())):
            if method not in ("OPTIONS", "HEAD"):
                out.append((method, route.path))
    return out


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    return route_table(tmp_path_factory.mktemp("routes"))


def fill(template: str, **values: str) -> str:
    return PARAM.sub(lambda m: values.get(m.group(1), "x1"), template)


def test_no_write_route_is_reachable_anonymously(server: Server, routes: list[tuple[str, str]]) -> None:
    writes = [(m, p) for m, p in routes if m in WRITES]
    assert len(writes) >= 20  # the walk really walks something
    with server.client() as c:
        for method, template in writes:
            if (method, template) in PUBLIC_API:
                continue
            r = c.request(method, fill(template), json={})
            if (method, template) == SHARE_TARGET:
                assert r.status_code == 303 and r.headers["location"] == "/#/upload?shared=none"
                continue
            assert_problem(r, 401)


def test_every_api_route_needs_a_session(server: Server, routes: list[tuple[str, str]]) -> None:
    api = [(m, p) for m, p in routes if p.startswith("/api/")]
    assert {r for r in api if r in PUBLIC_API} == PUBLIC_API
    with server.client() as c:
        for method, template in api:
            if (method, template) in PUBLIC_API:
                continue
            assert_problem(c.request(method, fill(template)), 401)
        # Prometheus on this machine may scrape without a session (a remote client may not:
        # tests/test_http_proxies.py and tests/test_http_hosts.py check that side).
        assert c.get("/metrics").status_code == 200
        # Outside /api and /metrics only reads are served (UI files, schema).
        assert {m for m, p in routes if not p.startswith(("/api/", "/metrics")) and (m, p) != SHARE_TARGET} <= {"GET"}
        assert c.get("/").status_code == 200 and c.get("/schema/openapi.json").status_code == 200


def test_another_users_ids_answer_exactly_like_unknown_ids(server: Server, routes: list[tuple[str, str]]) -> None:
    alice, bob = server.new_user(), server.new_user()
    photo = alice.upload(image_bytes(300), "alice-secret.jpg", tags="alicetag", description="alice private").json()
    with alice.client() as c:
        album = c.post("/api/albums", json={"name": "Alice album"}).json()
        assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [photo["id"]]}).status_code == 200
        c.put(f"/api/photos/{photo['id']}/favourite")
        share = c.post("/api/shares", json={"album_id": album["id"]}).json()
    with bob.client() as c:
        bob_album = c.post("/api/albums", json={"name": "Bob album"}).json()
    bodies = {
        ("PATCH", "/api/photos/{photo_id:str}"): {"description": "mine now", "version": 1},
        ("PUT", "/api/photos/{photo_id:str}/tags"): {"tags": ["stolen"]},
        ("PATCH", "/api/albums/{album_id:str}"): {"name": "mine now"},
        ("PATCH", "/api/shares/{share_id:str}"): {"allow_download": False},
        ("POST", "/api/albums/{album_id:str}/photos"): {"photo_ids": ["p0"]},
        ("DELETE", "/api/albums/{album_id:str}/photos"): {"photo_ids": ["p0"]},
        ("POST", "/api/albums/{album_id:str}/members"): {"username": "admin", "role": "contributor"},
    }
    walked = 0
    with bob.client() as c:
        for method, template in routes:
            params = set(PARAM.findall(template))
            if not params & {"photo_id", "album_id", "share_id"}:
                continue
            walked += 1
            body = bodies.get((method, template))
            theirs = c.request(method, fill(template, photo_id=photo["id"], album_id=album["id"], share_id=share["id"]),
                               json=body)
            unknown = c.request(method, fill(template, photo_id="p" + "0" * 20, album_id="a" + "0" * 16,
                                             share_id="s" + "0" * 16), json=body)
            # Vault routes refuse without a vault token before looking at ids (403 either way);
            # everything else answers 404. In both cases Alice's ids look exactly like nobody's.
            status = unknown.status_code if "vault" in template else 404
            a, u = assert_problem(theirs, status), assert_problem(unknown, status)
            assert a["title"] == u["title"] and a["type"] == u["type"]
            assert a["detail"].replace(photo["id"], "ID").replace(album["id"], "ID").replace(share["id"], "ID") == \
                u["detail"].replace("p" + "0" * 20, "ID").replace("a" + "0" * 16, "ID").replace("s" + "0" * 16, "ID")
            assert "alice" not in theirs.text
        assert walked >= 14
        # Bulk commands and ZIP downloads check every id they are given, like the one-photo routes.
        for action in ("archive", "favourite", "trash"):
            assert_problem(c.post("/api/photos/bulk", json={"action": action, "photo_ids": [photo["id"]]}), 404)
        assert_problem(c.post("/api/downloads", json={"photo_ids": [photo["id"]]}), 404)
        assert c.get("/api/archive").json() == {"photos": [], "cursor": None}
        # Bob's own album cannot take Alice's photo either.
        assert_problem(c.post(f"/api/albums/{bob_album['id']}/photos", json={"photo_ids": [photo["id"]]}), 404)
        # Every list Bob can read is free of Alice's photo.
        for path in ("/api/timeline", "/api/timeline/months", "/api/tags", "/api/tags/alicetag", "/api/favourites",
                     "/api/trash", "/api/search?q=alice", "/api/search?tag=alicetag", "/api/duplicates", "/api/albums",
                     f"/api/memories?date={photo['taken_at'][:4]}-{photo['taken_at'][5:10]}", "/api/users/me/storage", "/api/shares",
                     "/api/places/clusters?bbox=-180,-85,180,85&zoom=0", "/api/places/items?bbox=-180,-90,180,90"):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text)
            assert photo["id"] not in r.text and "alice" not in r.text.lower() and album["id"] not in r.text, path
        assert c.post("/api/photos/check", json={"sha256": [photo["sha256"]]}).json() == {"existing": {}}
        assert c.get("/api/users/me/storage").json()["photos"] == 0
        # Uploading the same bytes gives Bob his own photo, not Alice's.
        mine = bob.upload(image_bytes(300), "bob.jpg")
        assert mine.status_code == 201 and mine.json()["id"] != photo["id"]
    with alice.client() as c:  # nothing Bob tried changed Alice's things
        still = c.get(f"/api/photos/{photo['id']}").json()
        assert still["description"] == "alice private" and still["tags"] == ["alicetag"] and still["state"] == "library"
        assert c.get(f"/api/albums/{album['id']}").json()["name"] == "Alice album"


def _cookie_client(server: Server, user: User) -> httpx.Client:
    client = server.client()
    client.cookies.set("octopus_session", user.token)
    return client


def test_cookie_writes_must_come_from_our_own_origin(server: Server, alice: User) -> None:
    with _cookie_client(server, alice) as c:
        assert c.get("/api/users/me").status_code == 200  # reads need no Origin
        assert_problem(c.post("/api/albums", json={"name": "csrf"}), 403)
        assert_problem(c.post("/api/albums", json={"name": "csrf"}, headers={"Origin": "https://evil.example"}), 403)
        assert_problem(c.post("/api/albums", json={"name": "csrf"}, headers={"Origin": "null"}), 403)
        assert_problem(c.post("/api/albums", json={"name": "csrf"}, headers={"Referer": "http://evil.example/page"}), 403)
        assert_problem(c.post("/api/albums", json={"name": "csrf"}, headers={"Origin": server.origin.replace("127.0.0.1", "localhost")}), 403)
        ok = c.post("/api/albums", json={"name": "fine"}, headers={"Origin": server.origin})
        assert ok.status_code == 201
        assert c.post("/api/albums", json={"name": "fine"}, headers={"Referer": f"{server.url}/#/albums"}).status_code == 201
        assert c.get("/api/albums").json() and len(c.get("/api/albums").json()) == 2
    # A bearer client (no cookie) does not need an Origin.
    with alice.client() as c:
        assert c.post("/api/albums", json={"name": "app"}).status_code == 201
    # A foreign page cannot sign anybody in either.
    assert_problem(server.login(alice.name, **{"Origin": "https://evil.example"}), 403)


def test_trusted_origins_may_write_with_the_cookie(small_server: Server) -> None:
    assert small_server.admin is not None
    with _cookie_client(small_server, small_server.admin) as c:
        assert c.post("/api/albums", json={"name": "proxy"}, headers={"Origin": "https://photos.example"}).status_code == 201
        assert_problem(c.post("/api/albums", json={"name": "proxy"}, headers={"Origin": "https://other.example"}), 403)
