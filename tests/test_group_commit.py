"""The writer thread commits queued jobs together, each in its own savepoint: a failing job is
undone alone, the others commit, and positions stay gap-free and in commit order."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from eventlog_support import ProbeNoted
from octopus_events.errors import ConcurrencyConflict
from octopus_events.eventstore import EventStore, Transaction


async def test_a_failing_job_in_a_group_is_undone_alone(tmp_path: Path) -> None:
    with EventStore(tmp_path / "octopus.db") as store:
        gate = threading.Event()
        # Hold the writer thread busy so that the next jobs queue up and run as one group.
        blocker = store.writer.submit(lambda conn: gate.wait(5), transaction=False)

        def failing(tx: Transaction) -> None:
            tx.append("s-bad", 0, [ProbeNoted(text="never", writer="w", seq=0)])
            raise RuntimeError("the command fails after appending")

        jobs = [
            store.append_async("s-1", 0, [ProbeNoted(text="one", writer="w", seq=1)]),
            store.transact_async(failing),
            store.append_async("s-1", 0, [ProbeNoted(text="stale", writer="w", seq=2)]),  # conflicts with the first
            store.append_async("s-2", 0, [ProbeNoted(text="two", writer="w", seq=3)]),
        ]
        statements: list[str] = []
        assert store.writer.conn is not None
        store.writer.conn.set_trace_callback(statements.append)
        tasks = [asyncio.ensure_future(j) for j in jobs]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        blocker.result(5)
        store.writer.conn.set_trace_callback(None)
        assert statements.count("COMMIT") == 1, "the four queued jobs should share one commit"
        assert statements.count("ROLLBACK TO job") == 2
        assert isinstance(results[1], RuntimeError)
        assert isinstance(results[2], ConcurrencyConflict)
        assert results[0].positions == [1] and results[3].positions == [2]  # type: ignore[union-attr]
        assert [r.position for r in store.read_all(0)] == [1, 2]
        assert store.stream_version("s-bad") == 0
        assert store.verify().ok


async def test_many_concurrent_appends_share_commits(tmp_path: Path) -> None:
    with EventStore(tmp_path / "octopus.db") as store:
        await asyncio.gather(*(
            store.append_async(f"s-{i % 7}", None, [ProbeNoted(text=str(i), writer="w", seq=i)]) for i in range(300)
        ))
        events = store.read_all(0, None)
        assert [e.position for e in events] == list(range(1, 301))
        assert sorted(e.event.seq for e in events) == list(range(300))  # type: ignore[attr-defined]
        assert store.verify().ok


def test_closed_writer_refuses_work(tmp_path: Path) -> None:
    from octopus_events.database import WriterClosed

    store = EventStore(tmp_path / "octopus.db").open()
    store.close()
    with pytest.raises(WriterClosed):
        store.writer.submit(lambda conn: None)
    with pytest.raises((WriterClosed, sqlite3.ProgrammingError)):
        store.append("s", None, [ProbeNoted(text="x", writer="w", seq=0)])
