"""The vault over real HTTP: `octopus serve` in a child process, real files on disk."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from PIL import Image

from http_support import PASSWORD, Server, User, assert_problem
from vault_support import (
    DESCRIPTION, FILENAME, LAT_DEGREES, PASSPHRASE, TAG, assert_findable, find_markers, flip, markers_of, noisy_jpeg,
    reencoded,
)

_seeds = iter(range(1000, 100000))


def open_vault(user: User, passphrase: str = PASSPHRASE) -> str:
    with user.client() as c:
        r = c.post("/api/vault", json={"passphrase": passphrase})
        assert r.status_code == 201, r.text
        r = c.post("/api/vault/unlock", json={"passphrase": passphrase})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"vault_token", "expires_at"} and "+00:00" in body["expires_at"]
        assert r.headers["cache-control"] == "no-store"
        return str(body["vault_token"])


def upload_marked(user: User, data: bytes | None = None) -> dict[str, Any]:
    data = data or noisy_jpeg(next(_seeds), gps=True)
    r = user.upload(data, FILENAME, description=DESCRIPTION, tags=[TAG, "summer"])
    assert r.status_code == 201, r.text
    photo = r.json()
    photo["_bytes"] = data
    return photo


def vault_dir(server: Server, user: User, photo_id: str) -> Path:
    return server.data_dir / "blobs" / "vault" / user.id / photo_id


def move_in(c: httpx.Client, photo_id: str, token: str) -> httpx.Response:
    return c.post(f"/api/photos/{photo_id}/vault", headers={"X-Vault-Token": token})


def test_round_trip_and_every_read_model_hides_the_photo(server: Server, alice: User) -> None:
    token = open_vault(alice)
    photo = upload_marked(alice)
    twin = alice.upload(reencoded(photo["_bytes"]), "twin.jpg").json()
    pid = photo["id"]
    with alice.client() as c:
        assert c.put(f"/api/photos/{pid}/favourite").status_code == 200
        album = c.post("/api/albums", json={"name": "Trip"}).json()
        assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [pid, twin["id"]]}).status_code == 200
        assert c.get("/api/vault").json() == {"exists": True}
        assert_problem(c.post("/api/vault", json={"passphrase": PASSPHRASE}), 409)

        r = move_in(c, pid, token)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "vault" and r.headers["cache-control"] == "no-store"

        assert_problem(c.get(f"/api/photos/{pid}"), 404)
        assert_problem(c.get(f"/api/photos/{pid}/original"), 404)
        assert_problem(c.get(f"/api/photos/{pid}/thumbnail"), 404)
        listings = {
            "timeline": c.get("/api/timeline").text,
            "months": c.get("/api/timeline/months").text,
            "tags": c.get("/api/tags").text,
            "tag": c.get(f"/api/tags/{TAG}").text,
            "favourites": c.get("/api/favourites").text,
            "memories": c.get("/api/memories", params={"date": "2024-05-04"}).text,
            "search": c.get("/api/search", params={"q": "VaultDescMarkerK4W"}).text,
            "search by name": c.get("/api/search", params={"q": "VaultFileMarkerQ7Z"}).text,
            "duplicates": c.get("/api/duplicates").text,
            "trash": c.get("/api/trash").text,
            "album": c.get(f"/api/albums/{album['id']}").text,
        }
        for name, text in listings.items():
            assert pid not in text and TAG not in text and "VaultFileMarker" not in text, (name, text)
        assert twin["id"] in listings["timeline"] and twin["id"] in listings["album"]

        r = c.get("/api/vault/photos", headers={"X-Vault-Token": token})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        [inside] = r.json()["photos"]
        assert (inside["id"], inside["filename"], inside["state"], inside["description"]) == (pid, FILENAME, "vault", DESCRIPTION)
        assert inside["tags"] == [TAG, "summer"] and inside["favourite"] is True
        assert abs(inside["gps"]["lat"] - LAT_DEGREES) < 1e-6

        r = c.get(f"/api/vault/photos/{pid}/original", headers={"X-Vault-Token": token})
        assert r.status_code == 200 and r.content == photo["_bytes"]
        assert r.headers["cache-control"] == "no-store" and photo["sha256"] not in r.headers["etag"]
        assert r.headers["content-type"] == "image/jpeg"
        for size in ("thumb", "preview"):
            r = c.get(f"/api/vault/photos/{pid}/thumbnail", params={"size": size}, headers={"X-Vault-Token": token})
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
            assert Image.open(io.BytesIO(r.content)).format == "JPEG"
        assert_problem(c.get(f"/api/vault/photos/{pid}/thumbnail", params={"size": "huge"},
                             headers={"X-Vault-Token": token}), 422)

        r = c.post(f"/api/vault/photos/{pid}/restore", headers={"X-Vault-Token": token})
        assert r.status_code == 200, r.text
        back = c.get(f"/api/photos/{pid}").json()
        for field in ("filename", "sha256", "bytes", "taken_at", "tags", "description", "gps", "camera", "favourite"):
            assert back[field] == photo[field] or (field == "favourite" and back[field] is True), field
        assert back["state"] == "library"
        assert c.get(f"/api/photos/{pid}/original").content == photo["_bytes"]
        assert pid in c.get(f"/api/tags/{TAG}").text and pid in c.get(f"/api/albums/{album['id']}").text
        assert pid in c.get("/api/search", params={"q": "VaultDescMarkerK4W"}).text
        assert not vault_dir(server, alice, pid).exists()


def test_vault_routes_need_a_session_and_a_token_of_the_same_user(server: Server, alice: User, bob: User) -> None:
    token = open_vault(alice)
    bob_token = open_vault(bob)
    pid = upload_marked(alice)["id"]
    with server.client() as anonymous:
        assert_problem(anonymous.get("/api/vault/photos", headers={"X-Vault-Token": token}), 401)
        assert_problem(anonymous.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}), 401)
    with alice.client() as c:
        assert_problem(c.post(f"/api/photos/{pid}/vault"), 403)
        assert_problem(move_in(c, pid, bob_token), 403)
        assert_problem(move_in(c, pid, "not-a-token"), 403)
        assert move_in(c, pid, token).status_code == 200
        for path in ("/api/vault/photos", f"/api/vault/photos/{pid}", f"/api/vault/photos/{pid}/original",
                     f"/api/vault/photos/{pid}/thumbnail"):
            assert_problem(c.get(path), 403)
            assert_problem(c.get(path, headers={"X-Vault-Token": bob_token}), 403)
        assert_problem(c.post(f"/api/vault/photos/{pid}/restore", headers={"X-Vault-Token": bob_token}), 403)
    with bob.client() as c:
        # Bob's own, valid token does not reach Alice's photo: to him it does not exist.
        assert_problem(c.get(f"/api/vault/photos/{pid}/original", headers={"X-Vault-Token": bob_token}), 404)
        assert_problem(c.post(f"/api/vault/photos/{pid}/restore", headers={"X-Vault-Token": bob_token}), 404)
        assert c.get("/api/vault/photos", headers={"X-Vault-Token": bob_token}).json()["photos"] == []


def test_changing_the_passphrase(server: Server, alice: User) -> None:
    token = open_vault(alice)
    photo = upload_marked(alice)
    with alice.client() as c:
        assert move_in(c, photo["id"], token).status_code == 200
        assert_problem(c.post("/api/vault/passphrase", json={"old": "wrong one!", "new": "a new passphrase"}), 403)
        assert_problem(c.post("/api/vault/passphrase", json={"old": PASSPHRASE, "new": "short"}), 422)
        r = c.post("/api/vault/passphrase", json={"old": PASSPHRASE, "new": "a new passphrase"},
                   headers={"X-Vault-Token": token})
        assert r.status_code == 204, r.text
        assert_problem(c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}), 403)
        fresh = c.post("/api/vault/unlock", json={"passphrase": "a new passphrase"}).json()["vault_token"]
        r = c.get(f"/api/vault/photos/{photo['id']}/original", headers={"X-Vault-Token": fresh})
        assert r.content == photo["_bytes"]
        # The token that made the change still works.
        assert c.get("/api/vault/photos", headers={"X-Vault-Token": token}).status_code == 200


def test_tampered_ciphertext_is_a_clear_422_never_bytes(server: Server, alice: User) -> None:
    token = open_vault(alice)
    photo = upload_marked(alice)
    pid = photo["id"]
    headers = {"X-Vault-Token": token}
    with alice.client() as c:
        assert move_in(c, pid, token).status_code == 200
        original = vault_dir(server, alice, pid) / "original"
        middle = original.stat().st_size // 2
        flip(original, middle)
        body = assert_problem(c.get(f"/api/vault/photos/{pid}/original", headers=headers), 422)
        assert "failed authentication" in body["detail"] and body["title"] == "Vault data damaged"
        assert_problem(c.post(f"/api/vault/photos/{pid}/restore", headers=headers), 422)
        # Still in the vault, and its thumbnail (a separate, intact file) still shows.
        assert c.get(f"/api/vault/photos/{pid}/thumbnail", headers=headers).status_code == 200
        assert [p["id"] for p in c.get("/api/vault/photos", headers=headers).json()["photos"]] == [pid]
        flip(original, middle)
        assert c.post(f"/api/vault/photos/{pid}/restore", headers=headers).status_code == 200


def test_deleting_a_vault_photo_removes_its_vault_files(server: Server, alice: User) -> None:
    token = open_vault(alice)
    pid = upload_marked(alice)["id"]
    with alice.client() as c:
        assert move_in(c, pid, token).status_code == 200
        assert vault_dir(server, alice, pid).is_dir()
        # A session alone cannot destroy what only the passphrase opens.
        assert_problem(c.delete(f"/api/photos/{pid}"), 404)
        assert vault_dir(server, alice, pid).is_dir()
        assert c.delete(f"/api/photos/{pid}", headers={"X-Vault-Token": token}).status_code == 204
        assert not vault_dir(server, alice, pid).exists()
        assert c.get("/api/vault/photos", headers={"X-Vault-Token": token}).json()["photos"] == []


# -- a server of its own: restarted to lock the vault, and its rate limit is not shared ------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "data").mkdir()
    srv = Server(tmp_path / "data", env={"OCTOPUS_AUTH_LOGIN_MAX_FAILURES": "3"}).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_locked_vault_leaves_no_plaintext_and_guessing_is_limited(own_server: Server) -> None:
    server = own_server
    user = server.new_user("vaultowner")
    token = open_vault(user)
    photo = upload_marked(user)
    pid = photo["id"]
    with user.client() as c:
        thumb = c.get(f"/api/photos/{pid}/thumbnail", params={"size": "thumb"}).content
        preview = c.get(f"/api/photos/{pid}/thumbnail", params={"size": "preview"}).content
        markers = markers_of(photo["_bytes"], thumb, preview, photo["sha256"], photo["gps"]["lat"], photo["gps"]["lon"])
        assert_findable(find_markers(server.data_dir, markers))
        assert move_in(c, pid, token).status_code == 200

    # Locked: the server restarts, and with it every unlocked key is gone from memory.
    server.stop()
    assert find_markers(server.data_dir, markers) == []
    server.start()
    user = server.sign_in("vaultowner")
    with user.client() as c:
        assert_problem(c.get("/api/vault/photos", headers={"X-Vault-Token": token}), 403)
        # Scanned while running, too (WAL and shared memory files present).
        assert find_markers(server.data_dir, markers) == []

        for _ in range(3):
            assert_problem(c.post("/api/vault/unlock", json={"passphrase": "not my passphrase"}), 403)
        limited = assert_problem(c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}), 429)
        assert "detail" in limited
        r = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


# -- a vault photo does not exist without the vault token ---------------------------------------------

# Bodies that get a route past its body check, so what answers is the id lookup.
WALK_BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/photos/{photo_id:str}"): {"description": "changed", "version": 2},
    ("PUT", "/api/photos/{photo_id:str}/tags"): {"tags": ["changed"]},
}


def test_without_its_token_a_vault_photo_answers_every_photo_route_like_an_unknown_id(
        server: Server, alice: User, tmp_path: Path) -> None:
    from test_http_ownership import PARAM, fill, route_table

    token = open_vault(alice)
    photo = upload_marked(alice)
    pid, unknown = photo["id"], "p" + "0" * 20
    with alice.client() as c:
        album = c.post("/api/albums", json={"name": "Walk"}).json()
        assert move_in(c, pid, token).status_code == 200
    # The same user's token from another session is as good as none (vault tokens are bound to
    # the session that unlocked them).
    other = server.sign_in(alice.name)
    with other.client() as c:
        other_token = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()["vault_token"]
    routes = [(m, t) for m, t in route_table(tmp_path) if "photo_id" in PARAM.findall(t)]
    routes.append(("POST", "/api/albums/{album_id:str}/photos"))
    walked = 0
    with alice.client() as c:
        for headers in ({}, {"X-Vault-Token": "not-a-token"}, {"X-Vault-Token": other_token}):
            for method, template in routes:
                walked += 1
                if "album_id" in template:
                    body: Any = {"photo_ids": [pid]}
                    mine = c.request(method, fill(template, album_id=album["id"]), json=body, headers=headers)
                    body = {"photo_ids": [unknown]}
                    theirs = c.request(method, fill(template, album_id=album["id"]), json=body, headers=headers)
                else:
                    body = WALK_BODIES.get((method, template))
                    mine = c.request(method, fill(template, photo_id=pid), json=body, headers=headers)
                    theirs = c.request(method, fill(template, photo_id=unknown), json=body, headers=headers)
                # Vault routes refuse a missing token before looking at the id (403 whatever the
                # id); every other route answers 404, as for an id that never existed.
                status = theirs.status_code if "vault" in template else 404
                a = assert_problem(mine, status)
                b = assert_problem(theirs, status)
                assert (a["title"], a["type"], a["detail"].replace(pid, "ID")) == \
                    (b["title"], b["type"], b["detail"].replace(unknown, "ID")), (method, template, headers)
    assert walked >= 3 * 14
    with alice.client() as c:
        vault = {"X-Vault-Token": token}
        # Nothing in the walk touched it: it opens whole with the token, in the vault, unchanged.
        r = c.get(f"/api/vault/photos/{pid}/original", headers=vault)
        assert r.status_code == 200 and r.content == photo["_bytes"]
        inside = c.get(f"/api/vault/photos/{pid}", headers=vault).json()
        assert (inside["state"], inside["description"], inside["tags"]) == ("vault", DESCRIPTION, [TAG, "summer"])
        assert vault_dir(server, alice, pid).is_dir()
        assert c.get(f"/api/albums/{album['id']}").json()["count"] == 0
        # With its token the vault photo can be deleted for good.
        assert c.delete(f"/api/photos/{pid}", headers=vault).status_code == 204
        assert not vault_dir(server, alice, pid).exists()
        assert_problem(c.get(f"/api/vault/photos/{pid}", headers=vault), 404)


# -- locking: a vault token lives no longer than its session -------------------------------------------


def unlock(user: User, passphrase: str = PASSPHRASE) -> str:
    with user.client() as c:
        r = c.post("/api/vault/unlock", json={"passphrase": passphrase})
        assert r.status_code == 200, r.text
        return str(r.json()["vault_token"])


def vault_list(user: User, token: str) -> httpx.Response:
    with user.client() as c:
        return c.get("/api/vault/photos", headers={"X-Vault-Token": token})


def test_lock_ends_the_token_on_the_server(server: Server, alice: User) -> None:
    token = open_vault(alice)
    other_session = server.sign_in(alice.name)
    other_token = unlock(other_session)
    assert vault_list(alice, token).status_code == 200
    with alice.client() as c:
        assert c.post("/api/vault/lock").status_code == 204
        assert c.post("/api/vault/lock").status_code == 204  # locking a locked vault is fine
    assert_problem(vault_list(alice, token), 403)
    # Only the session that locked: the other one is still unlocked.
    assert vault_list(other_session, other_token).status_code == 200
    assert vault_list(alice, unlock(alice)).status_code == 200


def test_a_token_works_only_with_the_session_that_unlocked_it(server: Server, alice: User) -> None:
    token = open_vault(alice)
    second = server.sign_in(alice.name)
    assert vault_list(alice, token).status_code == 200
    assert_problem(vault_list(second, token), 403)


def test_signing_out_ends_the_sessions_vault_tokens(server: Server, alice: User) -> None:
    token = open_vault(alice)
    kept = server.sign_in(alice.name)
    kept_token = unlock(kept)
    with alice.client() as c:
        assert c.post("/api/auth/logout").status_code == 204
    again = server.sign_in(alice.name)
    assert_problem(vault_list(again, token), 403)
    assert vault_list(kept, kept_token).status_code == 200


def test_changing_the_password_ends_every_vault_token(server: Server, alice: User) -> None:
    token = open_vault(alice)
    other = server.sign_in(alice.name)
    other_token = unlock(other)
    with alice.client() as c:
        r = c.post("/api/users/me/password", json={"old": PASSWORD, "new": "another good password"})
        assert r.status_code == 204, r.text
    # The session that changed it stays signed in, but its vault is locked again.
    assert_problem(vault_list(alice, token), 403)
    assert_problem(vault_list(alice, other_token), 403)
    assert vault_list(alice, unlock(alice)).status_code == 200


# -- ranges ------------------------------------------------------------------------------------------------


def _ranges_match(c: httpx.Client, pid: str, token: str, data: bytes) -> str:
    """Every kind of range a player asks for, against the plain bytes; returns the ETag."""
    headers = {"X-Vault-Token": token}
    url = f"/api/vault/photos/{pid}/original"
    whole = c.get(url, headers=headers)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["cache-control"] == "no-store"
    etag = whole.headers["etag"]
    size = len(data)
    middle = size // 2 - 777
    for asked, first, last in [(f"bytes={middle}-{middle + 99_999}", middle, min(size - 1, middle + 99_999)),
                               ("bytes=0-0", 0, 0), (f"bytes={size - 10}-", size - 10, size - 1),
                               ("bytes=-300", size - 300, size - 1), (f"bytes={middle}-{size * 3}", middle, size - 1)]:
        r = c.get(url, headers={**headers, "Range": asked})
        assert r.status_code == 206, (asked, r.text)
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}", asked
        assert int(r.headers["content-length"]) == last - first + 1
        assert r.content == data[first:last + 1], asked
        assert r.headers["etag"] == etag and r.headers["cache-control"] == "no-store"
    r = c.get(url, headers={**headers, "Range": f"bytes={size}-"})
    assert_problem(r, 416)
    assert r.headers["content-range"] == f"bytes */{size}"
    # If-Range: the same file → the range; anything else → the whole file (it may have changed).
    r = c.get(url, headers={**headers, "Range": "bytes=10-19", "If-Range": etag})
    assert r.status_code == 206 and r.content == data[10:20]
    r = c.get(url, headers={**headers, "Range": "bytes=10-19", "If-Range": '"another"'})
    assert r.status_code == 200 and r.content == data
    return etag


def test_a_vaulted_original_serves_ranges(server: Server, alice: User) -> None:
    token = open_vault(alice)
    data = noisy_jpeg(next(_seeds), size=(1600, 1200))  # ~1.5 MB: two dozen chunks
    photo = upload_marked(alice, data)
    pid = photo["id"]
    with alice.client() as c:
        assert move_in(c, pid, token).status_code == 200
        etag = _ranges_match(c, pid, token, data)
        # The ETag names the sealed file, not the photo: nothing a stranger could match to the
        # plaintext, and a new sealing of the same bytes gets a new one.
        assert photo["sha256"] not in etag
        assert c.post(f"/api/vault/photos/{pid}/restore", headers={"X-Vault-Token": token}).status_code == 200
        assert move_in(c, pid, token).status_code == 200
        again = c.get(f"/api/vault/photos/{pid}/original", headers={"X-Vault-Token": token, "Range": "bytes=0-9"})
        assert again.status_code == 206 and again.content == data[:10] and again.headers["etag"] != etag
        # A flip inside a range is a 422 before any byte; a range elsewhere still plays.
        original = vault_dir(server, alice, pid) / "original"
        flip(original, 33 + 5 * (64 * 1024 + 16) + 100)  # in chunk 5
        body = assert_problem(c.get(f"/api/vault/photos/{pid}/original",
                                    headers={"X-Vault-Token": token, "Range": f"bytes={5 * 65536}-{5 * 65536 + 9}"}), 422)
        assert "chunk 5 failed authentication" in body["detail"]
        r = c.get(f"/api/vault/photos/{pid}/original", headers={"X-Vault-Token": token, "Range": "bytes=0-999"})
        assert r.status_code == 206 and r.content == data[:1000]


def test_a_vaulted_video_plays_from_its_middle(server: Server, alice: User) -> None:
    from video_support import H264, clip_bytes

    data = clip_bytes(H264, "mp4", seconds=3, fps=25, audio=True, seed=55)
    r = alice.upload(data, "clip.mp4")
    assert r.status_code == 201, r.text
    video = r.json()
    assert video["kind"] == "video"
    token = open_vault(alice)
    with alice.client() as c:
        moved = move_in(c, video["id"], token)
        assert moved.status_code == 200, moved.text
        inside = c.get(f"/api/vault/photos/{video['id']}", headers={"X-Vault-Token": token}).json()
        assert (inside["kind"], inside["mime"]) == ("video", video["mime"])
        assert inside["duration"] == pytest.approx(video["duration"])
        _ranges_match(c, video["id"], token, data)
        poster = c.get(f"/api/vault/photos/{video['id']}/thumbnail", headers={"X-Vault-Token": token})
        assert poster.status_code == 200 and Image.open(io.BytesIO(poster.content)).format == "JPEG"
