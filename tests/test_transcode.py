"""Playable copies (src/octopus_events/transcode.py) over real HTTP: a server with
`media.transcode = true` makes a ≤ 720p H.264/AAC copy of an HEVC upload in the background,
upright, with audio when the source had it, served at /playable with Range; an H.264 upload gets
none; deleting the video (or the account) deletes the copy; a vaulted video never has one; the
admin view shows the queue. Clips are tiny PyAV encodes from tests/video_support.py."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import av
import httpx
import pytest

from ci_support import requires
from http_support import PASSWORD, Server, User, assert_problem
from orientation_support import assert_upright
from test_http_vault import open_vault
from video_support import H264, HEVC, clip_bytes, encoder_available

needs_hevc = requires(encoder_available(HEVC), "the libx265 encoder in PyAV's FFmpeg", "pip install av (wheel with libx265)")
T = TypeVar("T")


def _poll(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def tserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("transcode") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_REGISTER_MAX_ATTEMPTS": "1000000",
        "OCTOPUS_MEDIA_TRANSCODE": "true",
    })
    try:
        server.start()
        server.admin = server.new_user("admin")
        yield server
    finally:
        server.stop()


def _copy_file(server: Server, sha: str) -> Path:
    return server.data_dir / "blobs" / "derivatives" / "playable" / sha[:2] / f"{sha}.jpg"


def _status(server: Server) -> dict[str, Any]:
    assert server.admin is not None
    with server.admin.client() as c:
        r = c.get("/api/admin/transcode")
        assert r.status_code == 200, r.text
        return r.json()


def _wait_for_copy(user: User, photo_id: str) -> httpx.Response:
    def probe() -> httpx.Response | None:
        with user.client() as c:
            r = c.get(f"/api/photos/{photo_id}/playable")
        return r if r.status_code == 200 else None

    return _poll(f"the playable copy of {photo_id}", probe)


def _wait_idle(server: Server) -> dict[str, Any]:
    return _poll("an idle transcode queue",
                 lambda: (s if (s := _status(server))["pending"] == 0 and s["current"] is None else None))


def _hevc(seed: int = 0, **spec: Any) -> bytes:
    return clip_bytes(HEVC, "mp4", seed=seed, **spec)


@needs_hevc
def test_an_hevc_video_gets_an_upright_720p_h264_copy_after_the_upload(tserver: Server) -> None:
    user = tserver.new_user()
    # 1600×900 upright, stored turned (display rotation 90), with sound: the copy must be
    # scaled to 1280×720, turned upright and keep the sound.
    data = _hevc(size=(1600, 900), rotation=90, audio=True, seconds=2.0, fps=10)
    r = user.upload(data, "phone.mp4")
    assert r.status_code == 201, r.text
    video = r.json()
    vid = video["id"]
    assert video["video"]["codec"] == "hevc" and (video["width"], video["height"]) == (1600, 900)
    with user.client() as c:
        # Never on the upload path: the response came back before any copy existed.
        assert_problem(c.get(f"/api/photos/{vid}/playable"), 404)
        assert c.get(f"/api/photos/{vid}").json()["playable"] is False
    status = _status(tserver)
    assert status["current"] is not None or status["pending"] >= 1, status
    if status["current"] is not None:
        assert status["current"]["photo_id"] == vid and 0.0 <= status["current"]["progress"] <= 1.0

    r = _wait_for_copy(user, vid)
    assert r.headers["content-type"] == "video/mp4" and r.headers["accept-ranges"] == "bytes"
    body = r.content
    assert 0 < body.find(b"moov") < body.find(b"mdat"), "moov must come first (faststart)"
    with user.client() as c:
        assert c.get(f"/api/photos/{vid}").json()["playable"] is True
        ranged = c.get(f"/api/photos/{vid}/playable", headers={"Range": "bytes=100-199"})
        assert ranged.status_code == 206 and ranged.content == body[100:200]
        assert ranged.headers["content-range"] == f"bytes 100-199/{len(body)}"
        again = c.get(f"/api/photos/{vid}/playable", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
    with av.open(io.BytesIO(body)) as copy:
        stream = copy.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
        assert [a.codec_context.name for a in copy.streams.audio] == ["aac"]
        frames = list(copy.decode(stream))
        assert len(frames) == 20 and all(f.rotation == 0 for f in frames)
        still = io.BytesIO()
        frames[5].to_image().save(still, "PNG")
    assert_upright(still.getvalue(), (1280, 720), "the copy's frame")
    # The original is untouched and still what /original serves.
    with user.client() as c:
        assert c.get(f"/api/photos/{vid}/original").content == data
    assert _status(tserver)["done"] >= 1


@needs_hevc
def test_an_h264_video_gets_no_copy_and_a_silent_one_no_audio(tserver: Server) -> None:
    user = tserver.new_user()
    h264 = user.upload(clip_bytes(H264, "mp4", seed=31), "fine.mp4").json()
    silent = user.upload(_hevc(seed=32), "silent.mp4").json()
    # The worker takes every candidate in one pass over the read model: once the later HEVC
    # upload has its copy and the queue is idle, the H.264 one was looked at and left alone.
    r = _wait_for_copy(user, silent["id"])
    with av.open(io.BytesIO(r.content)) as copy:
        assert copy.streams.video[0].codec_context.name == "h264" and not copy.streams.audio
        assert (copy.streams.video[0].codec_context.width, copy.streams.video[0].codec_context.height) == (160, 120)
    _wait_idle(tserver)
    with user.client() as c:
        assert_problem(c.get(f"/api/photos/{h264['id']}/playable"), 404)
        assert c.get(f"/api/photos/{h264['id']}").json()["playable"] is False
    assert not _copy_file(tserver, h264["sha256"]).exists()


@needs_hevc
def test_deleting_the_video_or_the_account_deletes_the_copy(tserver: Server) -> None:
    user = tserver.new_user()
    one = user.upload(_hevc(seed=41), "one.mp4").json()
    two = user.upload(_hevc(seed=42), "two.mp4").json()
    for video in (one, two):
        _wait_for_copy(user, video["id"])
        assert _copy_file(tserver, video["sha256"]).is_file()
    with user.client() as c:
        assert c.post(f"/api/photos/{one['id']}/trash").status_code == 200
        assert c.get(f"/api/photos/{one['id']}/playable").status_code == 200  # the trash keeps it
        assert c.delete(f"/api/photos/{one['id']}").status_code == 204
        assert_problem(c.get(f"/api/photos/{one['id']}/playable"), 404)
    assert not _copy_file(tserver, one["sha256"]).exists()
    with user.client() as c:
        r = c.request("DELETE", "/api/users/me", json={"password": PASSWORD})
        assert r.status_code == 204, r.text
    assert not _copy_file(tserver, two["sha256"]).exists()
    _wait_idle(tserver)
    assert not _copy_file(tserver, one["sha256"]).exists() and not _copy_file(tserver, two["sha256"]).exists()


@needs_hevc
def test_a_vaulted_video_has_no_copy(tserver: Server) -> None:
    user = tserver.new_user()
    token = open_vault(user)
    vault = {"X-Vault-Token": token}
    kept = user.upload(_hevc(seed=51), "secret.mp4").json()
    _wait_for_copy(user, kept["id"])
    with user.client() as c:
        moved = c.post(f"/api/photos/{kept['id']}/vault", headers=vault)
        assert moved.status_code == 200, moved.text
        assert_problem(c.get(f"/api/photos/{kept['id']}/playable"), 404)
    assert not _copy_file(tserver, kept["sha256"]).exists()
    # Moved in straight after the upload, perhaps while the copy is being made: none survives.
    quick = user.upload(_hevc(seed=52), "quick.mp4").json()
    with user.client() as c:
        assert c.post(f"/api/photos/{quick['id']}/vault", headers=vault).status_code == 200
    _wait_idle(tserver)
    assert not _copy_file(tserver, quick["sha256"]).exists()
    assert not _copy_file(tserver, kept["sha256"]).exists()
    vaulted = {p["id"] for p in [kept, quick]}
    assert _status(tserver)["current"] is None or _status(tserver)["current"]["photo_id"] not in vaulted


def test_the_admin_view_of_the_queue(tserver: Server) -> None:
    status = _status(tserver)
    assert set(status) == {"enabled", "encoder", "pending", "done", "failed", "current"}
    assert status["enabled"] is True and status["encoder"] == "libx264"
    user = tserver.new_user()
    with user.client() as c:
        assert_problem(c.get("/api/admin/transcode"), 403)
    assert_problem(httpx.get(f"{tserver.url}/api/admin/transcode"), 401)


@needs_hevc
def test_with_transcode_off_nothing_is_made(server: Server, alice: User) -> None:
    video = alice.upload(_hevc(seed=61), "off.mp4").json()
    assert server.admin is not None
    with server.admin.client() as c:
        status = c.get("/api/admin/transcode").json()
    assert status["enabled"] is False and status["encoder"] is None and status["current"] is None
    assert status["pending"] >= 1 and status["done"] == 0
    with alice.client() as c:
        assert_problem(c.get(f"/api/photos/{video['id']}/playable"), 404)
        assert c.get(f"/api/photos/{video['id']}").json()["playable"] is False
    assert not (server.data_dir / "blobs" / "derivatives" / "playable").exists()


@needs_hevc
def test_the_browser_plays_the_copy_of_an_hevc_video_and_the_admin_sees_the_queue(tserver: Server) -> None:
    """Real Chromium (Debian's has no HEVC decoder): the viewer plays the H.264 copy instead of
    showing "can't play", and the settings page shows the queue to the admin."""
    from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
    from ci_support import require_or_skip

    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None  # type: ignore[assignment]
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    assert tserver.admin is not None
    vid = tserver.admin.upload(_hevc(seed=71, seconds=4.0), "hevc.mp4").json()["id"]
    _wait_for_copy(tserver.admin, vid)
    _wait_idle(tserver)
    expect = sync_api.expect
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.set_default_timeout(10_000)
            console = ConsoleWatch()
            console.attach(page)
            page.goto(tserver.url + "/")
            page.get_by_test_id("login-username").fill("admin")
            page.get_by_test_id("login-password").fill(PASSWORD)
            page.get_by_test_id("login-submit").click()
            expect(page.get_by_test_id("timeline")).to_be_visible()
            page.goto(f"{tserver.url}/#/photo/{vid}")
            video = page.get_by_test_id("viewer-video")
            expect(video).to_have_attribute("src", f"/api/photos/{vid}/playable")
            expect(page.get_by_test_id("video-unplayable")).to_have_count(0)
            page.keyboard.press("Space")
            page.wait_for_function("v => !v.paused && v.currentTime > 0.3 && v.videoWidth === 160",
                                   arg=video.element_handle())
            page.keyboard.press("Escape")
            page.goto(f"{tserver.url}/#/settings")
            status = page.get_by_test_id("transcode-status")
            expect(status).to_contain_text(" made · 0 waiting · 0 failed")
            done = _status(tserver)["done"]
            expect(status).to_have_text(f"{done} made · 0 waiting · 0 failed")
            assert console.take(r"status of 401") == []
        finally:
            browser.close()
