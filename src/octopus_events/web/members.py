"""Shared-album routes: the members of an album (invite, list, remove, leave), and the lookup the
photo routes use to let a member see an item that is not theirs (docs/sharing.md)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, TypeVar

import msgspec
from litestar import delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ..application import Octopus
from ..errors import NotFound
from ..readmodels import partners as partner_read, users
from ..readmodels.library import PhotoView
from ..readmodels.members import Member, SharedPhoto
from .auth import Caller

TAGS = ["sharing"]
T = TypeVar("T")


class InviteBody(msgspec.Struct):
    username: str
    role: str = "viewer"


@get("/api/albums/{album_id:str}/members", opt={"device": True}, tags=TAGS,
     summary="The album's owner and members with their roles (owner and members only)")
async def list_members(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                       album_id: FromPath[str]) -> list[Member]:
    return await octopus.members.list(caller.owner, album_id)


@post("/api/albums/{album_id:str}/members", tags=TAGS, status_code=201,
      summary="Share the album with another account as viewer or contributor (owner only); again to change the role")
async def invite(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], album_id: FromPath[str],
                 data: JSONBody[InviteBody]) -> list[Member]:
    return await octopus.members.invite(caller.owner, album_id, data.username, data.role, caller.meta())


@delete("/api/albums/{album_id:str}/members/{username:str}", tags=TAGS, status_code=204,
        summary="Remove a member (owner), or leave (a member removing themself); their items leave with them")
async def remove_member(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], album_id: FromPath[str],
                        username: FromPath[str]) -> None:
    await octopus.members.remove(caller.owner, album_id, username, caller.meta())


async def as_viewer(octopus: Octopus, caller: Caller, photo_id: str, fetch: Callable[[str], Awaitable[T]]) -> T:
    """`fetch(owner)` for the caller's own item; for an item shared with them (an album they
    belong to, a partner's library) `fetch` of its owner. Anything else raises the very
    NotFound the caller's own lookup raised, so a shared-nowhere id reads like an unknown one."""
    try:
        return await fetch(caller.owner)
    except NotFound:
        owner = await octopus.read(lambda: partner_read.shared_owner(octopus.store.reader(), caller.owner, photo_id))
        if owner is None:
            raise
    return await fetch(owner)



def shared_view_of(conn: Any, view: PhotoView, owner: str) -> PhotoView:
    """An item as a member or partner sees it: the same fields, with its owner's username."""
    user = users.get(conn, owner)
    return SharedPhoto(**msgspec.structs.asdict(view), owner=user.username if user else "")


ROUTES = [list_members, invite, remove_member]
