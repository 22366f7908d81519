"""The /dav/ mount: WsgiDAV (dav/) behind a WSGI→ASGI adapter, built on the first request.

Built lazily so a server nobody syncs to never imports WsgiDAV (idle RSS). The Host check and
the security headers wrap it like every route; the app-wide session guard does not apply (DAV
clients authenticate with Basic credentials, which `dav.auth` checks on every request, and send
no cookie, so there is nothing for the CSRF origin check to protect). Bodies stream: a2wsgi's
`wsgi.input` pulls ASGI messages only as WsgiDAV reads its blocks (gathered into blocks of up
to 1 MB on the loop: `_coalescing`), so a large PUT is never held in memory.
"""

from __future__ import annotations

import asyncio
import threading
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
        from ..dav import build_app

        found = _middleware()(build_app(octopus, asyncio.get_running_loop(), MOUNT), workers=DAV_THREADS)
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
    await app(inner, _coalescing(receive), send)


# uvicorn hands over a body in pieces of ~64 KB; each a2wsgi `wsgi.input` read waits for them one
# by one across the thread hop (a loop round trip each). Gathered here, on the loop, into up to
# one WsgiDAV block (dav/__init__.py block_size): a 1.5 MB photo takes 2 hops, not ~25.
_BODY_BLOCK = 1024 * 1024


def _coalescing(receive: Receive) -> Receive:
    async def gathered() -> Any:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return message
        parts = [message.get("body", b"")]
        size = len(parts[0])
        while size < _BODY_BLOCK and message.get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client went away: the body is incomplete anyway
            parts.append(message.get("body", b""))
            size += len(parts[-1])
        return {"type": "http.request", "body": b"".join(parts), "more_body": message.get("more_body", False)}

    return gathered  # type: ignore[return-value]


ROUTES = [dav]


def _middleware() -> Any:
    """a2wsgi's adapter, except that a response message is handed to the loop without waiting
    for it to be queued: a2wsgi waits a loop round trip per message (status, body, end), and
    rclone's MKCOL, PUT and PROPFIND per file made that ~9 thread wake-ups in sequence on a
    busy server. At most `send_queue_size` messages are outstanding, so a large GET still
    streams with back-pressure."""
    from a2wsgi import WSGIMiddleware
    from a2wsgi.wsgi import WSGIResponder

    class Responder(WSGIResponder):
        def __init__(self, app: Any, executor: Any, send_queue_size: int) -> None:
            super().__init__(app, executor, send_queue_size)
            self.send_queue: asyncio.Queue[Any] = asyncio.Queue()  # bounded by `_room` instead
            self._room = threading.Semaphore(send_queue_size)

        def send(self, message: Any) -> None:
            self._room.acquire()
            self.loop.call_soon_threadsafe(self.send_queue.put_nowait, message)

        async def sender(self, send: Send) -> None:
            while True:
                message = await self.send_queue.get()
                if message is None:  # put by a2wsgi itself on the loop, not through send()
                    break
                self._room.release()
                await send(message)

    class Middleware(WSGIMiddleware):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                await Responder(self.app, self.executor, self.send_queue_size)(scope, receive, send)
                return
            await super().__call__(scope, receive, send)

    return Middleware
