"""The browser's offline mirror at 10,000 items (issue 10 targets), real Chromium (phone
emulation) against a real `octopus serve` whose library is seeded through the event store:

    uv run python tests/benchmarks/bench_mirror.py [ITEMS]

(a) initial sync: page load to a full mirror (target < 10 s); (b) mirror bytes per item as
stored JSON (target <= 2 KB, thumbnails aside); (c) first screen with the server unreachable:
reload offline until the first tile shows (target < 1 s; the service worker serves the shell).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000


def main() -> None:
    from browser_support import CHROMIUM_ARGS, chromium_path
    from http_support import PASSWORD, Server
    from playwright.sync_api import sync_playwright
    from test_browser_offline import MIRROR_STATE, poll

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        server = Server(data).start()
        try:
            server.seed_library("bench", N, batch=5000)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                          is_mobile=True, has_touch=True)
                page = ctx.new_page()
                assert page.request.post(server.url + "/api/auth/login", data={"username": "bench", "password": PASSWORD}).ok
                started = time.perf_counter()
                page.goto(server.url + "/#/timeline")
                state = poll(lambda: page.evaluate(MIRROR_STATE), "the first sync", 120)
                sync = time.perf_counter() - started
                assert state["n"] == N, state
                per = state["bytes"] / N
                page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
                ctx.set_offline(True)
                started = time.perf_counter()
                page.reload()
                page.get_by_test_id("photo-tile").first.wait_for(timeout=30_000)
                first = time.perf_counter() - started
                browser.close()
        finally:
            server.stop()
    rows = [("initial sync (page load to full mirror)", f"{sync:.2f} s", "< 10 s", sync < 10),
            ("mirror per item (stored JSON)", f"{per:.0f} B", "<= 2048 B", per <= 2048),
            ("first screen offline (reload to first tile)", f"{first:.2f} s", "< 1 s", first < 1)]
    print(f"\noffline mirror, {N:,} items, Chromium 390x844 over loopback")
    for name, ours, target, ok in rows:
        print(f"{name:<46}{ours:>10}  target {target:<10}{'ok' if ok else 'MISS'}")
    print(f"navigator.storage usage: {state['usage'] / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
