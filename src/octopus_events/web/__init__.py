"""The HTTP shell: a Litestar app over `Octopus`. Nothing in here holds domain logic."""

from types import ModuleType

from . import accounts, admin, library, photos
from . import vault
from . import sync
from . import dav
from . import uploads
from . import devices
from . import public, shares
from . import members, partners
from . import bulk
from . import places

# Route modules register here as they are written; each exposes ROUTES.
ROUTE_MODULES: list[ModuleType] = [accounts, photos, library, admin, vault, sync, devices, uploads, dav, shares, public, places, bulk, members, partners]
