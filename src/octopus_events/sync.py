"""The sync feed for mobile clients: a versioned wire shape over one user's slice of the log.

Phones mirror a library by taking a snapshot once and then pulling "what changed since my
cursor". The wire shape here is deliberately separate from the internal event classes: an
internal event may be split, renamed or upcast, and clients must not notice. Each wire event is
built from one log row (plus, for a photo returning from the vault, the clear fields of its
upload), so a cursor is just a log position and "seen cursor N" means "seen everything up to N".

Personal fields are sealed in the log under per-photo keys. A photo that was later purged or
moved into the vault has lost that key, so its earlier events are skipped entirely (their
content is unreadable, and announcing a photo that is already gone would only confuse a client);
the tombstone (`photo.removed`) or `photo.left_library` event that follows carries the news.

The protocol is described for client authors in docs/sync.md; change both together.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import sqlite3
import threading
from typing import TYPE_CHECKING, Any, Iterable

import msgspec
from msgspec import UNSET, UnsetType

from . import keystore
from .albums import AlbumCreated, AlbumDeleted, AlbumPhotosAdded, AlbumPhotosRemoved, AlbumRenamed
from .errors import BadRequest, Gone
from .events import decode_event
from .eventstore import EventStore
from .photos import (
    DescriptionSeal, PhotoDate, PhotoDescribed, PhotoDetails, PhotoFavourited, PhotoLeftVault, PhotoMovedToVault,
    PhotoPurged, PhotoRedated, PhotoRestored, PhotoTagsSet, PhotoTrashed, PhotoUnfavourited, PhotoUploaded,
    TagsSeal, Unsealer, photo_stream,
)
from .readmodels.albums import _open_name as open_album_name
from .readmodels.library import PHOTO_SELECT, PhotoView, rfc3339_us, to_view

if TYPE_CHECKING:
    from .application import Octopus

PROTOCOL_VERSION = 1
"""Bumped only for a change an existing client would misread; additions stay in version 1."""

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_WAIT_S = 60.0

# -- wire shapes (protocol version 1) ------------------------------------------------------------


class AddedPhoto(PhotoView, kw_only=True):
    """A photo as GET /api/photos/{id} shows it, plus the albums it is in (non-empty only when a
    photo comes back from the vault into albums it was in before)."""

    album_ids: list[str] = []


class PhotoChanges(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Only the fields that changed, and the photo's version after the change."""

    version: int
    description: str | UnsetType = UNSET
    tags: list[str] | UnsetType = UNSET
    taken_at: str | UnsetType = UNSET
    taken_source: str | UnsetType = UNSET
    favourite: bool | UnsetType = UNSET


class TrashedData(msgspec.Struct, kw_only=True):
    version: int
    purge_at: str


class VersionData(msgspec.Struct, kw_only=True):
    version: int


class Nothing(msgspec.Struct):
    """Tombstones and vault moves: the event's id says everything there is to say."""


class AlbumNamed(msgspec.Struct, kw_only=True):
    name: str
    version: int
    created_at: str | UnsetType = UNSET


class AlbumMembers(msgspec.Struct, kw_only=True):
    photo_ids: list[str]
    version: int


class SyncEvent(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """One change, with the cursor that points just after it."""

    cursor: str
    at: str


class PhotoEvent(SyncEvent, kw_only=True):
    photo_id: str


class AlbumEvent(SyncEvent, kw_only=True):
    album_id: str


class PhotoAddedEvent(PhotoEvent, tag="photo.added", kw_only=True):
    data: AddedPhoto


class PhotoUpdatedEvent(PhotoEvent, tag="photo.updated", kw_only=True):
    data: PhotoChanges


class PhotoTrashedEvent(PhotoEvent, tag="photo.trashed", kw_only=True):
    data: TrashedData


class PhotoRestoredEvent(PhotoEvent, tag="photo.restored", kw_only=True):
    data: VersionData


class PhotoRemovedEvent(PhotoEvent, tag="photo.removed", kw_only=True):
    data: Nothing = msgspec.field(default_factory=Nothing)


class PhotoLeftLibraryEvent(PhotoEvent, tag="photo.left_library", kw_only=True):
    data: Nothing = msgspec.field(default_factory=Nothing)


class AlbumCreatedEvent(AlbumEvent, tag="album.created", kw_only=True):
    data: AlbumNamed


class AlbumRenamedEvent(AlbumEvent, tag="album.renamed", kw_only=True):
    data: AlbumNamed


class AlbumDeletedEvent(AlbumEvent, tag="album.deleted", kw_only=True):
    data: Nothing = msgspec.field(default_factory=Nothing)


class AlbumPhotosAddedEvent(AlbumEvent, tag="album.photos_added", kw_only=True):
    data: AlbumMembers


class AlbumPhotosRemovedEvent(AlbumEvent, tag="album.photos_removed", kw_only=True):
    data: AlbumMembers


AnySyncEvent = (
    PhotoAddedEvent | PhotoUpdatedEvent | PhotoTrashedEvent | PhotoRestoredEvent | PhotoRemovedEvent
    | PhotoLeftLibraryEvent | AlbumCreatedEvent | AlbumRenamedEvent | AlbumDeletedEvent
    | AlbumPhotosAddedEvent | AlbumPhotosRemovedEvent
)


class SyncPage(msgspec.Struct, kw_only=True):
    events: list[AnySyncEvent]
    cursor: str
    more: bool


class SnapshotAlbum(msgspec.Struct, kw_only=True):
    """An album with every member the client can know (photos in the library or the trash)."""

    id: str
    name: str
    created_at: str
    version: int
    photo_ids: list[str]


class Snapshot(msgspec.Struct, kw_only=True):
    photos: list[PhotoView]
    albums: list[SnapshotAlbum]
    cursor: str


# -- cursors ---------------------------------------------------------------------------------------

_CURSOR = re.compile(r"v(\d{1,4}):(\d{1,18})")


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"v{PROTOCOL_VERSION}:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The log position a cursor stands for (0 for none). BadRequest when it is not a cursor at
    all; Gone when it is one of an older protocol version this server no longer serves."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this server gave out") from None
    match = _CURSOR.fullmatch(text)
    if match is None or len(cursor) > 40:
        raise BadRequest("cursor: not a cursor this server gave out")
    if int(match.group(1)) != PROTOCOL_VERSION:
        raise Gone(f"cursor: sync protocol v{match.group(1)} is not served any more; start again from the snapshot")
    return int(match.group(2))


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
    return limit


def check_wait(wait: float | None) -> float:
    if wait is None:
        return 0.0
    if not 0 <= wait <= MAX_WAIT_S:
        raise BadRequest(f"wait: must be between 0 and {MAX_WAIT_S:g} seconds")
    return float(wait)


# -- reading the feed ------------------------------------------------------------------------------

_PHOTO_TYPES = (
    PhotoUploaded, PhotoDescribed, PhotoRedated, PhotoTagsSet, PhotoFavourited, PhotoUnfavourited,
    PhotoTrashed, PhotoRestored, PhotoPurged, PhotoMovedToVault, PhotoLeftVault,
)
_ALBUM_TYPES = (AlbumCreated, AlbumRenamed, AlbumDeleted, AlbumPhotosAdded, AlbumPhotosRemoved)
FEED_TYPES = tuple(cls.__struct_config__.tag for cls in (*_PHOTO_TYPES, *_ALBUM_TYPES))
_BREAKS = ("PhotoPurged", "PhotoMovedToVault")
_SEALED = (PhotoUploaded, PhotoDescribed, PhotoRedated, PhotoTagsSet, PhotoLeftVault)

# Account events (sign-ins, profile) share the owner index but are not part of the mirror; the
# type filter keeps them out of pages, so a page of `limit` is `limit` relevant events.
FEED_SQL = (
    "SELECT position, stream_version, type, type_version, data, recorded_us FROM events "
    f"WHERE owner = ? AND position > ? AND type IN ({','.join('?' * len(FEED_TYPES))}) "
    "ORDER BY position LIMIT ?"
)


class FeedRead(msgspec.Struct):
    page: SyncPage
    head: int
    """The log head the page was read at: a long-poll waits for commits beyond it."""


def read_feed(conn: sqlite3.Connection, owner: str, after: int, limit: int) -> FeedRead:
    """`owner`'s wire events after log position `after`, read in one transaction so the events,
    the keys that open them and the head all come from the same moment."""
    conn.execute("BEGIN")
    try:
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        if after > head:
            raise Gone(
                f"cursor: position {after} is beyond this server's log ({head}); it was probably restored "
                "from an older backup: start again from the snapshot"
            )
        rows = conn.execute(FEED_SQL, (owner, after, *FEED_TYPES, limit + 1)).fetchall()
        more = len(rows) > limit
        if more:
            rows = rows[:limit]
        events = _to_wire(conn, rows) if rows else []
    finally:
        conn.execute("COMMIT")
    cursor = encode_cursor(rows[-1][0] if rows else after)
    return FeedRead(SyncPage(events=events, cursor=cursor, more=more), head)


def _to_wire(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[Any]:
    decoded = [(row, decode_event(row[2], row[3], row[4])) for row in rows]
    photo_ids = {e.photo_id for _, e in decoded if isinstance(e, _PHOTO_TYPES)}  # type: ignore[attr-defined]
    photo_ids.update(p for _, e in decoded if isinstance(e, (AlbumPhotosAdded, AlbumPhotosRemoved)) for p in e.photo_ids)
    breaks = _last_breaks(conn, photo_ids)
    unsealer = Unsealer(conn)
    unsealer.keys = keystore.get_many(conn, [e.key_id for _, e in decoded if isinstance(e, _SEALED)])  # type: ignore[attr-defined]
    out: list[Any] = []
    append = out.append
    for row, event in decoded:
        position, stream_version, recorded_us = row[0], row[1], row[5]
        cursor = encode_cursor(position)
        at = rfc3339_us(recorded_us)
        kind = type(event)
        if kind in _ALBUM_SET:
            wire = _album_event(conn, event, kind, position, stream_version, cursor, at, breaks)
            if wire is not None:
                append(wire)
            continue
        photo_id: str = event.photo_id  # type: ignore[attr-defined]
        if kind is PhotoPurged:
            append(PhotoRemovedEvent(cursor=cursor, at=at, photo_id=photo_id))
            continue
        if kind is PhotoMovedToVault:
            append(PhotoLeftLibraryEvent(cursor=cursor, at=at, photo_id=photo_id))
            continue
        if breaks.get(photo_id, 0) > position:
            continue  # this generation of the photo is gone; its key with it
        if kind is PhotoUploaded:
            details = unsealer.open(event, PhotoDetails)
            if isinstance(details, PhotoDetails):
                assert isinstance(event, PhotoUploaded)
                append(PhotoAddedEvent(cursor=cursor, at=at, photo_id=photo_id, data=_added(
                    photo_id, details, event, at, stream_version, [])))
        elif kind is PhotoLeftVault:
            details = unsealer.open(event, PhotoDetails)
            upload = _first_upload(conn, photo_id)
            if isinstance(details, PhotoDetails) and upload is not None:
                uploaded, uploaded_at = upload
                append(PhotoAddedEvent(cursor=cursor, at=at, photo_id=photo_id, data=_added(
                    photo_id, details, uploaded, uploaded_at, stream_version, _albums_of(conn, photo_id))))
        elif kind is PhotoFavourited or kind is PhotoUnfavourited:
            append(PhotoUpdatedEvent(cursor=cursor, at=at, photo_id=photo_id, data=PhotoChanges(
                version=stream_version, favourite=kind is PhotoFavourited)))
        elif kind is PhotoTrashed:
            append(PhotoTrashedEvent(cursor=cursor, at=at, photo_id=photo_id, data=TrashedData(
                version=stream_version, purge_at=event.purge_at)))  # type: ignore[attr-defined]
        elif kind is PhotoRestored:
            append(PhotoRestoredEvent(cursor=cursor, at=at, photo_id=photo_id, data=VersionData(version=stream_version)))
        elif kind is PhotoDescribed:
            text = unsealer.open(event, DescriptionSeal)
            if isinstance(text, DescriptionSeal):
                append(PhotoUpdatedEvent(cursor=cursor, at=at, photo_id=photo_id, data=PhotoChanges(
                    version=stream_version, description=text.description)))
        elif kind is PhotoTagsSet:
            tags = unsealer.open(event, TagsSeal)
            if isinstance(tags, TagsSeal):
                append(PhotoUpdatedEvent(cursor=cursor, at=at, photo_id=photo_id, data=PhotoChanges(
                    version=stream_version, tags=tags.tags)))
        elif kind is PhotoRedated:
            date = unsealer.open(event, PhotoDate)
            if isinstance(date, PhotoDate):
                append(PhotoUpdatedEvent(cursor=cursor, at=at, photo_id=photo_id, data=PhotoChanges(
                    version=stream_version, taken_at=date.taken_at, taken_source=date.source)))
    return out


_ALBUM_SET = frozenset(_ALBUM_TYPES)


def _album_event(conn: sqlite3.Connection, event: Any, kind: type, position: int, version: int, cursor: str,
                 at: str, breaks: dict[str, int]) -> SyncEvent | None:
    album_id: str = event.album_id
    if kind is AlbumPhotosAdded or kind is AlbumPhotosRemoved:
        # A member that was purged or vaulted after this event is not the client's business any
        # more (it heard, or will hear, that the photo left); naming it would reveal a vault id.
        ids = [p for p in event.photo_ids if breaks.get(p, 0) < position]
        if not ids:
            return None
        cls = AlbumPhotosAddedEvent if kind is AlbumPhotosAdded else AlbumPhotosRemovedEvent
        return cls(cursor=cursor, at=at, album_id=album_id, data=AlbumMembers(photo_ids=ids, version=version))
    if kind is AlbumDeleted:
        return AlbumDeletedEvent(cursor=cursor, at=at, album_id=album_id)
    name = open_album_name(conn, event)
    if name is None:  # the user's key is gone: the account is being deleted
        return None
    if kind is AlbumCreated:
        return AlbumCreatedEvent(cursor=cursor, at=at, album_id=album_id,
                                 data=AlbumNamed(name=name, version=version, created_at=at))
    return AlbumRenamedEvent(cursor=cursor, at=at, album_id=album_id, data=AlbumNamed(name=name, version=version))


def _last_breaks(conn: sqlite3.Connection, photo_ids: Iterable[str]) -> dict[str, int]:
    """Photo id -> position of its latest purge or vault move, for the photos named on a page.
    Every event of a photo before that position belongs to a generation whose key is gone."""
    streams = [photo_stream(p) for p in photo_ids]
    out: dict[str, int] = {}
    prefix = len(photo_stream(""))
    for start in range(0, len(streams), 900):
        part = streams[start:start + 900]
        marks = ",".join("?" * len(part))
        for stream, position in conn.execute(
            f"SELECT stream, max(position) FROM events WHERE stream IN ({marks}) AND type IN (?, ?) GROUP BY stream",
            (*part, *_BREAKS),
        ):
            out[stream[prefix:]] = position
    return out


def _first_upload(conn: sqlite3.Connection, photo_id: str) -> tuple[PhotoUploaded, str] | None:
    """The clear fields of a photo's upload (size, type, dimensions, time), which a photo coming
    back from the vault still has: only its personal fields were re-sealed."""
    row = conn.execute(
        "SELECT type, type_version, data, recorded_us FROM events WHERE stream = ? AND stream_version = 1",
        (photo_stream(photo_id),),
    ).fetchone()
    if row is None:
        return None
    event = decode_event(row[0], row[1], row[2])
    if not isinstance(event, PhotoUploaded):
        return None
    return event, rfc3339_us(row[3])


def _albums_of(conn: sqlite3.Connection, photo_id: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT ap.album_id FROM album_photo ap JOIN album a ON a.id = ap.album_id WHERE ap.photo_id = ? "
        "ORDER BY a.created_at, a.id",
        (photo_id,),
    )]


def _added(photo_id: str, d: PhotoDetails, upload: PhotoUploaded, uploaded_at: str, version: int,
           album_ids: list[str]) -> AddedPhoto:
    """The photo as the library read model shows it right after this event (see
    readmodels/library.py: an upload and a return from the vault both start unfavourited)."""
    return AddedPhoto(
        id=photo_id, filename=d.filename, sha256=d.sha256, bytes=upload.size, mime=upload.mime,
        width=upload.width, height=upload.height, taken_at=d.date.taken_at, uploaded_at=uploaded_at,
        tags=d.tags, favourite=False, description=d.description, camera=d.camera, exposure=d.exposure,
        gps=d.gps, state="library", version=version, taken_source=d.date.source, album_ids=album_ids,
    )


# -- the snapshot ----------------------------------------------------------------------------------


def read_snapshot(conn: sqlite3.Connection, owner: str) -> Snapshot:
    """`owner`'s library (library and trash states) and albums, with the cursor they are
    consistent at. One read transaction: an append landing meanwhile is either wholly in the
    snapshot (and before its cursor) or wholly after it."""
    conn.execute("BEGIN")
    try:
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        photos = [to_view(r) for r in conn.execute(
            f"{PHOTO_SELECT} WHERE p.owner = ? AND p.state IN ('library', 'trash') ORDER BY p.id", (owner,))]
        albums = {r[0]: SnapshotAlbum(id=r[0], name=r[1], created_at=r[2], version=r[3], photo_ids=[]) for r in conn.execute(
            "SELECT id, name, created_at, version FROM album WHERE owner = ? ORDER BY created_at, id", (owner,))}
        for album_id, photo_id in conn.execute(
            "SELECT ap.album_id, ap.photo_id FROM album_photo ap JOIN album a ON a.id = ap.album_id "
            "JOIN photo p ON p.id = ap.photo_id WHERE a.owner = ? AND p.state IN ('library', 'trash') "
            "ORDER BY ap.album_id, ap.position",
            (owner,),
        ):
            albums[album_id].photo_ids.append(photo_id)
    finally:
        conn.execute("COMMIT")
    return Snapshot(photos=photos, albums=list(albums.values()), cursor=encode_cursor(head))


# -- long-poll ---------------------------------------------------------------------------------------


class Waiters:
    """Requests waiting for a user's next event, woken by the event store's commit listener.

    A waiter is one future in a dict: nothing polls, nothing runs while it waits. The listener
    runs on whichever thread committed; it only looks at the dict under a lock and, when someone
    waits for one of the owners, hands the wake-up to that waiter's event loop. Appends by
    another process (the CLI) are not seen here: such a waiter times out and the client's next
    pull finds the events.
    """

    def __init__(self, store: EventStore | None = None) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str | None, int] = {}
        self._waiting: dict[str, dict[asyncio.Future[bool], int]] = {}
        if store is not None:
            store.add_commit_listener(self.committed)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())

    def committed(self, head: int, owners: Iterable[str | None]) -> None:
        """Commit listener: `owners` just had events committed, the last at or below `head`."""
        woken: list[asyncio.Future[bool]] = []
        with self._lock:
            for owner in owners:
                self._latest[owner] = head
                waiting = self._waiting.get(owner) if owner is not None else None
                if waiting:
                    woken.extend(f for f, seen in waiting.items() if seen < head)
        for future in woken:
            try:
                future.get_loop().call_soon_threadsafe(_wake, future)
            except RuntimeError:  # that loop has closed: its request is gone anyway
                pass

    async def wait(self, owner: str, seen_head: int, timeout: float) -> bool:
        """True as soon as an event of `owner` is committed beyond `seen_head` (at once if that
        already happened), False when `timeout` seconds pass first."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._latest.get(owner, 0) > seen_head:
                return True
            self._waiting.setdefault(owner, {})[future] = seen_head
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return False
        finally:
            with self._lock:
                waiting = self._waiting.get(owner)
                if waiting is not None:
                    waiting.pop(future, None)
                    if not waiting:
                        del self._waiting[owner]


def _wake(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(True)


# -- what the HTTP layer calls -------------------------------------------------------------------------


async def pull(octopus: Octopus, owner: str, cursor: str | None, limit: int | None = None,
               wait: float | None = None) -> SyncPage:
    """One page of `owner`'s feed after `cursor`; with `wait`, an empty page is held back until
    an event arrives or `wait` seconds pass."""
    n = check_limit(limit)
    seconds = check_wait(wait)
    after = decode_cursor(cursor)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        found = await octopus.read(lambda a=after: read_feed(octopus.store.reader(), owner, a, n))
        page = found.page
        remaining = deadline - loop.time()
        if page.events or page.more or remaining <= 0:
            return page
        if not await octopus.sync_waiters.wait(owner, found.head, remaining):
            return page
        # Skipped (shredded) events may have moved the cursor on; never hand out an older one.
        after = decode_cursor(page.cursor)


async def snapshot(octopus: Octopus, owner: str) -> Snapshot:
    return await octopus.read(lambda: read_snapshot(octopus.store.reader(), owner))


__all__ = [
    "DEFAULT_LIMIT", "FEED_TYPES", "MAX_LIMIT", "MAX_WAIT_S", "PROTOCOL_VERSION", "AddedPhoto", "AnySyncEvent",
    "FeedRead", "Snapshot", "SnapshotAlbum", "SyncEvent", "SyncPage", "Waiters", "decode_cursor", "encode_cursor",
    "pull", "read_feed", "read_snapshot", "snapshot",
]
