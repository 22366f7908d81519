"""Videos in the browser UI, in real headless Chromium against a real `octopus serve`.

One server (fresh data dir) and one page for the module; the tests run in file order: upload
clips made with PyAV (tests/video_support.py) and a Google motion photo through the UI, see
their tiles, play an H.264 clip, meet an HEVC clip (Debian's Chromium has no HEVC decoder: the
poster, one line and Download) and a codec the browser can only find it cannot play by trying,
play a motion photo's clip on hover, press and Space, filter search by kind, play a vaulted video.
Each test fails on any JavaScript error, console error or CSP violation in the page.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path, jpeg
from ci_support import require_or_skip
from http_support import Server
from motion_support import google_motion_photo
from video_support import H264, HEVC, clip

try:
    from playwright import sync_api
except ImportError:  # the ui fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "reel"
PASSWORD = "eight arms, one projector"
VAULT_PASSPHRASE = "a long vault passphrase for clips"
TIMEOUT_MS = 10_000
SIGNED_OUT_PROBE = r"status of 401"  # the UI's boot asks /api/users/me before sign-in
HEVC_MIME = 'video/mp4; codecs="hvc1.1.6.L93.B0"'  # what the UI asks canPlayType (js/video.js)

# File name → encoder; each a 4 s (long enough not to end mid-test), 160×120 MP4 from the session's shared clip cache.
CLIPS = {
    "h264.mp4": H264,
    "hevc.mp4": HEVC,
    "mpeg2.mp4": "mpeg2video",  # no canPlayType question for it: found unplayable by trying
}


@dataclass
class Session:
    server: Server
    page: Any
    console: ConsoleWatch
    files: dict[str, Path]
    ids: dict[str, str] = field(default_factory=dict)  # filename → item id

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def tile(self, name: str) -> Any:
        return self.page.locator(f"[data-testid=photo-tile][data-photo-id='{self.ids[name]}']")

    def open_item(self, name: str) -> None:
        self.tile(name).locator("a").click()
        expect(self.page).to_have_url(re.compile(re.escape(f"#/photo/{self.ids[name]}") + "$"))
        expect(self.tid("viewer")).to_be_visible()

    def assert_no_js_errors(self, *allowed: str) -> None:
        assert self.console.take(*allowed) == []


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    root = tmp_path_factory.mktemp("browser-video")
    files = {}
    for name, codec in CLIPS.items():
        files[name] = Path(shutil.copy(clip(codec, "mp4", seconds=4.0), root / name))  # uploaded under its name
    files["still.jpg"] = root / "still.jpg"
    files["still.jpg"].write_bytes(jpeg((40, 200, 60), pattern="down", taken="2023:05:10 17:45:00"))
    files["MVIMG_motion.jpg"] = root / "MVIMG_motion.jpg"
    files["MVIMG_motion.jpg"].write_bytes(google_motion_photo()[0])
    server = Server(root / "data").start()
    try:
        assert server.register(USERNAME, PASSWORD).status_code == 201  # the first account may register
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB",
                                              color_scheme="light", reduced_motion="reduce")
                context.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                page = context.new_page()
                console = ConsoleWatch()
                console.attach(page)
                yield Session(server, page, console, files)
            finally:
                browser.close()
    finally:
        server.stop()


def video_state(ui: Session) -> dict[str, Any]:
    return ui.tid("viewer-video").evaluate(
        "v => ({paused: v.paused, t: v.currentTime, w: v.videoWidth, err: v.error && v.error.code})")


def seek_middle_and_play(ui: Session) -> None:
    """Seek the paused video to its middle and play: it plays on from there."""
    video = ui.tid("viewer-video").element_handle()
    ui.page.wait_for_function("v => v.paused", arg=video)
    ui.page.evaluate("v => { v.currentTime = v.duration / 2; }", video)
    ui.page.wait_for_function("v => !v.seeking && v.readyState >= 2", arg=video)
    ui.page.keyboard.press("Space")
    ui.page.wait_for_function("v => !v.paused && v.currentTime > v.duration / 2 + 0.2 && v.videoWidth === 160", arg=video)


def test_upload_clips_shows_tiles_with_duration_badges(ui: Session) -> None:
    page = ui.page
    page.goto(ui.server.url + "/")
    ui.tid("login-username").fill(USERNAME)
    ui.tid("login-password").fill(PASSWORD)
    ui.tid("login-submit").click()
    expect(ui.tid("timeline")).to_be_visible()
    ui.tid("upload-input").set_input_files([str(p) for p in ui.files.values()])
    expect(ui.page.locator("[data-testid=upload-item][data-status=new]")).to_have_count(len(ui.files))
    items = [p for d in page.request.get(ui.server.url + "/api/timeline").json()["days"] for p in d["photos"]]
    ui.ids = {p["filename"]: p["id"] for p in items}
    assert set(ui.ids) == set(ui.files)
    kinds = {p["filename"]: (p["kind"], p["motion"]) for p in items}
    assert kinds == {"h264.mp4": ("video", False), "hevc.mp4": ("video", False), "mpeg2.mp4": ("video", False),
                     "still.jpg": ("photo", False), "MVIMG_motion.jpg": ("photo", True)}

    for name in CLIPS:
        tile = ui.tile(name)
        expect(tile.get_by_test_id("video-badge")).to_have_text("0:04")
        expect(tile.locator("a")).to_have_attribute("aria-label", f"Video, 0:04, {name}")
        # The poster frame is the tile's picture: real pixels, not a broken image.
        page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=tile.locator("img").element_handle())
    expect(ui.tile("still.jpg").get_by_test_id("video-badge")).to_have_count(0)
    expect(ui.tile("still.jpg").locator("a")).to_have_attribute("aria-label", "still.jpg")
    expect(ui.tile("still.jpg").get_by_test_id("motion-badge")).to_have_count(0)
    expect(ui.tile("MVIMG_motion.jpg").get_by_test_id("motion-badge")).to_be_visible()
    expect(ui.tile("MVIMG_motion.jpg").locator("a")).to_have_attribute("aria-label", "Motion photo, MVIMG_motion.jpg")
    ui.assert_no_js_errors(SIGNED_OUT_PROBE)


def test_h264_clip_plays_with_its_poster_and_space_toggles(ui: Session) -> None:
    ui.open_item("h264.mp4")
    video = ui.tid("viewer-video")
    expect(video).to_be_visible()
    expect(video).to_have_attribute("poster", re.compile(re.escape(f"/api/photos/{ui.ids['h264.mp4']}/thumbnail?size=preview") + "$"))
    expect(video).to_have_attribute("src", f"/api/photos/{ui.ids['h264.mp4']}/original")
    expect(ui.tid("video-unplayable")).to_have_count(0)
    # Space plays, wherever focus is: the viewer starts with focus on Close, which Space must not press.
    ui.page.keyboard.press("Space")
    ui.page.wait_for_function("v => !v.paused && v.currentTime > 0.3 && v.videoWidth === 160", arg=video.element_handle())
    expect(ui.tid("viewer")).to_be_visible()
    ui.page.keyboard.press("Space")
    ui.page.wait_for_function("v => v.paused", arg=video.element_handle())
    t = video_state(ui)["t"]
    assert t > 0.3, t
    seek_middle_and_play(ui)  # seekable: /original answers the browser's Range requests
    # The arrows still move between items with the video (and its controls) focused.
    video.focus()
    before = ui.page.url
    ui.page.keyboard.press("ArrowRight" if ui.page.get_by_test_id("viewer-next").is_enabled() else "ArrowLeft")
    expect(ui.page).not_to_have_url(before)
    ui.page.keyboard.press("Escape")
    expect(ui.tid("viewer")).to_have_count(0)
    ui.assert_no_js_errors()


def test_hevc_clip_shows_poster_message_and_download(ui: Session) -> None:
    can_play = ui.page.evaluate("t => document.createElement('video').canPlayType(t)", HEVC_MIME)
    ui.open_item("hevc.mp4")
    if can_play:  # a Chromium built with an HEVC decoder: then it must simply play
        ui.page.keyboard.press("Space")
        ui.page.wait_for_function("v => !v.paused && v.currentTime > 0.3", arg=ui.tid("viewer-video").element_handle())
    else:
        assert_unplayable(ui, "hevc.mp4", "This browser can't play this video (HEVC). Download it to watch.")
    ui.page.keyboard.press("Escape")
    ui.assert_no_js_errors()


def assert_unplayable(ui: Session, name: str, message: str) -> None:
    """The poster (real pixels), exactly one clear line and a Download of the original: no <video>
    left on the stage to show a black box."""
    box = ui.tid("video-unplayable")
    expect(box).to_be_visible()
    expect(box.locator("p")).to_have_text(message)
    expect(ui.tid("viewer-video")).to_have_count(0)
    poster = ui.tid("video-poster")
    expect(poster).to_be_visible()
    ui.page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=poster.element_handle())
    assert poster.get_attribute("src").endswith(f"/api/photos/{ui.ids[name]}/thumbnail?size=preview")
    download = ui.tid("video-download")
    expect(download).to_have_attribute("href", f"/api/photos/{ui.ids[name]}/original")
    expect(download).to_have_attribute("download", name)
    res = ui.page.request.get(ui.server.url + download.get_attribute("href"))
    assert res.ok and res.body() == ui.files[name].read_bytes()


def test_codec_found_unplayable_only_by_trying_falls_back_too(ui: Session) -> None:
    """MPEG-2 has no canPlayType question in the UI: the player tries, the browser's media error
    (or a picture with no size) turns into the same poster, line and Download."""
    assert ui.page.evaluate("() => document.createElement('video').canPlayType('video/mp4; codecs=\"mp4v.61\"')") == ""
    ui.open_item("mpeg2.mp4")
    assert_unplayable(ui, "mpeg2.mp4", "This browser can't play this video (MPEG-2). Download it to watch.")
    ui.page.keyboard.press("Escape")
    ui.assert_no_js_errors()


def clip_playing(ui: Session, playing: bool) -> None:
    """The motion clip is playing and shown over the still, or paused, rewound and hidden."""
    clip = ui.tid("motion-clip").element_handle()
    if playing:
        ui.page.wait_for_function("c => !c.paused && c.currentTime > 0.1 && c.videoWidth > 0"
                                  " && c.parentNode.classList.contains('playing')", arg=clip)
        expect(ui.tid("motion-button")).to_have_attribute("aria-pressed", "true")
    else:
        ui.page.wait_for_function("c => c.paused && c.currentTime === 0 && !c.parentNode.classList.contains('playing')", arg=clip)
        expect(ui.tid("motion-button")).to_have_attribute("aria-pressed", "false")


def test_motion_photo_plays_its_clip_on_hover_press_and_space(ui: Session) -> None:
    ui.open_item("MVIMG_motion.jpg")
    ui.page.mouse.move(5, 5)  # off the picture (the click that opened it left the mouse there)
    still = ui.tid("viewer-image")
    ui.page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=still.element_handle())
    expect(ui.tid("motion-clip")).to_have_attribute("preload", "none")  # nothing fetched until wanted
    clip_playing(ui, False)
    box = ui.tid("motion-photo").bounding_box()
    ui.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    clip_playing(ui, True)
    src = ui.tid("motion-clip").get_attribute("src")
    assert src == f"/api/photos/{ui.ids['MVIMG_motion.jpg']}/motion"
    ui.page.mouse.move(5, 5)
    clip_playing(ui, False)
    # Touch: press and hold plays, release brings the still back. (Pointer events as a finger
    # sends them; Playwright's mouse only makes mouse pointers.)
    still.dispatch_event("pointerdown", {"pointerType": "touch", "isPrimary": True, "bubbles": True, "clientX": 300, "clientY": 300})
    clip_playing(ui, True)
    still.dispatch_event("pointerup", {"pointerType": "touch", "isPrimary": True, "bubbles": True, "clientX": 300, "clientY": 300})
    clip_playing(ui, False)
    # Keyboard: Space, and the Motion button.
    ui.page.keyboard.press("Space")
    clip_playing(ui, True)
    ui.page.keyboard.press("Space")
    clip_playing(ui, False)
    ui.tid("motion-button").click()
    clip_playing(ui, True)
    ui.page.keyboard.press("Escape")
    expect(ui.tid("viewer")).to_have_count(0)
    ui.assert_no_js_errors()


def test_search_filters_by_kind(ui: Session) -> None:
    ui.page.get_by_test_id("nav-search").click()
    kind = ui.tid("search-kind")
    kind.select_option("video")
    ui.tid("search-submit").click()
    expect(ui.page).to_have_url(re.compile(r"#/search\?kind=video$"))
    tiles = ui.page.locator("[data-testid=photo-tile]")
    expect(tiles).to_have_count(len(CLIPS))
    assert {t.get_attribute("data-photo-id") for t in tiles.all()} == {ui.ids[n] for n in CLIPS}
    ui.tid("search-kind").select_option("photo")
    ui.tid("search-submit").click()
    expect(ui.page).to_have_url(re.compile(r"#/search\?kind=photo$"))
    expect(tiles).to_have_count(2)
    expect(ui.tile("still.jpg")).to_be_visible()
    expect(ui.tile("MVIMG_motion.jpg")).to_be_visible()
    expect(ui.tid("search-kind")).to_have_value("photo")  # the form shows what the list is
    ui.assert_no_js_errors()


def test_vaulted_video_plays(ui: Session) -> None:
    """The vault's routes need X-Vault-Token, which a <video src> cannot send, so the viewer asks
    for a stream URL (bound to its session and token) and the player reads it with Range
    requests: no blob of the whole clip. The poster is still a blob (`media-src blob:` in the
    CSP; a violation would fail this test)."""
    def post(path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:  # as the page would: cookie and Origin
        return ui.page.request.post(ui.server.url + path, headers={"Origin": ui.server.url, **(headers or {})}, **kwargs)

    assert post("/api/vault", data={"passphrase": VAULT_PASSPHRASE}).status == 201
    token = post("/api/vault/unlock", data={"passphrase": VAULT_PASSPHRASE}).json()["vault_token"]
    for name in ("h264.mp4", "hevc.mp4"):
        moved = post(f"/api/photos/{ui.ids[name]}/vault", headers={"X-Vault-Token": token})
        assert moved.ok, moved.text()
    ui.page.get_by_test_id("nav-vault").click()
    ui.tid("vault-passphrase").fill(VAULT_PASSPHRASE)
    ui.tid("vault-unlock-submit").click()
    tile = ui.tile("h264.mp4")
    expect(tile.get_by_test_id("video-badge")).to_have_text("0:04")
    streamed: list[tuple[int, str | None]] = []

    def on_response(response: Any) -> None:
        if "/api/vault/stream/" in response.url:
            streamed.append((response.status, response.request.headers.get("range")))

    ui.page.on("response", on_response)
    tile.locator("a").click()
    video = ui.tid("viewer-video")
    expect(video).to_have_attribute("src", re.compile(r"^/api/vault/stream/s1\."))
    expect(video).to_have_attribute("poster", re.compile(r"^blob:"))
    ui.page.keyboard.press("Space")
    ui.page.wait_for_function("v => !v.paused && v.currentTime > 0.3 && v.videoWidth === 160", arg=video.element_handle())
    ui.page.keyboard.press("Space")
    seek_middle_and_play(ui)
    ui.page.remove_listener("response", on_response)
    # The player read the clip from the stream URL with Range requests, each answered 206.
    assert streamed and all(status == 206 and (asked or "").startswith("bytes=") for status, asked in streamed), streamed
    ui.page.keyboard.press("Escape")
    expect(ui.tid("viewer")).to_have_count(0)
    if not ui.page.evaluate("t => document.createElement('video').canPlayType(t)", HEVC_MIME):
        # Unplayable in the vault too: the decrypted poster, the line, and Download as a button
        # (the original needs the token, so it cannot be a plain link).
        ui.tile("hevc.mp4").locator("a").click()
        expect(ui.tid("video-unplayable").locator("p")).to_have_text("This browser can't play this video (HEVC). Download it to watch.")
        poster = ui.tid("video-poster")
        ui.page.wait_for_function("i => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0", arg=poster.element_handle())
        with ui.page.expect_download() as download:
            ui.tid("video-download").click()
        assert Path(download.value.path()).read_bytes() == ui.files["hevc.mp4"].read_bytes()
        ui.page.keyboard.press("Escape")
        expect(ui.tid("viewer")).to_have_count(0)
    ui.tid("vault-lock").click()
    ui.assert_no_js_errors()
