"""The installable app in real Chromium with phone emulation (390×844, touch) against a real
`octopus serve`: no installability errors, the service worker controls the page, the shell opens
offline, thumbnails land in their cache, "New version — Reload" after an upgrade, a share-target
POST reaches the upload queue and the timeline, and sign-out empties the thumbnail cache and the
share database. One server and one persistent browser profile for the module; the tests run in
file order (a persistent profile, not Playwright's default incognito-like context: Chromium
reports "in-incognito" as an installability error there)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path, jpeg
from ci_support import require_or_skip
from http_support import Server
from video_support import clip

try:
    from playwright import sync_api
except ImportError:  # the fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "pwa"
PASSWORD = "installable eight arms"
TIMEOUT_MS = 15_000
SIGNED_OUT_PROBE = r"status of 401"
OFFLINE_NOISE = r"ERR_INTERNET_DISCONNECTED|Failed to fetch|Failed to load resource|NetworkError|offline"

THUMB_COUNT = "async () => (await (await caches.open('octopus-thumbs')).keys()).length"
SHARE_ROWS = """async () => {
  if (!(await indexedDB.databases()).some((d) => d.name === 'octopus-share')) return null;
  return await new Promise((resolve, reject) => {
    const open = indexedDB.open('octopus-share');
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('incoming')) { db.close(); return resolve(0); }
      const count = db.transaction('incoming').objectStore('incoming').count();
      count.onsuccess = () => { db.close(); resolve(count.result); };
      count.onerror = () => reject(count.error);
    };
    open.onerror = () => reject(open.error);
  });
}"""


@dataclass
class App:
    server: Server
    context: Any
    page: Any
    console: ConsoleWatch
    files: Path

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def tiles(self) -> Any:
        return self.page.locator("[data-testid=photo-tile]")

    def assert_no_js_errors(self, *allowed: str) -> None:
        assert self.console.take(SIGNED_OUT_PROBE, *allowed) == []


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    root = tmp_path_factory.mktemp("pwa")
    server = Server(root / "data").start()
    files = root / "files"
    files.mkdir()
    try:
        assert server.register(USERNAME, PASSWORD).status_code == 201
        with sync_api.sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(root / "profile"), executable_path=exe, args=CHROMIUM_ARGS,
                viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True,
                locale="en-GB", color_scheme="light", reduced_motion="reduce")
            try:
                context.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                page = context.pages[0] if context.pages else context.new_page()
                console = ConsoleWatch()
                console.attach(page)
                yield App(server, context, page, console, files)
            finally:
                context.close()
    finally:
        server.stop()


def sign_in(app: App) -> None:
    app.tid("login-username").fill(USERNAME)
    app.tid("login-password").fill(PASSWORD)
    app.tid("login-submit").click()
    expect(app.tid("logout-button").or_(app.tid("user-link")).first).to_be_attached()


def test_installable_and_controlled_after_reload(app: App) -> None:
    app.page.goto(app.server.url + "/")
    sign_in(app)
    # Wait for the worker to be active (it precaches the whole shell first), then reload.
    scope = app.page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == app.server.url + "/"
    response = app.page.reload()
    assert response is not None and response.from_service_worker  # the page itself came from the shell cache
    assert app.page.evaluate("navigator.serviceWorker.controller && navigator.serviceWorker.controller.scriptURL") \
        == app.server.url + "/sw.js"
    cdp = app.context.new_cdp_session(app.page)
    errors = cdp.send("Page.getInstallabilityErrors")
    assert errors["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == app.server.url + "/manifest.webmanifest" and not manifest["errors"]
    version = app.page.evaluate("async () => (await caches.keys()).filter((k) => k.startsWith('octopus-shell-'))")
    assert len(version) == 1
    app.assert_no_js_errors()


def test_share_target_post_lands_in_the_upload_queue_and_timeline(app: App) -> None:
    photo = app.files / "shared-sunset.jpg"
    photo.write_bytes(jpeg((230, 120, 30), taken="2024:06:01 20:30:00"))
    video = app.files / "shared-clip.mp4"
    shutil.copy(clip(size=(160, 120), seconds=1.0), video)
    before = app.tiles().count()
    # What the OS does after "Share → Octopus": a multipart POST navigation to the share_target
    # action. Chromium's own share sheet cannot be driven, so a form posts the same request.
    app.page.evaluate("""() => {
      const form = document.createElement('form');
      form.method = 'post'; form.action = '/share'; form.enctype = 'multipart/form-data';
      const input = document.createElement('input');
      input.type = 'file'; input.name = 'file'; input.multiple = true; input.id = 'os-share';
      form.append(input); document.body.append(form);
    }""")
    app.page.set_input_files("#os-share", [str(photo), str(video)])
    with app.page.expect_navigation():
        app.page.evaluate("document.getElementById('os-share').form.submit()")
    # The worker kept the files and redirected to the queue, which took them and went on to Photos.
    expect(app.page).to_have_url(app.server.url + "/#/timeline")
    items = app.page.locator("[data-testid=upload-item]")
    expect(items).to_have_count(2)
    expect(app.page.locator("[data-testid=upload-item][data-status=new]")).to_have_count(2)
    assert sorted(items.locator(".name").all_text_contents()) == ["shared-clip.mp4", "shared-sunset.jpg"]
    expect(app.tiles()).to_have_count(before + 2)
    assert app.page.evaluate(SHARE_ROWS) == 0  # handed over, then deleted: a reload uploads nothing twice
    with app.server.client() as c:
        token = c.post("/api/auth/login", json={"username": USERNAME, "password": PASSWORD}).json()["token"]
        days = c.get("/api/timeline", headers={"Authorization": f"Bearer {token}"}).json()["days"]
    names = {p["filename"] for day in days for p in day["photos"]}
    assert {"shared-sunset.jpg", "shared-clip.mp4"} <= names
    app.assert_no_js_errors()


def test_share_that_reached_no_worker_says_to_share_again(app: App) -> None:
    # Where the server's POST /share (no worker yet) sends the browser: nothing was kept.
    app.page.goto(app.server.url + "/#/upload?shared=none")
    app.page.reload()
    expect(app.tid("toast").filter(has_text="please share again")).to_be_visible()
    expect(app.page).to_have_url(app.server.url + "/#/timeline")
    app.assert_no_js_errors()


def test_seen_thumbnails_are_cached_and_the_shell_opens_offline(app: App) -> None:
    app.page.reload()
    expect(app.tiles().first).to_be_visible()
    app.page.wait_for_function(f"({THUMB_COUNT})().then((n) => n >= 2)")
    app.context.set_offline(True)
    try:
        response = app.page.reload()
        assert response is not None and response.from_service_worker
        # app.js ran from the cache: it replaced the static "Loading…" with its own screen.
        app.page.wait_for_function("!document.querySelector('#app > .boot') && document.querySelector('#app').children.length > 0")
        assert app.page.evaluate("navigator.serviceWorker.controller !== null")
        # Modules load offline too (they are in the shell cache).
        assert app.page.evaluate("async () => typeof (await import('/js/pwa.js')).takeSharedFiles") == "function"
        # A thumbnail seen before comes from the cache without the network.
        src = app.page.evaluate("""async () => {
          const keys = await (await caches.open('octopus-thumbs')).keys();
          const res = await fetch(keys[0].url);
          return [res.status, (await res.blob()).type];
        }""")
        assert src == [200, "image/jpeg"]
    finally:
        app.context.set_offline(False)
    app.console.take(OFFLINE_NOISE)  # whatever the offline screen logged about the missing network
    app.page.reload()
    expect(app.tiles().first).to_be_visible()
    app.assert_no_js_errors()


def test_new_version_bar_reloads_into_the_new_worker(app: App) -> None:
    """An upgrade, as the browser sees it: a worker script that differs from the one in control.
    The server's version function is unit-tested (tests/test_pwa.py: any changed shell file
    changes sw.js); here a second script URL stands in for the changed bytes, since the module's
    server serves the checkout's webroot, which a test must not edit."""
    old = app.page.evaluate("navigator.serviceWorker.controller.scriptURL")
    app.page.evaluate("navigator.serviceWorker.register('/sw.js?upgrade=1', {scope: '/'})")
    bar = app.tid("update-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("New version")
    with app.page.expect_navigation():
        app.tid("update-reload").click()
    app.page.wait_for_function("navigator.serviceWorker.controller && navigator.serviceWorker.controller.scriptURL.endsWith('upgrade=1')")
    assert app.page.evaluate("navigator.serviceWorker.controller.scriptURL") != old
    expect(app.tiles().first).to_be_visible()
    expect(app.tid("update-bar")).to_have_count(0)
    app.assert_no_js_errors()


def test_sign_out_empties_the_thumbnail_cache_and_the_share_database(app: App) -> None:
    assert app.page.evaluate(THUMB_COUNT) > 0
    # A share still waiting (posted by fetch, as a page would: the worker stores it, nothing took it yet).
    status = app.page.evaluate("""async () => {
      const form = new FormData();
      form.append('file', new File([new Uint8Array([255, 216, 255, 217])], 'pending.jpg', {type: 'image/jpeg'}));
      const res = await fetch('/share', {method: 'POST', body: form, redirect: 'manual'});
      return res.type;
    }""")
    assert status == "opaqueredirect"
    assert app.page.evaluate(SHARE_ROWS) == 1
    app.page.goto(app.server.url + "/#/settings")
    app.tid("logout-button").click()
    expect(app.tid("login-form")).to_be_visible()
    app.page.wait_for_function("""async () => !(await caches.keys()).some((k) => k.startsWith('octopus-thumbs'))
      && !(await indexedDB.databases()).some((d) => d.name === 'octopus-share')""")
    # The shell stays: it holds nothing personal, and the sign-in screen must open offline too.
    assert app.page.evaluate("async () => (await caches.keys()).some((k) => k.startsWith('octopus-shell-'))")
    app.assert_no_js_errors()
