"""The sync index read model: every user's changes as wire events (protocol v1), ready to send.

Building a wire event means unsealing the event's personal fields; doing that once, when the
event is appended, instead of on every pull by every phone, is what makes a pull cost little
more than reading rows (tests/benchmarks/bench_sync.py). The wire `data` objects are defined
here because this is where they are made; `sync.py` serves them, docs/sync.md documents them.

Shredding follows the log: a deleted album keeps only its `album.deleted` row, a deleted
account nothing at all, and when a photo is purged or moved into the vault, its key is destroyed,
so every row that carried its content goes too (including its id in album rows) and only the
tombstone (`photo.removed`) or `photo.left_library` row, which carries nothing but the id, stays.
A rebuild reaches the same rows: the shredded events no longer unseal, and the ones that do not
need a key are deleted again when the replay reaches the purge.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

import msgspec
from msgspec import UNSET, UnsetType

from ..albums import AlbumCreated, AlbumDeleted, AlbumPhotosAdded, AlbumPhotosRemoved, AlbumRenamed
from ..eventstore import RecordedEvent
from ..photos import (
    DescriptionSeal, PhotoArchived, PhotoDate, PhotoDescribed, PhotoDetails, PhotoFavourited, PhotoLeftVault, PhotoMovedToVault,
    PhotoPurged, PhotoRedated, PhotoRestored, PhotoTagsSet, PhotoTrashed, PhotoUnfavourited, PhotoUploaded,
    PhotoUnarchived, TagsSeal, Unsealer, first_upload,
)
from ..motion import PhotoMotionAttached
from ..projection import Projector
from .albums import _open_name as open_album_name
from .library import PhotoView, rfc3339_us, video_stream
from .places import place_of

# -- the wire `data` objects (protocol version 1) ----------------------------------------------------


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
    motion: bool | UnsetType = UNSET  # a Live Photo's MOV joined a still the client already has
    state: str | UnsetType = UNSET  # "archived" / "library": archived or brought back to the timeline


class TrashedData(msgspec.Struct, kw_only=True):
    version: int
    purge_at: str


class VersionData(msgspec.Struct, kw_only=True):
    version: int


class Nothing(msgspec.Struct, forbid_unknown_fields=True):
    """Tombstones, vault moves and album deletions: the id says everything there is to say."""


class AlbumNamed(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    version: int
    created_at: str | UnsetType = UNSET


class AlbumMembers(msgspec.Struct, kw_only=True):
    photo_ids: list[str]
    version: int


WIRE_DATA: dict[str, type[msgspec.Struct]] = {
    "photo.added": AddedPhoto,
    "photo.updated": PhotoChanges,
    "photo.trashed": TrashedData,
    "photo.restored": VersionData,
    "photo.removed": Nothing,
    "photo.left_library": Nothing,
    "album.created": AlbumNamed,
    "album.renamed": AlbumNamed,
    "album.deleted": Nothing,
    "album.photos_added": AlbumMembers,
    "album.photos_removed": AlbumMembers,
}
"""Every wire event type and the shape of its `data` (clients must ignore types not listed)."""

_json = msgspec.json.Encoder()
_NOTHING = _json.encode(Nothing())
_members = msgspec.json.Decoder(AlbumMembers)


class SyncProjector(Projector):
    name = "sync"
    sql_file = "sync.sql"
    code_version = 5  # bump with any change to what a row holds: the index is then rebuilt (2: media kinds, 3: motion, 4: archive, 5: place)

    def apply_batch(self, conn: sqlite3.Connection, batch: Sequence[RecordedEvent]) -> None:
        # One key lookup for the whole batch; never kept beyond it, since a later batch may have
        # destroyed some of those keys.
        self._batch, self._unsealer = batch, None
        try:
            super().apply_batch(conn, batch)
        finally:
            self._batch, self._unsealer = (), None

    _batch: Sequence[RecordedEvent] = ()
    _unsealer: Unsealer | None = None

    def _open(self, conn: sqlite3.Connection, recorded: RecordedEvent, type_: type[msgspec.Struct]) -> Any:
        if self._unsealer is None:
            self._unsealer = Unsealer(conn, self._batch)
        return self._unsealer.open(recorded.event, type_)

    def _row(self, conn: sqlite3.Connection, recorded: RecordedEvent, type_: str, data: Any, *,
             photo_id: str | None = None, album_id: str | None = None, subject: str | None = None) -> None:
        if recorded.owner is None:
            return
        conn.execute(
            f"INSERT OR REPLACE INTO {self.t.sync_event} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (recorded.owner, recorded.position, type_, rfc3339_us(recorded.recorded_us), photo_id, album_id,
             subject, data if isinstance(data, bytes) else _json.encode(data)),
        )

    # -- photos -------------------------------------------------------------------------------------
    def on_PhotoUploaded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoUploaded)
        details = self._open(conn, recorded, PhotoDetails)
        if isinstance(details, PhotoDetails):
            photo = _added(event.photo_id, details, event, rfc3339_us(recorded.recorded_us), recorded.stream_version, [])
            self._row(conn, recorded, "photo.added", photo, photo_id=event.photo_id, subject=event.photo_id)

    def on_PhotoLeftVault(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoLeftVault)
        details = self._open(conn, recorded, PhotoDetails)
        upload = _first_upload(conn, event.photo_id)
        if isinstance(details, PhotoDetails) and upload is not None:
            albums = [r[0] for r in conn.execute(
                f"SELECT album_id FROM {self.t.sync_album_member} WHERE photo_id = ? ORDER BY album_id", (event.photo_id,))]
            photo = _added(event.photo_id, details, upload[0], upload[1], recorded.stream_version, albums)
            self._row(conn, recorded, "photo.added", photo, photo_id=event.photo_id, subject=event.photo_id)

    def _changed(self, conn: sqlite3.Connection, recorded: RecordedEvent, changes: PhotoChanges) -> None:
        photo_id = recorded.event.photo_id  # type: ignore[attr-defined]
        self._row(conn, recorded, "photo.updated", changes, photo_id=photo_id, subject=photo_id)

    def on_PhotoDescribed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        sealed = self._open(conn, recorded, DescriptionSeal)
        if isinstance(sealed, DescriptionSeal):
            self._changed(conn, recorded, PhotoChanges(version=recorded.stream_version, description=sealed.description))

    def on_PhotoTagsSet(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        sealed = self._open(conn, recorded, TagsSeal)
        if isinstance(sealed, TagsSeal):
            self._changed(conn, recorded, PhotoChanges(version=recorded.stream_version, tags=sealed.tags))

    def on_PhotoRedated(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        date = self._open(conn, recorded, PhotoDate)
        if isinstance(date, PhotoDate):
            self._changed(conn, recorded, PhotoChanges(
                version=recorded.stream_version, taken_at=date.taken_at, taken_source=date.source))

    def on_PhotoFavourited(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._changed(conn, recorded, PhotoChanges(version=recorded.stream_version, favourite=True))

    def on_PhotoUnfavourited(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._changed(conn, recorded, PhotoChanges(version=recorded.stream_version, favourite=False))

    def on_PhotoArchived(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._changed(conn, recorded, PhotoChanges(version=recorded.stream_version, state="archived"))

    def on_PhotoUnarchived(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._changed(conn, recorded, PhotoChanges(version=recorded.stream_version, state="library"))

    def on_PhotoMotionAttached(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        # A clip recorded with the upload is already in its `photo.added` (`motion: true`); one
        # that came later (a Live Photo's MOV after its still, or a clip back from the vault)
        # must tell the clients that hold the photo without it.
        upload = _first_upload(conn, recorded.event.photo_id)  # type: ignore[attr-defined]
        if upload is not None and not upload[0].motion:
            self._changed(conn, recorded, PhotoChanges(version=recorded.stream_version, motion=True))

    def on_PhotoTrashed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoTrashed)
        self._row(conn, recorded, "photo.trashed", TrashedData(version=recorded.stream_version, purge_at=event.purge_at),
                  photo_id=event.photo_id, subject=event.photo_id)

    def on_PhotoRestored(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoRestored)
        self._row(conn, recorded, "photo.restored", VersionData(version=recorded.stream_version),
                  photo_id=event.photo_id, subject=event.photo_id)

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        photo_id = recorded.event.photo_id  # type: ignore[attr-defined]
        self._shred(conn, photo_id)
        conn.execute(f"DELETE FROM {self.t.sync_album_member} WHERE photo_id = ?", (photo_id,))
        self._row(conn, recorded, "photo.removed", _NOTHING, photo_id=photo_id)

    def on_PhotoMovedToVault(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        # Membership stays (as in the albums read model): the photo returns into its albums.
        photo_id = recorded.event.photo_id  # type: ignore[attr-defined]
        self._shred(conn, photo_id)
        self._row(conn, recorded, "photo.left_library", _NOTHING, photo_id=photo_id)

    def _shred(self, conn: sqlite3.Connection, photo_id: str) -> None:
        t = self.t
        conn.execute(f"DELETE FROM {t.sync_event} WHERE subject = ?", (photo_id,))
        refs = conn.execute(f"SELECT owner, position FROM {t.sync_album_ref} WHERE photo_id = ?", (photo_id,)).fetchall()
        for owner, position in refs:
            found = conn.execute(f"SELECT data FROM {t.sync_event} WHERE owner = ? AND position = ?", (owner, position)).fetchone()
            if found is None:
                continue
            members = _members.decode(found[0])
            members.photo_ids = [p for p in members.photo_ids if p != photo_id]
            if members.photo_ids:
                conn.execute(f"UPDATE {t.sync_event} SET data = ? WHERE owner = ? AND position = ?",
                             (_json.encode(members), owner, position))
            else:
                conn.execute(f"DELETE FROM {t.sync_event} WHERE owner = ? AND position = ?", (owner, position))
        conn.execute(f"DELETE FROM {t.sync_album_ref} WHERE photo_id = ?", (photo_id,))

    # -- albums -------------------------------------------------------------------------------------
    def on_AlbumCreated(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumCreated)
        name = open_album_name(conn, event)
        if name is not None:  # None: the user's key is gone with the account
            at = rfc3339_us(recorded.recorded_us)
            self._row(conn, recorded, "album.created", AlbumNamed(name=name, version=recorded.stream_version, created_at=at),
                      album_id=event.album_id)

    def on_AlbumRenamed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumRenamed)
        name = open_album_name(conn, event)
        if name is not None:
            self._row(conn, recorded, "album.renamed", AlbumNamed(name=name, version=recorded.stream_version),
                      album_id=event.album_id)

    def on_AlbumDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumDeleted)
        # Its name is personal and the album is gone: a client that never saw it needs only this.
        conn.execute(f"DELETE FROM {self.t.sync_event} WHERE album_id = ?", (event.album_id,))
        conn.execute(f"DELETE FROM {self.t.sync_album_member} WHERE album_id = ?", (event.album_id,))
        self._row(conn, recorded, "album.deleted", _NOTHING, album_id=event.album_id)

    def on_UserDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        # Nobody can pull this feed any more; what it said about albums and photos must go.
        user_id = recorded.event.user_id  # type: ignore[attr-defined]
        conn.execute(f"DELETE FROM {self.t.sync_event} WHERE owner = ?", (user_id,))
        conn.execute(f"DELETE FROM {self.t.sync_album_ref} WHERE owner = ?", (user_id,))

    def on_AlbumPhotosAdded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._members(conn, recorded, "album.photos_added")

    def on_AlbumPhotosRemoved(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._members(conn, recorded, "album.photos_removed")

    def _members(self, conn: sqlite3.Connection, recorded: RecordedEvent, type_: str) -> None:
        event = recorded.event
        assert isinstance(event, (AlbumPhotosAdded, AlbumPhotosRemoved))
        t = self.t
        pairs = [(event.album_id, p) for p in event.photo_ids]
        if type_ == "album.photos_added":
            conn.executemany(f"INSERT OR IGNORE INTO {t.sync_album_member} VALUES (?, ?)", pairs)
        else:
            conn.executemany(f"DELETE FROM {t.sync_album_member} WHERE album_id = ? AND photo_id = ?", pairs)
        if recorded.owner is None:
            return
        conn.executemany(f"INSERT OR REPLACE INTO {t.sync_album_ref} VALUES (?, ?, ?)",
                         [(p, recorded.owner, recorded.position) for p in event.photo_ids])
        self._row(conn, recorded, type_, AlbumMembers(photo_ids=list(event.photo_ids), version=recorded.stream_version),
                  album_id=event.album_id)


def _first_upload(conn: sqlite3.Connection, photo_id: str) -> tuple[PhotoUploaded, str] | None:
    """The clear fields of a photo's upload (size, type, dimensions, kind, time)."""
    found = first_upload(conn, photo_id)
    return (found[0], rfc3339_us(found[1])) if found is not None else None


def _added(photo_id: str, d: PhotoDetails, upload: PhotoUploaded, uploaded_at: str, version: int,
           album_ids: list[str]) -> AddedPhoto:
    """The photo as the library read model shows it right after this event (an upload and a
    return from the vault both start unfavourited, in the library)."""
    return AddedPhoto(
        id=photo_id, filename=d.filename, sha256=d.sha256, bytes=upload.size, mime=upload.mime,
        width=upload.width, height=upload.height, taken_at=d.date.taken_at, uploaded_at=uploaded_at,
        tags=d.tags, favourite=False, description=d.description, camera=d.camera, exposure=d.exposure,
        gps=d.gps, state="library", version=version, taken_source=d.date.source, album_ids=album_ids,
        kind=upload.kind, duration=upload.duration, video=video_stream(upload.video_codec, upload.fps),
        motion=upload.motion,
        # The snapshot's photos carry their place name (readmodels/places.py); so do the deltas.
        place=place_of(d.gps.lat, d.gps.lon) if d.gps is not None else None,
    )


FEED_SQL = (
    "SELECT position, type, at, photo_id, album_id, data FROM sync_event "
    "WHERE owner = ? AND position > ? ORDER BY position LIMIT ?"
)


def rows_after(conn: sqlite3.Connection, owner: str, after: int, limit: int) -> list[tuple[Any, ...]]:
    """`owner`'s wire rows after log position `after`, in log order."""
    return conn.execute(FEED_SQL, (owner, after, limit)).fetchall()


FEED_EVENT_TYPES = tuple(cls.__struct_config__.tag for cls in (
    PhotoUploaded, PhotoDescribed, PhotoRedated, PhotoTagsSet, PhotoFavourited, PhotoUnfavourited, PhotoTrashed,
    PhotoRestored, PhotoPurged, PhotoMovedToVault, PhotoLeftVault, PhotoMotionAttached, PhotoArchived, PhotoUnarchived,
    AlbumCreated, AlbumRenamed, AlbumDeleted, AlbumPhotosAdded, AlbumPhotosRemoved,
))
"""The log events the index is built from (the benchmark's floor reads the same ones)."""
