"""Rebuilding the library (timeline) read model from a 1,000,000-event log.

    uv run python tests/benchmarks/bench_rebuild.py [EVENTS]

Seeds a log once (cached under bench-data/; 90% uploads with sealed details, 10% favourites),
then, each in a fresh subprocess so peak RSS is the rebuild's own:
  ours        engine.rebuild("library"): shadow tables, chunked fold, indexes after, swap
  bare best   sqlite3 + msgspec + unseal, chunks folded in memory, executemany, indexes after
  bare rows   sqlite3 + msgspec + unseal, one INSERT/UPDATE per event in one transaction
Targets: ours under 20 s, >= 50% of the best bare version, peak RSS under 200 MB.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000
DATA = ROOT / "bench-data" / f"rebuild-{N}"


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed() -> None:
    from octopus_events import keystore, sealing
    from octopus_events.eventstore import EventStore, Meta
    from octopus_events.photos import PhotoFavourited, PhotoUploaded, key_prefix, photo_stream, seal_for

    import factories as f

    db = DATA / "octopus.db"
    if db.exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    store = EventStore(db, synchronous="OFF").open()  # seeding speed only; the rebuild reads it
    rng = random.Random(1)
    uploads = N * 9 // 10
    started = time.perf_counter()
    made = 0
    batch = 5000
    while made < N:
        def job(tx, made=made):  # type: ignore[no-untyped-def]
            count = 0
            events_left = min(batch, N - made)
            for _ in range(events_left):
                i = made + count
                if i < uploads or rng.random() < 0.0:
                    pid = f"p{i:09d}"
                    key_id = key_prefix(pid) + "1"
                    key = sealing.new_data_key()
                    keystore.put(tx.conn, key_id, "photo", "u1", key)
                    local = f"{2000 + rng.randrange(25)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T12:00:00"
                    d = f.details(filename=f"IMG_{i}.JPG", taken_local=local, tags=[], phash=rng.getrandbits(63))
                    tx.append(photo_stream(pid), 0, [PhotoUploaded(
                        photo_id=pid, key_id=key_id, mime="image/jpeg", size=3_000_000, width=4000, height=3000,
                        orientation=1, sealed=seal_for(key, pid, "PhotoUploaded", d))], meta=Meta(actor="u1"))
                else:
                    pid = f"p{rng.randrange(uploads):09d}"
                    tx.append(photo_stream(pid), None, [PhotoFavourited(photo_id=pid)], meta=Meta(actor="u1"))
                count += 1
            return count

        made += store.transact(job)
        if made % 100_000 == 0:
            print(f"  seeded {made:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    store.close()


def run_ours() -> dict[str, float]:
    from octopus_events.eventstore import EventStore
    from octopus_events.projection import ProjectionEngine
    from octopus_events.readmodels.library import LibraryProjector

    work = DATA / "ours.db"
    _copy(DATA / "octopus.db", work)
    store = EventStore(work).open()
    engine = ProjectionEngine(store, [LibraryProjector])
    started = time.perf_counter()
    engine.rebuild("library", wait=True)
    seconds = time.perf_counter() - started
    rows = store.reader().execute("SELECT count(*) FROM photo").fetchone()[0]
    store.close()
    work.unlink()
    return {"seconds": seconds, "rows": rows, "rss": peak_rss_mb()}


def _copy(src: Path, dst: Path) -> None:
    source = sqlite3.connect(src)
    target = sqlite3.connect(dst)
    source.backup(target)
    source.close()
    target.close()


def run_bare(mode: str) -> dict[str, float]:
    """The same work with nothing of ours in the loop but the event classes and the sealing."""
    import msgspec

    from octopus_events import sealing
    from octopus_events.photos import PhotoDetails, PhotoFavourited, PhotoUploaded
    from octopus_events.readmodels.library import COLUMNS, rfc3339_us
    from octopus_events.resources import read_text

    work = DATA / f"bare-{mode}.db"
    _copy(DATA / "octopus.db", work)
    conn = sqlite3.connect(work, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    sql = read_text("projections", "library.sql")
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    conn.execute("DROP TABLE IF EXISTS photo")
    for s in statements:
        if "CREATE TABLE IF NOT EXISTS photo " in s or "CREATE TABLE IF NOT EXISTS photo\n" in s:
            conn.execute(s)
    indexes = [s for s in statements if s.lstrip("- \n").upper().startswith("CREATE INDEX") and " ON photo " in s]
    up = msgspec.json.Decoder(PhotoUploaded)
    fav = msgspec.json.Decoder(PhotoFavourited)
    details_dec = msgspec.msgpack.Decoder(PhotoDetails)
    marks = ",".join("?" * len(COLUMNS))
    insert = f"INSERT INTO photo ({', '.join(COLUMNS)}) VALUES ({marks})"
    reader = sqlite3.connect(work)
    from collections import Counter

    months: Counter[tuple[str, str]] = Counter()
    conn.execute("CREATE TABLE IF NOT EXISTS bare_month (owner TEXT, month TEXT, count INTEGER, PRIMARY KEY (owner, month))")
    started = time.perf_counter()
    conn.execute("BEGIN")
    after = 0
    chunk = 20_000
    while True:
        rows = reader.execute(
            "SELECT position, type, data, owner, recorded_us, stream_version FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after, chunk),
        ).fetchall()
        if not rows:
            break
        after = rows[-1][0]
        ids = [f"photo:{r[2][r[2].index(b'photo_id') + 11: r[2].index(b'photo_id') + 21].decode()}:1" for r in rows if r[1] == "PhotoUploaded"]
        keys = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            keys.update(reader.execute(f"SELECT key_id, material FROM keystore WHERE key_id IN ({','.join('?' * len(part))})", part).fetchall())
        pending: dict[str, list] = {}
        for position, type_, data, owner, rec_us, sv in rows:
            if type_ == "PhotoUploaded":
                e = up.decode(data)
                d = sealing.unseal_struct(keys[e.key_id], e.sealed, PhotoDetails, context=f"{e.photo_id}|PhotoUploaded".encode())
                up_at = rfc3339_us(rec_us)
                row = [e.photo_id, owner, "library", sv, d.sha256, e.size, e.mime, e.width, e.height, e.orientation,
                       d.filename, d.description, "[]", d.date.taken_at, d.date.taken_local, d.date.source,
                       d.date.taken_local[5:10], up_at, 0, d.camera.make, d.camera.model, d.camera.lens,
                       d.exposure.iso, d.exposure.f_number, d.exposure.exposure_time, d.exposure.focal_length,
                       None, None, d.phash, None, None]
                if mode == "rows":
                    conn.execute(insert, row)
                    months[(owner, row[14][:7])] += 1
                else:
                    pending[e.photo_id] = row
            else:
                e2 = fav.decode(data)
                row2 = pending.get(e2.photo_id)
                if row2 is not None:
                    row2[18] = 1
                    row2[3] = sv
                else:
                    conn.execute("UPDATE photo SET favourite = 1, version = ? WHERE id = ?", (sv, e2.photo_id))
        if pending:
            conn.executemany(insert, pending.values())
            for row in pending.values():  # the month counters the library keeps too
                months[(row[1], row[14][:7])] += 1
        _ = details_dec
    conn.executemany("INSERT INTO bare_month VALUES (?, ?, ?)", [(o, m, n) for (o, m), n in months.items()])
    for s in indexes:
        conn.execute(s)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    count = conn.execute("SELECT count(*) FROM photo").fetchone()[0]
    conn.close()
    reader.close()
    work.unlink()
    return {"seconds": seconds, "rows": count, "rss": peak_rss_mb()}


def child(kind: str) -> None:
    result = run_ours() if kind == "ours" else run_bare(kind)
    print(json.dumps(result))


def measure(kind: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, str(N), "--child", kind], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--child") + 1])
        return
    print(f"seeding {N:,} events into {DATA} (once) ...", flush=True)
    seed()
    runs = int(os.environ.get("RUNS", "3"))
    results: dict[str, list[dict[str, float]]] = {"ours": [], "best": [], "rows": []}
    for _ in range(runs):  # interleaved, so machine noise hits all three alike
        for kind in results:
            results[kind].append(measure(kind))
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    rss = {k: max(r["rss"] for r in v) for k, v in results.items()}
    eps = {k: N / s for k, s in med.items()}
    print()
    print(f"rebuild of the library read model from {N:,} events, median of {runs} runs")
    print(f"{'':<24}{'seconds':>10}{'events/s':>12}{'peak RSS MB':>14}")
    for label, key in (("ours (engine.rebuild)", "ours"), ("bare, chunk fold (best)", "best"), ("bare, row by row", "rows")):
        print(f"{label:<24}{med[key]:>10.1f}{eps[key]:>12,.0f}{rss[key]:>14.0f}")
    ratio = eps["ours"] / max(eps["best"], eps["rows"])  # against whichever bare version won
    print(f"\nratio ours / fastest bare: {ratio:.0%} (target >= 50%); ours {med['ours']:.1f} s (target < 20 s); "
          f"peak RSS {rss['ours']:.0f} MB (target < 200 MB)")
    print("PASS" if ratio >= 0.5 and med["ours"] < 20 and rss["ours"] < 200 else "MISS")


if __name__ == "__main__":
    main()
