"""Builds the Litestar app over an open `Octopus`."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.config.compression import CompressionConfig
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router

from .. import __version__
from ..application import Octopus
from ..resources import data_path
from . import api_docs, auth, hosts, housekeeping
from .bodies import OctopusRequest
from .problems import EXCEPTION_HANDLERS, openapi_components
from .security_headers import add_security_headers
from . import webroot
from .webroot import AppShell, WebrootFiles

log = logging.getLogger(__name__)
UNCOMPRESSED_PATHS = ["^/api", "^/dav", "^/metrics", "^/s/"]
JSON_BODY_LIMIT = 4 * 1024 * 1024


@get("/api/health", tags=["admin"], opt={"auth": "public"}, summary="Liveness (no auth); admins also see the log position")
async def health(request: Request[Any, Any, Any], state: State) -> dict[str, Any]:
    octopus: Octopus = state.octopus
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    # The log position moves with every change anyone makes: to a stranger, an activity signal.
    signed_in = await auth.signed_in_or_none(request)
    if signed_in is not None and signed_in.user.admin:
        body["log_position"] = octopus.store.head()
    return body


def route_handlers() -> list[Any]:
    """Every API route, gathered from the web modules (one module a concept)."""
    handlers: list[Any] = [health]
    from . import ROUTE_MODULES

    for module in ROUTE_MODULES:
        handlers.extend(module.ROUTES)
    return handlers


def _start_transcoder(app: Litestar) -> None:
    # A no-op unless media.transcode is on (docs/admin.md): playable copies are background work.
    app.state.octopus.transcoder.start()


def _stop_transcoder(app: Litestar) -> None:
    app.state.octopus.transcoder.stop()


def create_app(octopus: Octopus, *, on_startup: list[Any] | None = None, on_shutdown: list[Any] | None = None,
               housekeeping_tasks: bool = True, listen_host: str | None = None) -> Litestar:
    """The ASGI app. The caller owns `octopus` (opened before, closed after).

    Every request passes the Host check (`hosts`: only names that are ours, given the address it
    listens on, `listen_host`, default `server.host`), then every route `auth.require_caller`
    (app-wide guard) and may ask for `caller`/`octopus`; every response gets the security headers.
    With `housekeeping_tasks` the app purges expired trash and stale temp files while it runs.
    """
    policy = hosts.HostPolicy(octopus.config.server.allowed_hosts,
                              octopus.config.server.host if listen_host is None else listen_host)
    startup = [*(housekeeping.ON_STARTUP if housekeeping_tasks else []), _start_transcoder, *(on_startup or [])]
    shutdown = [*(on_shutdown or []), _stop_transcoder, *(housekeeping.ON_SHUTDOWN if housekeeping_tasks else [])]
    app_shell = AppShell(data_path("webroot"))  # sw.js with the shell's version (docs/ui.md)
    static = create_static_files_router(
        path="/", directories=[app_shell.root], html_mode=True, name="webroot", include_in_schema=False,
        file_system=WebrootFiles(),
    )
    return Litestar(
        route_handlers=[*route_handlers(), *webroot.ROUTES, static],
        state=State({"octopus": octopus, "app_shell": app_shell}),
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="Octopus Photos", version=__version__, path="/schema",
                                     render_plugins=api_docs.RENDER_PLUGINS, components=openapi_components()),
        on_startup=startup,
        on_shutdown=shutdown,
        guards=auth.GUARDS,
        dependencies=auth.DEPENDENCIES,
        middleware=[hosts.guard(policy)],
        # The UI's files go gzipped (a phone's first load: ~110 KB instead of ~350 KB). The API is
        # not compressed: originals and thumbnails are compressed already, Range answers must keep
        # their byte offsets, and a weak CPU is better spent elsewhere than on gzipping JSON.
        compression_config=CompressionConfig(backend="gzip", gzip_compress_level=6, minimum_size=1024,
                                             exclude=UNCOMPRESSED_PATHS),
        before_send=[auth.send_request_id, add_security_headers],
        # JSON bodies are small; the upload route lifts this and enforces its own limit (413).
        request_max_body_size=JSON_BODY_LIMIT,
        # `octopus serve` owns logging (logs.py escapes what clients send); Litestar's own setup
        # would replace its handler.
        logging_config=None,
        request_class=OctopusRequest,
        debug=False,
    )


