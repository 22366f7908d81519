"""POST /api/photos/bulk with 1,000 ids (the cap): one transaction, every id checked, one event each.

    uv run python tests/benchmarks/bench_bulk.py

A real `octopus serve` on loopback with 1,000 photos seeded through the event store. Ours = the
bulk request, alternately archive and unarchive (each one 1,000 events with the library, sync and
search projections inline), then add_tags (sealed events); floor = the same 1,000 archive events
appended by the event store directly in one transaction (factories.photo_event, no HTTP, no
ownership or state checks), on a copy of the same library; for the record, the one-photo route
a thousand times. Medians of RUNS.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from http_support import Server  # noqa: E402

N = 1_000
RUNS = 5


def main() -> None:
    import factories
    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig

    tmp = Path(tempfile.mkdtemp())
    server = Server(tmp / "data", env={"OCTOPUS_AUTH_REGISTRATION": "open"}).start()
    try:
        user, ids = server.seed_library("bulky", N)
        ours, tags, single = [], [], []
        with user.client() as c:
            for run in range(RUNS):
                action = "archive" if run % 2 == 0 else "unarchive"
                t = time.perf_counter()
                r = c.post("/api/photos/bulk", json={"action": action, "photo_ids": ids})
                ours.append(time.perf_counter() - t)
                assert r.status_code == 200 and r.json()["changed"] == N, r.text[:200]
            for run in range(RUNS):
                t = time.perf_counter()
                r = c.post("/api/photos/bulk", json={"action": "add_tags", "photo_ids": ids, "tags": [f"t{run}"]})
                tags.append(time.perf_counter() - t)
                assert r.json()["changed"] == N
            t = time.perf_counter()
            for pid in ids:
                c.post(f"/api/photos/{pid}/archive" if RUNS % 2 == 0 else f"/api/photos/{pid}/unarchive")
            single.append(time.perf_counter() - t)
        server.stop()
        octopus = Octopus(Config(storage=StorageConfig(data_dir=str(server.data_dir)))).open(background_rebuilds=False)
        floor = []
        try:
            for run in range(RUNS):
                kind = "unarchive" if run % 2 == 0 else "archive"
                t = time.perf_counter()
                octopus.store.transact(lambda tx: [factories.photo_event(tx, user.id, pid, kind) for pid in ids])
                floor.append(time.perf_counter() - t)
        finally:
            octopus.close()
        o, f = statistics.median(ours), statistics.median(floor)
        print(f"bulk of {N:,} ids, medians of {RUNS}:")
        print(f"  ours  (POST /api/photos/bulk archive/unarchive)  {o * 1000:7.0f} ms")
        print(f"  ours  (POST /api/photos/bulk add_tags, sealed)   {statistics.median(tags) * 1000:7.0f} ms")
        print(f"  floor (the same events appended in-process)      {f * 1000:7.0f} ms")
        print(f"  ratio {o / f:.2f}; one-photo route x {N:,}: {single[0] * 1000:.0f} ms")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
