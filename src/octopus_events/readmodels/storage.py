"""The storage read model: how many photos and bytes each user keeps."""

from __future__ import annotations

import sqlite3

import msgspec

from ..eventstore import RecordedEvent
from ..photos import PhotoPurged, PhotoUploaded
from ..projection import Projector


class StorageProjector(Projector):
    name = "storage"
    sql_file = "storage.sql"

    def on_PhotoUploaded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoUploaded)
        conn.execute(f"INSERT OR REPLACE INTO {self.t.storage_photo} VALUES (?, ?, ?)", (event.photo_id, recorded.owner, event.size))
        conn.execute(
            f"INSERT INTO {self.t.storage_usage} VALUES (?, 1, ?) ON CONFLICT (owner) DO UPDATE SET "
            "photos = photos + 1, bytes = bytes + excluded.bytes",
            (recorded.owner, event.size),
        )

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoPurged)
        row = conn.execute(f"SELECT owner, bytes FROM {self.t.storage_photo} WHERE photo_id = ?", (event.photo_id,)).fetchone()
        if row is None:
            return
        conn.execute(f"DELETE FROM {self.t.storage_photo} WHERE photo_id = ?", (event.photo_id,))
        conn.execute(f"UPDATE {self.t.storage_usage} SET photos = photos - 1, bytes = bytes - ? WHERE owner = ?", (row[1], row[0]))
        conn.execute(f"DELETE FROM {self.t.storage_usage} WHERE owner = ? AND photos <= 0", (row[0],))


class Usage(msgspec.Struct):
    photos: int
    bytes: int
    quota_bytes: int


def usage(conn: sqlite3.Connection, owner: str, quota_bytes: int) -> Usage:
    row = conn.execute("SELECT photos, bytes FROM storage_usage WHERE owner = ?", (owner,)).fetchone()
    photos, used = row if row else (0, 0)
    return Usage(photos, used, quota_bytes)
