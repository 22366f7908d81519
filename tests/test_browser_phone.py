"""The phone layout (≤ 600 px) in real headless Chromium with phone emulation (390×844 and 360×740,
touch, device scale 3) against a real `octopus serve`: the bottom navigation and its More sheet,
the square grid and its density control, long-press selection with drag, the selection bar at
360 px, the thin scrubber, and no sideways overflow on any main screen.

One server and one library for the module: 48 small photos over six months, each month with days
of 1, 2 and 5 photos (so small days must share rows). Touch gestures go through CDP's
Input.dispatchTouchEvent, i.e. real touch events the page turns into pointer events, as on a phone.
Screenshots land in the test's tmp dir (or BROWSER_SCREENSHOTS) for review.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from ci_support import require_or_skip
from http_support import PASSWORD, Server, User, jpeg_with_exif

try:
    from playwright import sync_api
except ImportError:  # the fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "thumbs"
TIMEOUT_MS = 10_000
SIGNED_OUT_PROBE = r"status of 401"
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 740}
MONTHS = ["2024-06", "2024-05", "2024-04", "2024-03", "2024-02", "2024-01"]
DAY_SIZES = {"20": 5, "12": 2, "03": 1}  # day of month → photos that day


@dataclass
class Phone:
    server: Server
    page: Any
    context: Any
    console: ConsoleWatch
    cdp: Any
    shots: Path

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"))

    def touch(self, kind: str, x: float | None = None, y: float | None = None) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def centre(self, locator: Any) -> tuple[float, float]:
        box = locator.bounding_box()
        assert box, locator
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def no_overflow(self) -> None:
        # Against the emulated screen's width, not innerWidth: a mobile browser widens its layout
        # viewport (and zooms out) to fit content that is too wide, so innerWidth would grow too.
        width = self.page.viewport_size["width"]
        widths = self.page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert widths[0] <= width and widths[1] == width, f"sideways overflow at {self.page.url}: {widths} > {width}"

    def assert_no_js_errors(self) -> None:
        assert self.console.take(SIGNED_OUT_PROBE) == []


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any, Path, User]]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    root = tmp_path_factory.mktemp("browser-phone")
    server = Server(root / "data").start()
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        user = server.new_user(USERNAME)
        jobs = [(f"{m}-{d}", i) for m in MONTHS for d, n in DAY_SIZES.items() for i in range(n)]

        def send(n: int) -> None:
            day, i = jobs[n]
            data = jpeg_with_exif(n, "Octopus", "Phone", taken=f"{day.replace('-', ':')} {10 + i:02d}:00:00")
            r = user.upload(data, f"p-{day}-{i}.jpg")
            assert r.status_code in (200, 201), r.text

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, range(len(jobs))))
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                yield server, browser, shots, user
            finally:
                browser.close()
    finally:
        server.stop()


def open_phone(setup: tuple[Server, Any, Path, User], viewport: dict[str, int], route: str = "timeline") -> Iterator[Phone]:
    server, browser, shots, _ = setup
    context = browser.new_context(viewport=viewport, device_scale_factor=3, is_mobile=True, has_touch=True,
                                  locale="en-GB", color_scheme="light", reduced_motion="reduce")
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        page = context.new_page()
        console = ConsoleWatch()
        console.attach(page)
        r = page.request.post(server.url + "/api/auth/login", data={"username": USERNAME, "password": PASSWORD})
        assert r.ok, r.text()
        page.goto(f"{server.url}/#/{route}")
        expect(page.get_by_test_id("bottom-nav")).to_be_visible()
        yield Phone(server, page, context, console, context.new_cdp_session(page), shots)
    finally:
        context.close()


@pytest.fixture
def phone(setup: tuple[Server, Any, Path, User]) -> Iterator[Phone]:
    yield from open_phone(setup, PHONE)


@pytest.fixture
def small_phone(setup: tuple[Server, Any, Path, User]) -> Iterator[Phone]:
    yield from open_phone(setup, SMALL_PHONE)


def within(box: dict[str, float] | None, width: float, height: float, what: str) -> None:
    assert box, f"{what} has no box"
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5, (what, box)


def columns(p: Phone) -> int:
    """Tiles in the first row of the first 5-photo day (every day here has at most 5)."""
    return p.page.evaluate("""() => {
        const sec = [...document.querySelectorAll('[data-testid=day-section]')].find(s => s.querySelectorAll('.tile').length === 5);
        const tops = [...sec.querySelectorAll('.tile')].map(t => Math.round(t.getBoundingClientRect().top));
        return tops.filter(t => t === tops[0]).length;
    }""")


def test_bottom_nav_has_five_items_in_view_and_more_reaches_settings_and_trash(phone: Phone) -> None:
    page, tid = phone.page, phone.tid
    nav = page.locator("nav[aria-label=Main][data-testid=bottom-nav]")
    expect(nav).to_be_visible()
    # The viewport meta: device width, drawn edge to edge (so env(safe-area-inset-*) is set), and
    # zoom left to the user (no maximum-scale / user-scalable=no).
    meta = page.locator("meta[name=viewport]").get_attribute("content")
    assert "width=device-width" in meta and "viewport-fit=cover" in meta, meta
    assert "user-scalable" not in meta and "maximum-scale" not in meta, meta
    expect(tid("nav-settings")).to_be_hidden()  # the desktop side nav gives way
    for name in ("timeline", "albums", "search", "backup", "more"):
        item = tid(f"bnav-{name}")
        expect(item).to_be_visible()
        within(item.bounding_box(), PHONE["width"], PHONE["height"], name)
    expect(tid("bnav-timeline")).to_have_attribute("aria-current", "page")
    expect(tid("bnav-timeline")).to_contain_text("Photos")
    phone.shot("phone-timeline")

    tid("bnav-more").tap()
    expect(tid("more-sheet")).to_be_visible()
    within(tid("more-settings").bounding_box(), PHONE["width"], PHONE["height"], "More → Settings")
    phone.shot("phone-more-sheet")
    tid("more-settings").tap()
    expect(page).to_have_url(re.compile(r"#/settings$"))
    expect(tid("more-sheet")).to_be_hidden()
    expect(page.locator("#view h2").first).to_have_text("Settings")
    expect(tid("bnav-more")).to_have_class(re.compile(r"\bcurrent\b"))
    expect(tid("bnav-timeline")).not_to_have_attribute("aria-current", "page")

    tid("bnav-more").tap()
    tid("more-trash").tap()
    expect(page).to_have_url(re.compile(r"#/trash$"))
    expect(page.locator("#view h2").first).to_have_text("Trash")

    tid("bnav-backup").tap()
    expect(page).to_have_url(re.compile(r"#/backup$"))
    expect(tid("bnav-backup")).to_have_attribute("aria-current", "page")
    tid("bnav-albums").tap()
    expect(page).to_have_url(re.compile(r"#/albums$"))
    phone.assert_no_js_errors()


def test_square_grid_has_columns_by_width_and_the_density_control_changes_them(setup: Any) -> None:
    for viewport, want in ((SMALL_PHONE, 3), (PHONE, 4)):
        for p in open_phone(setup, viewport):
            expect(p.tid("photo-tile")).to_have_count(48)
            assert columns(p) == want, viewport
            box = p.tid("photo-tile").first.bounding_box()
            assert abs(box["width"] - box["height"]) < 1.5, box  # square
            # Small days share rows: the 1- and 2-photo days of a month sit side by side.
            tops = p.page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('[data-testid=day-section]')]
                .map(s => [s.dataset.date, Math.round(s.getBoundingClientRect().top)]))""")
            assert tops["2024-06-12"] == tops["2024-06-03"], tops
            expect(p.page.locator("[data-testid=day-section][data-date='2024-06-03'] h3")).to_be_visible()
            p.shot(f"phone-grid-{viewport['width']}")
            p.no_overflow()
            if want == 4:
                density = p.tid("grid-density")
                expect(density).to_have_attribute("aria-label", re.compile("^4 photos a row"))
                density.tap()
                expect(density).to_have_attribute("aria-label", re.compile("^5 photos a row"))
                assert columns(p) == 5
                p.shot("phone-grid-density-5")
                density.tap()
                assert columns(p) == 3
                # Remembered across a reload.
                p.page.reload()
                expect(p.tid("photo-tile")).to_have_count(48)
                assert columns(p) == 3
                assert p.page.evaluate("localStorage.getItem('octopus.grid.columns')") == "3"
                # Pinch: two fingers moving together make the tiles smaller (one more a row).
                cx, cy = p.centre(p.page.locator("[data-testid=day-section][data-date='2024-05-20'] .tiles"))
                for kind, spread in (("touchStart", 90), ("touchMove", 70), ("touchMove", 45), ("touchMove", 25)):
                    p.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
                        {"x": cx - spread, "y": cy, "id": 1}, {"x": cx + spread, "y": cy, "id": 2}]})
                p.touch("touchEnd")
                expect(density).to_have_attribute("aria-label", re.compile("^4 photos a row"))
                assert columns(p) == 4
            p.assert_no_js_errors()


def test_long_press_selects_drag_extends_and_the_bar_fits_360_px(small_phone: Phone, setup: Any) -> None:
    p, page, tid = small_phone, small_phone.page, small_phone.tid
    user: User = setup[3]
    day = page.locator("[data-testid=day-section][data-date='2024-06-20'] [data-testid=photo-tile]")
    expect(day).to_have_count(5)
    ids = day.evaluate_all("els => els.map(e => e.dataset.photoId)")
    x, y = p.centre(day.nth(0))
    p.touch("touchStart", x, y)
    # Held still: the long-press fires while the finger is down (expect polls; nothing is slept).
    expect(day.nth(0)).to_have_class(re.compile(r"\bselected\b"))
    expect(tid("selection-bar")).to_be_visible()
    tx, ty = p.centre(day.nth(2))
    for k in range(1, 9):  # drag in steps, as a finger moves
        p.touch("touchMove", x + (tx - x) * k / 8, y + (ty - y) * k / 8)
    p.touch("touchEnd")
    selected = page.locator(".tile.selected").evaluate_all("els => els.map(e => e.dataset.photoId)")
    assert selected == ids[:3], (selected, ids)
    assert "#/photo/" not in page.url  # the press that selected did not open the photo
    expect(tid("selection-bar")).to_contain_text("3 photos selected")
    # In selection mode a tap toggles.
    day.nth(4).tap()
    expect(tid("selection-bar")).to_contain_text("4 photos selected")
    day.nth(4).tap()
    expect(tid("selection-bar")).to_contain_text("3 photos selected")

    bar = tid("selection-bar")
    within(bar.bounding_box(), SMALL_PHONE["width"], SMALL_PHONE["height"], "selection bar")
    buttons = bar.locator("button")
    assert buttons.count() == 6  # add to album, share, favourite, trash, more (download, archive, tags, date...), cancel
    bar_box = bar.bounding_box()
    for i in range(buttons.count()):
        b = buttons.nth(i)
        expect(b).to_be_visible()
        expect(b).to_have_accessible_name(re.compile(r"\w"))
        box = b.bounding_box()
        within(box, SMALL_PHONE["width"], SMALL_PHONE["height"], f"bar button {i}")
        assert box["x"] >= bar_box["x"] and box["x"] + box["width"] <= bar_box["x"] + bar_box["width"] + 0.5, (i, box, bar_box)
        assert box["width"] >= 40 and box["height"] >= 40, box  # big enough for a thumb
    # The bar and the bottom nav never cover the last row: scrolled to the end, it sits above both.
    page.evaluate("scrollTo(0, document.documentElement.scrollHeight)")
    last = page.locator("[data-testid=photo-tile]").last.bounding_box()
    assert last["y"] + last["height"] <= bar.bounding_box()["y"], (last, bar.bounding_box())
    p.shot("phone-selection-360")
    p.no_overflow()

    tid("selection-favourite").tap()
    expect(tid("selection-bar")).to_be_hidden()
    deadline = time.monotonic() + 10
    with user.client() as c:
        while True:
            body = c.get("/api/favourites").json()
            favs = {ph["id"] for ph in (body if isinstance(body, list) else body["photos"])}
            if set(ids[:3]) <= favs or time.monotonic() > deadline:
                break
    assert set(ids[:3]) <= favs and not favs & set(ids[3:])
    expect(day.nth(0).locator(".fav")).to_be_visible()
    p.assert_no_js_errors()


def test_keyboard_selects_a_focused_tile_with_x_or_space(phone: Phone) -> None:
    page, tid = phone.page, phone.tid
    tile = page.locator("[data-testid=day-section][data-date='2024-05-20'] [data-testid=photo-tile]").first
    link = tile.locator("a")
    link.focus()
    # One Tab stop a tile: the next Tab leaves this tile for the next tile's link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.tile') && document.activeElement.matches('.tile > a')")
    link.focus()
    page.keyboard.press("x")
    expect(tile).to_have_class(re.compile(r"\bselected\b"))
    expect(link).to_have_attribute("aria-label", re.compile(r", selected$"))
    page.keyboard.press(" ")
    expect(tile).not_to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("Escape")
    expect(tid("selection-bar")).to_be_hidden()
    phone.assert_no_js_errors()


def test_scrubber_appears_on_scroll_and_a_drag_lands_on_a_month(phone: Phone) -> None:
    page, tid = phone.page, phone.tid
    expect(tid("photo-tile")).to_have_count(48)
    expect(tid("month-scrubber")).to_be_hidden()  # the month list gives way on phones
    expect(tid("month-scrubber").locator("button[data-month]")).to_have_count(len(MONTHS))
    scrubber = tid("phone-scrubber")
    expect(scrubber).not_to_have_class(re.compile(r"\bvisible\b"))
    page.mouse.wheel(0, 300)
    expect(scrubber).to_have_class(re.compile(r"\bvisible\b"))
    handle = tid("scrubber-handle")
    x, y = phone.centre(handle)
    track = scrubber.bounding_box()
    target = 3  # MONTHS[3], "2024-03": months are spread evenly down the track
    ty = track["y"] + track["height"] * target / (len(MONTHS) - 1)
    phone.touch("touchStart", x, y)
    for k in range(1, 7):
        phone.touch("touchMove", x, y + (ty - y) * k / 6)
    expect(tid("scrubber-tip")).to_have_text("March 2024")
    phone.shot("phone-scrubber-drag")
    phone.touch("touchEnd")
    # Landed: the first day section under the header is from that month.
    page.wait_for_function("""(m) => {
        const top = document.querySelector('header.top').getBoundingClientRect().bottom;
        const sec = [...document.querySelectorAll('[data-testid=day-section]')].find(s => s.getBoundingClientRect().bottom > top + 4);
        return sec && sec.dataset.date.startsWith(m);
    }""", arg=MONTHS[target])
    # Fades once scrolling and dragging stop.
    expect(scrubber).not_to_have_class(re.compile(r"\bvisible\b"))
    phone.assert_no_js_errors()


MAIN_SCREENS = ["timeline", "albums", "search", "backup", "memories", "favourites", "tags", "duplicates", "trash", "vault", "settings"]


def test_no_sideways_overflow_on_any_main_screen(small_phone: Phone) -> None:
    page = small_phone.page
    for route in MAIN_SCREENS:
        page.goto(f"{small_phone.server.url}/#/{route}")
        expect(page.locator("#view h2").first).to_be_visible()
        small_phone.no_overflow()
        small_phone.shot(f"phone-360-{route}")  # by now the view's first requests have answered
        small_phone.no_overflow()
    small_phone.assert_no_js_errors()
