"""Moving in from Octopus Photos 0.6.1: 1,000 photos. Target: >= 0.8x the speed of our own folder
import of the same files.

    uv run python tests/benchmarks/bench_import06.py [PHOTOS] [ROUNDS]

An 0.6 data dir of PHOTOS photos (default 1,000) is generated once under bench-data/: JPEGs made
by Pillow (1024x768, noisy enough to weigh ~150 KB like a phone picture scaled down, each with an
EXIF date and camera), and an instance/OctopusPhotos.db created from the CREATE TABLE statements
of the real 0.6.1 fixture (tests/fixtures/octopus-0.6.1, read as data) with one user, one row per
photo (tags, descriptions, GPS on a third), 20 albums of 25 and 50 photos in the trash.

Each round imports it twice into fresh data dirs, in alternating order, each as the `octopus`
command a user runs (a process of its own, start-up included, so both pay the same one-time
costs such as loading the place-name index): ours is `octopus import DIR --from-octopus-0.6`
(users, photos, tags, albums, trash), the floor is our folder import `octopus import
data/storage/<user>/photos --user NAME` of the very same files into a library where that user was
made beforehand (untimed). Medians of the rounds, of wall time and of the child's CPU time (user +
system, every thread): on a box shared with other work the wall times swing by 2x from round to
round, the CPU times far less. Ratio = floor seconds / ours (target >= 0.8).
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from PIL import Image  # noqa: E402


FIXTURE_DB = ROOT / "tests" / "fixtures" / "octopus-0.6.1" / "instance" / "OctopusPhotos.db"
USER_ID = uuid.UUID("9c8b0702-8c7a-479a-8b6d-e079a3c8e85f")
USERNAME = "ana"


def gps_of(i: int) -> tuple[float | None, float | None]:
    return (43.4 + i / 10_000, 11.8) if i % 3 == 0 else (None, None)


def jpeg(i: int) -> bytes:
    rng = random.Random(i)
    base = Image.new("RGB", (1024, 768), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.effect_noise((1024, 768), 40 + i % 20).convert("RGB")
    img = Image.blend(base, noise, 0.35)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 40D"
    when = datetime(2015, 1, 1) + timedelta(hours=7 * i)
    exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    lat_lon = gps_of(i)
    if lat_lon[0] is not None:
        # 0.6 read its latitude/longitude from the file's EXIF, so those files carry it too (and
        # both imports place them: the places read model geocodes either way).
        lat, lon = lat_lon
        exif.get_ifd(0x8825).update({1: "N", 2: (int(lat), int(lat * 60) % 60, (lat * 3600) % 60), 3: "E",
                                     4: (int(lon), int(lon * 60) % 60, (lon * 3600) % 60)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif)
    return buf.getvalue()


def schema() -> list[str]:
    """0.6.1's tables, as its SQLAlchemy models created them in the real fixture."""
    conn = sqlite3.connect(f"file:{FIXTURE_DB}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
    finally:
        conn.close()


def make_source(photos: int) -> Path:
    src = ROOT / "bench-data" / f"octopus06-{photos}"
    if (src / "made").exists():
        return src
    shutil.rmtree(src, ignore_errors=True)
    folder = src / "data" / "storage" / str(USER_ID) / "photos"
    folder.mkdir(parents=True)
    (src / "instance").mkdir()
    db = sqlite3.connect(src / "instance" / "OctopusPhotos.db")
    for sql in schema():
        db.execute(sql)
    fixture = sqlite3.connect(f"file:{FIXTURE_DB}?mode=ro", uri=True)
    [(bcrypt_hash,)] = fixture.execute("SELECT password_hash FROM users WHERE username = 'ana'").fetchall()
    fixture.close()
    now = datetime(2026, 11, 1, 12, 0, 0)
    db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, 'ADMIN', 1)",
               (USER_ID.hex, USERNAME, "ana@example.org", bcrypt_hash, str(now)))
    ids = []
    for i in range(photos):
        pid = uuid.UUID(int=i + 1)
        name = f"{uuid.UUID(int=(i + 1) << 64)}.jpg"
        (folder / name).write_bytes(jpeg(i))
        tags = json.dumps(["bench", f"t{i % 7}"]) if i % 2 else None
        trashed = i % 20 == 0
        gps = gps_of(i)
        db.execute(
            "INSERT INTO photos (id, user_id, storage_date, storage_path, file_name, description, tags, is_deleted, "
            "deleted_at, is_encrypted, encryption_salt, date_taken, camera_make, camera_model, focal_length, iso, "
            "exposure_time, aperture, shutter_speed, latitude, longitude) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, 'Canon', 'Canon EOS 40D', 35.0, 100.0, NULL, NULL, NULL, ?, ?)",
            (pid.hex, USER_ID.hex, str(now + timedelta(seconds=i)), str(folder / name), f"IMG_{i:04d}.jpg",
             f"photo {i}" if i % 4 == 0 else None, tags, int(trashed), str(now + timedelta(days=1)) if trashed else None,
             str(datetime(2015, 1, 1) + timedelta(hours=7 * i)), *gps))
        ids.append(pid.hex)
    for a in range(20):
        album = uuid.UUID(int=(a + 1) << 96)
        db.execute("INSERT INTO albums VALUES (?, ?, ?, ?, ?)", (album.hex, USER_ID.hex, f"Album {a}", f"about {a}", str(now)))
        for pid_hex in ids[a * 25:(a + 1) * 25]:
            db.execute("INSERT INTO album_photos VALUES (?, ?)", (pid_hex, album.hex))
    db.commit()
    db.close()
    (src / "made").write_text("")
    return src


class Took(NamedTuple):
    wall: float
    cpu: float  # user + system seconds of the child, all its threads


def octopus(data: Path, *args: str, stdin: str = "") -> tuple[Took, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    env["OCTOPUS_STORAGE_DATA_DIR"] = str(data)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "octopus_events.cli", *args], input=stdin, capture_output=True,
                       text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return Took(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)), r.stdout


def run_06(src: Path, data: Path, photos: int) -> Took:
    took, out = octopus(data, "import", str(src), "--from-octopus-0.6")
    assert f"photos: {photos} imported" in out, out
    return took


def run_folder(src: Path, data: Path, photos: int) -> Took:
    octopus(data, "users", "add", USERNAME, "--admin", "--password-stdin", stdin="bench password\n")
    folder = src / "data" / "storage" / str(USER_ID) / "photos"
    took, out = octopus(data, "import", str(folder), "--user", USERNAME)
    assert f"import: {photos} imported" in out, out
    return took


def main() -> None:
    photos = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    t0 = time.perf_counter()
    src = make_source(photos)
    size = sum(p.stat().st_size for p in (src / "data").rglob("*.jpg"))
    print(f"source: {photos} photos, {size / 1e6:.0f} MB ({time.perf_counter() - t0:.0f} s to make or find)")
    ours: list[Took] = []
    floor: list[Took] = []
    for i in range(rounds):
        with tempfile.TemporaryDirectory(dir=ROOT / "bench-data") as tmp:
            order = [("ours", run_06), ("floor", run_folder)]
            if i % 2:
                order.reverse()
            for label, fn in order:
                took = fn(src, Path(tmp) / label, photos)
                (ours if label == "ours" else floor).append(took)
                print(f"round {i + 1}: {label:5} {took.wall:6.1f} s wall ({photos / took.wall:5.1f} photos/s), "
                      f"{took.cpu:6.1f} s CPU", flush=True)
    for what in ("wall", "cpu"):
        o = statistics.median(getattr(t, what) for t in ours)
        f = statistics.median(getattr(t, what) for t in floor)
        print(f"{what:4}: ours (import --from-octopus-0.6) {o:.1f} s / floor (folder import of the same files) "
              f"{f:.1f} s / ratio (speed, floor time / ours) {f / o:.2f}x  (target >= 0.8x)")


if __name__ == "__main__":
    main()
