"""Projectors and the engine that keeps their read models in step with the log.

A projector has a name, one SQL file in `projections/` that defines its tables and indexes,
handlers named `on_<EventType>(conn, recorded)`, and a version: a hash of that SQL plus
`code_version`. Change either and the server rebuilds the read model at start-up.

Inline projectors run inside the append's transaction (read-your-writes) and their checkpoint
commits in that same transaction. Asynchronous projectors (slow side work) catch up from their
checkpoint on a background thread. A rebuild replays the log into shadow tables
(`<table>__g<generation>`) in chunks, builds the indexes afterwards, then, holding the writer,
applies what was appended meanwhile and swaps the shadow tables in by renaming them: readers
never see a half-built read model and writes only wait for one chunk at a time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar, Iterable, Sequence

import msgspec

from .errors import NotFound, Unavailable
from .eventstore import EventStore, RecordedEvent, Transaction
from .resources import read_text

log = logging.getLogger(__name__)

_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


class SqlSpec(msgspec.Struct, frozen=True):
    """A projection's SQL file, split into table and index statements."""

    text: str
    tables: tuple[str, ...]
    indexes: tuple[str, ...]
    table_statements: tuple[str, ...]
    index_statements: tuple[str, ...]

    def rename(self, statements: Iterable[str], suffix: str) -> list[str]:
        """The statements with every table and index name given `suffix`."""
        if not suffix:
            return list(statements)
        names = sorted(self.tables + self.indexes, key=len, reverse=True)
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
        return [pattern.sub(lambda m: m.group(1) + suffix, s) for s in statements]


def _split_statements(text: str) -> list[str]:
    statements, current = [], ""
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("--")):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement: {current.strip()[:80]}")
    return statements


@functools.lru_cache(maxsize=None)
def load_sql(filename: str) -> SqlSpec:
    return parse_sql(read_text("projections", filename), filename)


@functools.lru_cache(maxsize=None)
def parse_sql(text: str, filename: str) -> SqlSpec:
    tables, indexes, table_sql, index_sql = [], [], [], []
    for statement in _split_statements(text):
        body = "\n".join(l for l in statement.splitlines() if not l.strip().startswith("--"))
        if m := _CREATE_INDEX.match(body):
            indexes.append(m.group(1))
            index_sql.append(statement)
        elif m := _CREATE_TABLE.match(body):
            tables.append(m.group(1))
            table_sql.append(statement)
        else:
            raise ValueError(f"{filename}: only CREATE TABLE and CREATE INDEX belong in a projection file")
    return SqlSpec(text, tuple(tables), tuple(indexes), tuple(table_sql), tuple(index_sql))


class Tables:
    """Attribute access to a projector's table names (`self.t.timeline`), suffixed in a rebuild."""

    def __init__(self, names: dict[str, str]) -> None:
        self.__dict__.update(names)


Handler = Callable[[sqlite3.Connection, RecordedEvent], None]


class Projector:
    """Base class. Subclasses set `name`, `sql_file` and define `on_<EventType>` handlers."""

    name: ClassVar[str]
    sql_file: ClassVar[str]
    # Tests may define their tables inline instead of in projections/.
    sql_text: ClassVar[str | None] = None
    code_version: ClassVar[int] = 1
    inline: ClassVar[bool] = True
    # Events folded per rebuild transaction: big enough to amortise a commit, small enough that
    # an append waits at most a fraction of a second and memory stays bounded.
    rebuild_chunk: ClassVar[int] = 20_000

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix
        self.spec = self.sql_spec()
        self.t = Tables({name: name + suffix for name in self.spec.tables})
        self.handlers: dict[str, Handler] = {
            attr[3:]: getattr(self, attr) for attr in dir(type(self)) if attr.startswith("on_")
        }

    @classmethod
    def sql_spec(cls) -> SqlSpec:
        if cls.sql_text is not None:
            return parse_sql(cls.sql_text, cls.name)
        return load_sql(cls.sql_file)

    @classmethod
    def version(cls) -> str:
        digest = hashlib.sha256(cls.sql_spec().text.encode())
        digest.update(f"|{cls.code_version}".encode())
        return digest.hexdigest()[:16]

    def create_tables(self, conn: sqlite3.Connection) -> None:
        for statement in self.spec.rename(self.spec.table_statements, self.suffix):
            conn.execute(statement)

    def create_indexes(self, conn: sqlite3.Connection) -> None:
        for statement in self.spec.rename(self.spec.index_statements, self.suffix):
            conn.execute(statement)

    def apply(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        handler = self.handlers.get(recorded.type)
        if handler is not None:
            handler(conn, recorded)

    def compact(self, conn: sqlite3.Connection) -> None:
        """Physically drop deleted data (called after purges); most tables need nothing."""

    def apply_batch(self, conn: sqlite3.Connection, batch: Sequence[RecordedEvent]) -> None:
        """Apply a run of events. Projectors override this to fold a chunk in memory and
        bulk-insert during rebuilds; the result must equal applying them one by one."""
        handlers = self.handlers
        for recorded in batch:
            handler = handlers.get(recorded.type)
            if handler is not None:
                handler(conn, recorded)


class ProjectionStatus(msgspec.Struct):
    name: str
    version: str
    position: int
    lag: int
    state: str
    rebuilt_at: str | None
    mode: str
    progress: float | None = None
    error: str | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ProjectionEngine:
    """Runs every projector: catch-up at start, inline application, background work, rebuilds."""

    def __init__(self, store: EventStore, projectors: Sequence[type[Projector]]) -> None:
        self.store = store
        self.classes: dict[str, type[Projector]] = {p.name: p for p in projectors}
        # Instances whose live tables are current and follow the log (guarded by the writer lock).
        self.active: dict[str, Projector] = {}
        self._rebuilds: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._stopping = False
        self._async_thread: threading.Thread | None = None
        store.add_append_hook(self._on_append)
        store.add_commit_listener(self._on_commit)

    # -- start-up -------------------------------------------------------------------------------
    def start(self, *, background: bool = True) -> None:
        """Catch every projector up; rebuild those whose version changed or that never existed.

        Small logs are rebuilt before this returns; large ones in the background (`background`)
        while the old tables keep answering.
        """
        rows = self._checkpoints()
        head = self.store.head()
        for name, cls in self.classes.items():
            row = rows.get(name)
            if row is None or row["version"] != cls.version() or not self._tables_exist(cls, row):
                if head <= cls.rebuild_chunk or not background:
                    self.rebuild(name, wait=True)
                else:
                    self._mark(name, cls, state="stale")
                    self.rebuild(name)
            else:
                self._catch_up(cls(), row["position"])
        if any(not cls.inline for cls in self.classes.values()):
            self._async_thread = threading.Thread(target=self._async_loop, name="octopus-projectors", daemon=True)
            self._async_thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in list(self._rebuilds.values()):
            thread.join()
        if self._async_thread is not None:
            self._async_thread.join()

    def _checkpoints(self) -> dict[str, dict[str, Any]]:
        conn = self.store.reader()
        cur = conn.execute("SELECT * FROM projection_checkpoints")
        cols = [d[0] for d in cur.description]
        return {row[0]: dict(zip(cols, row)) for row in cur.fetchall()}

    def _tables_exist(self, cls: type[Projector], row: dict[str, Any]) -> bool:
        names = set(json.loads(row["tables"] or "[]"))
        wanted = set(cls.sql_spec().tables)
        if names != wanted:
            return False
        have = {r[0] for r in self.store.reader().execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return wanted <= have

    def _mark(self, name: str, cls: type[Projector], *, state: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO projection_checkpoints (name, version, position, state) VALUES (?, ?, 0, ?) "
                "ON CONFLICT (name) DO UPDATE SET state = excluded.state",
                (name, cls.version(), state),
            )

        self.store.writer.call(job)

    def _catch_up(self, projector: Projector, position: int) -> None:
        """Bring a current projector from its checkpoint to the head, then make it active."""
        while True:
            batch = self.store.read_all(position, projector.rebuild_chunk)

            def job(conn: sqlite3.Connection, batch: list[RecordedEvent] = batch) -> int:
                # Re-read the tail inside the writer lock: nothing can be appended meanwhile.
                tail = self.store.read_all(batch[-1].position if batch else position, None) if len(batch) < projector.rebuild_chunk else []
                events = batch + tail
                if events:
                    projector.apply_batch(conn, events)
                    conn.execute(
                        "UPDATE projection_checkpoints SET position = ? WHERE name = ?",
                        (events[-1].position, projector.name),
                    )
                if len(batch) < projector.rebuild_chunk:
                    conn.execute("UPDATE projection_checkpoints SET state = 'live' WHERE name = ?", (projector.name,))
                    if projector.inline:
                        self.active[projector.name] = projector
                return events[-1].position if events else position

            position = self.store.writer.call(job)
            if len(batch) < projector.rebuild_chunk:
                if not projector.inline:
                    self.active[projector.name] = projector
                return

    # -- inline application ---------------------------------------------------------------------
    def _on_append(self, tx: Transaction, recorded: list[RecordedEvent]) -> None:
        active = [p for p in self.active.values() if p.inline]
        if not active:
            return
        names = [p.name for p in active]
        marks = ",".join("?" * len(names))
        behind = tx.conn.execute(
            f"SELECT name, position FROM projection_checkpoints WHERE name IN ({marks}) AND position < ?",
            (*names, recorded[0].position - 1),
        ).fetchall()
        if behind:
            # Another process appended without running our projectors; fold its events in first.
            for name, position in behind:
                missed = store_read_after(tx.conn, position)
                missed = [r for r in missed if r.position < recorded[0].position]
                self.active[name].apply_batch(tx.conn, missed)
        for projector in active:
            projector.apply_batch(tx.conn, recorded)
        tx.conn.execute(
            f"UPDATE projection_checkpoints SET position = ? WHERE name IN ({marks})",
            (recorded[-1].position, *names),
        )

    def _on_commit(self, head: int, owners: frozenset[str | None]) -> None:
        with self._wake:
            self._wake.notify_all()

    # -- asynchronous projectors ----------------------------------------------------------------
    def _async_loop(self) -> None:
        while not self._stopping:
            worked = False
            for projector in [p for p in self.active.values() if not p.inline]:
                worked |= self.step_async(projector)
            if not worked:
                with self._wake:
                    if not self._stopping:
                        self._wake.wait(timeout=1.0)

    def step_async(self, projector: Projector, limit: int = 500) -> bool:
        """Apply the next batch to an asynchronous projector; False when it is at the head."""
        row = self.store.reader().execute(
            "SELECT position FROM projection_checkpoints WHERE name = ?", (projector.name,)
        ).fetchone()
        batch = self.store.read_all(row[0] if row else 0, limit)
        if not batch:
            return False

        def job(conn: sqlite3.Connection) -> None:
            projector.apply_batch(conn, batch)
            conn.execute(
                "UPDATE projection_checkpoints SET position = ? WHERE name = ?", (batch[-1].position, projector.name)
            )

        try:
            self.store.writer.call(job)
        except Exception as exc:
            # A projector bug must not kill the background thread: record it (status shows it)
            # and retry later; the checkpoint did not move, so nothing is skipped.
            log.exception("projector %s failed", projector.name)
            error = f"{type(exc).__name__}: {exc}"[:500]
            self.store.writer.call(
                lambda conn: conn.execute(
                    "UPDATE projection_checkpoints SET error = ? WHERE name = ?", (error, projector.name)
                )
            )
            time.sleep(1.0)
            return False
        return True

    # -- rebuilds -------------------------------------------------------------------------------
    def rebuild(self, name: str, *, wait: bool = False) -> None:
        """Rebuild one read model from the log into shadow tables and swap them in.

        Reads keep using the old tables and writes keep working; with `wait` the call returns
        when the swap is done, otherwise a background thread does the work.
        """
        cls = self.classes.get(name)
        if cls is None:
            raise NotFound(f"no projection named {name!r}")
        with self._lock:
            running = self._rebuilds.get(name)
            if running is not None and running.is_alive():
                if wait:
                    running.join()
                return
            thread = threading.Thread(target=self._rebuild_safely, args=(cls,), name=f"rebuild-{name}", daemon=True)
            self._rebuilds[name] = thread
            thread.start()
        if wait:
            thread.join()
            row = self._checkpoints().get(name)
            if row is not None and row["state"] == "failed":
                raise Unavailable(f"rebuilding {name} failed: {row['error']}")

    def _rebuild_safely(self, cls: type[Projector]) -> None:
        try:
            self._rebuild(cls)
        except Exception as exc:
            # Runs on a background thread: record the failure where status and the admin API see it.
            log.exception("rebuild of %s failed", cls.name)
            error = f"{type(exc).__name__}: {exc}"[:500]

            def job(conn: sqlite3.Connection) -> None:
                conn.execute(
                    "INSERT INTO projection_checkpoints (name, version, position, state, error) "
                    "VALUES (?, ?, 0, 'failed', ?) ON CONFLICT (name) DO UPDATE SET state='failed', error=excluded.error",
                    (cls.name, cls.version(), error),
                )

            self.store.writer.call(job)

    def _rebuild(self, cls: type[Projector]) -> None:
        store, writer = self.store, self.store.writer
        row = self._checkpoints().get(cls.name)
        generation = (row["generation"] if row else 0) + 1
        shadow = cls(suffix=f"__g{generation}")
        old_tables = set(json.loads(row["tables"])) if row else set()
        bases = old_tables | set(shadow.spec.tables)

        def prepare(conn: sqlite3.Connection) -> int:
            _drop_shadows(conn, bases)
            shadow.create_tables(conn)
            head = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0]
            conn.execute(
                "INSERT INTO projection_checkpoints (name, version, position, state, rebuild_position, rebuild_target) "
                "VALUES (?, ?, 0, 'rebuilding', 0, ?) ON CONFLICT (name) DO UPDATE SET "
                "state = CASE WHEN version = excluded.version AND state = 'live' THEN 'live+rebuilding' ELSE 'rebuilding' END, "
                "rebuild_position = 0, rebuild_target = excluded.rebuild_target, error = NULL",
                (cls.name, cls.version(), head),
            )
            return head

        target = writer.call(prepare)
        position = 0
        # Fold full chunks outside the final swap; decoding happens on this thread, not under
        # the writer lock, so appends only wait while a chunk is being written.
        while True:
            batch = store.read_all(position, shadow.rebuild_chunk)
            if len(batch) < shadow.rebuild_chunk:
                break

            def chunk(conn: sqlite3.Connection, batch: list[RecordedEvent] = batch) -> None:
                shadow.apply_batch(conn, batch)
                conn.execute(
                    "UPDATE projection_checkpoints SET rebuild_position = ?, rebuild_target = "
                    "(SELECT coalesce(max(position), 0) FROM events) WHERE name = ?",
                    (batch[-1].position, cls.name),
                )

            writer.call(chunk)
            position = batch[-1].position
            if self._stopping:
                return
        writer.call(shadow.create_indexes)

        def swap(conn: sqlite3.Connection) -> None:
            rest = store_read_after(conn, position)
            if rest:
                shadow.apply_batch(conn, rest)
            for table in sorted(bases):
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            for table in shadow.spec.tables:
                conn.execute(f'ALTER TABLE "{table}{shadow.suffix}" RENAME TO "{table}"')
            head = rest[-1].position if rest else position
            conn.execute(
                "UPDATE projection_checkpoints SET version = ?, position = ?, state = 'live', generation = ?, "
                "rebuilt_at = ?, rebuild_position = NULL, rebuild_target = NULL, tables = ?, error = NULL "
                "WHERE name = ?",
                (cls.version(), head, generation, _now(), json.dumps(list(shadow.spec.tables)), cls.name),
            )
            if cls.inline:
                self.active[cls.name] = cls()
            else:
                self.active.pop(cls.name, None)

        _ = target
        writer.call(swap)
        if not cls.inline:
            self.active[cls.name] = cls()
            with self._wake:
                self._wake.notify_all()

    def compact(self) -> None:
        """Let every projector drop deleted data for good (after a purge)."""

        def job(conn: sqlite3.Connection) -> None:
            for projector in list(self.active.values()):
                projector.compact(conn)

        self.store.writer.call(job)

    # -- status and checks ----------------------------------------------------------------------
    def status(self) -> list[ProjectionStatus]:
        head = self.store.head()
        rows = self._checkpoints()
        out = []
        for name, cls in self.classes.items():
            row = rows.get(name)
            if row is None:
                out.append(ProjectionStatus(name, cls.version(), 0, head, "missing", None, _mode(cls)))
                continue
            progress = None
            if row["rebuild_target"]:
                progress = round(min(1.0, (row["rebuild_position"] or 0) / row["rebuild_target"]), 4)
            state = row["state"]
            if state == "live" and row["version"] != cls.version():
                state = "stale"
            out.append(
                ProjectionStatus(
                    name, row["version"], row["position"], max(0, head - row["position"]), state,
                    row["rebuilt_at"], _mode(cls), progress, row["error"],
                )
            )
        return out

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until no rebuild runs and asynchronous projectors reached the head (tests, CLI)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._rebuilds.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            if all(s.lag == 0 for s in self.status() if s.mode == "async"):
                return
            time.sleep(0.02)
        raise TimeoutError("projections did not catch up in time")


def _mode(cls: type[Projector]) -> str:
    return "inline" if cls.inline else "async"


def store_read_after(conn: sqlite3.Connection, position: int) -> list[RecordedEvent]:
    """Every event after `position`, read on the given (writer) connection."""
    from .eventstore import _SELECT, _row_to_recorded

    rows = conn.execute(f"{_SELECT} WHERE position > ? ORDER BY position", (position,)).fetchall()
    return [_row_to_recorded(r) for r in rows]


_SHADOW = re.compile(r"^(\w+?)__g\d+$")


def _drop_shadows(conn: sqlite3.Connection, bases: set[str]) -> None:
    """Drop shadow tables a crashed or interrupted rebuild left behind."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for name in names:
        m = _SHADOW.match(name)
        if m and m.group(1) in bases:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')


def dump_tables(conn: sqlite3.Connection, projector: Projector) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of a projector's tables, sorted: what "replay equals incremental" compares."""
    out = {}
    for base in projector.spec.tables:
        table = getattr(projector.t, base)
        rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
        out[base] = sorted(rows, key=repr)
    return out
