"""The duplicates read model: groups of near-identical photos by perceptual hash.

A video's hash is its poster frame's; two videos are duplicates when their posters match and
their durations differ by at most a second (the same clip re-encoded or trimmed by a frame).
A video never pairs with a photo, however alike the poster and the photo look."""

from __future__ import annotations

import sqlite3

import msgspec

from ..eventstore import RecordedEvent
from ..media import hamming
from ..photos import (
    PhotoDetails, PhotoLeftVault, PhotoMovedToVault, PhotoPurged, PhotoUploaded, Unsealer, first_upload,
)
from ..projection import Projector
from .library import PHOTO_SELECT, PhotoView, to_view

MAX_DISTANCE = 4
# A new photo is linked to at most this many of its nearest matches. Groups stay connected (each
# member links to one already in the group), while a cluster of k identical hashes (a run of
# pocket shots, blank frames) stores about 8k pairs instead of k²/2.
MAX_LINKS = 8
MAX_DURATION_GAP_S = 1.0
# 13+13+13+13+12 bits: any two hashes within MAX_DISTANCE agree on at least one band.
BANDS = ((0, 13), (13, 13), (26, 13), (39, 13), (52, 12))


def bands(phash: int) -> list[tuple[int, int]]:
    unsigned = phash & 0xFFFFFFFFFFFFFFFF
    return [(i, (unsigned >> shift) & ((1 << width) - 1)) for i, (shift, width) in enumerate(BANDS)]


class DuplicatesProjector(Projector):
    name = "duplicates"
    sql_file = "duplicates.sql"
    code_version = 3  # 2: at most MAX_LINKS pairs per photo; 3: videos pair only with videos

    def on_PhotoUploaded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, (PhotoUploaded, PhotoLeftVault))
        details = Unsealer(conn).open(event, PhotoDetails)
        if not isinstance(details, PhotoDetails):
            return
        if isinstance(event, PhotoUploaded):
            kind, duration = event.kind, event.duration
        else:  # back from the vault: the kind is on the upload, which is never shredded
            found = first_upload(conn, event.photo_id)
            kind, duration = (found[0].kind, found[0].duration) if found else ("photo", None)
        owner, photo_id, phash = recorded.owner, event.photo_id, details.phash
        candidates: dict[str, int] = {}
        for band, value in bands(phash):
            for other, other_hash, other_kind, other_duration in conn.execute(
                f"SELECT photo_id, phash, kind, duration FROM {self.t.dup_band} "
                "WHERE owner = ? AND band = ? AND value = ?",
                (owner, band, value),
            ):
                if other_kind != kind or not _durations_match(duration, other_duration):
                    continue
                candidates[other] = other_hash
        near = sorted(
            (hamming(phash, other_hash), other) for other, other_hash in candidates.items() if other != photo_id
        )
        pairs = []
        for distance, other in near[:MAX_LINKS]:
            if distance > MAX_DISTANCE:
                break
            a, b = sorted((photo_id, other))
            pairs.append((owner, a, b, distance))
        conn.executemany(f"INSERT OR REPLACE INTO {self.t.dup_pair} VALUES (?, ?, ?, ?)", pairs)
        conn.executemany(
            f"INSERT OR REPLACE INTO {self.t.dup_band} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(owner, band, value, photo_id, phash, kind, duration) for band, value in bands(phash)],
        )

    def remove(self, conn: sqlite3.Connection, photo_id: str) -> None:
        conn.execute(f"DELETE FROM {self.t.dup_band} WHERE photo_id = ?", (photo_id,))
        conn.execute(f"DELETE FROM {self.t.dup_pair} WHERE b = ?", (photo_id,))
        conn.execute(f"DELETE FROM {self.t.dup_pair} WHERE a = ?", (photo_id,))

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, (PhotoPurged, PhotoMovedToVault))
        self.remove(conn, event.photo_id)

    on_PhotoMovedToVault = on_PhotoPurged
    on_PhotoLeftVault = on_PhotoUploaded


def _durations_match(a: float | None, b: float | None) -> bool:
    """Photos (no duration) match photos; videos match videos of about the same length."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= MAX_DURATION_GAP_S


class DuplicateGroup(msgspec.Struct):
    photos: list[PhotoView]
    distance: int


def groups(conn: sqlite3.Connection, owner: str, limit: int = 100) -> list[DuplicateGroup]:
    """Connected groups of library photos whose hashes are within MAX_DISTANCE, largest first."""
    pairs = conn.execute(
        "SELECT d.a, d.b, d.distance FROM dup_pair d "
        "JOIN photo pa ON pa.id = d.a AND pa.state = 'library' "
        "JOIN photo pb ON pb.id = d.b AND pb.state = 'library' WHERE d.owner = ?",
        (owner,),
    ).fetchall()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, _ in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    worst: dict[str, int] = {}
    for a, _, distance in pairs:
        root = find(a)
        worst[root] = max(worst.get(root, 0), distance)
    members: dict[str, list[str]] = {}
    for x in list(parent):
        members.setdefault(find(x), []).append(x)
    chosen = sorted(members.items(), key=lambda kv: (-len(kv[1]), min(kv[1])))[:limit]
    # One query for every photo of every group on the page, not one per group.
    wanted = [pid for _, ids in chosen for pid in ids]
    views: dict[str, PhotoView] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        for row in conn.execute(f"{PHOTO_SELECT} WHERE p.id IN ({','.join('?' * len(part))})", part):
            views[row[0]] = to_view(row)
    out = []
    for root, ids in chosen:
        photos = sorted((views[i] for i in ids if i in views), key=lambda v: (v.taken_at or "", v.id))
        out.append(DuplicateGroup(photos, worst.get(root, 0)))
    return out
