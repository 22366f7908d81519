"""The Places map in real Chromium (issue 11, item 6): clusters with counts at two zoom levels that
add up, a click that zooms in and lists the cluster's photos, the viewer's place line linking to
the map. Only loopback is reachable: OpenStreetMap's tiles are refused, so the map must keep
working over its plain background, and the only console errors allowed are those refused tiles.
With the browser offline no tile is even asked for and there is no console error at all."""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from ci_support import require_or_skip
from http_support import PASSWORD, Server
from test_places import AT_SEA, BUENOS_AIRES, MADRID, gps_jpeg

try:
    from playwright import sync_api
except ImportError:  # the fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

TILE_ERRORS = r"ERR_FAILED @ https://tile\.openstreetmap\.org/"
COUNTS = "() => [...document.querySelectorAll('[data-testid=place-cluster]')].map((e) => Number(e.dataset.count)).sort((a, b) => a - b)"
OFFLINE = "Object.defineProperty(Navigator.prototype, 'onLine', { get: () => false, configurable: true });"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    server = Server(tmp_path_factory.mktemp("places") / "data").start()
    try:
        user = server.new_user("mapper")
        ids: dict[str, list[str]] = {"madrid": [], "ba": []}
        for i, (lat, lon) in enumerate(MADRID):
            ids["madrid"].append(user.upload(gps_jpeg(lat, lon, 700 + i, taken=f"2021:05:0{i + 1} 10:00:00"), f"madrid{i}.jpg").json()["id"])
        for i, (lat, lon) in enumerate(BUENOS_AIRES):
            ids["ba"].append(user.upload(gps_jpeg(lat, lon, 710 + i), f"ba{i}.jpg").json()["id"])
        assert user.upload(gps_jpeg(*AT_SEA, 720), "sea.jpg").status_code == 201
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            yield {"server": server, "browser": browser, "ids": ids}
            browser.close()
    finally:
        server.stop()


def open_page(env: dict[str, Any], *, offline: bool = False) -> tuple[Any, Any, ConsoleWatch, list[str]]:
    context = env["browser"].new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    asked: list[str] = []

    def refuse(route: Any) -> None:  # nothing but this machine: the tiles are refused
        asked.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), refuse)
    if offline:
        context.add_init_script(script=OFFLINE)
    page = context.new_page()
    console = ConsoleWatch()
    console.attach(page)
    server = env["server"]
    assert page.request.post(server.url + "/api/auth/login", data={"username": "mapper", "password": PASSWORD}).ok
    return context, page, console, asked


def wait_total(page: Any, total: int) -> None:
    page.wait_for_function("(n) => document.querySelector('[data-testid=places]')?.dataset.total === String(n)"
                           " && document.querySelectorAll('[data-testid=place-cluster]').length > 0", arg=total)


def test_clusters_at_two_zoom_levels_and_a_click_that_zooms_in(env: dict[str, Any]) -> None:
    context, page, console, asked = open_page(env)
    server = env["server"]
    page.goto(server.url + "/#/places")
    expect(page.get_by_test_id("places")).to_have_attribute("data-ready", "true")
    # The whole world: Madrid's three in one marker, Buenos Aires' two, the one at sea.
    wait_total(page, 6)
    assert page.evaluate(COUNTS) == [1, 2, 3]
    madrid = page.locator("[data-testid=place-cluster][data-count='3']")
    expect(madrid).to_have_text("3")
    # The tiles were asked for (the browser is online) and refused: the map dropped its
    # background and says so, and still shows every cluster.
    page.wait_for_function("() => document.querySelector('[data-testid=places-map]').classList.contains('plain')")
    assert any("tile.openstreetmap.org" in u for u in asked)
    expect(page.get_by_test_id("places-status")).not_to_be_empty()
    # A click zooms in on the cluster's cell and lists its photos, newest first.
    zoom_before = int(page.get_by_test_id("places").get_attribute("data-zoom"))
    madrid.click()
    page.wait_for_function("(z) => Number(document.querySelector('[data-testid=places]').dataset.zoom) > z", arg=zoom_before)
    expect(page.get_by_test_id("place-item")).to_have_count(3)
    listed = page.get_by_test_id("place-item").evaluate_all("(els) => els.map((e) => e.dataset.id)")
    assert listed == list(reversed(env["ids"]["madrid"]))
    wait_total(page, 3)
    # Close in on Madrid (zoom 12): three markers of one, adding up to the one marker of three.
    page.goto(server.url + "/#/places?lat=40.42&lon=-3.685&z=12")
    page.reload()
    expect(page.get_by_test_id("places")).to_have_attribute("data-zoom", "12")
    wait_total(page, 3)
    assert page.evaluate(COUNTS) == [1, 1, 1]
    # A listed photo opens in the viewer, whose place line names it and links back to the map.
    page.get_by_test_id("place-cluster").first.click()
    page.get_by_test_id("place-item").first.click()
    link = page.get_by_test_id("place-link")
    expect(link).to_have_text("Madrid, Spain")
    # The viewer covers the map: Leaflet's controls and markers (z-index up to 1000) stay under it.
    on_top = page.evaluate("""() => { const r = document.querySelector('.leaflet-control-zoom').getBoundingClientRect();
      return !!document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2).closest('.leaflet-container'); }""")
    assert on_top is False
    assert link.get_attribute("href").startswith("#/places?lat=40.")
    errors = console.take(TILE_ERRORS)
    assert errors == [], errors
    context.close()


def test_offline_the_map_shows_clusters_over_a_plain_background(env: dict[str, Any]) -> None:
    context, page, console, asked = open_page(env, offline=True)
    page.goto(env["server"].url + "/#/places")
    wait_total(page, 6)
    assert page.evaluate(COUNTS) == [1, 2, 3]
    expect(page.get_by_test_id("places-map")).to_have_class(re.compile(r"\bplain\b"))
    expect(page.get_by_test_id("places-status")).to_have_text(re.compile("Offline"))
    assert page.locator(".leaflet-tile").count() == 0
    assert not any("tile.openstreetmap.org" in u for u in asked)
    errors = console.take()
    assert errors == [], errors
    context.close()
