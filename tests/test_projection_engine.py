"""The projection engine: inline read-your-writes, asynchronous catch-up, version-triggered
rebuilds at start-up, and rebuilds that keep reads and writes working while they run."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from octopus_events.events import Event
from octopus_events.eventstore import EventStore, Meta, RecordedEvent
from octopus_events.projection import ProjectionEngine, Projector


class CounterBumped(Event):
    counter: str
    by: int


class CountsV1(Projector):
    name = "counts"
    sql_text: ClassVar[str] = """
        CREATE TABLE IF NOT EXISTS counts (counter TEXT PRIMARY KEY, total INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS counts_by_total ON counts (total);
    """

    def on_CounterBumped(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, CounterBumped)
        conn.execute(
            f"INSERT INTO {self.t.counts} VALUES (?, ?) ON CONFLICT (counter) DO UPDATE SET total = total + excluded.total",
            (event.counter, event.by),
        )


class CountsV2(CountsV1):
    """A new shape: a column added. Only a rebuild can fill it, and start-up does that."""

    sql_text: ClassVar[str] = """
        CREATE TABLE IF NOT EXISTS counts (counter TEXT PRIMARY KEY, total INTEGER NOT NULL, events INTEGER NOT NULL);
    """

    def on_CounterBumped(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, CounterBumped)
        conn.execute(
            f"INSERT INTO {self.t.counts} VALUES (?, ?, 1) ON CONFLICT (counter) DO UPDATE SET "
            "total = total + excluded.total, events = events + 1",
            (event.counter, event.by),
        )


class SlowAsync(Projector):
    name = "slow_totals"
    inline = False
    sql_text: ClassVar[str] = "CREATE TABLE IF NOT EXISTS slow_totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL);"

    def on_CounterBumped(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        conn.execute(
            f"INSERT INTO {self.t.slow_totals} VALUES ('all', 1) ON CONFLICT (k) DO UPDATE SET n = n + 1"
        )


def bump(store: EventStore, counter: str = "a", by: int = 1) -> None:
    store.append(f"counter-{counter}", None, [CounterBumped(counter=counter, by=by)], meta=Meta(actor="t"))


def total(store: EventStore, counter: str = "a") -> int | None:
    row = store.reader().execute("SELECT total FROM counts WHERE counter = ?", (counter,)).fetchone()
    return row[0] if row else None


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "octopus.db"


def open_engine(db: Path, *projectors: type[Projector]) -> tuple[EventStore, ProjectionEngine]:
    store = EventStore(db).open()
    engine = ProjectionEngine(store, list(projectors))
    engine.start()
    return store, engine


def close(store: EventStore, engine: ProjectionEngine) -> None:
    engine.stop()
    store.close()


def test_inline_projection_commits_with_the_append(db: Path) -> None:
    store, engine = open_engine(db, CountsV1)
    try:
        bump(store, by=5)
        assert total(store) == 5  # read-your-writes: no waiting
        [status] = engine.status()
        assert (status.position, status.lag, status.state, status.mode) == (store.head(), 0, "live", "inline")

        # A failing append rolls back the projection with it.
        def broken(tx):  # type: ignore[no-untyped-def]
            tx.append("counter-a", None, [CounterBumped(counter="a", by=100)])
            raise RuntimeError("the command fails after appending")

        with pytest.raises(RuntimeError):
            store.transact(broken)
        assert total(store) == 5
        assert engine.status()[0].position == store.head()
    finally:
        close(store, engine)


def test_checkpoint_survives_restart_and_catches_up(db: Path) -> None:
    store, engine = open_engine(db, CountsV1)
    bump(store, by=2)
    close(store, engine)
    # Events appended by something that ran no projectors (another tool) are caught up at start.
    raw = EventStore(db).open()
    for _ in range(3):
        bump(raw, by=1)
    raw.close()
    store, engine = open_engine(db, CountsV1)
    try:
        assert total(store) == 5
        assert engine.status()[0].lag == 0
        # And an append from a process without projectors between two of ours is folded in too.
        other = EventStore(db).open()
        bump(other, by=10)
        other.close()
        bump(store, by=1)
        assert total(store) == 16
    finally:
        close(store, engine)


def test_changed_version_is_rebuilt_at_start_up(db: Path) -> None:
    store, engine = open_engine(db, CountsV1)
    for i in range(7):
        bump(store, "a" if i % 2 else "b", by=i)
    old_version = engine.status()[0].version
    close(store, engine)

    store, engine = open_engine(db, CountsV2)
    try:
        engine.wait_idle()
        [status] = engine.status()
        assert status.version != old_version and status.state == "live" and status.lag == 0
        rows = dict(store.reader().execute("SELECT counter, events FROM counts").fetchall())
        assert rows == {"a": 3, "b": 4}
        tables = {r[0] for r in store.reader().execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not [t for t in tables if "__g" in t], "shadow tables left behind"
    finally:
        close(store, engine)


def test_rebuild_keeps_reads_and_writes_working(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, engine = open_engine(db, CountsV1)
    try:
        store.transact(lambda tx: [tx.append("counter-a", None, [CounterBumped(counter="a", by=1)] * 500) for _ in range(20)])
        expected = 10_000
        assert total(store) == expected
        monkeypatch.setattr(CountsV1, "rebuild_chunk", 250)
        seen_progress: list[float] = []
        stop = threading.Event()
        read_errors: list[BaseException] = []

        def reader() -> None:
            while not stop.is_set():
                try:
                    value = total(store)
                    assert value is not None and value >= expected  # never a half-built table
                    for s in engine.status():
                        if s.progress is not None:
                            seen_progress.append(s.progress)
                except BaseException as exc:  # collected and re-raised in the test thread
                    read_errors.append(exc)
                    return

        thread = threading.Thread(target=reader)
        thread.start()
        engine.rebuild("counts")
        written = 0
        deadline = time.monotonic() + 20
        while engine._rebuilds["counts"].is_alive() and time.monotonic() < deadline:
            bump(store, by=1)  # writes go on during the rebuild
            written += 1
        engine.rebuild("counts", wait=True)
        stop.set()
        thread.join()
        assert not read_errors, read_errors
        assert written > 0
        assert total(store) == expected + written  # what was appended meanwhile is in
        [status] = engine.status()
        assert status.state == "live" and status.lag == 0 and status.rebuilt_at
        assert seen_progress, "rebuild progress was never visible"
    finally:
        close(store, engine)


def test_async_projector_catches_up_in_the_background(db: Path) -> None:
    store, engine = open_engine(db, CountsV1, SlowAsync)
    try:
        for _ in range(25):
            bump(store)
        engine.wait_idle(timeout=10)
        n = store.reader().execute("SELECT n FROM slow_totals").fetchone()[0]
        assert n == 25
        statuses = {s.name: s for s in engine.status()}
        assert statuses["slow_totals"].mode == "async" and statuses["slow_totals"].lag == 0
    finally:
        close(store, engine)
    # After a restart it resumes from its checkpoint: nothing is applied twice.
    store, engine = open_engine(db, CountsV1, SlowAsync)
    try:
        bump(store)
        engine.wait_idle(timeout=10)
        assert store.reader().execute("SELECT n FROM slow_totals").fetchone()[0] == 26
    finally:
        close(store, engine)


def test_unknown_projection_rebuild_is_not_found(db: Path) -> None:
    from octopus_events.errors import NotFound

    store, engine = open_engine(db, CountsV1)
    try:
        with pytest.raises(NotFound):
            engine.rebuild("nope")
    finally:
        close(store, engine)
