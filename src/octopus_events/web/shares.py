"""Share link routes for their owner: create, list, change, revoke (docs/sharing.md).

Only a signed-in session manages links: none of these routes is open to an app password (a
phone's backup app has no business handing out the library)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ..application import Octopus
from ..shares import NewShare, Share, ShareChange
from .auth import Caller

TAGS = ["sharing"]


class ShareLink(Share, kw_only=True):
    """A link with its address (`url`: null only if its token was lost; revoke and share again)."""

    url: str | None = None


def link_path(token: str) -> str:
    return f"/s/{token}"


def with_url(request: Request[Any, Any, Any], share: Share) -> ShareLink:
    base = str(request.base_url).rstrip("/")
    url = f"{base}{link_path(share.token)}" if share.token else None
    return ShareLink(**msgspec.structs.asdict(share), url=url)


@post("/api/shares", tags=TAGS, status_code=201,
      summary="Share an album (`album_id`) or items (`photo_ids`) by link: `{id, token, url, ...}`")
async def create_share(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                       caller: NamedDependency[Caller], data: JSONBody[NewShare]) -> ShareLink:
    return with_url(request, await octopus.shares.create(caller.owner, data, caller.meta()))


@get("/api/shares", tags=TAGS, summary="The caller's links with their views and last view")
async def list_shares(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                      caller: NamedDependency[Caller]) -> list[ShareLink]:
    shares = await octopus.read(octopus.shares.list, caller.owner)
    return [with_url(request, s) for s in shares]


@get("/api/shares/{share_id:str}", tags=TAGS, summary="One of the caller's links")
async def get_share(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                    caller: NamedDependency[Caller], share_id: FromPath[str]) -> ShareLink:
    return with_url(request, await octopus.read(octopus.shares.get, caller.owner, share_id))


@patch("/api/shares/{share_id:str}", tags=TAGS,
       summary="Change expiry, password (null removes it), allow_download, show_location")
async def change_share(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                       caller: NamedDependency[Caller], share_id: FromPath[str],
                       data: JSONBody[ShareChange]) -> ShareLink:
    return with_url(request, await octopus.shares.change(caller.owner, share_id, data, caller.meta()))


@delete("/api/shares/{share_id:str}", tags=TAGS, status_code=204,
        summary="Revoke now: the link answers 410 from the next request on")
async def revoke_share(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                       share_id: FromPath[str]) -> None:
    await octopus.shares.revoke(caller.owner, share_id, caller.meta())


ROUTES = [create_share, list_shares, get_share, change_share, revoke_share]
