"""SQLite connections: one writer thread fed by a queue, readers on their own connections.

Datasette's pattern. A whole unit of work (an append with its inline projections, a chunk of a
rebuild) is shipped to the writer thread as ONE call and runs in one transaction there; that is
what makes global positions gap-free and keeps the per-append cost at a single thread hop
(aiosqlite's hop per statement would cap durable appends at under half of bare sqlite3).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Literal, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


def connect(path: Path | str, *, role: Literal["writer", "reader"], synchronous: Synchronous = "FULL") -> sqlite3.Connection:
    """Open a connection with the pragmas every part of the product relies on."""
    conn = sqlite3.connect(
        str(path),
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,
        timeout=30.0,
        cached_statements=256,
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    # Deleted rows are overwritten with zeros, so purged personal data does not linger in free pages.
    conn.execute("PRAGMA secure_delete=ON")
    # 8 MB a connection: the box may have 1 GB in all. Temporary b-trees (index builds in a
    # rebuild, big sorts) stay in temp files, not RAM, for the same reason.
    conn.execute("PRAGMA cache_size=-8000")
    if role == "reader":
        conn.execute("PRAGMA query_only=1")
    return conn


class WriterClosed(RuntimeError):
    pass


class Writer:
    """The single writing connection. Whoever holds its lock writes; nobody else ever does.

    A synchronous caller (CLI, tests, the rebuild thread) runs its unit of work on its own thread
    under the lock: no thread hop at all, so one durable append costs about what bare sqlite3
    costs. Async callers are served by one dedicated thread so the event loop never waits on an
    fsync. Measured here, waking another thread and waiting for it costs ~400 µs on this VM,
    eight times the append itself, which is why the hop is not on the synchronous path.
    """

    def __init__(self, path: Path, *, synchronous: Synchronous = "FULL") -> None:
        self._path = path
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self.conn: sqlite3.Connection | None = None

    def start(self) -> None:
        self.conn = connect(self._path, role="writer", synchronous=self._synchronous)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="octopus-writer")

    def call(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        transaction: bool = True,
        after_commit: Callable[[T], None] | None = None,
    ) -> T:
        """Run `fn(conn)` now on this thread; with `transaction`, inside BEGIN IMMEDIATE … COMMIT.

        `after_commit(result)` runs once the commit is durable, still under the lock, so caches it
        updates change in commit order and are never behind what the caller saw.
        """
        if self._owner == threading.get_ident():
            raise RuntimeError("a writer job may not start another writer job (it would nest transactions)")
        with self._lock:
            if self._closed or self.conn is None:
                raise WriterClosed("the database writer is closed")
            conn = self.conn
            self._owner = threading.get_ident()
            try:
                if transaction:
                    conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                    if transaction:
                        conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                if after_commit is not None:
                    try:
                        after_commit(result)
                    except Exception:  # the commit stands; a failing listener must not undo it
                        log.exception("after-commit callback failed")
                return result
            finally:
                self._owner = None

    def submit(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        transaction: bool = True,
        after_commit: Callable[[T], None] | None = None,
    ) -> Future[T]:
        """Run the job on the writer's own thread; for callers that must not block."""
        if self._closed or self._executor is None:
            raise WriterClosed("the database writer is closed")
        return self._executor.submit(self.call, fn, transaction=transaction, after_commit=after_commit)

    async def call_async(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        transaction: bool = True,
        after_commit: Callable[[T], None] | None = None,
    ) -> T:
        return await asyncio.wrap_future(self.submit(fn, transaction=transaction, after_commit=after_commit))

    def in_writer_job(self) -> bool:
        return self._owner == threading.get_ident()

    def close(self) -> None:
        if self._closed:
            return
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        with self._lock:
            self._closed = True
            if self.conn is not None:
                try:
                    self.conn.execute("PRAGMA optimize")
                except sqlite3.Error:
                    pass
                self.conn.close()
                self.conn = None
