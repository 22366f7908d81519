"""Videos as library items over real HTTP: the upload (and its limits, chosen from the file's
first bytes), the media fields in every listing and in sync, the bytes with Range, the poster as
thumbnail and preview, trash, vault, true deletion and duplicates. Clips are real H.264 MP4s
made once per session by tests/video_support.py."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from http_support import Server, User, assert_problem, image_bytes, upload
from test_http_quota import quota_user
from test_http_vault import open_vault
from video_support import H264, clip_bytes

MEDIA_FIELDS = ("kind", "duration", "video", "motion")


def _video(seconds: float = 2.0, seed: int = 0) -> bytes:
    return clip_bytes(H264, "mp4", seconds=seconds, seed=seed)


def _free_box(size: int) -> bytes:
    """An MP4 `free` box of `size` bytes: valid padding that players skip."""
    return size.to_bytes(4, "big") + b"free" + b"\0" * (size - 8)


def _assert_video(photo: dict[str, Any], seconds: float = 2.0) -> None:
    assert photo["kind"] == "video" and photo["motion"] is False, photo
    assert abs(photo["duration"] - seconds) < 0.25, photo["duration"]
    assert photo["video"]["codec"] == "h264" and abs(photo["video"]["fps"] - 10) < 0.01, photo["video"]
    assert photo["mime"] == "video/mp4" and (photo["width"], photo["height"]) == (160, 120)


def _assert_photo(photo: dict[str, Any]) -> None:
    assert {k: photo[k] for k in MEDIA_FIELDS} == {"kind": "photo", "duration": None, "video": None, "motion": False}


def _ids(photos: list[dict[str, Any]]) -> set[str]:
    return {p["id"] for p in photos}


def _sync_added(c: httpx.Client) -> dict[str, dict[str, Any]]:
    events = c.get("/api/sync/events").json()["events"]
    return {e["photo_id"]: e["data"] for e in events if e["type"] == "photo.added"}


def test_a_video_is_a_library_item_everywhere(server: Server, alice: User) -> None:
    data = _video()
    r = alice.upload(data, "clip.mp4", taken_at="2020-05-04T10:00:00+02:00", tags="holiday")
    assert r.status_code == 201, r.text
    video = r.json()
    _assert_video(video)
    assert video["sha256"] == hashlib.sha256(data).hexdigest() and video["bytes"] == len(data)
    picture = alice.upload(image_bytes(801), "still.jpg", taken_at="2020-05-04T09:00:00+02:00", tags="holiday").json()
    _assert_photo(picture)
    vid, pid = video["id"], picture["id"]
    with alice.client() as c:
        _assert_video(c.get(f"/api/photos/{vid}").json())
        _assert_photo(c.get(f"/api/photos/{pid}").json())
        timeline = [p for day in c.get("/api/timeline").json()["days"] for p in day["photos"]]
        by_id = {p["id"]: p for p in timeline}
        _assert_video(by_id[vid])
        _assert_photo(by_id[pid])
        assert c.put(f"/api/photos/{vid}/favourite").status_code == 200
        _assert_video(c.get("/api/favourites").json()["photos"][0])
        album = c.post("/api/albums", json={"name": "Trip"}).json()
        detail = c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [vid, pid]}).json()
        assert detail["count"] == 2
        _assert_video({p["id"]: p for p in detail["photos"]}[vid])
        memories = c.get("/api/memories", params={"date": "2024-05-04"}).json()
        assert [m["years_ago"] for m in memories] == [4]
        _assert_video({p["id"]: p for p in memories[0]["photos"]}[vid])
        _assert_video(c.get(f"/api/tags/holiday").json()["photos"][0])

        # Search: kind= filters, with and without words; anything else is a 422.
        assert _ids(c.get("/api/search", params={"kind": "video"}).json()["photos"]) == {vid}
        assert _ids(c.get("/api/search", params={"kind": "photo"}).json()["photos"]) == {pid}
        assert _ids(c.get("/api/search", params={"q": "holiday"}).json()["photos"]) == {vid, pid}
        _assert_video(c.get("/api/search", params={"q": "clip", "kind": "video"}).json()["photos"][0])
        assert c.get("/api/search", params={"q": "clip", "kind": "photo"}).json()["photos"] == []
        for bad in ("videos", "VIDEO", ""):
            assert_problem(c.get("/api/search", params={"kind": bad}), 422)

        storage = c.get("/api/users/me/storage").json()
        assert (storage["photos"], storage["videos"]) == (2, 1)
        assert storage["video_bytes"] == len(data) and storage["bytes"] == len(data) + picture["bytes"]

        # Sync: the feed and the snapshot carry the same fields as the API.
        added = _sync_added(c)
        _assert_video(added[vid])
        _assert_photo(added[pid])
        snapshot = {p["id"]: p for p in c.get("/api/sync/snapshot").json()["photos"]}
        _assert_video(snapshot[vid])
        _assert_photo(snapshot[pid])

        # Trash and back.
        assert c.post(f"/api/photos/{vid}/trash").status_code == 200
        trashed = c.get("/api/trash").json()["photos"]
        assert _ids(trashed) == {vid}
        _assert_video(trashed[0])
        assert vid not in _ids(c.get("/api/search", params={"kind": "video"}).json()["photos"])
        assert c.post(f"/api/photos/{vid}/restore").json()["state"] == "library"
        types = [e["type"] for e in c.get("/api/sync/events").json()["events"] if e.get("photo_id") == vid]
        assert types[-2:] == ["photo.trashed", "photo.restored"]


def test_a_videos_bytes_range_and_poster(server: Server, alice: User) -> None:
    data = _video()
    video = alice.upload(data, "clip.mp4").json()
    with alice.client() as c:
        whole = c.get(f"/api/photos/{video['id']}/original")
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
        middle = len(data) // 2
        part = c.get(f"/api/photos/{video['id']}/original", headers={"Range": f"bytes={middle}-{middle + 999}"})
        assert part.status_code == 206 and part.content == data[middle:middle + 1000]
        assert part.headers["content-range"] == f"bytes {middle}-{middle + 999}/{len(data)}"
        for size in ("thumb", "preview"):
            r = c.get(f"/api/photos/{video['id']}/thumbnail", params={"size": size})
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", size
            poster = Image.open(io.BytesIO(r.content))
            assert poster.format == "JPEG" and poster.size == (160, 120), (size, poster.size)
            # The upright scene: red top-left, blue bottom-right (tests/orientation_support.py).
            red, blue = poster.convert("RGB").getpixel((8, 8)), poster.convert("RGB").getpixel((150, 110))
            assert red[0] > 150 > red[2] and blue[2] > 150 > blue[0], (red, blue)


def _blob_files(server: Server, sha: str) -> list[Path]:
    blobs = server.data_dir / "blobs"
    return [p for p in blobs.rglob(f"{sha}*") if p.is_file()]


def test_a_video_through_the_vault_and_deleted_for_good(server: Server, alice: User) -> None:
    token = open_vault(alice)
    data = _video(seed=3)
    video = alice.upload(data, "secret.mp4").json()
    vid, sha = video["id"], video["sha256"]
    vault = {"X-Vault-Token": token}
    with alice.client() as c:
        assert c.get(f"/api/photos/{vid}/thumbnail", params={"size": "preview"}).status_code == 200
        moved = c.post(f"/api/photos/{vid}/vault", headers=vault)
        assert moved.status_code == 200, moved.text
        _assert_video(moved.json())
        assert _blob_files(server, sha) == []  # no plaintext original, thumb or preview left
        assert vid not in _ids(c.get("/api/search", params={"kind": "video"}).json()["photos"])
        listed = c.get("/api/vault/photos", headers=vault).json()["photos"]
        _assert_video({p["id"]: p for p in listed}[vid])
        _assert_video(c.get(f"/api/vault/photos/{vid}", headers=vault).json())
        original = c.get(f"/api/vault/photos/{vid}/original", headers=vault)
        assert original.status_code == 200 and original.content == data
        thumb = c.get(f"/api/vault/photos/{vid}/thumbnail", headers=vault)
        assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).format == "JPEG"

        back = c.post(f"/api/vault/photos/{vid}/restore", headers=vault)
        assert back.status_code == 200, back.text
        _assert_video(back.json())
        _assert_video(_sync_added(c)[vid])  # the return is a photo.added with the same fields
        assert vid in _ids(c.get("/api/search", params={"kind": "video"}).json()["photos"])
        assert c.get(f"/api/photos/{vid}/thumbnail", params={"size": "preview"}).status_code == 200
        assert _blob_files(server, sha) != []

        assert c.delete(f"/api/photos/{vid}").status_code == 204
        assert_problem(c.get(f"/api/photos/{vid}"), 404)
        assert _blob_files(server, sha) == []  # original, poster thumb and preview all gone
        assert c.get("/api/users/me/storage").json()["videos"] == 0
        events = [e for e in c.get("/api/sync/events").json()["events"] if e.get("photo_id") == vid]
        # Only the rows that carry nothing but the id are left of it.
        assert [(e["type"], e["data"]) for e in events] == [("photo.left_library", {}), ("photo.removed", {})]


def test_duplicate_videos_share_a_poster_and_a_length(server: Server, alice: User) -> None:
    # Same look, different bytes: the seed changes a few pixels, not the poster's hash.
    first = alice.upload(_video(2.0, seed=11), "a.mp4").json()
    near = alice.upload(_video(2.6, seed=12), "b.mp4").json()
    longer = alice.upload(_video(5.0, seed=13), "c.mp4").json()
    with alice.client() as c:
        poster = c.get(f"/api/photos/{first['id']}/thumbnail").content
    # The poster itself as a photo: the same picture, but a photo never pairs with a video.
    still = alice.upload(poster, "poster.jpg").json()
    with alice.client() as c:
        groups = [_ids(g["photos"]) for g in c.get("/api/duplicates").json()]
    assert groups == [{first["id"], near["id"]}], groups
    assert still["kind"] == "photo" and longer["kind"] == "video"


def test_upload_limits_follow_the_sniffed_type(small_server: Server) -> None:
    """On the small server photos may be 1 MB and videos 2 MB."""
    user = small_server.admin
    assert user is not None
    mb = 1024 * 1024
    with user.client() as c:
        # A JPEG between the two limits: refused as a photo, although videos may be larger.
        jpeg = image_bytes(802) + b"\0" * (mb + 100_000)
        body = assert_problem(upload(c, jpeg, "big.jpg"), 413)
        assert "photo" in body["detail"] and "1 MB" in body["detail"], body
        # The same size as a video is welcome: a real clip padded with an MP4 `free` box.
        roomy = _video(seed=21) + _free_box(mb + 200_000)
        r = upload(c, roomy, "roomy.mp4")
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "video" and r.json()["bytes"] == len(roomy)
        # Over the video limit: refused, naming the video limit.
        huge = _video(seed=22) + _free_box(2 * mb + 100_000)
        body = assert_problem(upload(c, huge, "huge.mp4"), 413)
        assert "video" in body["detail"] and "2 MB" in body["detail"], body
        assert c.get("/api/users/me/storage").json()["videos"] == 1
        assert c.delete(f"/api/photos/{r.json()['id']}").status_code == 204
    assert httpx.get(f"{small_server.url}/api/health").status_code == 200
    assert small_server.tmp_files() == []


def test_videos_count_against_the_quota_even_when_sent_at_once(server: Server) -> None:
    clips = [_video(seed=30 + i) + _free_box(50_000) for i in range(6)]
    quota = 2 * len(clips[0]) + 1000  # room for two
    user = quota_user(server, quota)

    def send(data: bytes) -> httpx.Response:
        with user.client() as c:
            return upload(c, data, "burst.mp4")

    with ThreadPoolExecutor(len(clips)) as pool:
        answers = list(pool.map(send, clips))
    stored = [r for r in answers if r.status_code == 201]
    for r in answers:
        if r.status_code != 201:
            assert "quota" in assert_problem(r, 413)["detail"]
    assert len(stored) == 2, [r.status_code for r in answers]
    with user.client() as c:
        usage = c.get("/api/users/me/storage").json()
    assert usage["videos"] == 2 and usage["bytes"] == usage["video_bytes"] <= quota
