"""The installable app's server side: the shell version that names the service worker's cache,
/sw.js with it baked in (no-cache, JavaScript), the manifest and its icons, and POST /share when
no service worker caught it. The browser side is tests/test_browser_pwa.py."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

from PIL import Image

from http_support import Server
from octopus_events.resources import data_path
from octopus_events.web.webroot import AppShell, shell_files, shell_version

WEBROOT = data_path("webroot")


def _copy_webroot(tmp_path: Path) -> Path:
    root = tmp_path / "webroot"
    shutil.copytree(WEBROOT, root)
    return root


def test_shell_lists_the_app_and_leaves_out_the_api_docs_bundle() -> None:
    files = shell_files(WEBROOT)
    for name in ("index.html", "app.js", "style.css", "manifest.webmanifest", "js/pwa.js", "js/upload.js",
                 "icons/icon-192.png", "icons/apple-touch-icon.png", "vendor/tus-js-client-4.3.1.min.js"):
        assert name in files, name
    assert not [f for f in files if "swagger" in f]
    assert "sw.js" not in files  # the worker is not its own cache entry; its bytes are in the version


def test_any_changed_shell_file_changes_the_version(tmp_path: Path) -> None:
    root = _copy_webroot(tmp_path)
    files = shell_files(root)
    first = shell_version(root, files)
    assert first == shell_version(root, files)  # deterministic
    seen = {first}
    for name in ("style.css", "js/upload.js", "icons/icon-192.png", "sw.js"):
        with open(root / name, "ab") as fh:
            fh.write(b"\n")
        version = shell_version(root, files)
        assert version not in seen, name
        seen.add(version)
    (root / "js" / "new-module.js").write_text("export const x = 1;\n")
    assert shell_version(root, shell_files(root)) not in seen  # a new file too


def test_app_shell_bakes_version_and_files_into_the_worker_and_notices_edits(tmp_path: Path) -> None:
    root = _copy_webroot(tmp_path)
    shell = AppShell(root)
    script = shell.script().decode()
    assert f'const VERSION = "{shell.version}";' in script
    assert "__SHELL_VERSION__" not in script and "__SHELL_FILES__" not in script
    listed = json.loads(script.split("const SHELL_FILES = ", 1)[1].split(";\n", 1)[0])
    assert listed == ["/" + f for f in shell_files(root)]
    before = shell.version
    style = root / "style.css"
    style.write_text(style.read_text() + "\n/* upgraded */\n")
    os.utime(style, ns=(style.stat().st_atime_ns, style.stat().st_mtime_ns + 1_000_000_000))
    assert shell.script() != script.encode() and shell.version != before  # no restart needed


def test_sw_manifest_icons_and_share_over_http(server: Server) -> None:
    with server.client() as c:
        sw = c.get("/sw.js")
        assert sw.status_code == 200
        assert sw.headers["content-type"].startswith("text/javascript")
        assert sw.headers["cache-control"] == "no-cache"
        assert "__SHELL_VERSION__" not in sw.text
        assert "service-worker-allowed" not in sw.headers  # served at the root: scope "/" needs none

        manifest = c.get("/manifest.webmanifest")
        assert manifest.status_code == 200
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        body = manifest.json()
        assert (body["name"], body["short_name"], body["display"]) == ("Octopus Photos", "Octopus", "standalone")
        assert (body["start_url"], body["scope"], body["id"]) == ("/", "/", "/")
        assert body["share_target"]["action"] == "/share" and body["share_target"]["method"] == "POST"
        purposes = set()
        for entry in body["icons"]:
            png = c.get(entry["src"])
            assert png.status_code == 200 and png.headers["content-type"] == "image/png", entry
            size = Image.open(io.BytesIO(png.content)).size
            assert f"{size[0]}x{size[1]}" == entry["sizes"], entry
            purposes.add((entry["sizes"], entry["purpose"]))
        assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")} <= purposes
        apple = Image.open(io.BytesIO(c.get("/icons/apple-touch-icon.png").content))
        assert apple.size == (180, 180) and apple.mode == "RGB"  # opaque: iOS paints transparency black

        page = c.get("/").text
        assert '<link rel="manifest" href="/manifest.webmanifest">' in page
        assert 'name="apple-mobile-web-app-capable"' in page

        # No worker caught the share (first visit): a redirect to a page that explains, not an error.
        shared = c.post("/share", files={"file": ("a.jpg", b"\xff\xd8 not kept", "image/jpeg")},
                        headers={"Origin": server.url})
        assert shared.status_code == 303
        assert shared.headers["location"] == "/#/upload?shared=none"
        # A foreign page may not drive it either (the app-wide origin check).
        foreign = c.post("/share", files={"file": ("a.jpg", b"x", "image/jpeg")},
                         headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403 and foreign.headers["content-type"].startswith("application/problem+json")


def test_make_icons_script_reproduces_the_committed_icons(tmp_path: Path) -> None:
    """scripts/make_icons.py regenerates what is committed (so the PNGs follow favicon.svg)."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_icons.py"
    spec = importlib.util.spec_from_file_location("make_icons", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = Image.open(WEBROOT / "icons" / "icon-192.png")
    fresh = module.icon(192, content=0.92, background=None)
    assert fresh.size == committed.size
    assert fresh.convert("RGBA").tobytes() == committed.convert("RGBA").tobytes()




def test_shell_code_compressed_size_is_within_the_first_load_budget() -> None:
    """Issue 10: app shell first load ≤ 200 KB compressed. Measured on the HTML, CSS and JS the
    worker precaches (a superset of what the first page load fetches), gzip level 6; icons are
    already-compressed PNGs and are printed apart."""
    import gzip

    code = icons = raw = 0
    for name in shell_files(WEBROOT):
        data = (WEBROOT / name).read_bytes()
        if name.endswith(".png"):
            icons += len(data)
        else:
            raw += len(data)
            code += len(gzip.compress(data, 6))
    print(f"\napp shell code: {raw / 1024:.0f} KB raw, {code / 1024:.0f} KB gzip (budget 200 KB, ratio "
          f"{code / (200 * 1024):.2f}); icons {icons / 1024:.0f} KB")
    assert code <= 200 * 1024
