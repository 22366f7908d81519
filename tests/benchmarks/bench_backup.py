"""Incremental `octopus backup` of a 10,000-item library after 10 new items. Target: < 5 s.

    uv run python tests/benchmarks/bench_backup.py [ITEMS]

The library is seeded through the event store (factories.seed_photos: no image work) and given
real files: a 60 KB original and a 15 KB thumbnail per item (random bytes; a backup never looks
inside), cached under bench-data/. DEST is on another file system (/dev/shm, as a USB disk would
be), so files are copied, not hard-linked. Each round appends 10 items with their files, then
times ours (`backup.backup`: database snapshot, verify of the log, walk, copy, manifest) against
the floor: the least any incremental copy must do, in bare Python in the same run (sqlite3's
backup API of the database, a stat walk of the source tree and of DEST, shutil.copy2 of the
files DEST lacks). Medians of the rounds are quoted.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import factories  # noqa: E402
from octopus_events.application import Octopus  # noqa: E402
from octopus_events.backup import backup  # noqa: E402
from octopus_events.config import Config, StorageConfig  # noqa: E402

ROUNDS = 5
NEW = 10


def give_files(data: Path, shas: list[str]) -> None:
    for sha in shas:
        original = data / "blobs" / "originals" / sha[:2] / sha
        thumb = data / "blobs" / "derivatives" / "thumb" / sha[:2] / f"{sha}.jpg"
        for path, size in ((original, 60_000), (thumb, 15_000)):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(size))


def shas_of(data: Path, since: int = 0) -> list[str]:
    conn = sqlite3.connect(data / "octopus.db")
    try:
        return [r[0] for r in conn.execute("SELECT sha256 FROM photo WHERE rowid > ? AND sha256 IS NOT NULL", (since,))]
    finally:
        conn.close()


def library(items: int) -> Path:
    data = ROOT / "bench-data" / f"backup-{items}"
    if (data / "seeded").exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data)))).open()
    try:
        octopus.store.transact(lambda tx: factories.add_user(tx, "u-bench", "bench"))
        factories.seed_photos(octopus.store, "u-bench", items)
    finally:
        octopus.close()
    give_files(data, shas_of(data))
    (data / "seeded").write_text("ok")
    return data


def add_items(data: Path, round_no: int) -> None:
    before = sqlite3.connect(data / "octopus.db").execute("SELECT max(rowid) FROM photo").fetchone()[0] or 0
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data)))).open()
    try:
        factories.seed_photos(octopus.store, "u-bench", NEW, seed=50 + round_no + int(time.time()) % 40)
    finally:
        octopus.close()
    give_files(data, shas_of(data, before))


def floor(data: Path, dest: Path) -> None:
    src = sqlite3.connect(f"file:{data / 'octopus.db'}?mode=ro", uri=True)
    dst = sqlite3.connect(dest / "octopus.db")
    src.backup(dst, pages=-1)
    dst.close()
    src.close()
    have = {}
    for folder, _dirs, names in os.walk(dest / "blobs"):
        for name in names:
            have[os.path.join(folder, name)] = os.stat(os.path.join(folder, name)).st_size
    for folder, _dirs, names in os.walk(data / "blobs"):
        rel = os.path.relpath(folder, data)
        for name in names:
            st = os.stat(os.path.join(folder, name))
            target = os.path.join(dest, rel, name)
            if have.get(target) != st.st_size:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(os.path.join(folder, name), target)


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    data = library(items)
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="bench-backup-", dir=base))
    try:
        ours_dest, floor_dest = work / "ours", work / "floor"
        floor_dest.mkdir()
        t0 = time.perf_counter()
        first = backup(data, ours_dest)
        full = time.perf_counter() - t0
        floor(data, floor_dest)
        print(f"library: {items} items, {first.blobs} files, {first.blob_bytes / 1e6:.0f} MB, "
              f"database {first.db_bytes / 1e6:.1f} MB; full backup {full:.2f} s (copied {first.copied})")
        ours_t, floor_t = [], []
        for round_no in range(ROUNDS):
            add_items(data, round_no)
            t0 = time.perf_counter()
            report = backup(data, ours_dest)
            ours_t.append(time.perf_counter() - t0)
            assert report.incremental and report.verified and report.copied == 2 * NEW, report
            t0 = time.perf_counter()
            floor(data, floor_dest)
            floor_t.append(time.perf_counter() - t0)
            print(f"round {round_no + 1}: ours {ours_t[-1]:.3f} s (copied {report.copied}, unchanged "
                  f"{report.unchanged}), floor {floor_t[-1]:.3f} s")
        ours_m, floor_m = statistics.median(ours_t), statistics.median(floor_t)
        print()
        print("| measure | ours | floor | ratio | target |")
        print("|---|---:|---:|---:|---|")
        print(f"| incremental backup, {items} items + {NEW} new (median of {ROUNDS}) | {ours_m:.2f} s | "
              f"{floor_m:.2f} s | {ours_m / floor_m:.2f} | < 5 s |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
