"""Partner-sharing routes: share my library with another account, stop, list both directions,
see a partner's library, and the setting that merges partners' items into my timeline."""

from __future__ import annotations

import msgspec
from litestar import delete, get, patch, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from ..application import Octopus
from ..readmodels import partners
from ..readmodels.partners import Partners, SharedTimelinePage
from .auth import Caller

TAGS = ["sharing"]


class PartnerBody(msgspec.Struct):
    since: str | None = None


class SharingSettings(msgspec.Struct):
    merge_partners: bool


@get("/api/partners", tags=TAGS, summary="Whom I share my library with, who shares theirs with me, my timeline setting")
async def list_partners(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> Partners:
    return await octopus.read(lambda: partners.lists(octopus.store.reader(), caller.owner))


@put("/api/partners/{username:str}", tags=TAGS, status_code=200,
     summary="Share my whole library (or what was taken since a day: `since`) with another account, read-only")
async def share(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], username: FromPath[str],
                data: JSONBody[PartnerBody | None] = None) -> Partners:
    return await octopus.partners.share(caller.owner, username, (data or PartnerBody()).since, caller.meta())


@delete("/api/partners/{username:str}", tags=TAGS, status_code=204,
        summary="Stop sharing my library with them (or, as their partner, stop seeing theirs)")
async def stop(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], username: FromPath[str]) -> None:
    await octopus.partners.stop(caller.owner, username, caller.meta())


@get("/api/partners/{username:str}/timeline", opt={"device": True}, tags=TAGS,
     summary="The library a partner shares with me, newest first, each item with its `owner`")
async def partner_timeline(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], username: FromPath[str],
                           cursor: FromQuery[str | None] = None, limit: FromQuery[int | None] = None) -> SharedTimelinePage:
    return await octopus.read(lambda: partners.partner_timeline(octopus.store.reader(), caller.owner, username, cursor, limit))


@get("/api/users/me/sharing", tags=TAGS, summary="My sharing settings: `merge_partners` (partners' items in my timeline)")
async def settings(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> SharingSettings:
    return SharingSettings(await octopus.read(lambda: partners.merges(octopus.store.reader(), caller.owner)))


@patch("/api/users/me/sharing", tags=TAGS, summary="Change my sharing settings")
async def change_settings(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                          data: JSONBody[SharingSettings]) -> SharingSettings:
    return SharingSettings(await octopus.partners.set_merge(caller.owner, data.merge_partners, caller.meta()))


ROUTES = [list_partners, share, stop, partner_timeline, settings, change_settings]
