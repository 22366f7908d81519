"""Share links in real headless Chromium against a real `octopus serve` (docs/sharing.md): the
share dialog from an album and from a selection (expiry presets, password, copy, QR), the
Shared links page (views, revoke), and the public page as a visitor sees it on a desktop
(1440x900) and a phone: grid, viewer, video, password, a revoked link, the visitor's language."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Iterator

import httpx
import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from ci_support import require_or_skip
from http_support import Server, image_bytes
from video_support import clip_bytes

try:
    from playwright import sync_api
except ImportError:  # the fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "sharer"
PASSWORD = "eight arms, one library"
SIGNED_OUT_PROBE = r"status of 401"


class World:
    def __init__(self, server: Server, browser: Any, token: str, photos: list[str], video: str, album: str) -> None:
        self.server, self.browser, self.token = server, browser, token
        self.photos, self.video, self.album = photos, video, album

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def link(self, **body: Any) -> dict[str, Any]:
        with self.api() as c:
            r = c.post("/api/shares", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def context(self, **kwargs: Any) -> tuple[Any, Any, ConsoleWatch]:
        context = self.browser.new_context(**kwargs)
        context.set_default_timeout(10_000)
        page = context.new_page()
        console = ConsoleWatch()
        console.attach(page)
        return context, page, console


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    server = Server(tmp_path_factory.mktemp("browser-share") / "data").start()
    try:
        assert server.register(USERNAME, PASSWORD).status_code == 201
        token = server.login(USERNAME, PASSWORD).json()["token"]
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            photos = []
            for i in range(5):
                r = c.post("/api/photos", files={"file": (f"private-name-{i}.jpg", image_bytes(700 + i, size=(640, 480)))})
                assert r.status_code == 201, r.text
                photos.append(r.json()["id"])
            r = c.post("/api/photos", files={"file": ("clip.mp4", clip_bytes(seconds=2.0, seed=7))})
            assert r.status_code == 201, r.text
            video = r.json()["id"]
            album = c.post("/api/albums", json={"name": "Grandma's album"}).json()["id"]
            assert c.post(f"/api/albums/{album}/photos", json={"photo_ids": [*photos[:3], video]}).status_code == 200
        expect.set_options(timeout=10_000)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                yield World(server, browser, token, photos, video, album)
            finally:
                browser.close()
    finally:
        server.stop()


def sign_in(world: World, page: Any) -> None:
    tid = page.get_by_test_id
    page.goto(world.server.url + "/")
    tid("login-username").fill(USERNAME)
    tid("login-password").fill(PASSWORD)
    tid("login-submit").click()
    expect(tid("nav-albums")).to_be_visible()


def test_the_share_dialog_from_an_album_and_from_a_selection(world: World) -> None:
    context, p, console = world.context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    try:
        tid = p.get_by_test_id
        sign_in(world, p)
        p.goto(f"{world.server.url}/#/albums/{world.album}")
        expect(p.locator("#view h2")).to_have_text("Grandma's album")
        tid("album-share").click()
        expect(tid("share-expiry")).to_have_value("2")  # one month unless chosen otherwise
        tid("share-expiry").select_option(label="1 week")
        tid("share-password").fill("cake")
        tid("share-location").check()
        tid("share-create").click()
        url = tid("share-url").input_value()
        assert re.fullmatch(re.escape(world.server.url) + r"/s/[A-Za-z0-9_-]{32}", url), url
        qr = tid("share-qr")
        expect(qr).to_be_visible()
        assert int(qr.get_attribute("data-modules")) >= 25
        tid("share-done").click()
        with world.api() as c:
            links = c.get("/api/shares").json()
        assert len(links) == 1 and links[0]["url"] == url and links[0]["album_id"] == world.album
        assert links[0]["has_password"] and links[0]["show_location"] and links[0]["allow_download"]
        days = (datetime.fromisoformat(links[0]["expires_at"]) - datetime.now(timezone.utc)).total_seconds() / 86400
        assert 6.9 < days < 7.1

        # From a selection on the timeline: two photos, no expiry, no downloads.
        tid("nav-timeline").click()
        tid("select-toggle").click()
        tiles = tid("photo-tile")
        tiles.nth(0).click()
        tiles.nth(1).click()
        tid("selection-share").click()
        tid("share-expiry").select_option(label="Always (until revoked)")
        tid("share-download").uncheck()
        tid("share-create").click()
        expect(tid("share-url")).to_have_value(re.compile(r"/s/"))
        tid("share-done").click()
        expect(tid("selection-bar")).to_be_hidden()

        # The Shared links page: both, with their views; revoke one.
        p.goto(f"{world.server.url}/#/shares")
        rows = tid("share-row")
        expect(rows).to_have_count(2)
        selection = rows.filter(has_text="Selected items")
        expect(selection).to_contain_text("2 items")
        expect(selection).to_contain_text("no downloads")
        expect(selection).to_contain_text("no expiry")
        album_row = rows.filter(has_text="Grandma's album")
        expect(album_row).to_contain_text("No views")
        expect(album_row).to_contain_text("password")
        with httpx.Client(base_url=world.server.url) as visitor:
            token = url.rsplit("/", 1)[1]
            grant = visitor.post(f"/api/s/{token}/unlock", json={"password": "cake"}).json()["grant"]
            assert visitor.get(f"/api/s/{token}", headers={"X-Share-Grant": grant}).status_code == 200
        p.reload()
        expect(tid("share-row").filter(has_text="Grandma's album")).to_contain_text("1 view")
        # Edit: downloads back on, no expiry, the password removed.
        selection.get_by_test_id("share-edit").click()
        tid("share-edit-expiry").select_option(label="1 day")
        tid("share-edit-download").check()
        tid("share-edit-save").click()
        expect(selection).not_to_contain_text("no downloads")
        expect(selection).to_contain_text("until")
        album_row.get_by_test_id("share-edit").click()
        tid("share-edit-nopassword").check()
        tid("share-edit-save").click()
        expect(album_row).not_to_contain_text("password")
        with world.api() as c:
            changed = {s["id"]: s for s in c.get("/api/shares").json()}
        assert all(not s["has_password"] for s in changed.values())
        assert any(s["allow_download"] and s["expires_at"] and s["album_id"] is None for s in changed.values())
        selection.get_by_test_id("share-revoke").click()
        tid("confirm-ok").click()
        expect(tid("share-row")).to_have_count(1)
        assert console.take(SIGNED_OUT_PROBE) == []
    finally:
        context.close()


def _grid_columns(page: Any) -> int:
    return int(page.locator("#share-grid").evaluate(
        "g => getComputedStyle(g).gridTemplateColumns.split(' ').filter(Boolean).length"))


def test_the_public_page_on_a_desktop(world: World) -> None:
    link = world.link(album_id=world.album)
    context, p, console = world.context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    try:
        response = p.goto(link["url"])
        assert response.status == 200
        expect(p.locator("#share-title")).to_have_text("Grandma's album")
        expect(p.locator("#share-meta")).to_contain_text("4 items")
        tiles = p.locator("#share-grid li")
        expect(tiles).to_have_count(4)
        assert _grid_columns(p) >= 6
        # Every thumbnail is a link-scoped URL and loads.
        expect(p.locator("#share-grid img").first).to_have_js_property("complete", True)
        srcs = p.locator("#share-grid img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
        assert all(s.startswith(f"/api/s/{link['token']}/photos/") for s in srcs)
        p.wait_for_function("() => [...document.querySelectorAll('#share-grid img')].every(i => i.complete && i.naturalWidth > 0)")
        assert "private-name" not in p.content()
        # The viewer: preview, next, the video plays, download offered, Esc closes.
        tiles.nth(0).locator("button").click()
        viewer = p.locator("#share-viewer")
        expect(viewer).to_have_attribute("open", "")
        expect(p.locator("#share-position")).to_have_text("1 of 4")
        p.wait_for_function("() => { const i = document.querySelector('#share-stage img'); return i && i.complete && i.naturalWidth > 600; }")
        expect(p.locator("#share-download")).to_be_visible()
        assert p.locator("#share-download").get_attribute("href").endswith(f"/photos/{world.photos[0]}/original")
        p.keyboard.press("ArrowLeft")  # wraps round to the last item: the video
        expect(p.locator("#share-position")).to_have_text("4 of 4")
        video = p.locator("#share-stage video")
        expect(video).to_have_count(1)
        p.wait_for_function("() => { const v = document.querySelector('#share-stage video'); return v && v.readyState >= 1 && v.duration > 1; }")
        p.keyboard.press("Escape")
        expect(viewer).not_to_have_attribute("open", "")
        assert console.take() == []
    finally:
        context.close()


def test_the_public_page_on_a_phone_in_spanish_with_a_password(world: World) -> None:
    link = world.link(photo_ids=world.photos, password="tarta", allow_download=False)
    context, p, console = world.context(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True,
                                        has_touch=True, locale="es-ES")
    try:
        assert p.goto(link["url"]).status == 200
        form = p.locator("#share-unlock")
        expect(form).to_be_visible()
        expect(form).to_contain_text("Contraseña")
        p.locator("#share-password").fill("mal")
        p.locator("#share-unlock button").click()
        expect(p.locator("#share-unlock-error")).to_have_text("La contraseña no es correcta.")
        p.locator("#share-password").fill("tarta")
        p.locator("#share-unlock button").click()
        expect(p.locator("#share-grid li")).to_have_count(5)
        expect(p.locator("#share-title")).to_have_text("Fotos compartidas")
        assert _grid_columns(p) == 3
        assert p.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        p.locator("#share-grid li button").nth(2).tap()
        expect(p.locator("#share-position")).to_have_text("3 de 5")
        box = p.locator("#share-viewer").bounding_box()
        assert box["width"] >= 389 and box["height"] >= 843
        expect(p.locator("#share-download")).to_be_hidden()  # the link offers no downloads
        p.locator("#share-next").tap()
        expect(p.locator("#share-position")).to_have_text("4 de 5")
        p.locator("#share-close").tap()
        # The password form's first load and the wrong password answer 401: that is expected.
        assert console.take(SIGNED_OUT_PROBE) == []
    finally:
        context.close()


def test_a_revoked_link_says_so(world: World) -> None:
    link = world.link(photo_ids=world.photos[:1])
    with world.api() as c:
        assert c.delete(f"/api/shares/{link['id']}").status_code == 204
    context, p, console = world.context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    try:
        assert p.goto(link["url"]).status == 410
        expect(p.locator("#share-status")).to_contain_text("expired or has been switched off")
        expect(p.locator("#share-grid")).to_be_hidden()
        assert p.goto(world.server.url + "/s/" + "x" * 32).status == 404
        expect(p.locator("#share-status")).to_contain_text("does not exist")
        assert console.take(r"status of 410", r"status of 404") == []
    finally:
        context.close()


def test_a_motion_photo_plays_its_clip_on_the_public_page(world: World) -> None:
    from motion_support import container_xmp, still_jpeg, with_xmp

    mp4 = clip_bytes(container="mp4", seed=8)
    with world.api() as c:
        r = c.post("/api/photos", files={"file": ("PXL_MP.jpg", with_xmp(still_jpeg((90, 40, 160)), container_xmp(len(mp4))) + mp4)})
    assert r.status_code == 201 and r.json()["motion"], r.text
    link = world.link(photo_ids=[r.json()["id"]])
    context, p, console = world.context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    try:
        p.goto(link["url"])
        p.locator("#share-grid li button").first.click()
        p.locator(".share-motion").click()
        p.wait_for_function("() => { const v = document.querySelector('#share-stage video'); return v && v.readyState >= 2; }")
        assert p.locator("#share-stage video").get_attribute("src").endswith("/motion")
        assert console.take() == []
    finally:
        context.close()
