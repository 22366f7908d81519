"""The share links read model: each link's settings and, for a selection, its items.

What a visitor sees is joined at query time with the library's `photo` table (state library,
not archived) and, for an album link, the albums read model's `album_photo`: a trashed, archived,
vaulted or purged item leaves every link the moment its own event is projected.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Sequence

import msgspec

from ..accounts import UserDeleted
from ..albums import AlbumDeleted
from ..eventstore import RecordedEvent
from ..photos import PhotoMovedToVault, PhotoPurged
from ..projection import Projector
from ..shares import ShareLinkChanged, ShareLinkCreated, ShareLinkRevoked
from .library import rfc3339_us


def _expires_us(value: str | None) -> int | None:
    return int(datetime.fromisoformat(value).timestamp() * 1_000_000) if value else None


class SharesProjector(Projector):
    name = "shares"
    sql_file = "shares.sql"

    def on_ShareLinkCreated(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, ShareLinkCreated)
        conn.execute(
            f"INSERT OR REPLACE INTO {self.t.share} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
            (event.share_id, recorded.owner, event.token_digest, event.album_id, rfc3339_us(recorded.recorded_us),
             event.expires_at, _expires_us(event.expires_at), int(event.allow_download), int(event.show_location),
             int(event.has_password), recorded.stream_version),
        )
        conn.executemany(
            f"INSERT OR IGNORE INTO {self.t.share_photo} VALUES (?, ?, ?)",
            [(event.share_id, p, i) for i, p in enumerate(event.photo_ids)],
        )

    def on_ShareLinkChanged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, ShareLinkChanged)
        conn.execute(
            f"UPDATE {self.t.share} SET expires_at = ?, expires_us = ?, allow_download = ?, show_location = ?, "
            f"has_password = ?, version = ? WHERE id = ?",
            (event.expires_at, _expires_us(event.expires_at), int(event.allow_download), int(event.show_location),
             int(event.has_password), recorded.stream_version, event.share_id),
        )

    def on_ShareLinkRevoked(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, ShareLinkRevoked)
        # The row stays (revoked) so the link answers 410 rather than 404; its items go.
        conn.execute(f"UPDATE {self.t.share} SET revoked = 1, version = ? WHERE id = ?",
                     (recorded.stream_version, event.share_id))
        conn.execute(f"DELETE FROM {self.t.share_photo} WHERE share_id = ?", (event.share_id,))

    def on_AlbumDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumDeleted)
        # A link to a deleted album is revoked with it.
        conn.execute(f"UPDATE {self.t.share} SET revoked = 1 WHERE album_id = ?", (event.album_id,))

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoPurged)
        conn.execute(f"DELETE FROM {self.t.share_photo} WHERE photo_id = ?", (event.photo_id,))

    def on_PhotoMovedToVault(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoMovedToVault)
        # A vaulted item leaves selections for good: coming back from the vault does not re-share it.
        conn.execute(f"DELETE FROM {self.t.share_photo} WHERE photo_id = ?", (event.photo_id,))

    def on_UserDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserDeleted)
        ids = [r[0] for r in conn.execute(f"SELECT id FROM {self.t.share} WHERE owner = ?", (event.user_id,))]
        conn.executemany(f"DELETE FROM {self.t.share_photo} WHERE share_id = ?", [(i,) for i in ids])
        conn.execute(f"DELETE FROM {self.t.share} WHERE owner = ?", (event.user_id,))


class ShareRow(msgspec.Struct, frozen=True):
    id: str
    owner: str
    album_id: str | None
    created_at: str
    expires_at: str | None
    expires_us: int | None
    allow_download: bool
    show_location: bool
    has_password: bool
    revoked: bool
    version: int

    def expired(self, now: float) -> bool:
        return self.expires_us is not None and self.expires_us <= now * 1_000_000


_ROW = ("SELECT id, owner, album_id, created_at, expires_at, expires_us, allow_download, show_location, "
        "has_password, revoked, version FROM share")


def _row(r: Sequence[Any] | None) -> ShareRow | None:
    if r is None:
        return None
    return ShareRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), bool(r[7]), bool(r[8]), bool(r[9]), r[10])


def get_row(conn: sqlite3.Connection, share_id: str) -> ShareRow | None:
    return _row(conn.execute(f"{_ROW} WHERE id = ?", (share_id,)).fetchone())


def by_digest(conn: sqlite3.Connection, digest: str) -> ShareRow | None:
    return _row(conn.execute(f"{_ROW} WHERE token_digest = ?", (digest,)).fetchone())


def of_owner(conn: sqlite3.Connection, owner: str) -> list[ShareRow]:
    rows = conn.execute(f"{_ROW} WHERE owner = ? AND revoked = 0 ORDER BY created_at DESC, id", (owner,)).fetchall()
    return [r for r in map(_row, rows) if r is not None]


def selection(conn: sqlite3.Connection, share_id: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT photo_id FROM share_photo WHERE share_id = ? ORDER BY position", (share_id,))]


# What a link may show of an item: in the library, not archived (the archive keeps items off
# every shared view as it keeps them off the timeline).
_SHOWN = "p.state = 'library' AND p.archived = 0"


def _items_from(conn: sqlite3.Connection, row: ShareRow) -> tuple[str, tuple[Any, ...]]:
    """FROM/WHERE of the link's visible items, ordered (album order, or the selection's)."""
    if row.album_id is not None:
        return (f"FROM album_photo x JOIN photo p ON p.id = x.photo_id WHERE x.album_id = ? AND {_SHOWN}",
                (row.album_id,))
    return (f"FROM share_photo x JOIN photo p ON p.id = x.photo_id WHERE x.share_id = ? AND p.owner = ? "
            f"AND {_SHOWN}", (row.id, row.owner))


def count(conn: sqlite3.Connection, row: ShareRow) -> int:
    if row.revoked:
        return 0
    where, args = _items_from(conn, row)
    return int(conn.execute(f"SELECT count(*) {where}", args).fetchone()[0])


ITEM_COLUMNS = ("p.id", "p.kind", "p.mime", "p.width", "p.height", "p.taken_local", "p.duration", "p.description",
                "p.gps_lat", "p.gps_lon", "p.motion")


def items(conn: sqlite3.Connection, row: ShareRow) -> list[tuple[Any, ...]]:
    where, args = _items_from(conn, row)
    return conn.execute(f"SELECT {', '.join(ITEM_COLUMNS)} {where} ORDER BY x.position", args).fetchall()


class SharedPhoto(msgspec.Struct, frozen=True):
    """What serving one item's bytes needs."""

    id: str
    owner: str
    sha256: str
    mime: str
    orientation: int
    kind: str
    has_gps: bool


def shared_photo(conn: sqlite3.Connection, row: ShareRow, photo_id: str) -> SharedPhoto | None:
    """The item if it is visible through the link now, else None (the caller answers 404)."""
    where, args = _items_from(conn, row)
    found = conn.execute(
        f"SELECT p.id, p.owner, p.sha256, p.mime, p.orientation, p.kind, p.gps_lat IS NOT NULL {where} AND p.id = ?",
        (*args, photo_id)).fetchone()
    if found is None or not found[2]:
        return None
    return SharedPhoto(found[0], found[1], found[2], found[3], found[4] or 1, found[5], bool(found[6]))


def shareable(conn: sqlite3.Connection, owner: str, photo_ids: Sequence[str]) -> set[str]:
    """Which of these ids the owner may put into a selection link (their items in the library)."""
    out: set[str] = set()
    for start in range(0, len(photo_ids), 500):
        part = list(photo_ids[start:start + 500])
        marks = ",".join("?" * len(part))
        out.update(r[0] for r in conn.execute(
            f"SELECT id FROM photo p WHERE owner = ? AND {_SHOWN} AND id IN ({marks})", (owner, *part)))
    return out
