"""The SQLite event log: append with optimistic concurrency and idempotency, read, verify.

Generic over event types (see `events.py`). Streams are named by the domain, e.g.
`photo-<id>`, `user-<id>`, `album-<id>`. Each event also records who acted (`actor`), whose data
it is (`owner`, used by sync feeds) and the correlation/causation ids of the request that caused it.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import msgspec

from .database import Synchronous, Writer, connect
from .errors import ConcurrencyConflict, Conflict, Invalid
from .events import Event, decode_event, encode_event, type_name
from .resources import read_text

T = TypeVar("T")

ANY: None = None
"""Pass as `expected_version` to append whatever the stream's version is."""
NO_STREAM = 0
"""Pass as `expected_version` to require that the stream does not exist yet."""

MAX_EVENT_BYTES = 256 * 1024
_GENESIS = bytes(32)
_PACK = msgspec.msgpack.Encoder()


class Meta(msgspec.Struct, frozen=True, kw_only=True):
    """Who and why, recorded beside every event. `owner` defaults to `actor`."""

    actor: str | None = None
    owner: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None


class RecordedEvent(msgspec.Struct, frozen=True, gc=False):
    """An event as stored: its global position, stream version and metadata."""

    position: int
    stream: str
    stream_version: int
    event_id: str
    recorded_us: int
    actor: str | None
    owner: str | None
    correlation_id: str | None
    causation_id: str | None
    event: Event

    @property
    def type(self) -> str:
        return type_name(self.event)


class AppendResult(msgspec.Struct, frozen=True):
    positions: list[int]
    stream_version: int
    duplicate: bool = False
    """True when every event id was already recorded: a retry, nothing was written."""


class VerifyReport(msgspec.Struct, frozen=True):
    ok: bool
    checked: int
    head: int
    first_bad_position: int | None = None
    problem: str | None = None


def new_event_id() -> str:
    """Time-ordered random id: keeps the unique index's inserts near its right edge."""
    return f"{time.time_ns() // 1000:014x}{secrets.token_hex(9)}"


def chain_hash(prev: bytes, row: Sequence[Any]) -> bytes:
    """Hash of one stored row (all columns but the hash) chained to the previous row's hash."""
    return hashlib.sha256(prev + _PACK.encode(tuple(row))).digest()


_COLUMNS = (
    "position, event_id, stream, stream_version, type, type_version, data, recorded_us, "
    "actor, owner, correlation_id, causation_id"
)
_SELECT = f"SELECT {_COLUMNS} FROM events"
_INSERT = f"INSERT INTO events ({_COLUMNS}, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"

AppendHook = Callable[["Transaction", list[RecordedEvent]], None]
CommitListener = Callable[[int, frozenset[str | None]], None]


def _row_to_recorded(row: tuple[Any, ...]) -> RecordedEvent:
    return RecordedEvent(
        row[0], row[2], row[3], row[1], row[7], row[8], row[9], row[10], row[11],
        decode_event(row[4], row[5], row[6]),
    )


class Transaction:
    """One writer transaction. Several appends (to several streams) commit or fail together."""

    def __init__(self, store: EventStore, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn
        self.recorded: list[RecordedEvent] = []
        # Read the tail inside the transaction, not from a cache: another process (the CLI next
        # to a running server) may have appended since, and BEGIN IMMEDIATE has locked it out now.
        row = conn.execute("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1").fetchone()
        self._head, self._hash = (row[0], row[1]) if row else (0, _GENESIS)
        self._after: list[Callable[[], None]] = []

    def stream_version(self, stream: str) -> int:
        row = self.conn.execute("SELECT max(stream_version) FROM events WHERE stream = ?", (stream,)).fetchone()
        return row[0] or 0

    def read_stream(self, stream: str) -> list[RecordedEvent]:
        rows = self.conn.execute(f"{_SELECT} WHERE stream = ? ORDER BY stream_version", (stream,)).fetchall()
        return [_row_to_recorded(r) for r in rows]

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the writer thread once this transaction has committed."""
        self._after.append(fn)

    def append(
        self,
        stream: str,
        expected_version: int | None,
        events: Sequence[Event],
        *,
        meta: Meta | None = None,
        ids: Sequence[str] | None = None,
    ) -> AppendResult:
        """Append `events` to `stream` if its version is `expected_version` (None: any)."""
        if not events:
            raise Invalid("an append needs at least one event")
        if not stream or len(stream) > 200:
            raise Invalid("a stream name must have 1 to 200 characters")
        meta = meta or Meta()
        conn = self.conn
        if ids is not None:
            if len(ids) != len(events) or len(set(ids)) != len(ids):
                raise Invalid("one distinct event id is needed per event")
            marks = ",".join("?" * len(ids))
            found = dict(conn.execute(f"SELECT event_id, position FROM events WHERE event_id IN ({marks})", list(ids)))
            if found:
                if len(found) != len(ids):
                    raise Conflict("some of these event ids are already recorded, others are not")
                positions = [found[i] for i in ids]
                return AppendResult(positions, self.stream_version(stream), duplicate=True)
        else:
            ids = [new_event_id() for _ in events]
        current = self.stream_version(stream)
        if expected_version is not None and expected_version != current:
            raise ConcurrencyConflict(
                f"stream {stream} is at version {current}, not {expected_version}",
                stream=stream, expected=expected_version, actual=current,
            )
        now_us = time.time_ns() // 1000
        owner = meta.owner if meta.owner is not None else meta.actor
        rows = []
        recorded = []
        head, prev = self._head, self._hash
        for offset, (event, event_id) in enumerate(zip(events, ids), start=1):
            data = encode_event(event)
            if len(data) > MAX_EVENT_BYTES:
                raise Invalid(f"event {type_name(event)} is {len(data)} bytes; the limit is {MAX_EVENT_BYTES}")
            head += 1
            row = (
                head, event_id, stream, current + offset, type_name(event), type(event).version, data, now_us,
                meta.actor, owner, meta.correlation_id, meta.causation_id,
            )
            prev = chain_hash(prev, row)
            rows.append((*row, prev))
            recorded.append(
                RecordedEvent(head, stream, current + offset, event_id, now_us, meta.actor, owner,
                              meta.correlation_id, meta.causation_id, event)
            )
        conn.executemany(_INSERT, rows)
        self._head, self._hash = head, prev
        self.recorded.extend(recorded)
        for hook in self.store._append_hooks:
            hook(self, recorded)
        return AppendResult([r.position for r in recorded], current + len(events))


class EventStore:
    """The event log in one SQLite file (read models and the keystore share the file, so inline
    projections and key destruction commit atomically with the events that cause them)."""

    def __init__(self, path: Path | str, *, synchronous: Synchronous = "FULL") -> None:
        self.path = Path(path)
        self.writer = Writer(self.path, synchronous=synchronous)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._append_hooks: list[AppendHook] = []
        self._listeners: list[CommitListener] = []
        self._head = 0
        self._last_hash = _GENESIS
        self._open = False

    # -- life cycle -----------------------------------------------------------------------------
    def open(self) -> EventStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer.start()
        schema = read_text("eventstore", "schema.sql")
        self.writer.call(lambda conn: conn.executescript(schema), transaction=False)

        def load_head(conn: sqlite3.Connection) -> tuple[int, bytes]:
            row = conn.execute("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1").fetchone()
            return (row[0], row[1]) if row else (0, _GENESIS)

        self._head, self._last_hash = self.writer.call(load_head, transaction=False)
        self._open = True
        return self

    def close(self) -> None:
        self.writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
        self._open = False

    def __enter__(self) -> EventStore:
        return self.open() if not self._open else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks ----------------------------------------------------------------------------------
    def add_append_hook(self, hook: AppendHook) -> None:
        """`hook(tx, recorded)` runs inside every append's transaction (inline projections)."""
        self._append_hooks.append(hook)

    def add_commit_listener(self, listener: CommitListener) -> None:
        """`listener(head, owners)` runs on the writer thread after each commit that appended."""
        self._listeners.append(listener)

    # -- writing --------------------------------------------------------------------------------
    def _job(self, fn: Callable[[Transaction], T]) -> tuple[Callable[[sqlite3.Connection], T], Callable[[T], None]]:
        state: dict[str, Transaction] = {}

        def job(conn: sqlite3.Connection) -> T:
            tx = Transaction(self, conn)
            state["tx"] = tx
            return fn(tx)

        def committed(_: T) -> None:
            tx = state["tx"]
            if tx.recorded:
                self._head, self._last_hash = tx._head, tx._hash
            for after in tx._after:
                after()
            if tx.recorded:
                owners = frozenset(r.owner for r in tx.recorded)
                for listener in self._listeners:
                    listener(self._head, owners)

        return job, committed

    def transact(self, fn: Callable[[Transaction], T]) -> T:
        """Run `fn(tx)` as one writer transaction on this thread and return its result."""
        job, committed = self._job(fn)
        return self.writer.call(job, after_commit=committed)

    def submit(self, fn: Callable[[Transaction], T]) -> Future[T]:
        """Like `transact`, on the writer's own thread; returns a future of the result."""
        job, committed = self._job(fn)
        return self.writer.submit(job, after_commit=committed)

    async def transact_async(self, fn: Callable[[Transaction], T]) -> T:
        job, committed = self._job(fn)
        return await self.writer.call_async(job, after_commit=committed)

    def append(
        self,
        stream: str,
        expected_version: int | None,
        events: Sequence[Event],
        *,
        meta: Meta | None = None,
        ids: Sequence[str] | None = None,
    ) -> AppendResult:
        """Append atomically; a stale `expected_version` raises ConcurrencyConflict."""
        return self.transact(lambda tx: tx.append(stream, expected_version, events, meta=meta, ids=ids))

    async def append_async(
        self,
        stream: str,
        expected_version: int | None,
        events: Sequence[Event],
        *,
        meta: Meta | None = None,
        ids: Sequence[str] | None = None,
    ) -> AppendResult:
        return await self.transact_async(lambda tx: tx.append(stream, expected_version, events, meta=meta, ids=ids))

    # -- reading --------------------------------------------------------------------------------
    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (WAL lets it read while the writer writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, role="reader")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def head_cached(self) -> int:
        """The head as this process last committed or loaded it (no query: for health checks)."""
        return self._head

    def head(self) -> int:
        """Position of the last committed event (0 for an empty log)."""
        row = self.reader().execute("SELECT max(position) FROM events").fetchone()
        return row[0] or 0

    def read_all(self, after: int = 0, limit: int | None = 1000, *, owner: str | None = None) -> list[RecordedEvent]:
        """Events after global position `after`, in log order; only `owner`'s when given."""
        conn = self.reader()
        lim = -1 if limit is None else int(limit)
        if owner is None:
            rows = conn.execute(f"{_SELECT} WHERE position > ? ORDER BY position LIMIT ?", (after, lim)).fetchall()
        else:
            rows = conn.execute(
                f"{_SELECT} WHERE owner = ? AND position > ? ORDER BY position LIMIT ?", (owner, after, lim)
            ).fetchall()
        return [_row_to_recorded(r) for r in rows]

    def iter_all(self, after: int = 0, *, upto: int | None = None, chunk: int = 5000) -> Iterator[list[RecordedEvent]]:
        """The log in chunks, for replays that must not hold it all in memory."""
        while True:
            batch = self.read_all(after, chunk)
            if upto is not None:
                batch = [r for r in batch if r.position <= upto]
            if not batch:
                return
            yield batch
            after = batch[-1].position
            if len(batch) < chunk:
                return

    def read_stream(self, stream: str, after_version: int = 0) -> list[RecordedEvent]:
        rows = self.reader().execute(
            f"{_SELECT} WHERE stream = ? AND stream_version > ? ORDER BY stream_version", (stream, after_version)
        ).fetchall()
        return [_row_to_recorded(r) for r in rows]

    def stream_version(self, stream: str) -> int:
        row = self.reader().execute("SELECT max(stream_version) FROM events WHERE stream = ?", (stream,)).fetchone()
        return row[0] or 0

    # -- integrity ------------------------------------------------------------------------------
    def verify(self, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Recompute the hash chain; report the first position whose stored bytes do not match."""
        return verify_log(self.reader(), progress=progress)


def verify_log(conn: sqlite3.Connection, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check gap-free positions and the hash chain over a whole log, in bounded memory."""
    prev = _GENESIS
    expected = 1
    checked = 0
    after = 0
    while True:
        rows = conn.execute(
            f"SELECT {_COLUMNS}, hash FROM events WHERE position > ? ORDER BY position LIMIT 5000", (after,)
        ).fetchall()
        if not rows:
            break
        for row in rows:
            position = row[0]
            if position != expected:
                return VerifyReport(False, checked, _head(conn), expected, f"position {expected} is missing")
            if not isinstance(row[6], bytes):
                return VerifyReport(False, checked, _head(conn), position, "payload is not stored as bytes")
            prev = chain_hash(prev, row[:12])
            if prev != row[12]:
                return VerifyReport(
                    False, checked, _head(conn), position,
                    f"the stored bytes of position {position} do not match its hash",
                )
            checked += 1
            expected += 1
        after = rows[-1][0]
        if progress:
            progress(checked)
    return VerifyReport(True, checked, after)


def _head(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0


def open_store(path: Path | str, **kwargs: Any) -> EventStore:
    return EventStore(path, **kwargs).open()


__all__ = [
    "ANY", "NO_STREAM", "AppendResult", "EventStore", "Meta", "RecordedEvent", "Transaction",
    "VerifyReport", "chain_hash", "new_event_id", "open_store", "verify_log",
]

