"""Sync routes for mobile clients: the event feed (with long-poll) and the snapshot to start from.

The protocol lives in `sync.py` and docs/sync.md; these handlers only read the query string.
"""

from __future__ import annotations

from litestar import get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromQuery

from .. import sync
from ..application import Octopus
from .auth import Caller

TAGS = ["sync"]
# Personal data, different for every caller and every moment: no cache may keep or share it.
HEADERS = [
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(name="Octopus-Sync-Version", value=str(sync.PROTOCOL_VERSION)),
]


@get("/api/sync/events", opt={"device": True}, tags=TAGS, response_headers=HEADERS,
     summary="The caller's changes after a cursor, in log order; `wait` long-polls up to 60 s")
async def sync_events(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                      cursor: FromQuery[str | None] = None, limit: FromQuery[int | None] = None,
                      wait: FromQuery[float | None] = None) -> sync.SyncPage:
    return await sync.pull(octopus, caller.owner, cursor, limit, wait)


@get("/api/sync/snapshot", opt={"device": True}, tags=TAGS, response_headers=HEADERS,
     summary="The caller's library (library and trash) and albums, and the cursor they are consistent at")
async def sync_snapshot(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> sync.Snapshot:
    return await sync.snapshot(octopus, caller.owner)


ROUTES = [sync_events, sync_snapshot]
