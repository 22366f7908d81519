"""Ingest over real HTTP on this machine, next to the bare-Pillow floor for the same steps.

    uv run python tests/benchmarks/bench_ingest.py [PHOTOS_PER_PHASE] [--weak] [--mixed]

With --weak the server runs in a cgroup with half a core and 1 GB (tests/benchmarks/weakbox.py,
needs root), as on a school laptop; the floor still runs unconfined, so compare only the health
figures of that run. With --mixed, four video uploaders (720p H.264 + AAC clips made with PyAV,
distinct, made for the run) run beside the four photo uploaders of the concurrent phase:
the health figures then answer "4 video and 4 photo uploads" (the CPU per photo of that phase
includes the videos' work, so read it from a run without --mixed).

A deterministic corpus of 12 MP JPEGs (noise, so ~3 MB each; EXIF dates, GPS, orientations) is
made once under bench-data/. A real `octopus serve` process is started on 127.0.0.1 and fed:
  sequential uploads, then 4 concurrent uploaders (other photos, so nothing is a duplicate).
Reported: server CPU ms per photo (from /proc/<pid>/stat), photos/s, idle and peak RSS, the
/api/health latency while 4 uploads run, first and cached preview latency; and, in this
process, the floor: sha256 + EXIF + 1/8-scale decode + thumb + dHash with bare Pillow/hashlib.
Targets: <= 60 ms CPU/photo and >= 80% of the floor; RSS idle <= 60 MB, peak <= 150 MB;
health p95 < 20 ms; first preview < 300 ms, cached < 10 ms.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 16
WEAK = "--weak" in sys.argv
MIXED = "--mixed" in sys.argv
CORPUS = ROOT / "bench-data" / "ingest-corpus"
TICK = os.sysconf("SC_CLK_TCK")


def make_corpus(count: int) -> list[Path]:
    CORPUS.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = CORPUS / f"photo_{i:03d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        rng = random.Random(i)
        base = Image.effect_noise((4000, 3000), 12 + i % 6).convert("RGB")
        tint = Image.new("RGB", (4000, 3000), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        img = Image.blend(base, tint, 0.35)
        exif = Image.Exif()
        exif[0x0112] = [1, 3, 6, 8][i % 4]
        exif[0x010F] = "BenchCam"
        exif[0x0110] = "Model 12"
        exif.get_ifd(0x8769)[0x9003] = f"20{10 + i % 15}:0{1 + i % 9}:1{i % 10} 12:00:00"
        exif[0x8825] = {1: "N", 2: (48.0, 8.0, float(i)), 3: "E", 4: (11.0, 34.0, 10.5)}
        img.save(path, "JPEG", quality=85, exif=exif)  # ~3 MB, like a phone photo
    return paths


def make_videos(count: int) -> list[Path]:
    """Distinct 720p H.264 + AAC clips of 4 s, made with PyAV for this run."""
    sys.path.insert(0, str(ROOT / "tests"))
    from video_support import clip

    return [clip(size=(1280, 720), seconds=4.0, fps=30, audio=True, seed=i) for i in range(count)]


def _durable_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def floor_ms(path: Path, scratch: Path) -> float:
    """The same steps with bare Pillow, hashlib and os, CPU ms of this process: take the bytes,
    store them durably (temp file, fsync, rename), SHA-256, EXIF, 1/8-scale decode, thumb,
    store the thumb durably, dHash."""
    start = time.process_time()
    data = path.read_bytes()
    tmp = scratch / "upload.part"
    _durable_write(tmp, data)
    os.replace(tmp, scratch / "original")
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as img:
        img.getexif()
        img.draft("RGB", (256, 256))
        img.load()
        img.thumbnail((256, 256))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=82)
        _durable_write(scratch / "thumb.jpg", out.getvalue())
        small = img.convert("L").resize((9, 8))
        px = small.tobytes()
        sum(1 << i for i in range(64) if px[(i // 8) * 9 + i % 8] > px[(i // 8) * 9 + i % 8 + 1])
    return (time.process_time() - start) * 1000


def floor_preview_ms(path: Path) -> float:
    start = time.perf_counter()
    with Image.open(path) as img:
        img.draft("RGB", (1440, 1440))
        img.load()
        img.thumbnail((1440, 1440))
        img.save(io.BytesIO(), "JPEG", quality=82)
    return (time.perf_counter() - start) * 1000


def proc_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(base: str) -> None:
    """Child process: GET /api/health on one keep-alive connection every 20 ms until stdin says stop."""
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    samples = []
    with httpx.Client(base_url=base, timeout=10) as c:
        while not done.is_set():
            t = time.perf_counter()
            try:
                c.get("/api/health")
            except httpx.TimeoutException:
                pass  # a starved event loop: the sample is the whole wait, counted below
            samples.append((time.perf_counter() - t) * 1000)
            time.sleep(0.02)
    print(" ".join(f"{x:.3f}" for x in samples))


def main() -> None:
    if "--probe" in sys.argv:
        probe(sys.argv[sys.argv.index("--probe") + 1])
        return
    paths = make_corpus(2 * N + 4)
    seq_paths, conc_paths, preview_paths = paths[:N], paths[N:2 * N], paths[2 * N:]
    data_dir = Path(tempfile.mkdtemp(prefix="octopus-bench-"))
    port = free_port()
    env = {**os.environ, "OCTOPUS_STORAGE_DATA_DIR": str(data_dir), "OCTOPUS_LOG_LEVEL": "warning"}
    server = subprocess.Popen([sys.executable, "-m", "octopus_events.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    release = lambda: None  # noqa: E731
    if WEAK:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from weakbox import confine

        release = confine(server.pid)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        client = httpx.Client(base_url=base, timeout=60)
        client.post("/api/auth/register", json={"username": "bench", "password": "bench-password"}).raise_for_status()
        token = client.post("/api/auth/login", json={"username": "bench", "password": "bench-password"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(20):
            client.get("/api/timeline", headers=headers)
        time.sleep(1.0)
        idle_rss = rss_mb(server.pid)

        def upload(c: httpx.Client, path: Path) -> str:
            with path.open("rb") as fh:
                r = c.post("/api/photos", headers=headers, files={"file": (path.name, fh, "image/jpeg")})
            assert r.status_code == 201, (r.status_code, r.text[:200])
            return r.json()["id"]

        # Sequential.
        cpu0, t0 = proc_cpu_ms(server.pid), time.perf_counter()
        ids = [upload(client, p) for p in seq_paths]
        seq_wall = time.perf_counter() - t0
        seq_cpu = (proc_cpu_ms(server.pid) - cpu0) / N

        # Four concurrent uploaders, with RSS sampling and health probes alongside.
        peak = [idle_rss]
        health: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak.append(rss_mb(server.pid))
                time.sleep(0.01)

        # Health is probed from another process: in this one, four uploading threads hold the GIL
        # and would add their own waits to the figure.
        prober = subprocess.Popen([sys.executable, __file__, "--probe", base], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        watchers = [threading.Thread(target=sample)]
        for w in watchers:
            w.start()
        queue = list(conc_paths)
        lock = threading.Lock()

        def worker() -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                while True:
                    with lock:
                        if not queue:
                            return
                        path = queue.pop()
                    upload(c, path)

        videos = make_videos(2 * N) if MIXED else []
        photos_done = threading.Event()

        def video_worker(k: int) -> None:
            with httpx.Client(base_url=base, timeout=300) as c:
                for path in videos[k::4]:
                    if photos_done.is_set():
                        return
                    with path.open("rb") as fh:
                        r = c.post("/api/photos", headers=headers, files={"file": (path.name, fh, "video/mp4")})
                    assert r.status_code == 201, (r.status_code, r.text[:200])
                    video_count.append(1)

        video_count: list[int] = []
        video_threads = [threading.Thread(target=video_worker, args=(k,)) for k in range(4 if MIXED else 0)]
        for v in video_threads:
            v.start()
        cpu0, t0 = proc_cpu_ms(server.pid), time.perf_counter()
        uploaders = [threading.Thread(target=worker) for _ in range(4)]
        for u in uploaders:
            u.start()
        for u in uploaders:
            u.join()
        conc_wall = time.perf_counter() - t0
        conc_cpu = (proc_cpu_ms(server.pid) - cpu0) / N
        photos_done.set()
        for v in video_threads:
            v.join()
        stop.set()
        for w in watchers:
            w.join()
        out, _ = prober.communicate("stop\n", timeout=30)
        health.extend(float(x) for x in out.split())

        # Previews: first request renders (1/2-scale decode), the next is served from the cache.
        for p in preview_paths:
            ids.append(upload(client, p))
        first, cached = [], []
        for photo_id in ids[-len(preview_paths):]:
            t = time.perf_counter()
            r = client.get(f"/api/photos/{photo_id}/thumbnail", params={"size": "preview"}, headers=headers)
            first.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
            for _ in range(5):
                t = time.perf_counter()
                client.get(f"/api/photos/{photo_id}/thumbnail", params={"size": "preview"}, headers=headers)
                cached.append((time.perf_counter() - t) * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)
        release()

    scratch = Path(tempfile.mkdtemp(prefix="octopus-floor-", dir=ROOT / "bench-data"))
    floors = [floor_ms(p, scratch) for p in seq_paths]
    floor_cpu = statistics.median(floors)
    floor_prev = statistics.median(floor_preview_ms(p) for p in preview_paths)
    health.sort()
    h95 = health[int(len(health) * 0.95) - 1] if health else float("nan")
    size = statistics.mean(p.stat().st_size for p in paths) / 1e6
    box = " (server: half a core, 1 GB)" if WEAK else ""
    if MIXED:
        box += f"; {len(video_count)} videos uploaded beside the concurrent phase"
    print(f"\ningest over HTTP, {N} photos per phase, 12 MP JPEG, {size:.1f} MB average{box}")
    print(f"{'measure':<40}{'ours':>12}{'floor':>12}{'ratio':>9}  target")
    print(f"{'CPU ms/photo, sequential':<40}{seq_cpu:>12.1f}{floor_cpu:>12.1f}{floor_cpu / seq_cpu:>9.0%}  <= 60 ms, >= 80% of floor")
    print(f"{'CPU ms/photo, 4 concurrent':<40}{conc_cpu:>12.1f}{floor_cpu:>12.1f}{floor_cpu / conc_cpu:>9.0%}  <= 60 ms, >= 80% of floor")
    print(f"{'photos/s, sequential':<40}{N / seq_wall:>12.1f}")
    print(f"{'photos/s, 4 concurrent':<40}{N / conc_wall:>12.1f}")
    print(f"{'server RSS idle, MB':<40}{idle_rss:>12.0f}{'':>21}  <= 60")
    print(f"{'server RSS peak (4 concurrent), MB':<40}{max(peak):>12.0f}{'':>21}  <= 150")
    print(f"{'/api/health during uploads p50 / p95 ms':<40}{statistics.median(health):>6.1f} /{h95:>4.1f}{'':>21}  p95 < 20")
    print(f"{'first preview request, ms (median)':<40}{statistics.median(first):>12.0f}{floor_prev:>12.0f}{floor_prev / statistics.median(first):>9.0%}  < 300")
    print(f"{'cached preview request, ms (median)':<40}{statistics.median(cached):>12.1f}{'':>21}  < 10")


if __name__ == "__main__":
    main()
