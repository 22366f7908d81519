"""Builds the Litestar app over an open `Octopus`."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router

from .. import __version__
from ..application import Octopus
from ..resources import data_path
from . import auth, housekeeping
from .problems import EXCEPTION_HANDLERS

log = logging.getLogger(__name__)
JSON_BODY_LIMIT = 4 * 1024 * 1024


@get("/api/health", tags=["admin"], opt={"auth": "public"}, summary="Liveness and log position (no auth)")
async def health(state: State) -> dict[str, Any]:
    octopus: Octopus = state.octopus
    return {"status": "ok", "version": __version__, "log_position": octopus.store.head()}


def route_handlers() -> list[Any]:
    """Every API route, gathered from the web modules (one module a concept)."""
    handlers: list[Any] = [health]
    from . import ROUTE_MODULES

    for module in ROUTE_MODULES:
        handlers.extend(module.ROUTES)
    return handlers


def create_app(octopus: Octopus, *, on_startup: list[Any] | None = None, on_shutdown: list[Any] | None = None,
               housekeeping_tasks: bool = True) -> Litestar:
    """The ASGI app. The caller owns `octopus` (opened before, closed after).

    Every route passes `auth.require_caller` (app-wide guard) and may ask for `caller`/`octopus`;
    with `housekeeping_tasks` the app purges expired trash and stale temp files while it runs.
    """
    startup = [*(housekeeping.ON_STARTUP if housekeeping_tasks else []), *(on_startup or [])]
    shutdown = [*(on_shutdown or []), *(housekeeping.ON_SHUTDOWN if housekeeping_tasks else [])]
    static = create_static_files_router(
        path="/", directories=[data_path("webroot")], html_mode=True, name="webroot", include_in_schema=False
    )
    return Litestar(
        route_handlers=[*route_handlers(), static],
        state=State({"octopus": octopus}),
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="Octopus Photos", version=__version__, path="/schema"),
        on_startup=startup,
        on_shutdown=shutdown,
        guards=auth.GUARDS,
        dependencies=auth.DEPENDENCIES,
        before_send=[auth.send_request_id],
        # JSON bodies are small; the upload route lifts this and enforces its own limit (413).
        request_max_body_size=JSON_BODY_LIMIT,
        debug=False,
    )


