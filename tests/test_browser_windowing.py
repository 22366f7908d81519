"""The timeline's windowing (issue 10: "≤ 3,000 DOM nodes while scrolling 10,000 items") in real
Chromium with phone emulation (390×844, touch) against a real `octopus serve` whose 10,000-item
library is seeded through the event store while it is stopped (no image work, so thumbnails
404: those console errors are expected). The timeline is scrolled top to bottom in steps and
`document.getElementsByTagName('*').length` is read at each (max printed); scrolling back up
brings the earlier tiles back, and a selection made at the top survives its tiles leaving the DOM.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from ci_support import require_or_skip
from http_support import PASSWORD, Server

try:
    from playwright import sync_api
except ImportError:  # the fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

N = 10_000
MAX_NODES = 3_000
EXPECTED = (r"status of 404", r"ERR_FAILED @ \S+/thumbnail")

SCROLL_UP = """async () => {
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  let most = 0;
  for (let i = 0; i < 5000 && scrollY > 0; i++) {
    scrollBy(0, -innerHeight * 3);
    await frames();
    most = Math.max(most, document.getElementsByTagName('*').length);
  }
  await frames();
  return most;
}"""
NODES = "document.getElementsByTagName('*').length"
TILES = "document.querySelectorAll('[data-testid=photo-tile]').length"
# Scroll down three screens a step, two frames a step (the window updates in a rAF), until the
# bottom is reached with nothing left to load; the element count is read at every step.
SCROLL_DOWN = """async () => {
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const deadline = performance.now() + 90000;
  let most = 0, steps = 0, still = 0;
  while (performance.now() < deadline) {
    const before = scrollY;
    scrollBy(0, innerHeight * 3);
    await frames();
    most = Math.max(most, document.getElementsByTagName('*').length);
    steps++;
    const atEnd = innerHeight + scrollY >= document.documentElement.scrollHeight - 2;
    const loading = !!document.querySelector('.sentinel.loading');
    still = atEnd && !loading && scrollY === before ? still + 1 : 0;
    if (still >= 5) return { most, steps };
    if (loading) await new Promise((r) => setTimeout(r, 10)); // a page on its way: let it land
  }
  return null;
}"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    server = Server(tmp_path_factory.mktemp("windowing") / "data").start()
    try:
        server.seed_library("scroller", N, batch=5000)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                          is_mobile=True, has_touch=True)
            context.set_default_timeout(15_000)
            # Thumbnails of a seeded library do not exist: answer them with nothing rather than
            # 404s by the thousand (the layout comes from width/height, not the image).
            context.route("**/thumbnail*", lambda route: route.fulfill(status=204))
            pg = context.new_page()
            console = ConsoleWatch()
            console.attach(pg)
            r = pg.request.post(server.url + "/api/auth/login", data={"username": "scroller", "password": PASSWORD})
            assert r.ok, r.text()
            pg.goto(server.url + "/#/timeline")
            pg.get_by_test_id("photo-tile").first.wait_for()
            yield pg
            assert console.take(*EXPECTED) == []
            browser.close()
    finally:
        server.stop()


def test_scrolling_10000_items_stays_under_3000_nodes(page: Any) -> None:
    select = page.get_by_test_id("photo-tile").nth(1)
    first_id = page.get_by_test_id("photo-tile").first.get_attribute("data-photo-id")
    second_id = select.get_attribute("data-photo-id")
    page.get_by_test_id("select-toggle").click()
    select.locator("button.check").click()
    expect(page.get_by_test_id("selection-bar")).to_contain_text("1")
    started = time.perf_counter()
    got = page.evaluate(SCROLL_DOWN)
    assert got, "timed out scrolling to the end of the timeline"
    most, steps = got["most"], got["steps"]
    took = time.perf_counter() - started
    away = page.evaluate("() => [...document.querySelectorAll('.window-spacer')].reduce((n, s) => n + s.sections.length, 0)")
    # What the page would hold without windowing: its elements plus those of the detached sections.
    unwindowed = page.evaluate("() => document.getElementsByTagName('*').length + [...document.querySelectorAll('.window-spacer')]"
                               ".reduce((n, s) => n + s.sections.reduce((k, sec) => k + 1 + sec.getElementsByTagName('*').length, 0) - 1, 0)")
    print(f"\ntimeline of {N:,} items at 390x844: max {most:,} DOM elements over {steps} scroll steps "
          f"({took:.1f} s), target <= {MAX_NODES:,}; {away:,} day sections out of the DOM at the end (without windowing: {unwindowed:,} elements)")
    assert most <= MAX_NODES
    assert page.evaluate(TILES) < 1000
    # The first tile is out of the DOM now, and the selection is still counted.
    assert page.locator(f"[data-photo-id='{first_id}']").count() == 0
    expect(page.get_by_test_id("selection-bar")).to_contain_text("1")
    # Back to the top: the earliest tiles come back, the selected one still marked.
    back = page.evaluate(SCROLL_UP)
    assert back <= MAX_NODES, back
    expect(page.locator(f"[data-testid=photo-tile][data-photo-id='{first_id}']")).to_be_visible()
    tile = page.locator(f"[data-testid=photo-tile][data-photo-id='{second_id}']")
    expect(tile).to_have_class("tile selected")
    expect(tile.locator("button.check")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(NODES) <= MAX_NODES
