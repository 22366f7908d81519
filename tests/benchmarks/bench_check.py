"""`POST /api/photos/check` with 5,000 hashes at 100,000 items: "already backed up?" for a phone.

    uv run python tests/benchmarks/bench_check.py [PHOTOS]

The library is bench_library.py's (seeded once through the event store, no image work, cached
under bench-data/). Each call asks about 5,000 hashes: 2,500 the library has, 2,500 it has not.
Ours = `PhotoLibrary.check` (validation, dedupe, the json_each join on the reader pool) + the
JSON encoding of the answer, what the HTTP handler does minus the socket; bare = the same join in
sqlite3 with the same JSON in and out; a third row, for the record, is the alternative we did not
pick (IN lists of 500). A fourth is the real route over loopback on a real server. Target: p95
under 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

import msgspec  # noqa: E402

import bench_library  # noqa: E402

ASKED = 5_000
RUNS = 60


def timed(fn, runs: int = RUNS) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    from octopus_events.application import Octopus
    from octopus_events.readmodels.library import CHECK_SQL

    bench_library.seed()
    octopus = Octopus(bench_library.config()).open(background_rebuilds=False)
    conn = octopus.store.reader()
    known = [r[0] for r in conn.execute("SELECT sha256 FROM photo WHERE owner = ? AND sha256 IS NOT NULL",
                                        (bench_library.OWNER,))]
    count = len(known)
    rng = random.Random(9)
    hashes = rng.sample(known, ASKED // 2) + [secrets.token_hex(32) for _ in range(ASKED - ASKED // 2)]
    rng.shuffle(hashes)
    body = msgspec.json.encode({"sha256": hashes})
    enc = msgspec.json.Encoder()
    owner = bench_library.OWNER

    loop = asyncio.new_event_loop()

    def ours() -> None:
        asked = msgspec.json.decode(body)["sha256"]
        found = loop.run_until_complete(octopus.photos.check(owner, asked))
        assert len(found) == ASKED // 2
        enc.encode({"existing": found})

    bare_conn = sqlite3.connect(str(octopus.store.path))

    def bare() -> None:
        asked = json.loads(body)["sha256"]
        rows = bare_conn.execute(CHECK_SQL, (json.dumps(asked), owner)).fetchall()
        assert len(rows) == ASKED // 2
        json.dumps({"existing": dict(rows)})

    def in_lists() -> None:
        asked = json.loads(body)["sha256"]
        out: dict[str, str] = {}
        for start in range(0, len(asked), 500):
            part = asked[start:start + 500]
            out.update(bare_conn.execute(
                f"SELECT sha256, id FROM photo WHERE owner = ? AND sha256 IN ({','.join('?' * len(part))}) "
                "AND state != 'vault'", (owner, *part)).fetchall())
        assert len(out) == ASKED // 2
        json.dumps({"existing": out})

    plan = bare_conn.execute("EXPLAIN QUERY PLAN " + CHECK_SQL, ("[]", owner)).fetchall()
    results = {}
    for _ in range(2):  # warm, then the measured round (interleaved so both see the same cache)
        results = {"bare": timed(bare), "ours": timed(ours), "in": timed(in_lists)}
    http = http_round(known)
    loop.close()
    octopus.close()

    print(f"\n/api/photos/check: {ASKED:,} hashes ({ASKED // 2:,} known) at {count:,} items, {RUNS} calls each")
    print("plan: " + "; ".join(r[3] for r in plan))
    print(f"{'path':<44}{'p50 ms':>8}{'p95 ms':>8}{'vs bare':>9}")
    b50 = results["bare"][0]
    for name, key in (("bare sqlite3 json_each join + JSON", "bare"), ("PhotoLibrary.check + JSON (ours)", "ours"),
                      ("alternative: IN lists of 500", "in")):
        p50, p95 = results[key]
        print(f"{name:<44}{p50:>8.1f}{p95:>8.1f}{b50 / p50:>9.0%}")
    if http is not None:
        print(f"{'POST /api/photos/check over loopback':<44}{http[0]:>8.1f}{http[1]:>8.1f}{b50 / http[0]:>9.0%}")
    ok = results["ours"][1] < 50 and (http is None or http[1] < 50)
    print(f"target p95 < 50 ms: {'ok' if ok else 'MISS'}")


def http_round(others: list[str]) -> tuple[float, float] | None:
    """The route itself on a real `octopus serve` over a copy of the seeded data dir: a user made
    there for the run gets 2,500 items of its own (seeded offline, server stopped) and asks about
    them and 2,500 of the seeded owner's hashes, which must not be revealed to it."""
    import shutil
    import tempfile

    import factories as f
    from http_support import Server
    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig

    work = Path(tempfile.mkdtemp(prefix="check-", dir=ROOT / "bench-data"))
    try:
        shutil.copytree(bench_library.DATA, work / "data")
        server = Server(work / "data", env={"OCTOPUS_AUTH_REGISTRATION": "open"}).start()
        try:
            assert server.register("checker").status_code == 201
            owner = server.sign_in("checker").id
            server.stop()
            octopus = Octopus(Config(storage=StorageConfig(data_dir=str(work / "data")))).open(background_rebuilds=False)
            f.seed_photos(octopus.store, owner, ASKED // 2, batch=2500, seed=77)
            mine = [r[0] for r in octopus.store.reader().execute("SELECT sha256 FROM photo WHERE owner = ?", (owner,))]
            octopus.close()
            server.start()
            user = server.sign_in("checker")
            asked = mine + others[:ASKED - len(mine)]
            with user.client() as c:
                def call() -> None:
                    r = c.post("/api/photos/check", json={"sha256": asked})
                    assert r.status_code == 200 and set(r.json()["existing"]) == set(mine), r.text[:200]
                timed(call, 10)
                return timed(call)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
