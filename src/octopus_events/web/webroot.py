"""The browser UI's files, served from `webroot/` by Litestar's static files router, and the
installable app's service worker (`/sw.js`, versioned by the shell's content) and share target."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from pathlib import Path
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.file_system import BaseLocalFileSystem
from litestar.response import Redirect
from litestar.types.file_types import FileInfo


class WebrootFiles(BaseLocalFileSystem):
    """The local file system, where a path no file can have is simply not found.

    A request path may decode to a NUL (`/%00`); the OS refuses such a name with ValueError,
    which Litestar would pass on as a 500.
    """

    async def info(self, path: Any, **kwargs: Any) -> FileInfo:
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)


# -- the installable app's shell (docs/ui.md "Install on a phone") ---------------------------------

# Some systems' mime tables lack the manifest type; Chromium wants it exact to install the app.
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".js")

SERVICE_WORKER = "sw.js"
# What the service worker keeps for offline use: the page, its code, styles, icons and manifest.
# Swagger UI (only the API docs page) stays out: 1.5 MB no phone needs offline. So does Leaflet
# (the Places map, 42 KB gzipped, loaded on its first visit): the map needs the server anyway.
_SHELL_TOP = ("index.html", "app.js", "style.css", "favicon.svg", "manifest.webmanifest")
_SHELL_GLOBS = ("js/**/*.js", "icons/*.png", "vendor/*.js")
_SHELL_SKIP = ("vendor/swagger-ui", "vendor/leaflet")
_VERSION_TOKEN = '"__SHELL_VERSION__"'
_FILES_TOKEN = '["__SHELL_FILES__"]'


def shell_files(root: Path) -> list[str]:
    """The shell's files under `root` as sorted posix paths relative to it."""
    found = {name for name in _SHELL_TOP if (root / name).is_file()}
    for pattern in _SHELL_GLOBS:
        found.update(p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file())
    return sorted(f for f in found if not f.startswith(_SHELL_SKIP))


def shell_version(root: Path, files: list[str]) -> str:
    """A hash of the shell's names and bytes (sw.js included): any change makes a new version,
    so the browser installs a new service worker and the page offers "New version — Reload"."""
    digest = hashlib.sha256()
    for name in [*files, SERVICE_WORKER]:
        data = (root / name).read_bytes()
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()[:16]


class AppShell:
    """Serves sw.js with the shell's version and file list baked in.

    The version is computed at start and again whenever a shell file's size or mtime changes
    (one stat per file per request of sw.js, which browsers fetch on navigation), so an upgrade
    in place is noticed without a restart.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._script = b""
        self.version = ""
        self.refresh()

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for name in [*shell_files(self.root), SERVICE_WORKER]:
            st = (self.root / name).stat()
            out.append((name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def refresh(self) -> None:
        signature = self._stat()
        if signature == self._signature:
            return
        files = [name for name, _, _ in signature[:-1]]
        self.version = shell_version(self.root, files)
        source = (self.root / SERVICE_WORKER).read_text(encoding="utf-8")
        if _VERSION_TOKEN not in source or _FILES_TOKEN not in source:
            raise ValueError(f"{SERVICE_WORKER} lacks {_VERSION_TOKEN} or {_FILES_TOKEN}")
        urls = ["/" + name for name in files]
        self._script = (source.replace(_VERSION_TOKEN, json.dumps(self.version))
                        .replace(_FILES_TOKEN, json.dumps(urls))).encode()
        self._signature = signature

    def script(self) -> bytes:
        self.refresh()
        return self._script


@get("/sw.js", opt={"auth": "public"}, include_in_schema=False)
async def service_worker(state: State) -> Response[bytes]:
    shell: AppShell = state.app_shell
    # no-cache: the browser asks every time (a 200 of a few KB), so an upgrade is seen at once.
    return Response(shell.script(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "ETag": f'"{shell.version}"'})


@post("/share", opt={"auth": "public"}, include_in_schema=False, status_code=303)
async def share_without_worker() -> Redirect:
    """The phone's share sheet posts here. With the service worker installed it never arrives
    (the worker keeps the files and opens the upload queue); without one the files cannot be
    kept, so the page explains that sharing works once the app has been opened."""
    return Redirect("/#/upload?shared=none", status_code=303)


ROUTES = [service_worker, share_without_worker]
