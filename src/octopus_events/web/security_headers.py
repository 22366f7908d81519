"""Headers every response carries, so a browser treats our pages and files as ours alone.

- The Content-Security-Policy runs only script files served from here: no inline script, no
  eval, no other site's script, so an injected string cannot become code. Images may also be
  `blob:` (vault photos are decrypted into object URLs) and `data:` (the API docs' icons); video
  and audio may be `blob:` too (a vaulted video is decrypted into an object URL to play).
- The app shell's page (`/`, `/index.html`) alone may also show images from OpenStreetMap's
  tile server: the Places map's background (docs/ui.md "Places"). Only images, only that host,
  only on the page that has a map; every other response keeps the strict policy.
- `frame-ancestors 'none'` and `X-Frame-Options: DENY` (for older browsers): no other site can
  frame the UI and trick a click on "Delete forever".
- `nosniff`: a file is what its Content-Type says, never script or HTML guessed from its bytes.
- `Referrer-Policy: same-origin`: our URLs (photo ids, share links) are not sent to other sites.

A route that sets one of these itself keeps its own value.
"""

from __future__ import annotations

from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])

MAP_TILES = "https://tile.openstreetmap.org"
APP_SHELL_PATHS = frozenset({"/", "/index.html"})
APP_SHELL_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self' blob: data:", f"img-src 'self' blob: data: {MAP_TILES}")
assert APP_SHELL_POLICY != CONTENT_SECURITY_POLICY

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
_APP_SHELL_HEADERS = ((b"content-security-policy", APP_SHELL_POLICY.encode()), *HEADERS[1:])
_NAMES = frozenset(name for name, _ in HEADERS)


async def add_security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: every HTTP response, errors and static files included."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers if name.lower() in _NAMES} if headers else ()
        wanted = _APP_SHELL_HEADERS if scope.get("path") in APP_SHELL_PATHS else HEADERS
        headers.extend(h for h in wanted if h[0] not in present)
        message["headers"] = headers  # type: ignore[typeddict-unknown-key]
