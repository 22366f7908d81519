"""Storage quotas: an upload reserves its bytes before any work is done on it.

Checking "used + size <= quota" against the storage read model alone lets concurrent uploads
all pass the check before any of them commits (40 at once stored 325 KB against a 60 KB quota).
So every upload holds a reservation from its check until its event has committed (or it failed),
and the check counts the bytes committed *plus* the bytes reserved, under one lock. Released
only after the commit, a reservation is briefly counted twice (committed and still held): the
error is always on the side of refusing, never of storing more than the quota.

The reservations live in this process's memory; the server is one process. `octopus import`
running beside a server is not counted against the server's reservations (docs/admin.md).
"""

from __future__ import annotations

import sqlite3
import threading

from .errors import TooLarge
from .readmodels import storage, users


class QuotaReservations:
    """Bytes of uploads that passed the quota check but have not committed yet, per owner."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, conn: sqlite3.Connection, owner: str, size: int) -> int:
        """Reserve `size` bytes for `owner` (on a reader thread); TooLarge if they do not fit.

        Returns what was reserved (0 without a quota), to be given back to `release`.
        """
        quota = users.quota_of(conn, owner)
        if not quota:
            return 0
        with self._lock:
            # Read under the lock: a reservation released meanwhile has committed first, so
            # its bytes are in `used` whenever they are no longer in `held`.
            used = storage.usage(conn, owner, quota).bytes
            held = self._held.get(owner, 0)
            if used + held + size > quota:
                pending = f", {held} more in uploads under way" if held else ""
                raise TooLarge(f"this upload would exceed your quota of {quota} bytes ({used} used{pending})",
                               code="quota_exceeded", params={"quota": quota, "used": used})
            self._held[owner] = held + size
        return size

    def release(self, owner: str, size: int) -> None:
        """Give back a reservation once its upload committed or failed."""
        if not size:
            return
        with self._lock:
            left = self._held.get(owner, 0) - size
            if left > 0:
                self._held[owner] = left
            else:
                self._held.pop(owner, None)

    def held(self, owner: str) -> int:
        with self._lock:
            return self._held.get(owner, 0)
