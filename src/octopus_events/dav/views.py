"""Read-only views of the library: `Library/YYYY/YYYY-MM/<name>`, `Albums/<name>/<name>`,
`Favourites/<name>`.

Names are the uploaded filenames, made unique within a folder deterministically: the earliest
upload (then the lowest id) keeps the name, every later one with the same name gets ` (<first 8
characters of its id>)` before the extension, so a name never changes when another photo
arrives later. GET streams the original (Range works); DELETE moves the photo to the trash;
any write is 403. A folder's listing is one query (no per-item lookup).
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any, Iterable

from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_NOT_FOUND, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from ..errors import NotFound, OctopusError
from ..eventstore import Meta
from ..readmodels import albums as albums_read
from .auth import DavIdentity

VIEWS = ("Library", "Albums", "Favourites")
_ITEM_COLS = "p.id, p.filename, p.bytes, p.sha256, p.mime, p.uploaded_at"


class Item:
    """One library item as a view lists it."""

    __slots__ = ("id", "filename", "size", "sha256", "mime", "uploaded_at")

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.id, self.filename, self.size, self.sha256, self.mime, self.uploaded_at = row


def unique_names(items: Iterable[Item]) -> dict[str, Item]:
    """name → item, collisions resolved as the module docstring says."""
    ordered = sorted(items, key=lambda i: (i.uploaded_at, i.id))
    out: dict[str, Item] = {}
    for item in ordered:
        name = _safe(item.filename or f"{item.id}")
        if name in out:
            stem, dot, ext = name.rpartition(".")
            name = f"{stem} ({item.id[:8]}).{ext}" if dot and stem else f"{name} ({item.id[:8]})"
        out[name] = item
    return out


def _safe(name: str) -> str:
    return name.replace("/", "_").replace("\\", "_") or "photo"


def _identity(environ: dict[str, Any]) -> DavIdentity:
    from .provider import identity_of

    return identity_of(environ)


def resource(provider: Any, parts: list[str], path: str, environ: dict[str, Any]) -> Any:
    """The view resource at `parts` (path components), or None."""
    top = parts[0]
    if top not in VIEWS:
        return None
    owner = _identity(environ).owner
    conn = provider.store.octopus.store.reader()
    if top == "Library":
        if len(parts) == 1:
            return Folder(path, environ, [y for y in _years(conn, owner)])
        year = parts[1]
        if len(parts) == 2:
            months = [m for m in _months(conn, owner) if m[:4] == year]
            return Folder(path, environ, months) if months else None
        month = parts[2]
        if not month.startswith(year + "-") or len(month) != 7:
            return None
        if len(parts) == 3:
            items = _month_items(conn, owner, month)
            return Photos(path, environ, items) if items or month in _months(conn, owner) else None
        return _file(path, environ, _month_items(conn, owner, month), parts[3:])
    if top == "Favourites":
        items = _query(conn, "p.owner = ? AND p.favourite = 1 AND p.state = 'library'", (owner,))
        if len(parts) == 1:
            return Photos(path, environ, items)
        return _file(path, environ, items, parts[1:])
    names = _albums(conn, owner)
    if len(parts) == 1:
        return Folder(path, environ, list(names))
    album_id = names.get(parts[1])
    if album_id is None:
        return None
    items = _query(conn, "p.owner = ? AND p.state = 'library' AND p.id IN (SELECT photo_id FROM album_photo WHERE album_id = ?)",
                   (owner, album_id))
    if len(parts) == 2:
        return Photos(path, environ, items)
    return _file(path, environ, items, parts[2:])


def _file(path: str, environ: dict[str, Any], items: list[Item], rest: list[str]) -> Any:
    if len(rest) != 1:
        return None
    item = unique_names(items).get(rest[0])
    return PhotoFile(path, environ, item) if item is not None else None


def _query(conn: Any, where: str, params: tuple[Any, ...]) -> list[Item]:
    return [Item(r) for r in conn.execute(f"SELECT {_ITEM_COLS} FROM photo p WHERE {where}", params)]


def _month_items(conn: Any, owner: str, month: str) -> list[Item]:
    # The timeline index (owner, state, taken_local): a range on the local time's month prefix.
    return _query(conn, "p.owner = ? AND p.state = 'library' AND p.taken_local >= ? AND p.taken_local < ?",
                  (owner, month, month + "\x7f"))


def _months(conn: Any, owner: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT month FROM timeline_month WHERE owner = ? AND count > 0 ORDER BY month", (owner,))]


def _years(conn: Any, owner: str) -> list[str]:
    return sorted({m[:4] for m in _months(conn, owner)})


def _albums(conn: Any, owner: str) -> dict[str, str]:
    """Album folder name → id (unique like file names: the older album keeps the name)."""
    out: dict[str, str] = {}
    for album in sorted(albums_read.list_albums(conn, owner), key=lambda a: (a.created_at, a.id)):
        name = _safe(album.name)
        if name in out:
            name = f"{name} ({album.id[:8]})"
        out[name] = album.id
    return out


class _ReadOnly:
    """Writes anywhere in the views are 403: the library changes through Uploads or the API."""

    def create_empty_resource(self, name: str) -> Any:
        raise DAVError(HTTP_FORBIDDEN)

    def create_collection(self, name: str) -> None:
        raise DAVError(HTTP_FORBIDDEN)

    def begin_write(self, *, content_type: str | None = None) -> Any:
        raise DAVError(HTTP_FORBIDDEN)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        raise DAVError(HTTP_FORBIDDEN)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> None:
        raise DAVError(HTTP_FORBIDDEN)

    def prevent_locking(self) -> bool:
        return True

    def get_ref_url(self) -> str:
        return f"/~{_identity(self.environ).owner}~views" + super().get_ref_url()  # type: ignore[misc]


class Folder(_ReadOnly, DAVCollection):
    def __init__(self, path: str, environ: dict[str, Any], names: list[str]) -> None:
        super().__init__(path, environ)
        self._names = names

    def get_member_names(self) -> list[str]:
        return list(self._names)

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

    def get_last_modified(self) -> float | None:
        return None

    def delete(self) -> None:
        raise DAVError(HTTP_FORBIDDEN)


class Photos(Folder):
    """A folder of photos: members built from the one query."""

    def __init__(self, path: str, environ: dict[str, Any], items: list[Item]) -> None:
        self._by_name = unique_names(items)
        super().__init__(path, environ, list(self._by_name))

    @property
    def by_name(self) -> dict[str, Item]:
        return self._by_name

    def get_member(self, name: str) -> Any:
        item = self._by_name.get(name)
        return PhotoFile(util.join_uri(self.path, name), self.environ, item) if item is not None else None

    def get_member_list(self) -> list[Any]:
        return [PhotoFile(util.join_uri(self.path, n), self.environ, i) for n, i in self._by_name.items()]


# What a view's file answers: live properties only. A view has no dead properties (PROPPATCH is
# refused) and no locks (LOCK is refused), so nothing is looked up per item; WsgiDAV's generic
# path asked the property store once per item and rebuilt the ref URL (a quote()) for every
# property (bench_dav.py (b): 8.5x the floor before, see docs/benchmarks.md).
_LIVE = ("{DAV:}resourcetype", "{DAV:}creationdate", "{DAV:}getcontentlength", "{DAV:}getcontenttype",
         "{DAV:}getlastmodified", "{DAV:}displayname", "{DAV:}getetag")


class PhotoFile(_ReadOnly, DAVNonCollection):
    """A library item's original: GET (with Range) streams it, DELETE trashes the item."""

    def __init__(self, path: str, environ: dict[str, Any], item: Item) -> None:
        super().__init__(path, environ)
        self.item = item
        self._epoch = _epoch(item.uploaded_at)
        self._ref: str | None = None

    def get_ref_url(self) -> str:
        if self._ref is None:
            self._ref = super().get_ref_url()
        return self._ref

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        return list(_LIVE)

    def get_property_value(self, name: str) -> Any:
        item = self.item
        if name == "{DAV:}getcontentlength":
            return str(item.size)
        if name == "{DAV:}getetag":
            return str(item.sha256)
        if name == "{DAV:}getcontenttype":
            return str(item.mime)
        if name == "{DAV:}getlastmodified":
            return util.get_rfc1123_time(self._epoch)
        if name == "{DAV:}creationdate":
            return util.get_rfc3339_time(self._epoch)
        if name == "{DAV:}resourcetype":
            return ""
        if name == "{DAV:}displayname":
            return self.name
        raise DAVError(HTTP_NOT_FOUND)  # no dead properties, no locks in a view

    def get_content_length(self) -> int:
        return int(self.item.size)

    def get_content_type(self) -> str:
        return str(self.item.mime)

    def get_etag(self) -> str:
        return str(self.item.sha256)

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_last_modified(self) -> float:
        return self._epoch

    def get_creation_date(self) -> float:
        return self._epoch

    def get_content(self) -> Any:
        store = self.provider.store
        path = store.octopus.photos.blobs.original_path(self.item.sha256)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise DAVError(HTTP_FORBIDDEN, "the original of this photo is missing") from None

    def delete(self) -> None:
        identity = _identity(self.environ)
        store = self.provider.store
        meta = Meta(actor=identity.owner, owner=identity.owner, correlation_id=f"dav:{identity.device}")
        try:
            store.run(store.octopus.photos.trash(identity.owner, self.item.id, meta))
        except NotFound:
            return  # already gone: DELETE is idempotent
        except OctopusError as exc:
            raise DAVError(HTTP_FORBIDDEN, str(exc)) from None


def _epoch(stamp: str) -> float:
    try:
        return calendar.timegm(datetime.fromisoformat(stamp.replace("Z", "+00:00")).utctimetuple())
    except ValueError:
        return 0.0
