"""Faults: a writer killed mid-stream, a log edited behind our back, many writers at once."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from eventlog_support import ProbeNoted, child_cmd, child_env, watchdog
from octopus_events.application import Octopus
from octopus_events.config import load_config
from octopus_events.errors import ConcurrencyConflict
from octopus_events.eventstore import EventStore

BATCH = 3
STREAMS = 2


def assert_log_is_whole(db: Path) -> list[tuple[int, str, int]]:
    """The log verifies, positions are exactly 1..head, every stream's versions are 1..n."""
    with EventStore(db) as store:
        report = store.verify()
        assert report.ok, report
        rows = store.reader().execute("SELECT position, stream, stream_version FROM events ORDER BY position").fetchall()
        head = store.head()
    assert [r[0] for r in rows] == list(range(1, head + 1))
    versions: dict[str, list[int]] = {}
    for _, stream, version in rows:
        versions.setdefault(stream, []).append(version)
    for stream, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"{stream} versions {seen}"
    return rows


# -- SIGKILL in the middle of appends ---------------------------------------------------------------
@pytest.mark.parametrize("round_", range(2))
def test_sigkill_mid_append_loses_nothing_acknowledged(tmp_path: Path, round_: int) -> None:
    data_dir = tmp_path / "data"
    rng = random.Random()
    acknowledged = 0
    for kill in range(2):  # kill twice: the second child starts on the first one's wreckage
        child = subprocess.Popen(
            child_cmd(f"appender_main({str(data_dir)!r})"), env=child_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            with watchdog(child, 60):
                for _ in range(rng.randint(20, 120)):
                    line = child.stdout.readline()  # type: ignore[union-attr]
                    assert line, f"appender died: {child.stderr.read()}"  # type: ignore[union-attr]
                time.sleep(rng.uniform(0, 0.02))  # land anywhere in the loop, often inside a commit
        finally:
            child.kill()  # SIGKILL: no handler, no flush, no rollback
            child.wait(10)
        # Everything it printed was acknowledged, including lines we had not read yet.
        printed = child.stdout.read().splitlines(keepends=True)  # type: ignore[union-attr]
        acknowledged = max([acknowledged, int(line)] + [int(l) for l in printed if l.endswith("\n")])
        assert child.returncode == -9
        rows = assert_log_is_whole(data_dir / "octopus.db")
        head = rows[-1][0]
        # Every position the child was told is durable survived; it may have committed more.
        assert acknowledged <= head
        assert head % 5 == 0, "an append of 5 events was torn apart"

    with Octopus(load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(data_dir)})) as octopus:
        octopus.engine.wait_idle()
        head = octopus.store.head()
        statuses = octopus.engine.status()
        assert all(s.position == head and s.lag == 0 and s.state == "live" for s in statuses), statuses


def test_a_missing_position_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "octopus.db"
    with EventStore(db) as store:
        store.append("s", None, [ProbeNoted(text=str(i)) for i in range(5)])
    conn = sqlite3.connect(db)
    # Only someone going around the product can do this: the triggers forbid it.
    conn.execute("DROP TRIGGER events_are_immutable_delete")
    conn.execute("DELETE FROM events WHERE position = 3")
    conn.commit()
    conn.close()
    with EventStore(db) as store:
        report = store.verify()
    assert not report.ok and report.first_bad_position == 3 and report.checked == 2
    assert report.problem == "position 3 is missing"


# -- concurrent appenders ---------------------------------------------------------------------------
def append_with_retry(store: EventStore, writer: str, seq: int) -> int:
    """One logical append to a shared stream; returns the number of conflicts it had to retry."""
    stream = f"shared-{seq % STREAMS}"
    events = [ProbeNoted(text=f"{writer}/{seq}/{i}", writer=writer, seq=seq) for i in range(BATCH)]
    version = store.stream_version(stream)
    conflicts = 0
    while True:
        time.sleep(0.001)  # let other threads in between the read and the write: they must collide
        try:
            store.append(stream, version, events)
            return conflicts
        except ConcurrencyConflict as exc:
            conflicts += 1
            version = exc.actual


def assert_exactly_acknowledged(db: Path, acked: dict[str, list[int]]) -> None:
    """The log holds each acknowledged append once, whole, and nothing else."""
    rows = assert_log_is_whole(db)
    assert len(rows) == sum(len(seqs) for seqs in acked.values()) * BATCH
    with EventStore(db) as store:
        written = Counter((r.event.writer, r.event.seq) for c in store.iter_all() for r in c)
    expected = Counter({(w, s): BATCH for w, seqs in acked.items() for s in seqs})
    assert written == expected


async def test_concurrent_async_tasks(tmp_path: Path) -> None:
    db = tmp_path / "octopus.db"
    conflicts = 0
    acked: dict[str, list[int]] = {}
    with EventStore(db) as store:

        async def task(writer: str) -> None:
            nonlocal conflicts
            acked[writer] = []
            for seq in range(25):
                stream = f"shared-{seq % STREAMS}"
                events = [ProbeNoted(text=f"{writer}/{seq}/{i}", writer=writer, seq=seq) for i in range(BATCH)]
                version = store.stream_version(stream)
                while True:
                    try:
                        await store.append_async(stream, version, events)
                        break
                    except ConcurrencyConflict as exc:
                        conflicts += 1
                        version = exc.actual
                acked[writer].append(seq)

        await asyncio.gather(*(task(f"task{i}") for i in range(6)))
    # Tasks read the version, then wait for the writer thread while others append: they collide.
    assert conflicts > 0
    assert_exactly_acknowledged(db, acked)


def test_concurrent_threads(tmp_path: Path) -> None:
    db = tmp_path / "octopus.db"
    acked: dict[str, list[int]] = {}
    conflicts: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)
    with EventStore(db) as store:

        def worker(writer: str) -> None:
            try:
                acked[writer] = []
                start.wait()
                for seq in range(40):
                    conflicts.append(append_with_retry(store, writer, seq))
                    acked[writer].append(seq)
            except BaseException as exc:  # reported below: a thread's exception would be lost
                failures.append(exc)

        threads = [threading.Thread(target=worker, args=(f"thread{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not failures, failures
    assert sum(conflicts) > 0
    assert_exactly_acknowledged(db, acked)


def test_concurrent_processes(tmp_path: Path) -> None:
    db = tmp_path / "octopus.db"
    EventStore(db).open().close()  # create the schema once, not in four racing processes
    procs = [
        subprocess.Popen(
            child_cmd(f"contender_main({str(db)!r}, {STREAMS}, 40, {BATCH}, 'proc{i}')"), env=child_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(4)
    ]
    try:
        for p in procs:  # start together, so that they really contend
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err  # anything but a ConcurrencyConflict is a traceback here
            results.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert sum(r["conflicts"] for r in results) > 0
    assert_exactly_acknowledged(db, {r["writer"]: r["acked"] for r in results})
