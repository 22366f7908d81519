"""Read models at 100,000 photos: the first timeline page, a tag page, memories, search and
duplicates, each next to the same query done with bare sqlite3 in the same run; and start-up.

    uv run python tests/benchmarks/bench_library.py [PHOTOS]

The library is seeded once through the event store (no image work; cached under bench-data/).
Ours = our query function + JSON encoding (what the HTTP handler does, minus the socket);
bare = the same SQL with sqlite3 + JSON encoding of the raw rows.
Targets: p95 under 20 ms and within 2x of bare; start-up under 1.5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import msgspec  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
DATA = ROOT / "bench-data" / f"library-{N}"
OWNER = "u1"


def config():  # type: ignore[no-untyped-def]
    from octopus_events.config import Config, StorageConfig

    return Config(storage=StorageConfig(data_dir=str(DATA)))


def seed() -> None:
    import factories as f
    from octopus_events.application import Octopus

    if (DATA / "seeded").exists():
        return
    octopus = Octopus(config()).open()
    started = time.perf_counter()
    octopus.store.transact(lambda tx: f.add_user(tx, OWNER, "bench"))
    for start in range(0, N, 10_000):
        f.seed_photos(octopus.store, OWNER, min(10_000, N - start), seed=start // 10_000 + 10)
        print(f"  seeded {start + 10_000:,} photos ({time.perf_counter() - started:.0f} s)", flush=True)
    octopus.close()
    (DATA / "seeded").write_text("ok")


def timed(fn, runs: int = 60) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    if "--startup" in sys.argv:
        from octopus_events.application import Octopus

        t = time.perf_counter()
        octopus = Octopus(config()).open()
        print(f"{(time.perf_counter() - t) * 1000:.0f}")
        octopus.close()
        return
    print(f"seeding {N:,} photos into {DATA} (once) ...", flush=True)
    seed()
    from octopus_events.application import Octopus
    from octopus_events.readmodels import duplicates, library, search
    from octopus_events.readmodels.library import PHOTO_SELECT

    octopus = Octopus(config()).open()
    octopus.engine.wait_idle(timeout=600)  # a changed read model is rebuilt first
    conn = octopus.store.reader()
    enc = msgspec.json.encode
    today = date(2026, 6, 15)
    tag = library.tags(conn, OWNER)[0].tag
    cases = {
        "timeline, first page": (
            lambda: enc(library.timeline(conn, OWNER)),
            lambda: enc(conn.execute(f"{PHOTO_SELECT} WHERE p.owner = ? AND p.state = 'library' "
                                     "ORDER BY p.taken_local DESC, p.id DESC LIMIT 101", (OWNER,)).fetchall()),
        ),
        "tag page": (
            lambda: enc(library.tag_photos(conn, OWNER, tag)),
            lambda: enc(conn.execute(f"{PHOTO_SELECT} JOIN photo_tag t ON t.photo_id = p.id WHERE t.owner = ? AND t.tag = ? "
                                     "ORDER BY t.taken_local DESC, t.photo_id DESC LIMIT 101", (OWNER, tag.casefold())).fetchall()),
        ),
        "memories (on this day)": (
            lambda: enc(library.memories(conn, OWNER, today)),
            lambda: enc(conn.execute(f"{PHOTO_SELECT} WHERE p.owner = ? AND p.md = ? AND p.state = 'library' AND p.taken_local < ? "
                                     "ORDER BY p.taken_local DESC", (OWNER, "06-15", "2026")).fetchall()),
        ),
        "search 'photo' (every photo)": (
            lambda: enc(search.search(conn, OWNER, q="photo")),
            lambda: enc(conn.execute(f"SELECT s.rowid, {PHOTO_SELECT[7:]} JOIN search_doc s ON s.photo_id = p.id "
                                     "WHERE search_doc MATCH ? AND p.owner = ? AND p.state = 'library' "
                                     "ORDER BY s.rowid DESC LIMIT 101",
                                     (f'owner : "{OWNER}" AND ("photo"*)', OWNER)).fetchall()),
        ),
        "search 'number 4' + tag": (
            lambda: enc(search.search(conn, OWNER, q="number 4", tag=tag)),
            lambda: enc(conn.execute(f"SELECT s.rowid, {PHOTO_SELECT[7:]} JOIN search_doc s ON s.photo_id = p.id "
                                     "JOIN photo_tag t ON t.photo_id = p.id AND t.owner = p.owner AND t.tag = ? "
                                     "WHERE search_doc MATCH ? AND p.owner = ? AND p.state = 'library' "
                                     "ORDER BY s.rowid DESC LIMIT 101",
                                     (tag.casefold(), f'owner : "{OWNER}" AND ("number"* "4")', OWNER)).fetchall()),
        ),
        "search 'img_01234' (rare)": (
            lambda: enc(search.search(conn, OWNER, q="img_01234")),
            lambda: enc(conn.execute(f"SELECT s.rowid, {PHOTO_SELECT[7:]} JOIN search_doc s ON s.photo_id = p.id "
                                     "WHERE search_doc MATCH ? AND p.owner = ? AND p.state = 'library' "
                                     "ORDER BY s.rowid DESC LIMIT 101",
                                     (f'owner : "{OWNER}" AND ("img_01234"*)', OWNER)).fetchall()),
        ),
        "duplicates": (
            lambda: enc(duplicates.groups(conn, OWNER)),
            lambda: enc([conn.execute(f"{PHOTO_SELECT} WHERE p.id IN (?, ?)", (a, b)).fetchall() for a, b, _ in conn.execute(
                "SELECT d.a, d.b, d.distance FROM dup_pair d JOIN photo pa ON pa.id = d.a AND pa.state = 'library' "
                "JOIN photo pb ON pb.id = d.b AND pb.state = 'library' WHERE d.owner = ?", (OWNER,)).fetchall()]),
        ),
    }
    print(f"\nread models with {N:,} photos (ms; 60 runs each, ours and bare interleaved per case)")
    print(f"{'query':<26}{'ours p50':>10}{'ours p95':>10}{'bare p50':>10}{'bare p95':>10}{'ratio p95':>11}  verdict")
    ok = True
    for name, (ours, bare) in cases.items():
        ours(), bare()  # warm the page cache and statement cache alike
        o50, o95 = timed(ours)
        b50, b95 = timed(bare)
        ratio = o95 / b95 if b95 else float("inf")
        good = o95 < 20 and ratio <= 2.0
        ok &= good
        print(f"{name:<26}{o50:>10.2f}{o95:>10.2f}{b50:>10.2f}{b95:>10.2f}{ratio:>10.2f}x  {'ok' if good else 'MISS'}")
    groups = duplicates.groups(conn, OWNER)
    print(f"(duplicate groups found: {len(groups)}; timeline months: {len(library.months(conn, OWNER))})")
    octopus.close()
    starts = []
    for _ in range(3):
        out = subprocess.run([sys.executable, __file__, str(N), "--startup"], capture_output=True, text=True, check=True)
        starts.append(float(out.stdout.strip().splitlines()[-1]))
    startup = statistics.median(starts)
    print(f"start-up (Octopus.open on this library), median of 3: {startup:.0f} ms (target < 1500 ms)")
    ok &= startup < 1500
    print("PASS" if ok else "MISS")


if __name__ == "__main__":
    main()
