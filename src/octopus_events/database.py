"""SQLite connections: one writer thread fed by a queue, readers on their own connections.

Datasette's pattern. A whole unit of work (an append with its inline projections, a chunk of a
rebuild) is shipped to the writer thread as ONE call and runs in one transaction there; that is
what makes global positions gap-free and keeps the per-append cost at one thread hop at most
(aiosqlite's hop per statement would make an append five round trips).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Literal, TypeVar

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


class _Job:
    """One unit of work queued for the writer thread, and how to hand back its outcome."""

    __slots__ = ("fn", "transaction", "after_commit", "future", "loop")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], transaction: bool,
                 after_commit: Callable[[Any], None] | None, future: Future[Any] | asyncio.Future[Any],
                 loop: asyncio.AbstractEventLoop | None) -> None:
        self.fn, self.transaction, self.after_commit = fn, transaction, after_commit
        self.future, self.loop = future, loop

    def settle(self, result: Any, error: BaseException | None) -> None:
        if self.loop is not None:
            # Wake the event loop once, straight into the awaiting coroutine's future.
            self.loop.call_soon_threadsafe(_settle_async, self.future, result, error)
        elif error is not None:
            self.future.set_exception(error)  # type: ignore[arg-type]
        else:
            self.future.set_result(result)


def _settle_async(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_STOP = object()
MAX_GROUP = 64


class Writer:
    """The single writing connection. Whoever holds its lock writes; nobody else ever does.

    A synchronous caller (CLI, tests, the rebuild thread) runs its unit of work on its own thread
    under the lock: no thread hop at all, so one durable append costs about what bare sqlite3
    costs. Async callers queue their work for the writer's own thread so the event loop never
    waits on an fsync. That thread commits in groups: jobs that queued up while it was busy run
    in one transaction, each inside its own SAVEPOINT (so each still succeeds or fails alone),
    and share one COMMIT, that is one fsync. Four concurrent uploads cost one disk flush, not four.
    """

    def __init__(self, path: Path, *, synchronous: Synchronous = "FULL") -> None:
        self._path = path
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.conn: sqlite3.Connection | None = None

    def start(self) -> None:
        self.conn = connect(self._path, role="writer", synchronous=self._synchronous)
        self._thread = threading.Thread(target=self._run, name="octopus-writer", daemon=True)
        self._thread.start()

    # -- the synchronous path: the caller's own thread --------------------------------------------
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
            conn = self._conn()
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
                _after(after_commit, result)
                return result
            finally:
                self._owner = None

    # -- the queued path: the writer's own thread --------------------------------------------------
    def submit(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        transaction: bool = True,
        after_commit: Callable[[T], None] | None = None,
    ) -> Future[T]:
        """Queue the job for the writer thread; returns a concurrent future of its result."""
        future: Future[T] = Future()
        self._put(_Job(fn, transaction, after_commit, future, None))
        return future

    async def call_async(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        transaction: bool = True,
        after_commit: Callable[[T], None] | None = None,
    ) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put(_Job(fn, transaction, after_commit, future, loop))
        return await future

    def _put(self, job: _Job) -> None:
        if self._closed or self._thread is None:
            raise WriterClosed("the database writer is closed")
        self._queue.put(job)

    def _run(self) -> None:
        pending: list[_Job] = []
        while True:
            item = pending.pop(0) if pending else self._queue.get()
            if item is _STOP:
                return
            job: _Job = item
            if not job.transaction:
                self._run_alone(job)
                continue
            group = [job]
            while len(group) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP or not nxt.transaction:
                    pending.append(nxt)  # handled after this group, in queue order
                    break
                group.append(nxt)
            self._run_group(group)

    def _run_alone(self, job: _Job) -> None:
        try:
            result = self.call(job.fn, transaction=False, after_commit=job.after_commit)
        except BaseException as exc:  # handed to the waiting caller, who re-raises it
            job.settle(None, exc)
            return
        job.settle(result, None)

    def _run_group(self, group: list[_Job]) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        with self._lock:
            self._owner = threading.get_ident()
            try:
                conn = self._conn()
                conn.execute("BEGIN IMMEDIATE")
                for job in group:
                    conn.execute("SAVEPOINT job")
                    try:
                        result = job.fn(conn)
                    except BaseException as exc:  # this job alone is undone; the others go on
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                        outcomes.append((job, None, exc))
                        continue
                    conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
                conn.execute("COMMIT")
            except BaseException as exc:  # BEGIN or COMMIT failed (disk full, I/O): nothing stands
                if self.conn is not None and self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                done = {id(j) for j, _, _ in outcomes}
                outcomes = [(j, None, err or exc) for j, _, err in outcomes]
                outcomes += [(j, None, exc) for j in group if id(j) not in done]
            else:
                for job, result, error in outcomes:
                    if error is None:
                        _after(job.after_commit, result)
            finally:
                self._owner = None
        for job, result, error in outcomes:
            job.settle(result, error)

    def _conn(self) -> sqlite3.Connection:
        if self._closed or self.conn is None:
            raise WriterClosed("the database writer is closed")
        return self.conn

    def in_writer_job(self) -> bool:
        return self._owner == threading.get_ident()

    def close(self) -> None:
        if self._closed:
            return
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
        with self._lock:
            self._closed = True
            if self.conn is not None:
                try:
                    self.conn.execute("PRAGMA optimize")
                except sqlite3.Error:
                    pass
                self.conn.close()
                self.conn = None


def _after(after_commit: Callable[[Any], None] | None, result: Any) -> None:
    if after_commit is None:
        return
    try:
        after_commit(result)
    except Exception:  # the commit stands; a failing listener must not undo it
        log.exception("after-commit callback failed")
