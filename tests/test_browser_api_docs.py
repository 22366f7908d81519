"""The API docs at /schema in real headless Chromium, as on an offline home network: every request
that would leave 127.0.0.1 is recorded and refused, and the page must still render Swagger UI,
run a request against the API, and break no rule of its Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

from ci_support import require_or_skip
from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from http_support import Server

try:
    from playwright import sync_api
except ImportError:  # the docs fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any, ConsoleWatch, list[str]]]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    server = Server(tmp_path_factory.mktemp("docs") / "data").start()
    outside: list[str] = []

    def local_only(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                context.route("**/*", local_only)
                page = context.new_page()
                console = ConsoleWatch()
                console.attach(page)
                yield server, page, console, outside
            finally:
                browser.close()
    finally:
        server.stop()


def test_the_api_docs_render_offline_under_the_strict_csp(docs: tuple[Server, Any, ConsoleWatch, list[str]]) -> None:
    server, page, console, outside = docs
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(server.url + "/schema")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Octopus Photos")
    health = page.locator("#operations-admin-ApiHealthHealth")
    expect(health).to_be_visible()
    assert page.locator(".opblock").count() > 20  # the whole API is listed, not an empty shell

    # Swagger UI's own request to our API works under connect-src 'self'.
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    live = health.locator(".live-responses-table tr.response")
    expect(live.locator(".response-col_status")).to_have_text("200")
    expect(live.locator(".response-col_description")).to_contain_text('"status": "ok"')

    assert outside == [], outside
    assert any(urlsplit(u).path.startswith("/vendor/swagger-ui-bundle-") for u in requested), requested
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in requested if urlsplit(u).scheme in ("http", "https"))
    assert console.take() == []
