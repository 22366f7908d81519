"""Read models: for each, the projector that builds its tables and the queries that read them.

The tables are defined in `projections/<name>.sql`; a change there rebuilds the read model.
"""

from __future__ import annotations

from ..notifications import NotificationsProjector
from ..projection import Projector
from .albums import AlbumsProjector
from .devices import DevicesProjector
from .duplicates import DuplicatesProjector
from .library import LibraryProjector
from .members import MembersProjector
from .motion import MotionProjector
from .partners import PartnersProjector
from .places import PlacesProjector
from .search import SearchProjector
from .shares import SharesProjector
from .storage import StorageProjector
from .sync import SyncProjector
from .users import UsersProjector

PROJECTORS: list[type[Projector]] = [
    UsersProjector, LibraryProjector, SearchProjector, AlbumsProjector, StorageProjector, DuplicatesProjector,
    NotificationsProjector, SyncProjector, MotionProjector, DevicesProjector, PlacesProjector,
    SharesProjector, MembersProjector, PartnersProjector,
]
