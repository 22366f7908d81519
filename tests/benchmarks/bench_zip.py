"""ZIP downloads (issue 11, Download in the selection bar): a stored ZIP streamed from the blobs.

    uv run python tests/benchmarks/bench_zip.py [MB] [--zip64]

A real `octopus serve` on loopback holds one original of MB megabytes (default 180: a JPEG with
a long trailer, as cameras append) and twenty small ones. Ours = GET of the prepared ZIP of all of
them (CRC-32 on a worker thread, data descriptors); floor = GET /api/photos/{id}/original of the
same bytes one by one (the plain file stream of the same server, no ZIP). Medians of RUNS, and
the server's peak RSS growth while streaming (a copy in memory would add MB). Target: within 1.5x
of the floor, RSS growth a few chunks (< 40 MB) whatever MB is.

--zip64 also writes a 4.1 GiB ZIP from a sparse file with zipstream directly (no server: 4 GiB
through loopback takes minutes here) and checks it with Python's zipfile and `unzip -t`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from http_support import Server, image_bytes  # noqa: E402

RUNS = 5


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Peak:
    """Samples a process's RSS every 5 ms on a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def __enter__(self) -> Peak:
        self.before = rss_mb(self.pid)
        self.peak = self.before
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self) -> None:
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def fetch(client, url: str) -> int:  # type: ignore[no-untyped-def]
    n = 0
    with client.stream("GET", url) as r:
        assert r.status_code == 200, r.status_code
        for chunk in r.iter_bytes(1024 * 1024):
            n += len(chunk)
    return n


def zip64_check() -> None:
    from datetime import datetime

    from octopus_events.zipstream import ZipEntry, ZipPlan

    tmp = Path(tempfile.mkdtemp())
    try:
        big = tmp / "big.bin"
        with open(big, "wb") as fh:  # sparse: no disk used, reads as zeros
            fh.truncate(4 * 1024**3 + 100 * 1024**2)
        small = tmp / "small.bin"
        small.write_bytes(os.urandom(1000))
        when = datetime(2024, 6, 1, 12)
        plan = ZipPlan([ZipEntry(name="big.bin", path=big, size=big.stat().st_size, modified=when),
                        ZipEntry(name="after.bin", path=small, size=1000, modified=when)])
        out = tmp / "out.zip"
        t = time.perf_counter()
        with open(out, "wb") as fh:
            for chunk in plan.chunks():
                fh.write(chunk)
        took = time.perf_counter() - t
        assert out.stat().st_size == plan.size
        with zipfile.ZipFile(out) as z:
            infos = z.infolist()
            assert [i.filename for i in infos] == ["big.bin", "after.bin"]
            assert infos[0].file_size == big.stat().st_size and infos[1].header_offset > 0xFFFFFFFF
            assert z.read("after.bin") == small.read_bytes()
        unzip = shutil.which("unzip")
        verdict = subprocess.run([unzip, "-tq", str(out)], capture_output=True, text=True).stdout.strip() if unzip else "unzip not installed"
        print(f"ZIP64: {plan.size / 1024**3:.2f} GiB written in {took:.1f} s ({plan.size / 1024**2 / took:.0f} MB/s); "
              f"zipfile reads it; unzip -t: {verdict}")
    finally:
        shutil.rmtree(tmp)


def main() -> None:
    mb = int(next((a for a in sys.argv[1:] if a.isdigit()), "180"))
    tmp = Path(tempfile.mkdtemp())
    server = Server(tmp / "data", env={"OCTOPUS_AUTH_REGISTRATION": "open",
                                       "OCTOPUS_STORAGE_MAX_UPLOAD_MB": str(mb + 10)}).start()
    try:
        user = server.new_user("zipper")
        big = image_bytes(1) + b"\0" * (mb * 1024 * 1024)
        ids = [user.upload(big, "big.jpg").json()["id"]]
        for i in range(20):
            ids.append(user.upload(image_bytes(100 + i), f"IMG_{i:04d}.jpg").json()["id"])
        assert server.proc is not None
        pid = server.proc.pid
        ours, floor, growth = [], [], []
        with user.client() as c:
            for _ in range(RUNS):
                link = c.post("/api/downloads", json={"photo_ids": ids}).json()
                with Peak(pid) as p:
                    t = time.perf_counter()
                    assert fetch(c, link["url"]) == link["bytes"]
                    ours.append(time.perf_counter() - t)
                growth.append(p.peak - p.before)
                t = time.perf_counter()
                for pid_ in ids:
                    fetch(c, f"/api/photos/{pid_}/original")
                floor.append(time.perf_counter() - t)
        # The bare floor: the same files read and CRC-32'd in this process, no HTTP, no ZIP.
        import zlib

        originals = [q for q in (server.data_dir / "blobs" / "originals").rglob("*") if q.is_file()]
        bare = []
        for _ in range(RUNS):
            t = time.perf_counter()
            for q in originals:
                crc = 0
                with open(q, "rb") as fh:
                    while chunk := fh.read(1024 * 1024):
                        crc = zlib.crc32(chunk, crc)
            bare.append(time.perf_counter() - t)
        o, f, b = statistics.median(ours), statistics.median(floor), statistics.median(bare)
        total = (len(big) + 20 * len(image_bytes(100))) / 1024 / 1024
        print(f"ZIP of 1 x {mb} MB + 20 small ({total:.0f} MB), medians of {RUNS}:")
        print(f"  ours  (GET the ZIP)             {o * 1000:8.0f} ms  {total / o:6.0f} MB/s")
        print(f"  floor (GET each /original)      {f * 1000:8.0f} ms  {total / f:6.0f} MB/s")
        print(f"  bare  (read + CRC-32 in process) {b * 1000:8.0f} ms  {total / b:6.0f} MB/s")
        print(f"  ratio {o / f:.2f} vs /original (target <= 1.5), {o / b:.2f} vs bare; server RSS growth while streaming: median "
              f"{statistics.median(growth):.1f} MB, max {max(growth):.1f} MB (target < 40)")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if "--zip64" in sys.argv:
        zip64_check()


if __name__ == "__main__":
    main()
