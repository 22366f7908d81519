"""Motion and Live Photos over HTTP against a real server: one item with `motion: true`, its clip
at /api/photos/{id}/motion (exact bytes, Range, ETag), a Live Photo's MOV never an item of its own
in either upload order, and deletion that takes the clip with it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

import motion_support as ms
from http_support import Server, User, assert_problem


def _timeline_ids(user: User) -> list[str]:
    with user.client() as c:
        days = c.get("/api/timeline").json()["days"]
    return [p["id"] for day in days for p in day["photos"]]


def _motion(user: User, photo_id: str, **headers: str) -> httpx.Response:
    with user.client() as c:
        return c.get(f"/api/photos/{photo_id}/motion", headers=headers)


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("maker", ["google-container", "google-microvideo", "samsung"])
def test_motion_photo_is_one_item_and_serves_exactly_its_clip(alice: User, maker: str) -> None:
    if maker == "samsung":
        data, mp4 = ms.samsung_motion_photo()
        name = "20240102_101010.jpg"
    else:
        data, mp4 = ms.google_motion_photo(maker.removeprefix("google-"))
        name = "MVIMG_20240102_101010.jpg" if maker.endswith("microvideo") else "PXL_20240102_101010.MP.jpg"
    r = alice.upload(data, name)
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["motion"] is True and photo["kind"] == "photo"
    assert _timeline_ids(alice) == [photo["id"]]

    whole = _motion(alice, photo["id"])
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("video/mp4")
    assert whole.content == mp4
    assert whole.headers["accept-ranges"] == "bytes"
    part = _motion(alice, photo["id"], Range="bytes=100-1099")
    assert part.status_code == 206
    assert part.content == mp4[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(mp4)}"
    tail = _motion(alice, photo["id"], Range="bytes=-16")
    assert tail.status_code == 206 and tail.content == mp4[-16:]
    assert _motion(alice, photo["id"], **{"If-None-Match": whole.headers["etag"]}).status_code == 304
    # The original is still the whole file, as uploaded.
    with alice.client() as c:
        assert c.get(f"/api/photos/{photo['id']}/original").content == data
        synced = [p for p in c.get("/api/sync/snapshot").json()["photos"] if p["id"] == photo["id"]]
    assert [p["motion"] for p in synced] == [True]


def test_false_xmp_offset_is_a_plain_photo(alice: User) -> None:
    garbage = bytes(range(256)) * 20
    data = ms.with_xmp(ms.still_jpeg((5, 5, 90)), ms.container_xmp(len(garbage))) + garbage
    r = alice.upload(data, "MVIMG_broken.jpg")
    assert r.status_code == 201, r.text
    assert r.json()["motion"] is False
    assert_problem(_motion(alice, r.json()["id"]), 404)


def test_plain_photo_has_no_clip_and_strangers_get_404(alice: User, bob: User) -> None:
    plain = alice.upload(ms.still_jpeg((9, 200, 9)), "plain.jpg").json()
    assert plain["motion"] is False
    assert_problem(_motion(alice, plain["id"]), 404)
    moving = alice.upload(ms.google_motion_photo(colour=(77, 11, 200))[0], "MVIMG_x.jpg").json()
    assert_problem(_motion(bob, moving["id"]), 404)


def _sync_ids(user: User) -> tuple[set[str], list[dict[str, Any]]]:
    with user.client() as c:
        snapshot = c.get("/api/sync/snapshot").json()
        events = c.get("/api/sync/events", params={"limit": 500}).json()["events"]
    return {p["id"] for p in snapshot["photos"]}, events


def _search_ids(user: User, q: str) -> list[str]:
    with user.client() as c:
        body = c.get("/api/search", params={"q": q}).json()
    photos = body["photos"] if isinstance(body, dict) else body
    return [p["id"] for p in photos]


def test_live_photo_still_first_then_mov(server: Server, alice: User) -> None:
    still, mov = ms.live_photo_pair("11111111-2222-4333-8444-555555555555", colour=(10, 90, 180))
    first = alice.upload(still, "IMG_0101.HEIC.jpg")
    assert first.status_code == 201, first.text
    photo = first.json()
    assert photo["motion"] is False  # no clip yet
    assert_problem(_motion(alice, photo["id"]), 404)

    second = alice.upload(mov, "IMG_0101.MOV")
    assert second.status_code == 200, second.text  # not a new item: the still it joined
    assert second.json()["id"] == photo["id"] and second.json()["motion"] is True
    assert alice.upload(mov, "IMG_0101.MOV").json()["id"] == photo["id"]  # again: still the same
    clip = _motion(alice, photo["id"])
    assert clip.status_code == 200 and clip.content == mov
    assert clip.headers["content-type"].startswith("video/quicktime")
    assert _timeline_ids(alice) == [photo["id"]]
    assert _search_ids(alice, "IMG_0101") == [photo["id"]]
    snapshot_ids, events = _sync_ids(alice)
    assert snapshot_ids == {photo["id"]}
    assert {e.get("photo_id") for e in events if e["type"] == "photo.added"} == {photo["id"]}


def test_live_photo_mov_first_is_held_then_joins(server: Server, alice: User) -> None:
    still, mov = ms.live_photo_pair("AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE", colour=(200, 30, 120))
    held = alice.upload(mov, "IMG_0202.MOV")
    assert held.status_code == 202, held.text
    assert held.json()["state"] == "pending"
    assert _timeline_ids(alice) == []
    assert _search_ids(alice, "IMG_0202") == []
    assert _sync_ids(alice)[0] == set()

    r = alice.upload(still, "IMG_0202.JPG")
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["motion"] is True
    assert _motion(alice, photo["id"]).content == mov
    assert _timeline_ids(alice) == [photo["id"]]
    # The same MOV again now answers with its photo, not a second held clip.
    again = alice.upload(mov, "IMG_0202.MOV")
    assert again.status_code == 200 and again.json()["id"] == photo["id"]


def test_live_photos_pair_only_within_one_owner(alice: User, bob: User) -> None:
    content_id = "99999999-8888-4777-8666-555555555555"
    still, mov = ms.live_photo_pair(content_id, colour=(1, 250, 250))
    mine = alice.upload(still, "IMG_0303.JPG").json()
    theirs = bob.upload(mov, "IMG_0303.MOV")
    assert theirs.status_code == 202  # bob has no such still: held, never attached to alice's
    assert_problem(_motion(alice, mine["id"]), 404)


def test_deleting_a_live_photo_deletes_its_clip_truly(server: Server, alice: User) -> None:
    still, mov = ms.live_photo_pair("DEADBEEF-0000-4000-8000-000000000001", colour=(120, 120, 10))
    photo = alice.upload(still, "IMG_0404.JPG").json()
    assert alice.upload(mov, "IMG_0404.MOV").status_code == 200
    sha = hashlib.sha256(mov).hexdigest()
    assert _files_holding(server.data_dir / "blobs", mov), "the MOV is stored as a blob"
    with alice.client() as c:
        assert c.delete(f"/api/photos/{photo['id']}").status_code == 204
        assert_problem(c.get(f"/api/photos/{photo['id']}"), 404)
    assert_problem(_motion(alice, photo["id"]), 404)
    assert _files_holding(server.data_dir / "blobs", mov) == []
    assert not any(sha in p.name for p in (server.data_dir / "blobs").rglob("*"))
    _, events = _sync_ids(alice)
    assert any(e["type"] == "photo.removed" and e.get("photo_id") == photo["id"] for e in events)
    # Gone for good: uploading the MOV again is a fresh held clip, not a link to the dead photo.
    assert alice.upload(mov, "IMG_0404.MOV").status_code == 202


def test_deleting_a_motion_photo_deletes_the_file_holding_its_clip(server: Server, alice: User) -> None:
    data, mp4 = ms.google_motion_photo(colour=(33, 66, 99))
    photo = alice.upload(data, "MVIMG_del.jpg").json()
    with alice.client() as c:
        assert c.delete(f"/api/photos/{photo['id']}").status_code == 204
    assert_problem(_motion(alice, photo["id"]), 404)
    assert _files_holding(server.data_dir / "blobs", data) == []


# -- the vault, storage and sync (what H4 left open) --------------------------------------------------

PASSPHRASE = "a vault passphrase"


def _open_vault(c: httpx.Client) -> dict[str, str]:
    assert c.post("/api/vault", json={"passphrase": PASSPHRASE}).status_code == 201
    r = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    return {"X-Vault-Token": r.json()["vault_token"]}


def test_a_live_photo_moves_into_the_vault_whole_and_comes_back(server: Server, alice: User) -> None:
    still, mov = ms.live_photo_pair("0A0A0A0A-1111-4222-8333-444444444444", colour=(70, 20, 220))
    photo = alice.upload(still, "IMG_0505.JPG").json()
    assert alice.upload(mov, "IMG_0505.MOV").status_code == 200
    blobs = server.data_dir / "blobs"
    with alice.client() as c:
        vault = _open_vault(c)
        r = c.post(f"/api/photos/{photo['id']}/vault", headers=vault)
        assert r.status_code == 200, r.text
        assert r.json()["motion"] is True
        # No plaintext copy of the clip is left (a leak) and nothing `gc` could collect either:
        # the MOV is sealed in the vault beside the original.
        assert _files_holding(blobs, mov) == []
        assert (blobs / "vault" / alice.id / photo["id"] / "clip").is_file()
        # Not served from the library route (404, as for the original); the vault has no /motion yet.
        assert_problem(c.get(f"/api/photos/{photo['id']}/motion"), 404)
        r = c.post(f"/api/vault/photos/{photo['id']}/restore", headers=vault)
        assert r.status_code == 200, r.text
        assert r.json()["motion"] is True
    clip = _motion(alice, photo["id"])
    assert clip.status_code == 200 and clip.content == mov
    assert not (blobs / "vault" / alice.id / photo["id"]).exists()
    # True deletion of a vaulted Live Photo takes its clip: nothing on disk holds the MOV.
    with alice.client() as c:
        vault = {"X-Vault-Token": c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()["vault_token"]}
        r = c.post(f"/api/photos/{photo['id']}/vault", headers=vault)
        assert r.status_code == 200, r.text
        assert c.delete(f"/api/photos/{photo['id']}", headers=vault).status_code == 204
    assert _files_holding(blobs, mov) == []
    assert not (blobs / "vault" / alice.id / photo["id"]).exists()
    assert alice.upload(mov, "IMG_0505.MOV").status_code == 202  # a fresh held clip: the photo is gone


def test_a_motion_photo_back_from_the_vault_still_plays_its_clip(server: Server, alice: User) -> None:
    data, mp4 = ms.google_motion_photo(colour=(140, 200, 20))
    photo = alice.upload(data, "PXL_vault.MP.jpg").json()
    with alice.client() as c:
        vault = _open_vault(c)
        assert c.post(f"/api/photos/{photo['id']}/vault", headers=vault).status_code == 200
        assert_problem(c.get(f"/api/photos/{photo['id']}/motion"), 404)
        assert c.post(f"/api/vault/photos/{photo['id']}/restore", headers=vault).status_code == 200
    clip = _motion(alice, photo["id"])
    assert clip.status_code == 200 and clip.content == mp4


def _storage(user: User) -> dict[str, Any]:
    with user.client() as c:
        r = c.get("/api/users/me/storage")
        assert r.status_code == 200, r.text
        return r.json()


def test_live_photo_movs_count_in_storage_held_or_attached(alice: User) -> None:
    still, mov = ms.live_photo_pair("0B0B0B0B-1111-4222-8333-444444444444", colour=(20, 220, 70))
    before = _storage(alice)["bytes"]
    assert alice.upload(mov, "IMG_0606.MOV").status_code == 202
    held = _storage(alice)
    assert held["bytes"] == before + len(mov) and held["photos"] == 0
    assert alice.upload(still, "IMG_0606.JPG").status_code == 201
    joined = _storage(alice)
    assert joined["bytes"] == before + len(mov) + len(still) and joined["photos"] == 1


def test_a_mov_joining_a_synced_still_reaches_the_feed(alice: User) -> None:
    still, mov = ms.live_photo_pair("0C0C0C0C-1111-4222-8333-444444444444", colour=(220, 70, 20))
    photo = alice.upload(still, "IMG_0707.JPG").json()
    with alice.client() as c:
        cursor = c.get("/api/sync/snapshot").json()["cursor"]
    assert alice.upload(mov, "IMG_0707.MOV").status_code == 200
    with alice.client() as c:
        events = c.get("/api/sync/events", params={"cursor": cursor}).json()["events"]
    assert [(e["type"], e["photo_id"], e["data"]) for e in events] == [
        ("photo.updated", photo["id"], {"version": photo["version"] + 1, "motion": True})]
