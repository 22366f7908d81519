"""The albums read model: albums with their visible photos, covers and counts."""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

import msgspec

from ..albums import (
    AlbumCreated, AlbumDeleted, AlbumDescribed, AlbumDescription, AlbumName, AlbumPhotosAdded, AlbumPhotosRemoved,
    AlbumRenamed,
)
from ..errors import NotFound
from ..eventstore import RecordedEvent
from ..photos import PhotoPurged
from ..projection import Projector
from .. import keystore, sealing
from . import members as member_read
from .library import PHOTO_SELECT, PhotoView, rfc3339_us, to_view


def _open(conn: sqlite3.Connection, event: Any, type_: type[Any]) -> Any:
    key = keystore.get(conn, event.key_id)
    if key is None:
        return None
    tag = type(event).__struct_config__.tag
    try:
        return sealing.unseal_struct(key, event.sealed, type_, context=f"{event.album_id}|{tag}".encode())
    except sealing.SealError:
        return None


def _open_name(conn: sqlite3.Connection, event: Any) -> str | None:
    opened = _open(conn, event, AlbumName)
    return opened.name if opened is not None else None


class AlbumsProjector(Projector):
    name = "albums"
    sql_file = "albums.sql"

    def on_AlbumCreated(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumCreated)
        name = _open_name(conn, event)
        if name is None:
            return
        conn.execute(
            f"INSERT OR REPLACE INTO {self.t.album} VALUES (?, ?, ?, ?, ?)",
            (event.album_id, recorded.owner, name, rfc3339_us(recorded.recorded_us), recorded.stream_version),
        )

    def on_AlbumRenamed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumRenamed)
        name = _open_name(conn, event)
        if name is not None:
            conn.execute(f"UPDATE {self.t.album} SET name = ?, version = ? WHERE id = ?", (name, recorded.stream_version, event.album_id))

    def on_AlbumDescribed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumDescribed)
        opened = _open(conn, event, AlbumDescription)
        if opened is None or not conn.execute(f"SELECT 1 FROM {self.t.album} WHERE id = ?", (event.album_id,)).fetchone():
            return
        if opened.description:
            conn.execute(f"INSERT OR REPLACE INTO {self.t.album_description} VALUES (?, ?)", (event.album_id, opened.description))
        else:
            conn.execute(f"DELETE FROM {self.t.album_description} WHERE album_id = ?", (event.album_id,))
        conn.execute(f"UPDATE {self.t.album} SET version = ? WHERE id = ?", (recorded.stream_version, event.album_id))

    def on_AlbumDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumDeleted)
        conn.execute(f"DELETE FROM {self.t.album} WHERE id = ?", (event.album_id,))
        conn.execute(f"DELETE FROM {self.t.album_description} WHERE album_id = ?", (event.album_id,))
        conn.execute(f"DELETE FROM {self.t.album_photo} WHERE album_id = ?", (event.album_id,))

    def on_AlbumPhotosAdded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumPhotosAdded)
        conn.executemany(
            f"INSERT OR IGNORE INTO {self.t.album_photo} VALUES (?, ?, ?)",
            [(event.album_id, p, recorded.position * 10_000 + i) for i, p in enumerate(event.photo_ids)],
        )
        conn.execute(f"UPDATE {self.t.album} SET version = ? WHERE id = ?", (recorded.stream_version, event.album_id))

    def on_AlbumPhotosRemoved(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumPhotosRemoved)
        conn.executemany(
            f"DELETE FROM {self.t.album_photo} WHERE album_id = ? AND photo_id = ?",
            [(event.album_id, p) for p in event.photo_ids],
        )
        conn.execute(f"UPDATE {self.t.album} SET version = ? WHERE id = ?", (recorded.stream_version, event.album_id))

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoPurged)
        conn.execute(f"DELETE FROM {self.t.album_photo} WHERE photo_id = ?", (event.photo_id,))


class Album(msgspec.Struct):
    id: str
    name: str
    cover: str | None
    count: int
    created_at: str
    version: int
    # Sharing (docs/sharing.md): `shared` when the album has members or is someone else's;
    # then `owner` is its owner's username and `role` what the caller is to it.
    shared: bool = False
    owner: str | None = None
    role: str = "owner"


class AlbumDetail(Album):
    photos: list[PhotoView] = []
    description: str = ""


_VISIBLE = "JOIN photo p ON p.id = ap.photo_id AND p.state = 'library'"


def _album(conn: sqlite3.Connection, row: Sequence[Any]) -> Album:
    count, cover = conn.execute(
        f"SELECT count(*), (SELECT ap2.photo_id FROM album_photo ap2 JOIN photo p2 ON p2.id = ap2.photo_id "
        f"AND p2.state = 'library' WHERE ap2.album_id = ?1 ORDER BY ap2.position LIMIT 1) "
        f"FROM album_photo ap {_VISIBLE} WHERE ap.album_id = ?1",
        (row[0],),
    ).fetchone()
    return Album(row[0], row[1], cover, count, row[2], row[3])


def list_albums(conn: sqlite3.Connection, owner: str, *, with_shared: bool = False) -> list[Album]:
    """The caller's own albums, then (`with_shared`: GET /api/albums) those shared with them,
    marked `shared`, with their owner and the caller's role."""
    rows = conn.execute(
        "SELECT id, name, created_at, version FROM album WHERE owner = ? ORDER BY created_at DESC, id", (owner,)
    ).fetchall()
    out = [_album(conn, r) for r in rows]
    for album in out:
        album.shared = member_read.has_members(conn, album.id)
    for row in member_read.shared_album_rows(conn, owner) if with_shared else ():
        album = _album(conn, row)
        album.shared, album.role, album.owner = True, row[4], row[5]
        out.append(album)
    return out


def get(conn: sqlite3.Connection, owner: str, album_id: str) -> AlbumDetail:
    """One album with its items, for its owner or a member (`owner` is the caller)."""
    role = member_read.access(conn, owner, album_id)
    row = conn.execute("SELECT id, name, created_at, version FROM album WHERE id = ?", (album_id,)).fetchone()
    if row is None or role is None:
        raise NotFound(f"no album {album_id}")
    album = _album(conn, row)
    album.role = role
    album.shared = role != "owner" or member_read.has_members(conn, album_id)
    described = conn.execute("SELECT description FROM album_description WHERE album_id = ?", (album_id,)).fetchone()
    description = described[0] if described else ""
    if not album.shared:
        photos = conn.execute(
            f"{PHOTO_SELECT} JOIN album_photo ap ON ap.photo_id = p.id WHERE ap.album_id = ? AND p.state = 'library' "
            f"ORDER BY ap.position",
            (album_id,),
        ).fetchall()
        return AlbumDetail(**msgspec.structs.asdict(album), photos=[to_view(r) for r in photos], description=description)
    # A shared album's items may be several people's: each says whose it is.
    rows = conn.execute(
        f"{PHOTO_SELECT.replace('FROM photo p', ', u.username FROM photo p')} JOIN album_photo ap ON ap.photo_id = p.id "
        f"JOIN app_user u ON u.id = p.owner WHERE ap.album_id = ? AND p.state = 'library' ORDER BY ap.position",
        (album_id,),
    ).fetchall()
    album.owner = member_read.album_owner_name(conn, album_id)
    return AlbumDetail(**msgspec.structs.asdict(album), photos=[member_read.shared_view(r, r[-1]) for r in rows],
                       description=description)


def owned(conn: sqlite3.Connection, owner: str, album_id: str) -> bool:
    return conn.execute("SELECT 1 FROM album WHERE id = ? AND owner = ?", (album_id, owner)).fetchone() is not None


def ids_of(conn: sqlite3.Connection, owner: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM album WHERE owner = ?", (owner,))]


def visible_photos(conn: sqlite3.Connection, owner: str, photo_ids: Sequence[str]) -> set[str]:
    marks = ",".join("?" * len(photo_ids))
    return {r[0] for r in conn.execute(
        f"SELECT id FROM photo WHERE owner = ? AND state = 'library' AND id IN ({marks})", (owner, *photo_ids)
    )}


def members(conn: sqlite3.Connection, album_id: str, photo_ids: Sequence[str]) -> set[str]:
    marks = ",".join("?" * len(photo_ids))
    return {r[0] for r in conn.execute(
        f"SELECT photo_id FROM album_photo WHERE album_id = ? AND photo_id IN ({marks})", (album_id, *photo_ids)
    )}
