"""Read-model routes: timeline, months, tags, favourites, memories, trash, search, duplicates,
and albums (their reads and the few commands on them).

Every query runs on a reader thread and is handed the caller's id: a read model only ever
returns its owner's rows, so another user's ids simply are not there (404).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Callable, TypeVar

import msgspec
from litestar import delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from ..application import Octopus
from ..errors import BadRequest
from ..readmodels import albums, duplicates, library as lib, partners, search as search_model
from ..readmodels.albums import Album, AlbumDetail
from ..readmodels.duplicates import DuplicateGroup
from ..readmodels.library import Memory, MonthCount, PhotoPage, PhotoView, TagCount, TimelinePage
from ..readmodels.partners import SharedTimelinePage
from .auth import Caller

TAGS = ["library"]
T = TypeVar("T")


async def _query(octopus: Octopus, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(connection, *args)` on a reader thread with that thread's own connection."""
    return await octopus.read(lambda: fn(octopus.store.reader(), *args, **kwargs))


class TrashPage(msgspec.Struct):
    photos: list[PhotoView]
    cursor: str | None = None


class AlbumBody(msgspec.Struct):
    name: str


class RenameBody(msgspec.Struct):
    name: str
    version: int | None = None


class AlbumPhotosBody(msgspec.Struct):
    photo_ids: list[str]


@get("/api/timeline", opt={"device": True}, tags=TAGS, summary="Newest first, grouped by day")
async def timeline(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                   cursor: FromQuery[str | None] = None, limit: FromQuery[int | None] = None) -> TimelinePage | SharedTimelinePage:
    def page() -> TimelinePage | SharedTimelinePage:
        conn = octopus.store.reader()
        # With `merge_partners` on (docs/sharing.md) partners' items join, each with its `owner`.
        merged = partners.merged_timeline(conn, caller.owner, caller.user.username, cursor, limit)
        return merged if merged is not None else lib.timeline(conn, caller.owner, cursor, limit)

    return await octopus.read(page)


@get("/api/timeline/months", opt={"device": True}, tags=TAGS, summary="Photo counts per month, for a scrubber")
async def months(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> list[MonthCount]:
    return await _query(octopus, lib.months, caller.owner)


@get("/api/tags", opt={"device": True}, tags=TAGS, summary="Tags with their photo counts")
async def tags(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> list[TagCount]:
    return await _query(octopus, lib.tags, caller.owner)


@get("/api/tags/{tag:str}", opt={"device": True}, tags=TAGS, summary="Photos with a tag")
async def tag_photos(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], tag: FromPath[str],
                     cursor: FromQuery[str | None] = None, limit: FromQuery[int | None] = None) -> PhotoPage:
    return await _query(octopus, lib.tag_photos, caller.owner, tag, cursor, limit)


@get("/api/favourites", opt={"device": True}, tags=TAGS, summary="Favourite photos, newest first")
async def favourites(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                     cursor: FromQuery[str | None] = None, limit: FromQuery[int | None] = None) -> PhotoPage:
    return await _query(octopus, lib.favourites, caller.owner, cursor, limit)


@get("/api/memories", opt={"device": True}, tags=TAGS, summary="On this day in earlier years")
async def memories(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                   on: Annotated[str | None, QueryParameter(name="date")] = None) -> list[Memory]:
    if on:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise BadRequest("date: expected YYYY-MM-DD") from None
    else:
        day = date.today()  # the server's calendar day: it lives where its family does
    return await _query(octopus, lib.memories, caller.owner, day)


@get("/api/trash", opt={"device": True}, tags=TAGS, summary="Trashed photos with the time each is purged (purge_at)")
async def trash(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> TrashPage:
    return TrashPage(await _query(octopus, lib.trash, caller.owner))


@get("/api/search", opt={"device": True}, tags=TAGS, summary="Search filename, description, tags and camera, with filters (kind=photo|video)")
async def search(
    octopus: NamedDependency[Octopus],
    caller: NamedDependency[Caller],
    q: FromQuery[str | None] = None,
    tag: FromQuery[str | None] = None,
    date_from: Annotated[str | None, QueryParameter(name="from")] = None,
    date_to: Annotated[str | None, QueryParameter(name="to")] = None,
    camera: FromQuery[str | None] = None,
    favourite: FromQuery[bool | None] = None,
    kind: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
) -> PhotoPage:
    return await _query(
        octopus, search_model.search, caller.owner, q=q, tag=tag, date_from=date_from, date_to=date_to,
        camera=camera, favourite=favourite, kind=kind, cursor=cursor, limit=limit,
    )


@get("/api/duplicates", opt={"device": True}, tags=TAGS, summary="Groups of near-identical photos")
async def duplicate_groups(octopus: NamedDependency[Octopus],
                           caller: NamedDependency[Caller]) -> list[DuplicateGroup]:
    return await _query(octopus, duplicates.groups, caller.owner)


# -- albums ------------------------------------------------------------------------------------------


@get("/api/albums", opt={"device": True}, tags=["albums"], summary="The caller's albums, then those shared with them (`shared`, `owner`, `role`)")
async def list_albums(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> list[Album]:
    return await _query(octopus, albums.list_albums, caller.owner, with_shared=True)


@post("/api/albums", tags=["albums"], status_code=201, summary="Create an album")
async def create_album(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                       data: JSONBody[AlbumBody]) -> AlbumDetail:
    return await octopus.albums.create(caller.owner, data.name, caller.meta())


@get("/api/albums/{album_id:str}", opt={"device": True}, tags=["albums"], summary="One album with its photos")
async def get_album(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                    album_id: FromPath[str]) -> AlbumDetail:
    return await _query(octopus, albums.get, caller.owner, album_id)


@patch("/api/albums/{album_id:str}", tags=["albums"], summary="Rename an album")
async def rename_album(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], album_id: FromPath[str],
                       data: JSONBody[RenameBody]) -> AlbumDetail:
    return await octopus.albums.rename(caller.owner, album_id, data.name, caller.meta(), data.version)


@delete("/api/albums/{album_id:str}", tags=["albums"], status_code=204, summary="Delete an album (its photos stay)")
async def delete_album(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                       album_id: FromPath[str]) -> None:
    await octopus.albums.delete(caller.owner, album_id, caller.meta())


@post("/api/albums/{album_id:str}/photos", tags=["albums"], status_code=200, summary="Add photos to an album")
async def add_to_album(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], album_id: FromPath[str],
                       data: JSONBody[AlbumPhotosBody]) -> AlbumDetail:
    return await octopus.albums.add(caller.owner, album_id, data.photo_ids, caller.meta())


@delete("/api/albums/{album_id:str}/photos", tags=["albums"], status_code=200, summary="Remove photos from an album")
async def remove_from_album(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                            album_id: FromPath[str], data: JSONBody[AlbumPhotosBody]) -> AlbumDetail:
    return await octopus.albums.remove(caller.owner, album_id, data.photo_ids, caller.meta())


ROUTES = [
    timeline, months, tags, tag_photos, favourites, memories, trash, search, duplicate_groups,
    list_albums, create_album, get_album, rename_album, delete_album, add_to_album, remove_from_album,
]
