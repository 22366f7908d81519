"""Routes for many photos at once and for the Archive: the bulk command, archive / unarchive of
one photo, the Archive listing, and ZIP downloads (prepare, then the link the browser follows).

None of them is open to app passwords (devices): they are the web UI's selection bar."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import anyio
import msgspec
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from ..application import Octopus
from ..bulk import BulkAction, BulkResult
from ..downloads import Prepared
from ..readmodels import library as lib
from ..readmodels.library import PhotoPage, PhotoView
from ..zipstream import ZipPlan
from .auth import Caller

TAGS = ["photos"]


class DownloadBody(msgspec.Struct):
    photo_ids: list[str]


class DownloadLink(msgspec.Struct, kw_only=True):
    url: str  # follow it (GET) within `expires_in` seconds; only the same user may
    count: int
    bytes: int
    expires_in: int


@post("/api/photos/bulk", tags=TAGS, status_code=200,
      summary="One action on up to 1,000 photos, all or nothing: favourite, unfavourite, add_tags, remove_tags, "
              "set_date, shift_date, archive, unarchive, trash, restore")
async def bulk(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
               data: JSONBody[BulkAction]) -> BulkResult:
    result: BulkResult = await octopus.photos.bulk(caller.owner, data, caller.meta())
    return result


@post("/api/photos/{photo_id:str}/archive", tags=TAGS, status_code=200,
      summary="Archive: off the timeline, its months and memories; still in albums, search, tags, favourites")
async def archive(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                  photo_id: FromPath[str]) -> PhotoView:
    return await octopus.photos.archive(caller.owner, photo_id, True, caller.meta())


@post("/api/photos/{photo_id:str}/unarchive", tags=TAGS, status_code=200, summary="Back on the timeline")
async def unarchive(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                    photo_id: FromPath[str]) -> PhotoView:
    return await octopus.photos.archive(caller.owner, photo_id, False, caller.meta())


@get("/api/archive", tags=["library"], summary="Archived photos, newest first")
async def archive_list(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                       cursor: FromQuery[str | None] = None, limit: FromQuery[int | None] = None) -> PhotoPage:
    return await octopus.read(lambda: lib.archive(octopus.store.reader(), caller.owner, cursor, limit))


@post("/api/downloads", tags=TAGS, status_code=201,
      summary="Prepare a ZIP of up to 5,000 originals; answers the link to follow (15 minutes, this user only)")
async def prepare_download(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                           data: JSONBody[DownloadBody]) -> DownloadLink:
    downloads = octopus.photos.downloads
    ready: Prepared = await octopus.read(lambda: downloads.prepare(octopus.store.reader(), caller.owner, data.photo_ids))
    return DownloadLink(url=f"/api/downloads/{ready.token}", count=ready.count, bytes=ready.bytes,
                        expires_in=ready.expires_in)


async def _stream(plan: ZipPlan) -> AsyncIterator[bytes]:
    # Reading and CRC-32 run on a worker thread a chunk at a time: the loop never waits on the disk.
    chunks: Iterator[bytes] = plan.chunks()
    try:
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            yield chunk
    finally:
        chunks.close()


@get("/api/downloads/{token:str}", tags=TAGS, summary="The prepared ZIP (stored, ZIP64 when large), streamed")
async def download(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                   token: FromPath[str]) -> Response[Any]:
    downloads = octopus.photos.downloads
    plan = await octopus.read(lambda: downloads.open(octopus.store.reader(), caller.owner, token))
    name = f"octopus-photos-{datetime.now().strftime('%Y-%m-%d-%H%M%S')}.zip"
    headers = {"Content-Length": str(plan.size), "Content-Disposition": f'attachment; filename="{name}"',
               "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    return Stream(_stream(plan), media_type="application/zip", headers=headers)


ROUTES = [bulk, archive, unarchive, archive_list, prepare_download, download]
