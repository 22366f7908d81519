"""The /dav/ mount: WsgiDAV (dav/) behind a WSGI→ASGI adapter, built on the first request.

Built lazily so a server nobody syncs to never imports WsgiDAV (idle RSS). The Host check and
the security headers wrap it like every route; the app-wide session guard does not apply (DAV
clients authenticate with Basic credentials, which `dav.auth` checks on every request, and send
no cookie, so there is nothing for the CSRF origin check to protect). Bodies stream: a2wsgi's
`wsgi.input` pulls ASGI messages only as WsgiDAV reads its blocks, so a large PUT is never held
in memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import asgi
from litestar.types import Receive, Scope, Send

MOUNT = "/dav"
_APP_KEY = "octopus.dav.app"
# One PUT holds one thread while it streams; a phone backs up a few files at once.
DAV_THREADS = 8


def _adapter(octopus: Any) -> Any:
    found = getattr(octopus, "_dav_asgi", None)
    if found is None:
        from a2wsgi import WSGIMiddleware

        from ..dav import build_app

        found = WSGIMiddleware(build_app(octopus, asyncio.get_running_loop(), MOUNT), workers=DAV_THREADS)
        octopus._dav_asgi = found
    return found


@asgi(MOUNT, is_mount=True, copy_scope=True, opt={"auth": "public"}, include_in_schema=False)
async def dav(scope: Scope, receive: Receive, send: Send) -> None:
    octopus = scope["app"].state.octopus  # type: ignore[index]
    app = _adapter(octopus)
    path = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]  # type: ignore[union-attr]
    from urllib.parse import unquote

    full = unquote(path) if path else MOUNT + scope["path"]
    inner = dict(scope)
    inner["root_path"] = MOUNT
    inner["path"] = full
    await app(inner, receive, send)


ROUTES = [dav]
