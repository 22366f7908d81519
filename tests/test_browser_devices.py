"""Settings → Devices in real headless Chromium against a real `octopus serve`: add a device (the
app password is shown once, as text and as a QR code), use it, then revoke it with the confirm."""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from ci_support import require_or_skip
from http_support import Server

try:
    from playwright import sync_api
except ImportError:  # the fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "phoneowner"
PASSWORD = "eight arms, one library"
SIGNED_OUT_PROBE = r"status of 401"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any, ConsoleWatch]]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    server = Server(tmp_path_factory.mktemp("browser-devices") / "data").start()
    try:
        assert server.register(USERNAME, PASSWORD).status_code == 201
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
                context.set_default_timeout(10_000)
                expect.set_options(timeout=10_000)
                p = context.new_page()
                console = ConsoleWatch()
                console.attach(p)
                yield server, p, console
            finally:
                browser.close()
    finally:
        server.stop()


def test_add_device_shows_password_and_qr_then_revoke(page: tuple[Server, Any, ConsoleWatch]) -> None:
    server, p, console = page
    tid = p.get_by_test_id
    p.goto(server.url + "/")
    tid("login-username").fill(USERNAME)
    tid("login-password").fill(PASSWORD)
    tid("login-submit").click()
    tid("nav-settings").click()
    devices = tid("devices")
    # The browser's own session is listed, marked as this browser.
    expect(devices.locator("[data-testid=device-row][data-kind=session]")).to_contain_text("this browser")

    tid("device-name").fill("Pixel 8")
    tid("add-device").click()
    expect(tid("new-device")).to_contain_text("Pixel 8")
    password = tid("device-password").input_value()
    assert password.startswith("oct_") and len(password) == 54
    assert tid("device-url").input_value() == f"{server.url}/dav/"
    assert tid("device-user").input_value() == USERNAME
    qr = tid("device-qr")
    expect(qr).to_be_visible()
    # A real QR: dark modules, and the top-left finder pattern (a dark 7×7 ring) where it belongs.
    dark, finder = qr.evaluate("""c => {
        const g = c.getContext("2d"), d = g.getImageData(0, 0, c.width, c.height).data;
        let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
        const at = (x, y) => g.getImageData(x, y, 1, 1).data[0] < 128;
        return [dark, at(4 * 4 + 1, 4 * 4 + 1) && !at(4 * 5 + 1, 4 * 5 + 1) && at(4 * 6 + 1, 4 * 6 + 1)];
    }""")
    assert dark > 1000 and finder
    assert int(qr.get_attribute("data-modules")) >= 29  # the three lines need a version ≥ 3 code
    row = devices.locator("[data-testid=device-row][data-kind=app_password]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Pixel 8")

    # The password works for the API as its device, and is never listed again.
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {password}"}) as phone:
        assert phone.get("/api/timeline").status_code == 200
    assert password not in p.request.get(server.url + "/api/devices").text()

    tid("device-done").click()
    expect(tid("device-password")).to_have_count(0)
    row.get_by_test_id("device-revoke").click()
    tid("confirm-ok").click()
    expect(row).to_have_count(0)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {password}"}) as phone:
        assert phone.get("/api/timeline").status_code == 401
    assert console.take(SIGNED_OUT_PROBE) == []
