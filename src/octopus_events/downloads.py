"""Downloads of many originals as one ZIP (the selection bar's Download).

A browser saves a file by following a link, and a link cannot carry a thousand ids, so a
download is made in two steps: `prepare` checks the ids (each one the caller's, outside the
vault; another user's id is NotFound and nothing is kept) and remembers them under a random
token for a few minutes; `open` (the GET the browser follows) plans the ZIP from the read model
as it is then. The token is worth nothing to anyone else: `open` checks the owner again. Nothing
is written to disk; the ZIP streams straight from the blobs (zipstream.py).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from datetime import datetime
from typing import Sequence

import msgspec

from .errors import Invalid, NotFound, TooLarge
from .media import BlobStore
from .readmodels import library as lib
from .zipstream import ZipEntry, ZipPlan

MAX_DOWNLOAD = 5_000
"""Items one ZIP may hold; the token keeps their ids in memory until it expires."""
TTL_S = 15 * 60
PER_USER = 20
_STATES = ("library", "trash")  # what the owner sees outside the vault (archived is "library" here)


class Prepared(msgspec.Struct, kw_only=True):
    token: str
    count: int
    bytes: int  # the ZIP's exact length
    expires_in: int  # seconds


class _Pending(msgspec.Struct):
    owner: str
    ids: list[str]
    expires: float


class Downloads:
    """The downloads waiting to be fetched (in memory: a restart forgets them, the UI asks again)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def _entries(self, conn: sqlite3.Connection, owner: str, ids: Sequence[str], *, strict: bool) -> list[ZipEntry]:
        entries = []
        for photo_id in ids:
            row = lib.photo_row(conn, owner, photo_id)
            if row is None or row[2] not in _STATES or not row[4]:
                if strict:
                    raise NotFound(f"no photo {photo_id}")
                continue  # purged or vaulted since: the ZIP holds what is left
            path = self.blobs.original_path(row[4])
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise NotFound(f"the original of photo {photo_id} is missing; run `octopus verify`") from None
            entries.append(ZipEntry(name=row[10] or "photo", path=path, size=size,
                                    modified=datetime.fromisoformat(row[14])))
        return entries

    def prepare(self, conn: sqlite3.Connection, owner: str, photo_ids: Sequence[str]) -> Prepared:
        ids = list(dict.fromkeys(photo_ids))
        if not ids:
            raise Invalid("photo_ids: name at least one photo")
        if len(ids) > MAX_DOWNLOAD:
            raise TooLarge(f"photo_ids: at most {MAX_DOWNLOAD:,} photos in one download ({len(ids):,} sent)",
                           code="too_many_photos", params={"max": MAX_DOWNLOAD})
        plan = ZipPlan(self._entries(conn, owner, ids, strict=True))
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            for key in [k for k, p in self._pending.items() if p.expires <= now]:
                del self._pending[key]
            mine = sorted((p.expires, k) for k, p in self._pending.items() if p.owner == owner)
            for _, key in mine[: max(0, len(mine) - PER_USER + 1)]:
                del self._pending[key]  # the oldest of this user's make room
            self._pending[token] = _Pending(owner, ids, now + TTL_S)
        return Prepared(token=token, count=len(plan.entries), bytes=plan.size, expires_in=TTL_S)

    def open(self, conn: sqlite3.Connection, owner: str, token: str) -> ZipPlan:
        with self._lock:
            pending = self._pending.get(token)
        if pending is None or pending.owner != owner or pending.expires <= time.monotonic():
            raise NotFound("no such download (they last 15 minutes); start it again")
        return ZipPlan(self._entries(conn, owner, pending.ids, strict=False))

    def forget_user(self, owner: str) -> None:
        """Account deletion: nothing of theirs is kept."""
        with self._lock:
            for key in [k for k, p in self._pending.items() if p.owner == owner]:
                del self._pending[key]
