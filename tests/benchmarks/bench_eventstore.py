"""Event store benchmark: our figure next to the same work done with bare sqlite3, in one run.

    uv run python tests/benchmarks/bench_eventstore.py [--quick]

Rows (medians of several runs, synchronous=FULL, WAL, a fresh database file per run):
  (a) durable appends, one event per commit: `store.append` (sync path, the caller's thread) and
      `append_async` (one hop to the writer thread) vs BEGIN IMMEDIATE + INSERT + COMMIT.
  (b) the same with batches of 100 events per commit (executemany).
  (c) `read_all` decoded into Structs vs SELECT + msgspec decode of each row.
  (d) reference: aiosqlite, one thread round-trip per statement (BEGIN, SELECT version, INSERT, COMMIT).
Target: ours >= 60% of bare for (a), (b) and (c). (d) has no target; it shows what shipping
a whole append to the writer as one call saves.

The bare versions do the work an append cannot skip (encode the event, chain its hash, insert
the full row of the same schema) and nothing else; ours adds the stream version check, event ids,
the tail lookup inside the transaction and the RecordedEvent objects handed to projections.
Files go under the repository's bench-data/ (a real disk: /tmp may be RAM, where fsync is free).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import msgspec

from octopus_events.database import connect
from octopus_events.events import Event
from octopus_events.eventstore import ANY, EventStore, new_event_id
from octopus_events.resources import read_text

ROOT = Path(__file__).resolve().parents[2]


class BenchPhotoTagged(Event, frozen=True):
    """About the size of a real event: an id, a few tags, a timestamp."""

    photo_id: str
    tags: list[str]
    at: str


def make_events(n: int) -> list[BenchPhotoTagged]:
    return [
        BenchPhotoTagged(photo_id=f"p{i:08d}", tags=["beach", "family", f"t{i % 50}"], at="2024-07-01T10:00:00+02:00")
        for i in range(n)
    ]


_INSERT = (
    "INSERT INTO events (position, event_id, stream, stream_version, type, type_version, data, recorded_us, "
    "actor, owner, correlation_id, causation_id, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


class Bare:
    """The floor: bare sqlite3 on the same schema, same pragmas, same row."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path, role="writer", synchronous="FULL")
        self.conn.executescript(read_text("eventstore", "schema.sql"))
        self.enc = msgspec.json.Encoder()
        self.position = 0
        self.prev = bytes(32)

    def _row(self, event: Event) -> tuple[object, ...]:
        data = self.enc.encode(event)
        self.position += 1
        self.prev = hashlib.sha256(self.prev + data).digest()
        # One stream, so its version is the position.
        return (self.position, new_event_id(), "photo-1", self.position, "BenchPhotoTagged", 1, data,
                time.time_ns() // 1000, "alice", "alice", None, None, self.prev)

    def append(self, events: list[BenchPhotoTagged]) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        if len(events) == 1:
            conn.execute(_INSERT, self._row(events[0]))
        else:
            conn.executemany(_INSERT, [self._row(e) for e in events])
        conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def fresh(workdir: Path, name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=name + "-", dir=workdir))
    return d / "octopus.db"


# -- (a) and (b): appends -----------------------------------------------------------------------
def ours_sync(workdir: Path, n: int, batch: int) -> float:
    events = make_events(n)
    with EventStore(fresh(workdir, "ours")) as store:
        def run() -> None:
            for i in range(0, n, batch):
                store.append("photo-1", ANY, events[i:i + batch])
        return n / timed(run)


def ours_async(workdir: Path, n: int, batch: int) -> float:
    events = make_events(n)
    with EventStore(fresh(workdir, "async")) as store:
        async def run() -> float:
            started = time.perf_counter()
            for i in range(0, n, batch):
                await store.append_async("photo-1", ANY, events[i:i + batch])
            return time.perf_counter() - started
        return n / asyncio.run(run())


def ours_async_concurrent(workdir: Path, n: int, tasks: int) -> float:
    """`tasks` coroutines each appending one event per call, as concurrent requests would: the
    writer thread commits whatever queued up together (one fsync for the group)."""
    events = make_events(n)
    with EventStore(fresh(workdir, "async-concurrent")) as store:
        async def run() -> float:
            async def worker(k: int) -> None:
                for i in range(k, n, tasks):
                    await store.append_async(f"photo-{k}", ANY, events[i:i + 1])

            started = time.perf_counter()
            await asyncio.gather(*(worker(k) for k in range(tasks)))
            return time.perf_counter() - started
        return n / asyncio.run(run())


def bare_appends(workdir: Path, n: int, batch: int) -> float:
    events = make_events(n)
    bare = Bare(fresh(workdir, "bare"))
    try:
        def run() -> None:
            for i in range(0, n, batch):
                bare.append(events[i:i + batch])
        return n / timed(run)
    finally:
        bare.close()


def aiosqlite_appends(workdir: Path, n: int) -> float:
    import aiosqlite

    events = make_events(n)
    path = fresh(workdir, "aiosqlite")
    enc = msgspec.json.Encoder()

    async def run() -> float:
        async with aiosqlite.connect(path, isolation_level=None) as db:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")
            await db.executescript(read_text("eventstore", "schema.sql"))
            prev = bytes(32)
            started = time.perf_counter()
            for position, event in enumerate(events, start=1):
                await db.execute("BEGIN IMMEDIATE")
                cur = await db.execute("SELECT max(stream_version) FROM events WHERE stream = ?", ("photo-1",))
                version = ((await cur.fetchone())[0] or 0) + 1
                data = enc.encode(event)
                prev = hashlib.sha256(prev + data).digest()
                await db.execute(_INSERT, (position, new_event_id(), "photo-1", version, "BenchPhotoTagged", 1, data,
                                           time.time_ns() // 1000, "alice", "alice", None, None, prev))
                await db.execute("COMMIT")
            return time.perf_counter() - started

    return n / asyncio.run(run())


# -- (c): reads ---------------------------------------------------------------------------------
def build_log(workdir: Path, n: int) -> Path:
    path = fresh(workdir, "log")
    events = make_events(n)
    with EventStore(path, synchronous="OFF") as store:
        for i in range(0, n, 5000):
            store.append(f"photo-{i}", ANY, events[i:i + 5000])
    return path


def ours_read(path: Path) -> float:
    with EventStore(path) as store:
        count = 0

        def run() -> None:
            nonlocal count
            after = 0
            while batch := store.read_all(after, 5000):
                count += len(batch)
                after = batch[-1].position
        seconds = timed(run)
    return count / seconds


def bare_read(path: Path) -> float:
    conn = connect(path, role="reader")
    decoder = msgspec.json.Decoder(BenchPhotoTagged)
    count = 0

    def run() -> None:
        nonlocal count
        after = 0
        while rows := conn.execute(
            "SELECT position, event_id, stream, stream_version, type, type_version, data, recorded_us, actor, owner, "
            "correlation_id, causation_id FROM events WHERE position > ? ORDER BY position LIMIT 5000", (after,)
        ).fetchall():
            decoded = [decoder.decode(r[6]) for r in rows]
            count += len(decoded)
            after = rows[-1][0]

    seconds = timed(run)
    conn.close()
    return count / seconds


# -- report -------------------------------------------------------------------------------------
def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs (a smoke test)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    single, batched, logsize = (300, 5_000, 50_000) if args.quick else (1_500, 30_000, 300_000)

    base = ROOT / "bench-data"
    base.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="eventstore-", dir=base))
    try:
        rows: list[tuple[str, float, float | None, str]] = []

        # Interleave ours and bare in each run so a noisy neighbour or a warming disk hits both.
        def pair(ours: Callable[[], float], bare: Callable[[], float]) -> tuple[float, float]:
            o, b = [], []
            for _ in range(runs):
                o.append(ours())
                b.append(bare())
            return statistics.median(o), statistics.median(b)

        o, b = pair(lambda: ours_sync(workdir, single, 1), lambda: bare_appends(workdir, single, 1))
        rows.append(("(a) append, 1 event/commit, sync path", o, b, ">= 60%"))
        oa, b = pair(lambda: ours_async(workdir, single, 1), lambda: bare_appends(workdir, single, 1))
        rows.append(("(a) append, 1 event/commit, append_async", oa, b, ">= 60%"))
        oc, b = pair(lambda: ours_async_concurrent(workdir, single, 4), lambda: bare_appends(workdir, single, 1))
        rows.append(("(a) append_async, 4 concurrent callers", oc, b, ">= 60%"))
        o, b = pair(lambda: ours_sync(workdir, batched, 100), lambda: bare_appends(workdir, batched, 100))
        rows.append(("(b) append, 100 events/commit, sync path", o, b, ">= 60%"))
        oa, b = pair(lambda: ours_async(workdir, batched, 100), lambda: bare_appends(workdir, batched, 100))
        rows.append(("(b) append, 100 events/commit, append_async", oa, b, ">= 60%"))
        log = build_log(workdir, logsize)
        o, b = pair(lambda: ours_read(log), lambda: bare_read(log))
        rows.append((f"(c) read_all -> Structs ({logsize:,} events)", o, b, ">= 60%"))
        aio = median_of(runs, lambda: aiosqlite_appends(workdir, single))
        rows.append(("(d) aiosqlite, 1 event/commit, 4 hops (ref.)", aio, None, "-"))

        print(f"event store benchmark: median of {runs} runs, synchronous=FULL, WAL, Python {sys.version.split()[0]}, "
              f"SQLite {sqlite3.sqlite_version}")
        header = f"{'operation':<48} {'ours/s':>10} {'bare/s':>10} {'ratio':>7}  {'target':>7}  met"
        print(header)
        print("-" * len(header))
        for name, ours, bare, target in rows:
            if bare is None:
                print(f"{name:<48} {ours:>10,.0f} {'':>10} {'':>7}  {target:>7}")
                continue
            ratio = ours / bare
            print(f"{name:<48} {ours:>10,.0f} {bare:>10,.0f} {ratio:>6.0%}  {target:>7}  {'yes' if ratio >= 0.6 else 'NO'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
