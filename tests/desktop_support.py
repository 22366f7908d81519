"""Shared by the desktop browser tests (tests/test_browser_viewer.py, tests/test_browser_defects.py):
one headless Chromium for a module, pages at 1440x900 as in issue 11, each page with its own
console watch, signed in through the API (the cookie lands in the page's context)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from ci_support import require_or_skip
from http_support import PASSWORD, Server, User

try:
    from playwright import sync_api
except ImportError:  # the browser fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

VIEWPORT = {"width": 1440, "height": 900}
TIME_ZONE = "Europe/Madrid"  # not the server's UTC, so a time shown in the wrong zone shows up


@dataclass
class Desk:
    """One signed-in (or not yet signed-in) page."""

    server: Server
    page: Any
    console: ConsoleWatch
    user: User | None = None

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def tile(self, photo_id: str) -> Any:
        return self.page.locator(f"[data-testid=photo-tile][data-photo-id='{photo_id}']")

    def go(self, hash_route: str) -> None:
        self.page.evaluate(f"location.hash = {hash_route!r}")

    def photo(self, photo_id: str) -> dict[str, Any]:
        assert self.user is not None
        with self.user.client() as c:
            r = c.get(f"/api/photos/{photo_id}")
            assert r.status_code == 200, r.text
            return r.json()

    def open_viewer(self, photo_id: str) -> None:
        self.go(f"#/photo/{photo_id}")
        expect(self.tid("viewer")).to_be_visible()
        expect(self.tid("info-panel")).to_contain_text("Taken")

    def errors(self, *allowed: str) -> list[str]:
        return self.console.take(*allowed)


@contextmanager
def chromium() -> Iterator[Any]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def desk(browser: Any, server: Server, user: User | None = None, *, url: str = "/#/timeline") -> Iterator[Desk]:
    """A fresh context (its own cookies and storage) and page at 1440x900, signed in as `user`."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id=TIME_ZONE, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        console = ConsoleWatch()
        console.attach(page)
        if user is not None:
            r = page.request.post(server.url + "/api/auth/login", data={"username": user.name, "password": PASSWORD})
            assert r.ok, r.text()
        page.goto(server.url + url)
        yield Desk(server, page, console, user)
    finally:
        context.close()


def poll(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
