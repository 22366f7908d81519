"""Who is calling: the session guard every route passes, the request id, and the session cookie.

One guard runs for every route handler of the app (installed in `create_app`), so a new route
cannot forget it. What a route needs is read from its `opt["auth"]`:

- ``"public"``: anyone (health, register, login, the UI's static files, the OpenAPI schema);
- ``"session"``: a signed-in user (the default for anything under /api and every write);
- ``"admin"``: a signed-in admin;
- ``"admin_or_loopback"``: an admin, or any client on this machine (Prometheus scrapes /metrics).

A device's app password (`Authorization: Bearer oct_…`, or Basic with the username and the app
password) signs in as its user but acts only as that device: it reaches a route only when the
route declares `opt={"device": True}` (upload, reading the library, trash and restore), so a new
route is closed to devices until it says otherwise. Anything else, and any request carrying an
`X-Vault-Token`, is 403 for a device.

A session comes from `Authorization: Bearer <token>` (clients) or the `octopus_session` cookie
(the browser). A cookie is sent by the browser whatever page caused the request, so a write
authenticated by the cookie must also prove it came from our own pages: its `Origin` (or,
failing that, `Referer`) must be this server's origin or one of `server.trusted_origins`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Message, Scope

from ..accounts import SignedIn, User
from ..application import Octopus
from ..devices import looks_like_app_password
from ..errors import Forbidden, Unauthorized
from ..eventstore import Meta
from . import hosts

COOKIE = "octopus_session"
# A device token (signin_limits): the browser keeps it in this cookie, API clients send it in the
# header. Not a credential, so it outlives sign-out; only the sign-in routes ever see the cookie.
DEVICE_COOKIE = "octopus_device"
DEVICE_HEADER = "octopus-device-token"
DEVICE_COOKIE_PATH = "/api/auth"
DEVICE_MAX_AGE = 400 * 86_400  # the longest lifetime browsers grant a cookie
REQUEST_ID_HEADER = "x-request-id"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC, SESSION, ADMIN, ADMIN_OR_LOOPBACK = "public", "session", "admin", "admin_or_loopback"
LEVELS = frozenset({PUBLIC, SESSION, ADMIN, ADMIN_OR_LOOPBACK})
DEVICE = "device"  # opt key: True when an app password may use the route
APP_PASSWORD = "app_password"
_FLUSHES: set[Any] = set()  # running activity flushes (a reference, so they are not collected)

_SCOPE_CALLER = "octopus.caller"
_SCOPE_REQUEST_ID = "octopus.request_id"
# A client's own id is only echoed when it cannot smuggle anything into logs or headers.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


class Caller(msgspec.Struct, frozen=True):
    """The signed-in user behind a request, and how they proved it."""

    signed_in: SignedIn
    via: str  # "bearer" | "cookie" | "app_password"
    request_id: str
    device_id: str | None = None  # set when an app password signed in: the request acts as it

    @property
    def user(self) -> User:
        return self.signed_in.user

    @property
    def owner(self) -> str:
        return self.signed_in.user.id

    def meta(self) -> Meta:
        """The metadata every command of this request carries."""
        return Meta(actor=self.owner, owner=self.owner, correlation_id=self.request_id)


# -- request id ----------------------------------------------------------------------------------


def request_id(scope: Scope) -> str:
    """This request's id: the client's `X-Request-Id` when sane, else a fresh one (made once)."""
    found = scope.get(_SCOPE_REQUEST_ID)  # type: ignore[misc]
    if found is None:
        found = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SANE_REQUEST_ID.match(candidate):
                    found = candidate
                break
        found = found or secrets.token_hex(8)
        scope[_SCOPE_REQUEST_ID] = found  # type: ignore[literal-required]
    return found


async def send_request_id(message: Message, scope: Scope) -> None:
    """`before_send` hook: every HTTP response, errors and static files included, names its id."""
    if message["type"] == "http.response.start" and scope["type"] == "http":
        headers = list(message.get("headers", ()))
        headers.append((REQUEST_ID_HEADER.encode(), request_id(scope).encode()))
        message["headers"] = headers  # type: ignore[typeddict-unknown-key]


def meta_for(request: Request[Any, Any, Any], caller: Caller | None = None) -> Meta:
    """Command metadata for a request, signed in or not (registration, login)."""
    if caller is not None:
        return caller.meta()
    return Meta(correlation_id=request_id(request.scope))


# -- the guard -----------------------------------------------------------------------------------


def level_of(handler: BaseRouteHandler, path: str, method: str) -> str:
    """What a route requires. Explicit `opt["auth"]` wins; otherwise every write and everything
    under /api or /metrics needs a session, and the rest (UI files, schema) is public."""
    level = handler.opt.get("auth")
    if level is not None:
        if level not in LEVELS:
            raise ValueError(f"route {path}: unknown auth level {level!r}")
        return str(level)
    if method in WRITE_METHODS or path.startswith(("/api/", "/metrics")) or path in ("/api", "/metrics"):
        return SESSION
    return PUBLIC


def _credentials(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str, str | None] | None:
    """(token, how it came, the Basic username if any)."""
    header = connection.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "basic" and token:
            # Basic is for app passwords only (WebDAV clients and simple scripts): the account
            # password never travels on every request.
            try:
                username, _, secret = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise Unauthorized("malformed Basic credentials") from None
            if not looks_like_app_password(secret):
                raise Unauthorized("Basic authentication takes an app password (Settings → Devices)")
            return secret, APP_PASSWORD, username
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return token, APP_PASSWORD if looks_like_app_password(token) else "bearer", None
    cookie = connection.cookies.get(COOKIE)
    if cookie:
        return cookie, "cookie", None
    return None


def _normal_origin(value: str) -> str | None:
    """scheme://host[:port], lower-cased, without the scheme's default port; None if not a URL."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def own_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    host = connection.headers.get("host")
    if not host:
        return None
    return _normal_origin(f"{connection.scope.get('scheme', 'http')}://{host}")


def check_origin(connection: ASGIConnection[Any, Any, Any, Any], octopus: Octopus, *, required: bool) -> None:
    """403 unless the request's Origin (or Referer) is ours or trusted; with `required`, a
    request that names neither is refused too (a cookie-authenticated write must name it)."""
    raw = connection.headers.get("origin")
    if raw is None:
        referer = connection.headers.get("referer")
        raw = referer if referer else None
    if raw is None:
        if required:
            raise Forbidden("a browser write must come from this site (no Origin or Referer header)")
        return
    origin = _normal_origin(raw)
    allowed = {own_origin(connection)} | {_normal_origin(o) for o in octopus.config.server.trusted_origins}
    allowed.discard(None)
    if origin is None or origin not in allowed:
        raise Forbidden(f"requests from {raw[:100]!r} are not allowed to change anything here")


def is_loopback(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """A client on this machine that also addressed it as this machine: a reverse proxy or a
    rebound page reaches us from 127.0.0.1 too, but with another name in its Host."""
    if not hosts.names_loopback(connection.scope):
        return False
    client = connection.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False


async def require_caller(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app-wide guard: resolve the caller and enforce the route's auth level."""
    octopus: Octopus = connection.app.state.octopus
    method = connection.scope.get("method", "GET")
    path = connection.scope["path"]
    level = level_of(handler, path, method)
    write = method in WRITE_METHODS
    if write:
        # A foreign page must never drive a write, even an anonymous one such as login.
        check_origin(connection, octopus, required=False)
    if level == PUBLIC:
        return
    if level == ADMIN_OR_LOOPBACK and is_loopback(connection):
        return
    found = _credentials(connection)
    if found is None:
        raise Unauthorized("sign in first")
    token, via, username = found
    devices = octopus.devices
    if via == APP_PASSWORD:
        client = connection.client.host if connection.client else None
        if username is None:
            device = await octopus.read(devices.authenticate, token, client)
        else:
            device = await octopus.read(devices.authenticate_basic, username, token, client)
        if device is None:
            raise Unauthorized("this app password is wrong or has been revoked")
        if not handler.opt.get(DEVICE):
            raise Forbidden("an app password may only upload, read the library and trash; sign in for this",
                            code="app_password_scope")
        if connection.headers.get("x-vault-token"):
            raise Forbidden("an app password cannot open the vault")
        signed_in = SignedIn(device.user, f"device:{device.device_id}")
        caller = Caller(signed_in, via, request_id(connection.scope), device.device_id)
    else:
        signed_in = await octopus.read(octopus.accounts.authenticate, token)
        if via == "cookie" and write:
            check_origin(connection, octopus, required=True)
        devices.session_seen(signed_in.token_digest)
        caller = Caller(signed_in, via, request_id(connection.scope))
    if level in (ADMIN, ADMIN_OR_LOOPBACK) and not signed_in.user.admin:
        raise Forbidden("only an admin may do this", code="admin_only")
    if devices.flush_due():
        # Activity reaches the keystore at most once a minute, off this request's path.
        task = asyncio.get_running_loop().create_task(devices.flush_async())
        _FLUSHES.add(task)
        task.add_done_callback(_FLUSHES.discard)
    connection.scope[_SCOPE_CALLER] = caller  # type: ignore[literal-required]


async def signed_in_or_none(connection: ASGIConnection[Any, Any, Any, Any]) -> SignedIn | None:
    """The valid session a request carries, if any: for public routes that show admins more."""
    octopus: Octopus = connection.app.state.octopus
    try:
        found = _credentials(connection)
        return None if found is None else await octopus.read(octopus.accounts.authenticate, found[0])
    except Unauthorized:
        return None


def current_caller(request: Request[Any, Any, Any]) -> Caller:
    """Dependency `caller`: the user the guard resolved for this request."""
    caller = request.scope.get(_SCOPE_CALLER)  # type: ignore[misc]
    if caller is None:
        # Only a public route can get here without a session; asking for the caller there is a bug
        # in the route's declaration, and refusing is the safe answer.
        raise Unauthorized("sign in first")
    return caller  # type: ignore[no-any-return]


def current_octopus(request: Request[Any, Any, Any]) -> Octopus:
    """Dependency `octopus`: the running library."""
    return request.app.state.octopus  # type: ignore[no-any-return]


GUARDS = [require_caller]
DEPENDENCIES = {
    "caller": Provide(current_caller, sync_to_thread=False),
    "octopus": Provide(current_octopus, sync_to_thread=False),
}

# -- the session cookie --------------------------------------------------------------------------


def session_cookie(request: Request[Any, Any, Any], token: str, max_age: int) -> Cookie:
    """The browser's copy of a session: script cannot read it, other sites cannot send it."""
    return Cookie(
        key=COOKIE, value=token, max_age=max_age, path="/", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )


def device_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    """The browser's device token: unreadable by script, sent only to the sign-in routes."""
    return Cookie(
        key=DEVICE_COOKIE, value=token, max_age=DEVICE_MAX_AGE, path=DEVICE_COOKIE_PATH, httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )


def device_token_of(request: Request[Any, Any, Any]) -> str | None:
    """The device token a sign-in attempt carries: the header (API clients), else the cookie."""
    return request.headers.get(DEVICE_HEADER) or request.cookies.get(DEVICE_COOKIE) or None


def clear_session_cookie(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    response.delete_cookie(COOKIE, path="/")
    return response
