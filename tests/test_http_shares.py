"""Share links over HTTP against a real `octopus serve` (docs/sharing.md): created, listed with
views, changed, revoked; the public page and its link-scoped API; passwords, expiry, downloads;
items leaving the link the moment they are trashed, archived, vaulted or purged; and no id, name,
GPS or byte outside a link reaching a visitor."""

from __future__ import annotations

import io
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pillow_heif
import pytest
from PIL import Image

from http_support import CORPUS, Server, User, assert_problem, image_bytes, needs_corpus
from video_support import ANDROID_TAGS, APPLE_TAGS, clip_bytes


def share(user: User, **body: Any) -> dict[str, Any]:
    with user.client() as c:
        r = c.post("/api/shares", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def album_with(user: User, *photo_ids: str, name: str = "Trip") -> str:
    with user.client() as c:
        album = c.post("/api/albums", json={"name": name}).json()
        if photo_ids:
            assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": list(photo_ids)}).status_code == 200
    return str(album["id"])


def upload(user: User, data: bytes, name: str = "photo.jpg", **fields: Any) -> dict[str, Any]:
    r = user.upload(data, name, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def visit(server: Server, link: dict[str, Any], path: str = "", **kwargs: Any) -> httpx.Response:
    with server.client() as c:  # a stranger: no account, no cookie
        return c.get(f"/api/s/{link['token']}{path}", **kwargs)


def ids_of(server: Server, link: dict[str, Any]) -> list[str]:
    r = visit(server, link)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def test_an_album_link_shows_exactly_the_album_and_follows_it(server: Server) -> None:
    alice = server.new_user()
    one, two, three = (upload(alice, image_bytes(900 + i), f"secret-name-{i}.jpg") for i in range(3))
    outside = upload(alice, image_bytes(910), "not-shared.jpg")
    album = album_with(alice, one["id"], two["id"], name="Summer")
    link = share(alice, album_id=album)
    assert link["url"].endswith(f"/s/{link['token']}") and link["url"].startswith(server.url)
    assert len(link["token"]) >= 22  # >= 128 bits in URL-safe base64
    assert link["allow_download"] is True and link["show_location"] is False and link["has_password"] is False
    body = visit(server, link).json()
    assert body["title"] == "Summer" and body["count"] == 2
    assert [i["id"] for i in body["items"]] == [one["id"], two["id"]]
    text = visit(server, link).text
    assert "secret-name" not in text and outside["id"] not in text and alice.id not in text
    # The page is the same static page for every link; it names nothing of the library.
    with server.client() as c:
        page = c.get(f"/s/{link['token']}")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "secret-name" not in page.text and one["id"] not in page.text
        assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
        assert "script-src 'self'" in page.headers["content-security-policy"]
    # Later additions and removals reach the link.
    with alice.client() as c:
        c.post(f"/api/albums/{album}/photos", json={"photo_ids": [three["id"]]})
        c.request("DELETE", f"/api/albums/{album}/photos", json={"photo_ids": [one["id"]]})
    assert ids_of(server, link) == [two["id"], three["id"]]
    # Thumbnails, previews and originals of the link's items; nothing else.
    thumb = visit(server, link, f"/photos/{two['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with alice.client() as c:
        assert thumb.content == c.get(f"/api/photos/{two['id']}/thumbnail").content
        stored = c.get(f"/api/photos/{two['id']}/original").content
    assert visit(server, link, f"/photos/{two['id']}/thumbnail", params={"size": "preview"}).status_code == 200
    original = visit(server, link, f"/photos/{two['id']}/original")
    assert original.status_code == 200 and original.content == stored  # no GPS in it: byte for byte
    assert "secret-name" not in original.headers.get("content-disposition", "")
    for other in (one["id"], outside["id"], "p" + "0" * 20):
        for path in ("thumbnail", "original", "video"):
            assert_problem(visit(server, link, f"/photos/{other}/{path}"), 404)


def test_items_vanish_from_links_when_trashed_archived_vaulted_or_purged(server: Server) -> None:
    alice = server.new_user()
    photos = [upload(alice, image_bytes(920 + i)) for i in range(4)]
    ids = [p["id"] for p in photos]
    album_link = share(alice, album_id=album_with(alice, *ids))
    selection = share(alice, photo_ids=ids)
    assert ids_of(server, album_link) == ids and ids_of(server, selection) == ids
    with alice.client() as c:
        assert c.post(f"/api/photos/{ids[0]}/trash").status_code == 200
        assert ids_of(server, album_link) == ids[1:] and ids_of(server, selection) == ids[1:]
        assert_problem(visit(server, selection, f"/photos/{ids[0]}/thumbnail"), 404)
        assert c.post(f"/api/photos/{ids[0]}/restore").status_code == 200
        assert ids_of(server, selection) == ids
        archived = c.post(f"/api/photos/{ids[1]}/archive")
        assert archived.status_code == 200, archived.text
        assert ids[1] not in ids_of(server, album_link) and ids[1] not in ids_of(server, selection)
        assert_problem(visit(server, album_link, f"/photos/{ids[1]}/thumbnail"), 404)
        assert c.post(f"/api/photos/{ids[1]}/unarchive").status_code == 200
        assert ids[1] in ids_of(server, album_link)
        assert c.post("/api/vault", json={"passphrase": "a long vault passphrase"}).status_code == 201
        vault = c.post("/api/vault/unlock", json={"passphrase": "a long vault passphrase"}).json()["vault_token"]
        assert c.post(f"/api/photos/{ids[2]}/vault", headers={"X-Vault-Token": vault}).status_code == 200
        assert ids[2] not in ids_of(server, album_link) and ids[2] not in ids_of(server, selection)
        assert_problem(visit(server, album_link, f"/photos/{ids[2]}/original"), 404)
        assert c.delete(f"/api/photos/{ids[3]}").status_code == 204
        assert ids[3] not in ids_of(server, album_link) and ids[3] not in ids_of(server, selection)
        listed = {s["id"]: s for s in c.get("/api/shares").json()}
        assert listed[selection["id"]]["photo_ids"] == [ids[0], ids[1]]  # vaulted and purged ids are gone
        assert listed[selection["id"]]["count"] == 2


def test_list_views_change_and_revoke(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    photo = upload(alice, image_bytes(930))
    link = share(alice, photo_ids=[photo["id"]])
    for _ in range(3):
        assert visit(server, link).status_code == 200
    with alice.client() as c:
        listed = c.get("/api/shares").json()
        assert [s["id"] for s in listed] == [link["id"]]
        assert listed[0]["views"] == 3 and listed[0]["last_view"] is not None
        assert listed[0]["url"] == link["url"]  # shown again later: the token is kept sealed in the keystore
        changed = c.patch(f"/api/shares/{link['id']}", json={"allow_download": False, "show_location": True})
        assert changed.status_code == 200, changed.text
        assert changed.json()["allow_download"] is False and changed.json()["show_location"] is True
        assert_problem(c.patch(f"/api/shares/{link['id']}", json={"allow_download": True, "version": 1}), 409)
    # No download: the original route refuses, previews stay.
    assert_problem(visit(server, link, f"/photos/{photo['id']}/original"), 404)
    assert visit(server, link, f"/photos/{photo['id']}/thumbnail?size=preview").status_code == 200
    assert visit(server, link).json()["allow_download"] is False
    # Bob cannot see, change or revoke Alice's link: it is as unknown as any other id.
    with bob.client() as c:
        assert c.get("/api/shares").json() == []
        for method in ("GET", "PATCH", "DELETE"):
            theirs = c.request(method, f"/api/shares/{link['id']}", json={"allow_download": True})
            unknown = c.request(method, "/api/shares/s0000000000000000", json={"allow_download": True})
            assert assert_problem(theirs, 404)["title"] == assert_problem(unknown, 404)["title"]
    with alice.client() as c:
        assert c.delete(f"/api/shares/{link['id']}").status_code == 204
        assert c.get("/api/shares").json() == []
        assert_problem(c.delete(f"/api/shares/{link['id']}"), 404)
    # Revoked: at once, everywhere.
    assert_problem(visit(server, link), 410)
    assert_problem(visit(server, link, f"/photos/{photo['id']}/thumbnail"), 410)
    with server.client() as c:
        assert c.get(f"/s/{link['token']}").status_code == 410
        assert c.get("/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert_problem(visit(server, {"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}), 404)


def test_expired_links_answer_410(server: Server) -> None:
    alice = server.new_user()
    photo = upload(alice, image_bytes(940))
    soon = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat()
    link = share(alice, photo_ids=[photo["id"]], expires_at=soon)
    assert link["expires_at"] is not None and link["expired"] is False
    assert visit(server, link).status_code == 200
    time.sleep(2.2)
    assert_problem(visit(server, link), 410)
    assert_problem(visit(server, link, f"/photos/{photo['id']}/thumbnail"), 410)
    with server.client() as c:
        assert c.get(f"/s/{link['token']}").status_code == 410
    with alice.client() as c:
        assert c.get("/api/shares").json()[0]["expired"] is True
        # A new expiry brings it back.
        later = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
        assert c.patch(f"/api/shares/{link['id']}", json={"expires_at": later}).status_code == 200
    assert visit(server, link).status_code == 200


def test_bad_requests_are_clear_problems(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    photo = upload(alice, image_bytes(950))
    bobs = upload(bob, image_bytes(951))
    album = album_with(alice, photo["id"])
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    with alice.client() as c:
        for body, status in (
            ({}, 422), ({"album_id": album, "photo_ids": [photo["id"]]}, 422), ({"photo_ids": []}, 422),
            ({"album_id": album, "expires_at": past}, 422), ({"album_id": album, "expires_at": "tomorrow"}, 422),
            ({"album_id": album, "expires_at": "2099-01-01T00:00:00"}, 422),
            ({"photo_ids": [bobs["id"]]}, 404), ({"album_id": "a" + "0" * 16}, 404),
            ({"photo_ids": "not a list"}, 400), ({"album_id": album, "password": 12}, 400),
            ({"photo_ids": [f"p{i}" for i in range(1001)]}, 422),
        ):
            r = c.post("/api/shares", json=body)
            assert_problem(r, status)
        assert c.get("/api/shares").json() == []


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("shares-strict") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_LOGIN_MAX_FAILURES": "3"}).start()
    try:
        yield s
    finally:
        s.stop()


def test_a_password_link_needs_the_password_and_limits_guesses(strict_server: Server) -> None:
    server = strict_server
    alice = server.new_user()
    photo = upload(alice, image_bytes(960))
    link = share(alice, photo_ids=[photo["id"]], password="grandma's birthday")
    assert link["has_password"] is True
    # The page itself opens (it asks for the password); nothing of the link does.
    with server.client() as c:
        assert c.get(f"/s/{link['token']}").status_code == 200
    assert assert_problem(visit(server, link), 401)["code"] == "share_password"
    assert_problem(visit(server, link, f"/photos/{photo['id']}/thumbnail"), 401)
    with server.client() as c:
        wrong = c.post(f"/api/s/{link['token']}/unlock", json={"password": "wrong"})
        assert_problem(wrong, 401)
        assert "octopus_share" not in wrong.headers.get("set-cookie", "")
        right = c.post(f"/api/s/{link['token']}/unlock", json={"password": "grandma's birthday"})
        assert right.status_code == 200, right.text
        cookie = right.headers["set-cookie"]
        assert f"Path=/api/s/{link['token']}" in cookie and "HttpOnly" in cookie
        # The cookie (scoped to this link) opens the items and their bytes.
        assert [i["id"] for i in c.get(f"/api/s/{link['token']}").json()["items"]] == [photo["id"]]
        assert c.get(f"/api/s/{link['token']}/photos/{photo['id']}/thumbnail").status_code == 200
    grant = right.json()["grant"]
    # ...as does the grant in a header; a forged or another link's grant does not.
    assert visit(server, link, headers={"X-Share-Grant": grant}).status_code == 200
    assert_problem(visit(server, link, headers={"X-Share-Grant": grant[:-2] + "xx"}), 401)
    other = share(alice, photo_ids=[photo["id"]], password="another one")
    assert_problem(visit(server, other, headers={"X-Share-Grant": grant}), 401)
    # Repeated wrong passwords: 429, even for the right one, until the window passes.
    with server.client() as c:
        for _ in range(3):
            assert_problem(c.post(f"/api/s/{other['token']}/unlock", json={"password": "guess"}), 401)
        limited = c.post(f"/api/s/{other['token']}/unlock", json={"password": "another one"})
        assert_problem(limited, 429)
        assert int(limited.headers["retry-after"]) > 0
    # Changing the password ends the grants given under the old one.
    with alice.client() as c:
        assert c.patch(f"/api/shares/{link['id']}", json={"password": "new secret"}).status_code == 200
    assert_problem(visit(server, link, headers={"X-Share-Grant": grant}), 401)
    with alice.client() as c:
        assert c.patch(f"/api/shares/{link['id']}", json={"password": None}).json()["has_password"] is False
    assert visit(server, link).status_code == 200
    # Neither the password nor the token is anywhere in the log.
    db = sqlite3.connect(server.data_dir / "octopus.db")
    try:
        log = b"".join(bytes(r[0]) for r in db.execute("SELECT data FROM events"))
    finally:
        db.close()
    assert link["token"].encode() not in log and b"grandma" not in log and other["token"].encode() not in log


# -- locations -------------------------------------------------------------------------------------


pillow_heif.register_heif_opener()  # the HEIF checks below read the served bytes with Pillow


def _gps_of(data: bytes) -> dict[int, Any]:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


@needs_corpus
def test_no_gps_reaches_the_visitor_unless_the_link_shows_locations(server: Server) -> None:
    alice = server.new_user()
    jpeg_bytes = (CORPUS / "jpg" / "gps" / "DSCN0010.jpg").read_bytes()
    heic_bytes = (CORPUS / "heic" / "mobile" / "HMD_Nokia_8.3_5G.heif").read_bytes()
    assert _gps_of(jpeg_bytes) and _gps_of(heic_bytes)  # the corpus files really carry GPS
    jpeg = upload(alice, jpeg_bytes, "DSCN0010.jpg")
    heic = upload(alice, heic_bytes, "nokia.heif")
    assert jpeg["gps"] is not None and heic["gps"] is not None
    ids = [jpeg["id"], heic["id"]]
    hidden = share(alice, photo_ids=ids)
    shown = share(alice, photo_ids=ids, show_location=True)
    items = visit(server, hidden)
    assert all("gps" not in item for item in items.json()["items"])
    assert f"{jpeg['gps']['lat']:.4f}"[:6] not in items.text
    assert all(item["gps"] for item in visit(server, shown).json()["items"])
    for photo, stored in ((jpeg, jpeg_bytes), (heic, heic_bytes)):
        served = visit(server, hidden, f"/photos/{photo['id']}/original")
        assert served.status_code == 200, served.text
        assert len(served.content) == len(stored) and served.content != stored
        assert _gps_of(served.content) == {}
        exif = Image.open(io.BytesIO(served.content)).getexif()
        assert 0x8825 not in exif and exif.get(0x010F) == Image.open(io.BytesIO(stored)).getexif().get(0x010F)
        assert Image.open(io.BytesIO(served.content)).tobytes() == Image.open(io.BytesIO(stored)).tobytes()
        # A range of the stripped file is that range of the whole stripped file.
        part = visit(server, hidden, f"/photos/{photo['id']}/original", headers={"Range": "bytes=0-4095"})
        assert part.status_code == 206 and part.content == served.content[:4096]
        # With locations shown the visitor gets the file as stored.
        assert visit(server, shown, f"/photos/{photo['id']}/original").content == stored
        # Derivatives never carry EXIF at all.
        for size in ("thumb", "preview"):
            thumb = visit(server, hidden, f"/photos/{photo['id']}/thumbnail", params={"size": size}).content
            assert not Image.open(io.BytesIO(thumb)).getexif()
    # The stored originals are untouched.
    with alice.client() as c:
        assert c.get(f"/api/photos/{jpeg['id']}/original").content == jpeg_bytes


def test_videos_play_through_the_link_without_their_location(server: Server) -> None:
    import av

    alice = server.new_user()
    apple = clip_bytes(container="mov", tags=APPLE_TAGS, seed=41)
    android = clip_bytes(container="mp4", tags=ANDROID_TAGS, seed=42)
    videos = [upload(alice, apple, "apple.mov"), upload(alice, android, "android.mp4")]
    assert all(v["gps"] for v in videos)
    link = share(alice, photo_ids=[v["id"] for v in videos], allow_download=False)
    for video, stored in zip(videos, (apple, android)):
        played = visit(server, link, f"/photos/{video['id']}/video")
        assert played.status_code == 200 and len(played.content) == len(stored)
        assert b"+48.8584" not in played.content and b"151.2153" not in played.content
        container = av.open(io.BytesIO(played.content))
        assert not any("location" in key.lower() for key in container.metadata), container.metadata
        assert sum(1 for _ in container.decode(video=0)) == 20  # every frame still there
        seek = visit(server, link, f"/photos/{video['id']}/video", headers={"Range": "bytes=100-199"})
        assert seek.status_code == 206 and seek.content == played.content[100:200]
        assert_problem(visit(server, link, f"/photos/{video['id']}/original"), 404)  # no downloads
    photo = upload(alice, image_bytes(970))
    assert_problem(visit(server, share(alice, photo_ids=[photo["id"]]), f"/photos/{photo['id']}/video"), 404)


def test_a_deleted_account_leaves_no_link(server: Server) -> None:
    alice = server.new_user()
    photo = upload(alice, image_bytes(980))
    link = share(alice, album_id=album_with(alice, photo["id"]), password="pw for the link")
    with alice.client() as c:
        assert c.request("DELETE", "/api/users/me", json={"password": "correct horse battery"}).status_code == 204
    assert_problem(visit(server, link), 404)
    with server.client() as c:
        assert c.get(f"/s/{link['token']}").status_code == 404
    db = sqlite3.connect(server.data_dir / "octopus.db")
    try:
        assert db.execute("SELECT count(*) FROM share WHERE id = ?", (link["id"],)).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM keystore WHERE key_id LIKE ?", (f"share-%:{link['id']}",)).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM share_views WHERE share_id = ?", (link["id"],)).fetchone()[0] == 0
    finally:
        db.close()


def test_a_link_opens_nothing_but_itself(server: Server) -> None:
    """The route walk for visitors: a link for another album, another user's ids, the signed-in
    API with the token as a credential: every answer as documented, nothing outside leaks."""
    alice, bob = server.new_user(), server.new_user()
    mine = upload(alice, image_bytes(990), "shared.jpg")
    private = upload(alice, image_bytes(991), "alice-private.jpg", description="alice private")
    bobs = upload(bob, image_bytes(992), "bob-private.jpg")
    link = share(alice, album_id=album_with(alice, mine["id"]))
    other_album = share(alice, album_id=album_with(alice, private["id"], name="Other"))
    paths = ["", *(f"/photos/{p}/{kind}" for p in (private["id"], bobs["id"]) for kind in ("thumbnail", "original", "video"))]
    for path in paths[1:]:
        body = assert_problem(visit(server, link, path), 404)
        assert "alice" not in str(body) and "bob" not in str(body)
    # The other album's link sees its own item and not this one's.
    assert ids_of(server, other_album) == [private["id"]]
    assert_problem(visit(server, other_album, f"/photos/{mine['id']}/thumbnail"), 404)
    # The token is no credential for anything else.
    with server.client(headers={"Authorization": f"Bearer {link['token']}"}) as c:
        for path in ("/api/timeline", "/api/search?q=alice", "/api/sync/events", "/api/sync/snapshot",
                     f"/api/photos/{mine['id']}", f"/api/photos/{mine['id']}/original", "/api/albums", "/api/shares"):
            assert_problem(c.get(path), 401)
    with server.client(cookies={"octopus_session": link["token"], "octopus_share": link["token"]}) as c:
        assert_problem(c.get("/api/timeline"), 401)
    # Nothing of the link's owner or other items is in its answers.
    seen = visit(server, link).text + visit(server, link, f"/photos/{mine['id']}/thumbnail").headers.get("etag", "")
    for secret in ("alice", "bob", private["id"], bobs["id"], "shared.jpg", alice.id):
        assert secret not in seen
    # Sync and search of the owner do not carry the token either.
    with alice.client() as c:
        assert link["token"] not in c.get("/api/sync/events").text
        assert link["token"] not in c.get("/api/sync/snapshot").text


def test_every_link_route_answers_as_documented_for_every_kind_of_link(server: Server) -> None:
    """The route walk: every visitor route the app serves (taken from its route table, so a route
    added later is walked too) with an unknown, a revoked, an expired, a password-protected and
    another album's link: 404, 410, 410, 401 and 404, and none of them says more than that."""
    from octopus_events.application import Octopus
    from octopus_events.config import load_config
    from octopus_events.web.app import create_app

    app = create_app(Octopus(load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(server.data_dir.parent / "walk")})))
    routes = sorted((m, r.path) for r in app.routes for m in getattr(r, "methods", ())
                    if m not in ("HEAD", "OPTIONS") and r.path.startswith(("/api/s/", "/s/")))
    assert len(routes) >= 6
    alice = server.new_user()
    photo = upload(alice, image_bytes(995), "walk-secret.jpg")
    other = upload(alice, image_bytes(996))
    revoked = share(alice, photo_ids=[photo["id"]])
    with alice.client() as c:
        assert c.delete(f"/api/shares/{revoked['id']}").status_code == 204
    soon = (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()
    expired = share(alice, photo_ids=[photo["id"]], expires_at=soon)
    protected = share(alice, photo_ids=[photo["id"]], password="walk password")
    elsewhere = share(alice, album_id=album_with(alice, other["id"]))
    time.sleep(1.2)
    cases = [({"token": "A" * 32}, 404), (revoked, 410), (expired, 410), (protected, 401), (elsewhere, 404)]
    with server.client() as c:
        for link, status in cases:
            for method, template in routes:
                path = template.replace("{token:str}", link["token"]).replace("{photo_id:str}", photo["id"])
                r = c.request(method, path, json={"password": "wrong"} if method == "POST" else None)
                if template == "/s/{token:str}":
                    # The page itself: 200 while the link lives (it asks for the password).
                    live = link is protected or link is elsewhere
                    assert r.status_code == (200 if live else status) and "text/html" in r.headers["content-type"]
                    continue
                expected = status
                if link is elsewhere and template in ("/api/s/{token:str}", "/api/s/{token:str}/unlock"):
                    expected = 200  # a live link without a password: its own items, a grant
                body = r.json()
                assert r.status_code == expected, (method, template, link.get("id"), r.text)
                if expected >= 400:
                    assert body["status"] == expected and "walk-secret" not in r.text and alice.id not in r.text
                else:
                    assert photo["id"] not in r.text and "walk-secret" not in r.text


def test_motion_photos_play_their_clip_through_the_link_without_its_location(server: Server) -> None:
    import av

    from motion_support import container_xmp, live_photo_pair, still_jpeg, with_xmp

    alice = server.new_user()
    mp4 = clip_bytes(container="mp4", tags=ANDROID_TAGS, seed=43)  # the clip knows where it was filmed
    motion = upload(alice, with_xmp(still_jpeg((40, 90, 160)), container_xmp(len(mp4))) + mp4, "PXL_MP.jpg")
    assert motion["motion"] is True
    still, mov = live_photo_pair("5A0A1C2B-SHARE-LINK")
    live = upload(alice, still, "IMG_0001.JPG")
    assert alice.upload(mov, "IMG_0001.MOV").status_code in (200, 201)
    link = share(alice, photo_ids=[motion["id"], live["id"]])
    items = {i["id"]: i for i in visit(server, link).json()["items"]}
    assert items[motion["id"]]["motion"] is True and items[live["id"]]["motion"] is True
    clip = visit(server, link, f"/photos/{motion['id']}/motion")
    assert clip.status_code == 200 and len(clip.content) == len(mp4) and b"151.2153" not in clip.content
    with av.open(io.BytesIO(clip.content)) as c:
        assert not any("location" in k.lower() for k in c.metadata)
        assert sum(1 for _ in c.decode(video=0)) == 20
    part = visit(server, link, f"/photos/{motion['id']}/motion", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == clip.content[10:100]
    # The download of the whole motion photo loses the clip's location too.
    original = visit(server, link, f"/photos/{motion['id']}/original").content
    assert b"151.2153" not in original and original.endswith(clip.content)
    assert visit(server, link, f"/photos/{live['id']}/motion").content[4:8] == b"ftyp"
    plain = upload(alice, image_bytes(997))
    assert_problem(visit(server, share(alice, photo_ids=[plain["id"]]), f"/photos/{plain['id']}/motion"), 404)
