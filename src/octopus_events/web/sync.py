"""Sync routes for mobile clients: the event feed (with long-poll) and the snapshot to start from.

The protocol lives in `sync.py` and docs/sync.md; these handlers only read the query string.
"""

from __future__ import annotations

from litestar import MediaType, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery
from litestar.response import Stream

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


@get("/api/sync/snapshot", opt={"device": True}, tags=TAGS, response_headers=HEADERS, media_type=MediaType.JSON,
     responses={200: ResponseSpec(sync.Snapshot, description="Streamed as it is read, consistent at `cursor`")},
     summary="The caller's library (library and trash) and albums, and the cursor they are consistent at")
async def sync_snapshot(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> Stream:
    # Streamed: a 100,000-item library is never built in memory (docs/sync.md).
    return Stream(sync.stream_snapshot(octopus, caller.owner), media_type=MediaType.JSON)


ROUTES = [sync_events, sync_snapshot]
