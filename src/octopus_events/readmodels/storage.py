"""The storage read model: how many photos and videos, and how many bytes, each user keeps."""

from __future__ import annotations

import sqlite3
from typing import Callable

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
        video = int(event.kind == "video")
        conn.execute(f"INSERT OR REPLACE INTO {self.t.storage_photo} VALUES (?, ?, ?, ?)",
                     (event.photo_id, recorded.owner, event.size, video))
        conn.execute(
            f"INSERT INTO {self.t.storage_usage} VALUES (?, 1, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET "
            "photos = photos + 1, bytes = bytes + excluded.bytes, videos = videos + excluded.videos, "
            "video_bytes = video_bytes + excluded.video_bytes",
            (recorded.owner, event.size, video, event.size * video),
        )

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoPurged)
        row = conn.execute(f"SELECT owner, bytes, video FROM {self.t.storage_photo} WHERE photo_id = ?",
                           (event.photo_id,)).fetchone()
        if row is None:
            return
        owner, size, video = row
        conn.execute(f"DELETE FROM {self.t.storage_photo} WHERE photo_id = ?", (event.photo_id,))
        conn.execute(
            f"UPDATE {self.t.storage_usage} SET photos = photos - 1, bytes = bytes - ?, videos = videos - ?, "
            "video_bytes = video_bytes - ? WHERE owner = ?",
            (size, video, size * video, owner),
        )
        conn.execute(f"DELETE FROM {self.t.storage_usage} WHERE owner = ? AND photos <= 0", (owner,))


class Usage(msgspec.Struct):
    """`photos` and `bytes` count every item (photos and videos alike: the quota is on bytes,
    whatever they hold); `videos` and `video_bytes` say how much of that is video."""

    photos: int
    bytes: int
    quota_bytes: int
    videos: int = 0
    video_bytes: int = 0
    live_clip_bytes: int = 0  # of `bytes`: Live Photo MOVs, attached or waiting for their still
    device_file_bytes: int = 0  # of `bytes`: files kept in devices' WebDAV Uploads folders that are no item


# (conn, owner) → bytes of files a user keeps outside the library (dav/store.py registers the
# WebDAV Uploads folders): no events, so not projected; counted here so the quota sees them.
DEVICE_FILE_SOURCES: list[Callable[[sqlite3.Connection, str], int]] = []


def usage(conn: sqlite3.Connection, owner: str, quota_bytes: int) -> Usage:
    from . import motion

    row = conn.execute("SELECT photos, bytes, videos, video_bytes FROM storage_usage WHERE owner = ?", (owner,)).fetchone()
    photos, used, videos, video_bytes = row if row else (0, 0, 0, 0)
    # A Live Photo's MOV is no item, but its bytes are on disk and count against the quota (the
    # upload path reserves them like any other upload: quota.py). Read from the motion read model.
    clips = motion.clip_bytes(conn, owner)
    device = sum(source(conn, owner) for source in DEVICE_FILE_SOURCES)
    return Usage(photos, used + clips + device, quota_bytes, videos, video_bytes, clips, device)
