"""Places routes: the map's clusters for a viewport and the items inside an area.

Both read the places read model (readmodels/places.py) on a reader thread, scoped to the
caller: another user's items are never counted or listed.
"""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from ..application import Octopus
from ..readmodels import places
from ..readmodels.library import PhotoPage
from ..readmodels.places import Clusters
from .auth import Caller

TAGS = ["places"]


@get("/api/places/clusters", opt={"device": True}, tags=TAGS,
     summary="Items with GPS in a viewport, counted per map grid cell (bbox=west,south,east,north; zoom = the map's)")
async def place_clusters(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                         bbox: FromQuery[str | None] = None, zoom: FromQuery[int | None] = None) -> Clusters:
    return await octopus.read(lambda: places.clusters(octopus.store.reader(), caller.owner, bbox, zoom))


@get("/api/places/items", opt={"device": True}, tags=TAGS,
     summary="Library items taken inside a bbox (west,south,east,north), newest first")
async def place_items(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                      bbox: FromQuery[str | None] = None, cursor: FromQuery[str | None] = None,
                      limit: FromQuery[int | None] = None) -> PhotoPage:
    return await octopus.read(
        lambda: places.items(octopus.store.reader(), caller.owner, bbox, cursor=cursor, limit=limit))


ROUTES = [place_clusters, place_items]
