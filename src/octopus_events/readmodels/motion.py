"""The motion read model: which photos have a clip and where it is, which stills a Live Photo
MOV may pair with, and the MOVs held until their still arrives (domain: motion.py)."""

from __future__ import annotations

import sqlite3

import msgspec

from .. import keystore, sealing
from ..eventstore import RecordedEvent
from ..motion import (
    ClipSeal, HeldClipSeal, LiveClipHeld, LiveClipPaired, LiveClipPurged, PhotoLiveIdentified, PhotoMotionAttached,
    held_context,
)
from ..photos import PhotoPurged, Unsealer
from ..projection import Projector


class MotionProjector(Projector):
    name = "motion"
    sql_file = "motion.sql"

    def on_PhotoMotionAttached(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoMotionAttached)
        sha = None
        if event.source == "live-photo":
            seal = Unsealer(conn).open(event, ClipSeal)
            if not isinstance(seal, ClipSeal):
                return  # key destroyed: the photo was purged or moved into the vault
            sha = seal.sha256
        conn.execute(f"INSERT OR REPLACE INTO {self.t.motion_clip} VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (event.photo_id, recorded.owner, event.source, event.offset, event.length, event.mime, sha))

    def on_PhotoLiveIdentified(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoLiveIdentified)
        conn.execute(f"INSERT OR IGNORE INTO {self.t.motion_still} VALUES (?, ?, ?)",
                     (recorded.owner, event.pair, event.photo_id))

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        photo_id = recorded.event.photo_id  # type: ignore[attr-defined]
        conn.execute(f"DELETE FROM {self.t.motion_clip} WHERE photo_id = ?", (photo_id,))
        conn.execute(f"DELETE FROM {self.t.motion_still} WHERE photo_id = ?", (photo_id,))

    # A vault photo's key is destroyed, so a rebuild could not unseal its clip hash either.
    on_PhotoMovedToVault = on_PhotoPurged

    def on_LiveClipHeld(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, LiveClipHeld)
        key = keystore.get(conn, event.key_id)
        if key is None:
            return  # paired or purged since: its key is gone
        try:
            seal = sealing.unseal_struct(key, event.sealed, HeldClipSeal, context=held_context(event.clip_id))
        except sealing.SealError:
            return
        conn.execute(f"INSERT OR REPLACE INTO {self.t.motion_held} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (event.clip_id, recorded.owner, event.pair, seal.sha256, event.size, event.mime,
                      recorded.stream_version, event.purge_at))

    def on_LiveClipPaired(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, (LiveClipPaired, LiveClipPurged))
        conn.execute(f"DELETE FROM {self.t.motion_held} WHERE clip_id = ?", (event.clip_id,))

    on_LiveClipPurged = on_LiveClipPaired


class Clip(msgspec.Struct, frozen=True):
    source: str
    offset: int
    length: int
    mime: str
    sha256: str | None  # None: a span of the photo's own original


def clip_of(conn: sqlite3.Connection, owner: str, photo_id: str) -> Clip | None:
    row = conn.execute('SELECT source, "offset", length, mime, sha256 FROM motion_clip WHERE photo_id = ? AND owner = ?',
                       (photo_id, owner)).fetchone()
    return Clip(*row) if row else None


def live_clip_sha(conn: sqlite3.Connection, photo_id: str) -> str | None:
    row = conn.execute("SELECT sha256 FROM motion_clip WHERE photo_id = ?", (photo_id,)).fetchone()
    return row[0] if row else None


def clip_by_sha(conn: sqlite3.Connection, owner: str, sha: str) -> str | None:
    """The photo (p…) or held clip (c…) of this owner that already has this MOV."""
    row = conn.execute("SELECT photo_id FROM motion_clip WHERE sha256 = ? AND owner = ?", (sha, owner)).fetchone()
    if row is None:
        row = conn.execute("SELECT clip_id FROM motion_held WHERE sha256 = ? AND owner = ?", (sha, owner)).fetchone()
    return row[0] if row else None


def stills_by_pair(conn: sqlite3.Connection, owner: str, pair: str) -> list[str]:
    """Stills with this content identifier that have no clip yet."""
    return [r[0] for r in conn.execute(
        "SELECT s.photo_id FROM motion_still s LEFT JOIN motion_clip c ON c.photo_id = s.photo_id "
        "WHERE s.owner = ? AND s.pair = ? AND c.photo_id IS NULL ORDER BY s.photo_id", (owner, pair))]


def held_by_pair(conn: sqlite3.Connection, owner: str, pair: str) -> tuple[str, str, int, str, int] | None:
    return conn.execute("SELECT clip_id, sha256, size, mime, version FROM motion_held WHERE owner = ? AND pair = ? "
                        "ORDER BY clip_id LIMIT 1", (owner, pair)).fetchone()


def held(conn: sqlite3.Connection, clip_id: str) -> tuple[str, str, int] | None:
    return conn.execute("SELECT owner, sha256, version FROM motion_held WHERE clip_id = ?", (clip_id,)).fetchone()


def held_of(conn: sqlite3.Connection, owner: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT clip_id FROM motion_held WHERE owner = ? ORDER BY clip_id", (owner,))]


def clip_bytes(conn: sqlite3.Connection, owner: str) -> int:
    """Bytes of the owner's Live Photo MOVs, attached and held (a motion photo's clip is inside
    its original, already counted)."""
    row = conn.execute("SELECT coalesce(sum(length), 0) FROM motion_clip WHERE owner = ? AND sha256 IS NOT NULL",
                       (owner,)).fetchone()
    return int(row[0]) + held_bytes(conn, owner)


def held_due(conn: sqlite3.Connection, moment: str) -> list[tuple[str, str]]:
    return conn.execute("SELECT clip_id, owner FROM motion_held WHERE purge_at <= ? ORDER BY purge_at",
                        (moment,)).fetchall()


def held_bytes(conn: sqlite3.Connection, owner: str) -> int:
    row = conn.execute("SELECT coalesce(sum(size), 0) FROM motion_held WHERE owner = ?", (owner,)).fetchone()
    return int(row[0])


def clip_hashes(conn: sqlite3.Connection) -> set[str]:
    """Every MOV blob a photo or a held clip still needs (so `gc` keeps them)."""
    hashes = {r[0] for r in conn.execute("SELECT sha256 FROM motion_clip WHERE sha256 IS NOT NULL")}
    hashes.update(r[0] for r in conn.execute("SELECT sha256 FROM motion_held"))
    return hashes


def blob_in_use(conn: sqlite3.Connection, sha: str, *, except_photo: str = "", except_clip: str = "") -> bool:
    """Whether anything but the one being deleted still needs this blob (as original or clip)."""
    for sql, args in (
        ("SELECT 1 FROM photo WHERE sha256 = ? AND id != ? LIMIT 1", (sha, except_photo)),
        ("SELECT 1 FROM motion_clip WHERE sha256 = ? AND photo_id != ? LIMIT 1", (sha, except_photo)),
        ("SELECT 1 FROM motion_held WHERE sha256 = ? AND clip_id != ? LIMIT 1", (sha, except_clip)),
    ):
        if conn.execute(sql, args).fetchone():
            return True
    return False
