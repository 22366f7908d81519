"""Shared by the browser tests: Debian's Chromium driven by Playwright, a console watcher that
turns JavaScript errors into test failures, and real JPEGs (EXIF dates, orientation) made by Pillow."""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

# Flags for a headless Chromium in a container: no sandbox (we run as root in CI), no GPU, and
# nothing that phones home or updates itself while a test runs.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def chromium_path() -> str | None:
    """The system Chromium (.ci/run installs Debian's); Playwright's own browser download is not used."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


# Runs in every page before its own scripts: each Content-Security-Policy violation (an inline
# style or script, eval, a file from another host) becomes a console error, so it fails the test
# like any other error instead of silently breaking a feature in the field.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.effectiveDirective} refused ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}:${e.columnNumber} (${e.sample || "no sample"})`);
}, true);
"""


@dataclass
class ConsoleWatch:
    """Collects uncaught page errors, console errors and CSP violations. A 401 before sign-in is
    how the UI learns it is signed out, so those are expected and filtered by the caller."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.add_init_script(script=REPORT_CSP_VIOLATIONS)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"console: {msg.text} @ {msg.location.get('url', '')}"))

    def take(self, *allowed: str) -> list[str]:
        """Errors since the last call, minus those matching any `allowed` regex."""
        found, self.errors = self.errors, []
        return [e for e in found if not any(re.search(a, e) for a in allowed)]


def jpeg(colour: tuple[int, int, int], *, pattern: str = "across", taken: str | None = None,
         orientation: int | None = None, size: tuple[int, int] = (640, 480), quality: int = 85) -> bytes:
    """A JPEG in `colour` shaded by `pattern` ("across", "down" or "checks", so no two share a
    perceptual hash), with a dark marker block in its top-left corner (so orientation is visible
    in a screenshot). `taken` is the EXIF DateTimeOriginal "YYYY:MM:DD HH:MM:SS"."""
    w, h = size
    shade = {
        "across": lambda x, y: x * 120 // w,
        "down": lambda x, y: y * 120 // h,
        "checks": lambda x, y: 120 * ((x * 4 // w + y * 4 // h) % 2),
    }[pattern]
    img = Image.new("RGB", size)
    img.putdata([tuple(max(0, c - shade(x, y)) for c in colour) for y in range(h) for x in range(w)])
    img.paste((20, 20, 20), (0, 0, w // 4, h // 4))
    exif = Image.Exif()
    exif[0x010F] = "Octopus"
    exif[0x0110] = "Test Camera"
    if orientation:
        exif[0x0112] = orientation
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


def write_photos(folder: Path) -> dict[str, Path]:
    """Three photos on two days: two landscape ones in May 2023 and one from Christmas 2022 stored
    landscape with orientation 6, so it must be shown portrait. Besides them, `green-copy.jpg`: the
    green photo saved again at a lower quality, different bytes but a near-identical picture."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = {
        "red.jpg": jpeg((220, 40, 40), pattern="across", taken="2023:05:10 09:15:00"),
        "green.jpg": jpeg((40, 200, 60), pattern="down", taken="2023:05:10 17:45:00"),
        "blue-rotated.jpg": jpeg((40, 80, 220), pattern="checks", taken="2022:12:24 12:00:00", orientation=6),
        "green-copy.jpg": jpeg((40, 200, 60), pattern="down", taken="2023:05:10 17:45:00", quality=60),
    }
    paths = {}
    for name, data in specs.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths
