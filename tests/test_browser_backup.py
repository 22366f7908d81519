"""The Backup screen (#/backup) in real headless Chromium with phone emulation (390×844, touch)
against a real `octopus serve`: files are hashed in a worker, checked with POST /api/photos/check,
and only the missing ones go through tus; a refused file counts as failed with the server's
reason; a backup cut by going offline goes on when back online, and choosing the same files again
sends nothing; the worker's streamed SHA-256 equals hashlib's, and its speed on 100 MB is printed.

One server and one phone context for the module; the tests run in file order. Each fails on any
JavaScript error, console error or CSP violation, except the failed requests it causes on purpose.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from PIL import Image

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path, jpeg
from ci_support import require_or_skip
from http_support import Server

try:
    from playwright import sync_api
except ImportError:  # the ui fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "backer"
PASSWORD = "eight arms, one camera roll"
TIMEOUT_MS = 20_000
SIGNED_OUT_PROBE = r"status of 401"
FAILED_REQUEST = r"net::ERR_|Failed to load resource"
CHUNK = 1024 * 1024
MB = 1024 * 1024


@dataclass
class Session:
    server: Server
    context: Any
    page: Any
    console: ConsoleWatch
    root: Path
    log: list[tuple[str, str, int | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def item(self, name: str) -> Any:
        return self.page.locator("[data-testid=backup-item]").filter(has_text=name)

    def requests(self, method: str, part: str = "/api/uploads") -> list[tuple[str, str, int | None]]:
        with self.lock:
            return [r for r in self.log if r[0] == method and part in r[1]]

    def shot(self, name: str) -> None:
        folder = Path(os.environ.get("BROWSER_SCREENSHOTS") or self.root / "screenshots")
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"backup-{name}.png"), full_page=True)

    def open(self, **storage: str) -> None:
        """The Backup screen, fresh (a reload drops the last batch), with test-only settings."""
        self.page.goto(self.server.url + "/#/backup")
        self.page.evaluate("s => { for (const [k, v] of Object.entries(s)) localStorage.setItem(k, v); }",
                           {"octopus.upload.chunkSize": str(CHUNK), **storage})
        self.page.reload()
        expect(self.tid("backup")).to_be_visible()

    def names(self) -> list[str]:
        body = self.page.request.get(self.server.url + "/api/timeline?limit=500").json()
        return [p["filename"] for d in body["days"] for p in d["photos"]]

    def assert_no_js_errors(self, *allowed: str) -> None:
        assert self.console.take(SIGNED_OUT_PROBE, *allowed) == []


def noise_png(path: Path, side: int) -> Path:
    """An incompressible PNG of about side² × 3 bytes (several 1 MB PATCHes)."""
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
    root = tmp_path_factory.mktemp("browser-backup")
    server = Server(root / "data").start()
    try:
        assert server.register(USERNAME, PASSWORD).status_code == 201
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                              is_mobile=True, has_touch=True, locale="en-GB",
                                              color_scheme="light", reduced_motion="reduce")
                context.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                page = context.new_page()
                console = ConsoleWatch()
                console.attach(page)
                session = Session(server, context, page, console, root)

                def on_request(req: Any) -> None:
                    offset = req.headers.get("upload-offset")
                    with session.lock:
                        session.log.append((req.method, req.url, int(offset) if offset is not None else None))
                page.on("request", on_request)
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


def test_six_chosen_two_already_there_four_backed_up(ui: Session) -> None:
    ui.page.goto(ui.server.url + "/#/timeline")
    # Reachable from the navigation: the phone's bottom bar, or the side/header nav where that is shown.
    ui.page.locator('nav a[href="#/backup"]:visible').first.click()
    expect(ui.tid("backup")).to_be_visible()
    expect(ui.tid("backup-honest")).to_contain_text("A browser can't back up in the background")
    expect(ui.tid("backup-devices-link")).to_have_attribute("href", "#/settings")
    ui.open()
    paths = []
    for i in range(6):
        path = ui.root / f"roll-{i}.jpg"
        path.write_bytes(jpeg((40 * i, 200 - 30 * i, 90), pattern=("across", "down", "checks")[i % 3],
                              taken=f"2024:06:0{i + 1} 10:00:00"))
        paths.append(path)
    # Two of them are on the server already (sent by another device, say).
    other = ui.server.sign_in(USERNAME, PASSWORD)
    for path in paths[:2]:
        assert other.upload(path.read_bytes(), path.name).status_code == 201
    ui.log.clear()
    ui.tid("backup-input").set_input_files([str(p) for p in paths])
    expect(ui.tid("backup-summary")).to_have_text("4 backed up, 2 already there, 0 failed")
    ui.shot("six")
    expect(ui.page.locator("[data-testid=backup-item][data-status=done]")).to_have_count(4)
    expect(ui.page.locator("[data-testid=backup-item][data-status=there]")).to_have_count(2)
    for path in paths[:2]:
        expect(ui.item(path.name).locator(".status")).to_have_text("already there")
    expect(ui.tid("backup-overall-text")).to_contain_text("6 of 6 files")
    assert ui.tid("backup-overall").evaluate("p => p.value") == 1
    # One check call for what was hashed, and exactly four tus creations: nothing sent twice.
    assert 1 <= len(ui.requests("POST", "/api/photos/check")) <= 6
    assert len(ui.requests("POST", "/api/uploads")) == 4
    assert sorted(ui.names()) == sorted(p.name for p in paths)
    # The hashes in the list are the files' SHA-256 (Web Crypto below the threshold).
    for path in paths:
        assert ui.item(path.name).get_attribute("data-sha256") == hashlib.sha256(path.read_bytes()).hexdigest()
    ui.assert_no_js_errors()


def test_a_refused_file_counts_as_failed_with_its_reason(ui: Session) -> None:
    ui.open()
    bad = ui.root / "notes.jpg"
    bad.write_bytes(b"not a photo at all, just some words\n" * 200)
    good = ui.root / "fine.jpg"
    good.write_bytes(jpeg((10, 120, 200), pattern="checks", taken="2024:07:01 10:00:00"))
    with ui.page.expect_response(lambda r: r.request.method == "PATCH" and "/api/uploads/" in r.url and r.status >= 400) as answered:
        ui.tid("backup-input").set_input_files([str(bad), str(good)])
    res = answered.value
    assert res.status == 415 and res.headers["content-type"].startswith("application/problem+json")
    detail = res.json()["detail"]
    expect(ui.tid("backup-summary")).to_have_text("1 backed up, 0 already there, 1 failed")
    expect(ui.item("notes.jpg")).to_have_attribute("data-status", "failed")
    expect(ui.item("notes.jpg").locator(".status")).to_have_text(f"failed: {detail}")
    expect(ui.tid("backup-failures")).to_have_text(f"notes.jpg: {detail}")
    assert "notes.jpg" not in ui.names()
    ui.assert_no_js_errors(rf"status of {res.status}")


def test_offline_mid_backup_resumes_online_and_a_second_choice_sends_nothing(ui: Session) -> None:
    ui.open()
    small = []
    for i in range(2):
        path = ui.root / f"bus-{i}.jpg"
        path.write_bytes(jpeg((200, 40 + 60 * i, 40), pattern="down", taken=f"2024:08:0{i + 1} 10:00:00"))
        small.append(path)
    big = noise_png(ui.root / "bus-video.png", 1800)  # ~9.7 MB: ten 1 MB PATCHes
    files = [small[0], big, small[1]]
    held: list[Any] = []

    def hold_one(route: Any) -> None:
        offset = route.request.headers.get("upload-offset")
        if route.request.method == "PATCH" and not held and offset and int(offset) >= 3 * MB:
            held.append(route)  # left hanging: the Wi-Fi drops under it
        else:
            route.continue_()

    ui.page.route("**/api/uploads/**", hold_one)
    try:
        ui.log.clear()
        ui.tid("backup-input").set_input_files([str(p) for p in files])
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not held and time.monotonic() < deadline:
            ui.page.wait_for_timeout(50)  # route handlers run only while Playwright is called
        assert held, "no PATCH beyond 3 MB was sent"
        ui.context.set_offline(True)
        try:
            held[0].abort("internetdisconnected")
        except sync_api.Error:
            pass  # going offline already failed it
        expect(ui.item(big.name).locator(".status")).to_have_text("waiting for the network")
        ui.shot("offline")
        ui.context.set_offline(False)
        expect(ui.tid("backup-summary")).to_have_text("3 backed up, 0 already there, 0 failed")
    finally:
        ui.context.set_offline(False)
        ui.page.unroute("**/api/uploads/**")
    # Each file was created once; the big one went on from the server's offset, not from 0.
    assert len(ui.requests("POST", "/api/uploads")) == 3
    big_url = next(u for m, u, o in ui.requests("PATCH") if o and o >= 3 * MB)
    offsets = [o for m, u, o in ui.requests("PATCH") if u == big_url]
    assert offsets.count(0) == 1 and ui.requests("HEAD"), offsets
    assert len(offsets) <= -(-big.stat().st_size // CHUNK) + 1, offsets
    assert {p.name for p in files} <= set(ui.names())
    ui.console.take(FAILED_REQUEST)
    # After a reload (the list is gone: File objects do not persist) the same files are chosen
    # again: the check finds them all, nothing is uploaded.
    ui.open()
    ui.log.clear()
    ui.tid("backup-input").set_input_files([str(p) for p in files])
    expect(ui.tid("backup-summary")).to_have_text("0 backed up, 3 already there, 0 failed")
    assert ui.requests("POST", "/api/uploads") == [] and ui.requests("PATCH") == []
    ui.assert_no_js_errors()


def test_streamed_hash_equals_hashlib_above_the_threshold(ui: Session) -> None:
    ui.open(**{"octopus.backup.streamThreshold": str(256 * 1024)})
    big = noise_png(ui.root / "stream.png", 700)  # ~1.5 MB, above the lowered 256 KB threshold
    small = ui.root / "below.jpg"
    small.write_bytes(jpeg((90, 90, 200), pattern="across", taken="2024:09:01 10:00:00"))
    ui.tid("backup-input").set_input_files([str(big), str(small)])
    expect(ui.tid("backup-summary")).to_have_text("2 backed up, 0 already there, 0 failed")
    assert ui.item(big.name).get_attribute("data-hash-engine") == "js"
    assert ui.item(big.name).get_attribute("data-sha256") == hashlib.sha256(big.read_bytes()).hexdigest()
    assert ui.item(small.name).get_attribute("data-hash-engine") == "webcrypto"
    assert ui.item(small.name).get_attribute("data-sha256") == hashlib.sha256(small.read_bytes()).hexdigest()
    ui.assert_no_js_errors()


def test_hashing_speed_of_100_mb(ui: Session) -> None:
    """The worker on a 100 MB blob: streamed pure-JS SHA-256 (big files, plain-http LAN) and Web
    Crypto (below the threshold on https/localhost), against hashlib (OpenSSL) as the floor."""
    ui.open()
    size = 100 * MB
    result = ui.page.evaluate("""async (size) => {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 4096) bytes[i] = (i * 2654435761) >>> 24;
      const file = new Blob([bytes]);
      const w = new Worker("/js/hash-worker.js", { type: "module" });
      const run = (engine, threshold) => new Promise((resolve) => {
        w.onmessage = ({ data }) => { if (data.sha256 || data.error) resolve(data); };
        w.postMessage({ id: 1, file, threshold, engine });
      });
      const js = await run("js", 0);
      const wc = await run("webcrypto", 2 * size);
      w.terminate();
      return { js, wc };
    }""", size)
    data = bytearray(size)
    for i in range(0, size, 4096):
        data[i] = ((i * 2654435761) & 0xFFFFFFFF) >> 24
    t0 = time.perf_counter()
    want = hashlib.sha256(data).hexdigest()
    floor_s = time.perf_counter() - t0
    assert result["js"]["sha256"] == want and result["js"]["engine"] == "js"
    assert result["wc"]["sha256"] == want and result["wc"]["engine"] == "webcrypto"
    js_mbs = 100 / (result["js"]["ms"] / 1000)
    wc_mbs = 100 / (result["wc"]["ms"] / 1000)
    floor_mbs = 100 / floor_s
    print(f"\nhash 100 MB: streamed JS {js_mbs:.0f} MB/s, Web Crypto {wc_mbs:.0f} MB/s, "
          f"hashlib floor {floor_mbs:.0f} MB/s (JS/floor {js_mbs / floor_mbs:.2f}, WebCrypto/floor {wc_mbs / floor_mbs:.2f})")
    assert js_mbs > 20  # a phone-sized video (1 GB) in under a minute on this machine
    ui.assert_no_js_errors()
