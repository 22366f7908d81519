"""Resumable uploads from the browser UI: the vendored tus-js-client in real headless Chromium
against a real `octopus serve` (tus 1.0.0 at /api/uploads).

One server (fresh data dir) and one browser context for the module; the tests run in file order:
photos and a video go through tus PATCHes into the timeline, so do files from the `u` shortcut
and a drag-and-drop; a connection dropped mid-upload
(the browser goes offline with a PATCH in flight) resumes from the server's offset once it is back
online; a reload mid-upload, then the same file added again, resumes from the URL kept in
localStorage; a file the library already has is answered at creation ("already in library", no
PATCH); a file the server refuses shows its problem+json detail; a server without tus (OPTIONS
refused) gets the plain POST /api/photos. Each test fails on any JavaScript error, console error
or CSP violation in the page, except the failed requests it causes on purpose.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from PIL import Image

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path, jpeg
from ci_support import require_or_skip
from http_support import Server
from video_support import H264, clip

try:
    from playwright import sync_api
except ImportError:  # the ui fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "resumer"
PASSWORD = "eight arms, many chunks"
TIMEOUT_MS = 15_000
SIGNED_OUT_PROBE = r"status of 401"  # the UI's boot asks /api/users/me before sign-in
FAILED_REQUEST = r"net::ERR_|Failed to load resource"  # requests a test cuts on purpose
CHUNK = 1024 * 1024  # the test-only chunk size (the UI's default is 8 MB): several PATCHes a file
MB = 1024 * 1024


@dataclass
class Request:
    method: str
    url: str
    offset: int | None  # Upload-Offset sent (PATCH)
    metadata: str = ""


@dataclass
class Session:
    server: Server
    context: Any
    page: Any
    console: ConsoleWatch
    root: Path
    log: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def shot(self, name: str) -> None:
        """A screenshot in the test's tmp dir, or wherever BROWSER_SCREENSHOTS points."""
        folder = Path(os.environ.get("BROWSER_SCREENSHOTS") or self.root / "screenshots")
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"tus-{name}.png"))

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def item(self, name: str) -> Any:
        return self.page.locator("[data-testid=upload-item]").filter(has_text=name)

    def requests(self, method: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.log if "/api/uploads" in r.url and (method is None or r.method == method)]

    def watch(self, page: Any) -> None:
        def on_request(req: Any) -> None:
            headers = req.headers
            offset = headers.get("upload-offset")
            with self.lock:
                self.log.append(Request(req.method, req.url, int(offset) if offset is not None else None,
                                        headers.get("upload-metadata", "")))
        page.on("request", on_request)

    def open(self) -> None:
        """Load the UI (signed in by cookie) with the small test chunk size."""
        self.page.goto(self.server.url + "/")
        self.page.evaluate(f"localStorage.setItem('octopus.upload.chunkSize', '{CHUNK}')")
        self.page.reload()
        expect(self.tid("timeline")).to_be_visible()

    def timeline_names(self) -> set[str]:
        body = self.page.request.get(self.server.url + "/api/timeline").json()
        return {p["filename"] for d in body["days"] for p in d["photos"]}

    def assert_no_js_errors(self, *allowed: str) -> None:
        assert self.console.take(SIGNED_OUT_PROBE, *allowed) == []


def noise_png(path: Path, side: int) -> Path:
    """An incompressible PNG (random pixels) of about side² × 3 bytes: big enough to take several
    PATCHes, made in well under a second (no compression)."""
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=0)
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    root = tmp_path_factory.mktemp("browser-tus")
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
                session = Session(server, context, page, console, root)
                session.watch(page)
                page.goto(server.url + "/")
                session.tid("login-username").fill(USERNAME)
                session.tid("login-password").fill(PASSWORD)
                session.tid("login-submit").click()
                expect(session.tid("timeline")).to_be_visible()
                yield session
            finally:
                browser.close()
    finally:
        server.stop()


def test_photos_and_a_video_upload_through_tus_into_the_timeline(ui: Session) -> None:
    ui.open()
    files = {
        "red.jpg": jpeg((220, 40, 40), pattern="across", taken="2023:05:10 09:15:00"),
        "green.jpg": jpeg((40, 200, 60), pattern="down", taken="2023:05:10 17:45:00"),
        "blue.jpg": jpeg((40, 80, 220), pattern="checks", taken="2022:12:24 12:00:00"),
        "clip.mp4": clip(H264, "mp4", seconds=2.0).read_bytes(),
    }
    paths = []
    for name, data in files.items():
        (ui.root / name).write_bytes(data)
        paths.append(str(ui.root / name))
    ui.log.clear()
    ui.tid("upload-input").set_input_files(paths)
    expect(ui.page.locator("[data-testid=upload-item][data-status=new]")).to_have_count(4)
    expect(ui.tid("upload-overall-text")).to_contain_text("4 of 4 files")
    assert ui.tid("upload-overall").evaluate("p => p.value") == 1
    assert ui.timeline_names() >= set(files)
    expect(ui.page.locator("[data-testid=photo-tile]")).to_have_count(4)  # inserted without a reload
    # Every file went as tus: a creation POST and at least one PATCH each, none through /api/photos.
    assert len(ui.requests("POST")) == 4
    assert len({r.url for r in ui.requests("PATCH")}) == 4
    assert not [r for r in ui.log if r.method == "POST" and r.url.endswith("/api/photos")]
    # Completed uploads leave nothing to resume in localStorage.
    assert ui.page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('tus::'))") == []
    ui.assert_no_js_errors()


def test_the_u_shortcut_and_drag_and_drop_still_upload_through_tus(ui: Session) -> None:
    ui.open()
    (ui.root / "by-key.jpg").write_bytes(jpeg((120, 40, 160), pattern="across", taken="2020:03:01 08:00:00"))
    ui.log.clear()
    with ui.page.expect_file_chooser() as chooser:
        ui.page.keyboard.press("u")
    chooser.value.set_files(str(ui.root / "by-key.jpg"))
    expect(ui.item("by-key.jpg")).to_have_attribute("data-status", "new")
    # A drop of a file anywhere on the page (the DataTransfer a file manager's drag would carry).
    data = list(jpeg((160, 120, 40), pattern="checks", taken="2020:03:02 08:00:00"))
    ui.page.evaluate("""bytes => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "dropped.jpg", { type: "image/jpeg" }));
      for (const type of ["dragenter", "dragover", "drop"]) document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""", data)
    expect(ui.item("dropped.jpg")).to_have_attribute("data-status", "new")
    assert {"by-key.jpg", "dropped.jpg"} <= ui.timeline_names()
    assert len({r.url for r in ui.requests("PATCH")}) == 2
    ui.assert_no_js_errors()


def test_dropped_connection_resumes_from_the_servers_offset(ui: Session) -> None:
    ui.open()
    big = noise_png(ui.root / "offline.png", 2600)  # ~20 MB
    size = big.stat().st_size
    held: list[Any] = []
    cut_at = 4 * MB

    def hold_one(route: Any) -> None:
        offset = route.request.headers.get("upload-offset")
        if route.request.method == "PATCH" and not held and offset and int(offset) >= cut_at:
            held.append(route)  # left hanging: the test drops the connection under it
        else:
            route.continue_()

    ui.page.route("**/api/uploads/**", hold_one)
    try:
        ui.log.clear()
        ui.tid("upload-input").set_input_files(str(big))
        deadline_ms = TIMEOUT_MS
        while not held and deadline_ms > 0:
            ui.page.wait_for_timeout(50)  # the route handler runs only while Playwright is called
            deadline_ms -= 50
        assert held, "no PATCH beyond 4 MB was sent"
        dropped_at = int(held[0].request.headers["upload-offset"])
        ui.context.set_offline(True)
        try:
            held[0].abort("internetdisconnected")
        except sync_api.Error:
            pass  # going offline already failed it
        expect(ui.item("offline.png").locator(".status")).to_have_text("waiting for the network")
        expect(ui.item("offline.png")).to_have_attribute("data-status", "uploading")
        ui.shot("offline")
        ui.context.set_offline(False)
        expect(ui.item("offline.png")).to_have_attribute("data-status", "new")
    finally:
        ui.context.set_offline(False)
        ui.page.unroute("**/api/uploads/**")
    assert "offline.png" in ui.timeline_names()
    patches = [r.offset for r in ui.requests("PATCH")]
    # Back online it asked the server (HEAD) and went on from the cut PATCH's offset, not from 0.
    assert ui.requests("HEAD"), "no HEAD to find the offset"
    again = patches.index(dropped_at, patches.index(dropped_at) + 1)
    assert patches[again:] == sorted(patches[again:]) and patches[again] > 0
    assert patches.count(0) == 1
    # Bytes sent ≈ the file once (one 1 MB PATCH twice), not twice the file.
    assert len(patches) <= -(-size // CHUNK) + 1, patches
    ui.assert_no_js_errors(FAILED_REQUEST)


def test_reload_mid_upload_then_the_same_file_resumes_from_the_stored_url(ui: Session) -> None:
    ui.open()
    big = noise_png(ui.root / "reload.png", 2600)
    stop_at = 6 * MB
    refused: list[int] = []

    def refuse_beyond(route: Any) -> None:
        offset = route.request.headers.get("upload-offset")
        if route.request.method == "PATCH" and offset and int(offset) >= stop_at:
            refused.append(int(offset))
            route.abort("connectionreset")
        else:
            route.continue_()

    ui.page.route("**/api/uploads/**", refuse_beyond)
    ui.log.clear()
    ui.tid("upload-input").set_input_files(str(big))
    deadline_ms = TIMEOUT_MS
    while not refused and deadline_ms > 0:
        ui.page.wait_for_timeout(50)  # the route handler runs only while Playwright is called
        deadline_ms -= 50
    assert refused, "the upload never got to 6 MB"
    upload_url = ui.requests("PATCH")[0].url
    # The server holds what was acknowledged: its HEAD says so.
    head = ui.page.request.fetch(upload_url, method="HEAD", headers={"Tus-Resumable": "1.0.0"})
    assert head.status == 200
    acknowledged = int(head.headers["upload-offset"])
    assert acknowledged >= stop_at
    ui.page.reload()  # the route still refuses, so the old page's retries end here
    ui.page.unroute("**/api/uploads/**")
    expect(ui.tid("timeline")).to_be_visible()
    stored = ui.page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('tus::'))")
    assert len(stored) == 1 and "reload.png" in stored[0]
    ui.console.take(FAILED_REQUEST)
    ui.log.clear()
    ui.tid("upload-input").set_input_files(str(big))  # the same file again
    expect(ui.item("reload.png")).to_have_attribute("data-status", "new")
    assert ui.requests("POST") == []  # no new upload was created
    assert [r.url for r in ui.requests("HEAD")] == [upload_url]
    patches = ui.requests("PATCH")
    # It went on from where the server stood (HEAD), past the 6 MB it had acknowledged: not from 0.
    assert patches[0].offset >= acknowledged, [(r.method, r.offset) for r in ui.requests()]
    assert all(p.url == upload_url for p in patches)
    assert [p.offset for p in patches] == sorted(p.offset for p in patches)
    expect(ui.item("reload.png")).to_have_attribute("data-resumed-from", str(patches[0].offset))
    assert "reload.png" in ui.timeline_names()
    assert ui.page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('tus::'))") == []
    ui.assert_no_js_errors()


def test_a_file_the_library_has_is_already_there_without_sending_it(ui: Session) -> None:
    ui.open()
    copy = ui.root / "red-again.jpg"
    copy.write_bytes((ui.root / "red.jpg").read_bytes())
    ui.log.clear()
    ui.tid("upload-input").set_input_files(str(copy))
    item = ui.item("red-again.jpg")
    expect(item).to_have_attribute("data-status", "duplicate")
    expect(item).to_contain_text("already in library")
    # The sha256 in the creation's metadata found it: no byte of it was PATCHed.
    posts = ui.requests("POST")
    assert len(posts) == 1 and "sha256 " in posts[0].metadata
    assert ui.requests("PATCH") == []
    assert "red-again.jpg" not in ui.timeline_names()
    ui.assert_no_js_errors()


def test_a_file_the_server_refuses_shows_its_problem_detail(ui: Session) -> None:
    ui.open()
    bad = ui.root / "notes.jpg"
    bad.write_bytes(b"not a photo at all, just some words\n" * 200)
    with ui.page.expect_response(lambda r: r.request.method == "PATCH" and "/api/uploads/" in r.url) as answered:
        ui.tid("upload-input").set_input_files(str(bad))
    res = answered.value
    assert 400 <= res.status < 500 and res.headers["content-type"].startswith("application/problem+json")
    detail = res.json()["detail"]
    item = ui.item("notes.jpg")
    expect(item).to_have_attribute("data-status", "error")
    expect(item.locator(".status")).to_have_text(detail)  # the server's words, not a generic line
    assert "notes.jpg" not in ui.timeline_names()
    ui.assert_no_js_errors(rf"status of {res.status}")


def test_a_server_without_tus_gets_the_plain_upload(ui: Session) -> None:
    """An older server answers OPTIONS /api/uploads with 404: the UI posts to /api/photos."""
    ui.page.route("**/api/uploads", lambda route: route.fulfill(status=404) if route.request.method == "OPTIONS" else route.continue_())
    try:
        ui.open()
        (ui.root / "plain.jpg").write_bytes(jpeg((200, 200, 40), pattern="down", taken="2021:01:02 10:00:00"))
        ui.log.clear()
        with ui.page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/photos")) as posted:
            ui.tid("upload-input").set_input_files(str(ui.root / "plain.jpg"))
        assert posted.value.status == 201
        expect(ui.item("plain.jpg")).to_have_attribute("data-status", "new")
        assert [r.method for r in ui.requests()] == ["OPTIONS"]
    finally:
        ui.page.unroute("**/api/uploads")
    ui.assert_no_js_errors(r"status of 404")


def test_signing_out_forgets_unfinished_uploads(ui: Session) -> None:
    # Last in the module: it signs the page out. An unfinished upload's stored URL and file name
    # (tus-js-client's "tus::" keys) must not stay behind for the next person at this browser.
    ui.open()
    ui.page.evaluate("localStorage.setItem('tus::fingerprint-of-holiday.jpg::1', "
                     "JSON.stringify({uploadUrl: '/api/uploads/x', metadata: {filename: 'holiday.jpg'}}))")
    ui.tid("nav-settings").click()
    ui.tid("logout-button").click()
    expect(ui.tid("login-form")).to_be_visible()
    assert ui.page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('tus::'))") == []
    ui.assert_no_js_errors()
