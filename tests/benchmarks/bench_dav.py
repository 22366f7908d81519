"""WebDAV throughput and listing cost, each next to its floor in the same run.

    uv run python tests/benchmarks/bench_dav.py [PHOTOS] [MONTH_ITEMS]

(a) PHOTOS (default 200) real JPEGs (Pillow noise, ~1.5 MB each; made once under bench-data/)
    backed up with `rclone copy` (4 transfers, its default) into /dav/Uploads/ of a fresh
    `octopus serve`, next to the same files through `POST /api/photos` with 4 concurrent httpx
    uploaders on another fresh server. Target: WebDAV >= 90 % of the API's photos/s.
(b) PROPFIND Depth 1 (no body: allprop, what file managers send) of a month folder
    /dav/Library/2020/2020-06/ holding MONTH_ITEMS (default 10,000) items, seeded through the
    event store without image work, over HTTP on a keep-alive connection; next to the floor in
    this process: the same rows with bare sqlite3 plus the same multistatus XML built with
    strings. Targets: p95 < 300 ms, and ours <= 2x the floor.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))
ARGS = [a for a in sys.argv[1:] if a.isdigit()]
PHOTOS = int(ARGS[0]) if ARGS else 200
MONTH_ITEMS = int(ARGS[1]) if len(ARGS) > 1 else 10_000
CORPUS = ROOT / "bench-data" / "dav-corpus"
USER, PASSWORD = "bench", "bench-password"


def make_corpus(count: int) -> Path:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = CORPUS / f"IMG_{i:04d}.jpg"
        if path.exists():
            continue
        rng = random.Random(i)
        base = Image.effect_noise((2600, 1950), 10 + i % 6).convert("RGB")
        tint = Image.new("RGB", base.size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = f"20{10 + i % 12}:0{1 + i % 9}:1{i % 10} 12:00:00"
        buf = io.BytesIO()
        Image.blend(base, tint, 0.35).save(buf, "JPEG", quality=88, exif=exif)
        path.write_bytes(buf.getvalue())
    for extra in CORPUS.glob("IMG_*.jpg"):
        if int(extra.stem[4:]) >= count:
            extra.unlink()
    return CORPUS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """A real `octopus serve` on a data dir, with the bench user signed in."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OCTOPUS_STORAGE_DATA_DIR": str(data_dir), "OCTOPUS_LOG_LEVEL": "warning"}
        self.proc = subprocess.Popen([sys.executable, "-m", "octopus_events.cli", "serve", "--port", str(self.port)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise SystemExit("the server did not start")

    def sign_in(self, register: bool) -> dict[str, str]:
        with httpx.Client(base_url=self.base, timeout=60) as c:
            if register:
                c.post("/api/auth/register", json={"username": USER, "password": PASSWORD}).raise_for_status()
            token = c.post("/api/auth/login", json={"username": USER, "password": PASSWORD}).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    def app_password(self, headers: dict[str, str]) -> str:
        r = httpx.post(f"{self.base}/api/devices", json={"name": "phone"}, headers=headers, timeout=60)
        r.raise_for_status()
        return str(r.json()["app_password"])

    def count(self, headers: dict[str, str]) -> int:
        # Library items (the timeline pages at most a few hundred a call; storage counts them all).
        storage = httpx.get(f"{self.base}/api/users/me/storage", headers=headers, timeout=60).json()
        return int(storage["photos"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def bench_rclone(folder: Path, n: int) -> float:
    rclone = shutil.which("rclone")
    if rclone is None:
        raise SystemExit("rclone is needed (apt-get install rclone)")
    with tempfile.TemporaryDirectory(prefix="octopus-bench-dav-") as tmp:
        server = Serve(Path(tmp) / "data")
        try:
            headers = server.sign_in(register=True)
            secret = server.app_password(headers)
            obscured = subprocess.run([rclone, "obscure", secret], capture_output=True, text=True, check=True).stdout.strip()
            conf = Path(tmp) / "rclone.conf"
            conf.write_text(f"[oct]\ntype = webdav\nurl = {server.base}/dav/\nvendor = other\nuser = {USER}\npass = {obscured}\n")
            t0 = time.perf_counter()
            subprocess.run([rclone, "--config", str(conf), "copy", str(folder), "oct:Uploads/Camera", "--transfers", "4"],
                           check=True, capture_output=True)
            elapsed = time.perf_counter() - t0
            got = server.count(headers)
            assert got == n, f"rclone: {got} items of {n}"
            return n / elapsed
        finally:
            server.stop()


def bench_api(folder: Path, n: int) -> float:
    with tempfile.TemporaryDirectory(prefix="octopus-bench-dav-") as tmp:
        server = Serve(Path(tmp) / "data")
        try:
            headers = server.sign_in(register=True)
            queue = sorted(folder.glob("IMG_*.jpg"))
            lock = threading.Lock()

            def worker() -> None:
                with httpx.Client(base_url=server.base, timeout=120) as c:
                    while True:
                        with lock:
                            if not queue:
                                return
                            path = queue.pop()
                        with path.open("rb") as fh:
                            c.post("/api/photos", headers=headers, files={"file": (path.name, fh, "image/jpeg")}).raise_for_status()

            t0 = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            got = server.count(headers)
            assert got == n, f"api: {got} items of {n}"
            return n / elapsed
        finally:
            server.stop()


# -- (b) PROPFIND of a big month -----------------------------------------------------------------

def seed_month(data_dir: Path, owner: str, n: int) -> None:
    import factories as f
    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig

    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data_dir)))).open()
    try:
        for start in range(0, n, 1000):
            def job(tx, start=start):  # type: ignore[no-untyped-def]
                for i in range(start, min(n, start + 1000)):
                    local = f"2020-06-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"
                    f.upload(tx, owner, f"m{i:09d}", f.details(filename=f"IMG_{i % 9000:05d}.JPG", taken_local=local),
                             size=2_000_000 + i)
            octopus.store.transact(job)
    finally:
        octopus.close()


def floor_propfind(db: Path, owner: str, href_base: str) -> bytes:
    """Bare sqlite3 + strings: the same rows and the same per-item properties."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT id, filename, bytes, sha256, mime, uploaded_at FROM photo WHERE owner = ? AND state = 'library' "
            "AND taken_local >= ? AND taken_local < ?", (owner, "2020-06", "2020-06\x7f")).fetchall()
    finally:
        conn.close()
    rows.sort(key=lambda r: (r[5], r[0]))
    seen: set[str] = set()
    out = ['<?xml version="1.0" encoding="utf-8" ?>\n<D:multistatus xmlns:D="DAV:">']
    for pid, filename, size, sha, mime, uploaded in rows:
        name = filename
        if name in seen:
            stem, _dot, ext = name.rpartition(".")
            name = f"{stem} ({pid[:8]}).{ext}"
        seen.add(name)
        stamp = formatdate(time.mktime(time.strptime(uploaded[:19], "%Y-%m-%dT%H:%M:%S")), usegmt=True)
        out.append(
            f"<D:response><D:href>{quote(href_base + name)}</D:href><D:propstat><D:prop>"
            f"<D:creationdate>{uploaded}</D:creationdate><D:displayname>{name}</D:displayname>"
            f"<D:getcontentlength>{size}</D:getcontentlength><D:getcontenttype>{mime}</D:getcontenttype>"
            f"<D:getetag>\"{sha}\"</D:getetag><D:getlastmodified>{stamp}</D:getlastmodified>"
            f"<D:resourcetype/></D:prop>"
            f"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")
    out.append("</D:multistatus>")
    return "".join(out).encode()


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def bench_propfind(n: int, runs: int = 30) -> tuple[tuple[float, float], tuple[float, float], int, int]:
    data = ROOT / "bench-data" / f"dav-month-{n}"
    if not (data / "seeded").exists():
        shutil.rmtree(data, ignore_errors=True)
        server = Serve(data / "data")
        headers = server.sign_in(register=True)
        me = httpx.get(f"{server.base}/api/users/me", headers=headers, timeout=30).json()
        (data / "owner").write_text(me["id"])
        (data / "secret").write_text(server.app_password(headers))
        server.stop()
        seed_month(data / "data", me["id"], n)
        (data / "seeded").write_text("ok")
    owner, secret = (data / "owner").read_text(), (data / "secret").read_text()
    server = Serve(data / "data")
    try:
        url = "/dav/Library/2020/2020-06/"
        with httpx.Client(base_url=server.base, auth=(USER, secret), timeout=120) as c:
            samples, size = [], 0
            for i in range(runs + 2):
                t = time.perf_counter()
                r = c.request("PROPFIND", url, headers={"Depth": "1"})
                body = r.read()
                if i >= 2:  # the first requests import WsgiDAV and warm the page cache
                    samples.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 207, r.status_code
                size = len(body)
            listed = body.count(b"<ns0:response>") + body.count(b"<D:response>") - 1
        floor, floor_size = [], 0
        for _ in range(runs):
            t = time.perf_counter()
            floor_size = len(floor_propfind(data / "data" / "octopus.db", owner, url))
            floor.append((time.perf_counter() - t) * 1000)
        assert listed == n, f"listed {listed} of {n}"
        print(f"  multistatus bytes: ours {size:,}, floor {floor_size:,}")
        return percentiles(samples), percentiles(floor), listed, size
    finally:
        server.stop()


def main() -> None:
    if "--only-propfind" not in sys.argv:
        folder = make_corpus(PHOTOS)
        mb = sum(p.stat().st_size for p in folder.glob("IMG_*.jpg")) / PHOTOS / 1e6
        print(f"(a) {PHOTOS} JPEGs, {mb:.2f} MB each on average")
        api = bench_api(folder, PHOTOS)
        dav = bench_rclone(folder, PHOTOS)
        print(f"{'':<44}{'photos/s':>10}")
        print(f"{'POST /api/photos, 4 uploaders':<44}{api:>10.2f}")
        print(f"{'rclone copy to /dav/Uploads (4 transfers)':<44}{dav:>10.2f}")
        print(f"{'ratio (target >= 90 %)':<44}{100 * dav / api:>9.0f} %")
    if "--only-ingest" not in sys.argv:
        (ours50, ours95), (floor50, floor95), listed, _size = bench_propfind(MONTH_ITEMS)
        print(f"(b) PROPFIND Depth 1 of a month of {listed:,} items")
        print(f"{'':<44}{'p50 ms':>10}{'p95 ms':>10}")
        print(f"{'ours (HTTP, dav/propfind.py)':<44}{ours50:>10.1f}{ours95:>10.1f}")
        print(f"{'floor (sqlite3 + strings)':<44}{floor50:>10.1f}{floor95:>10.1f}")
        print(f"{'ours / floor p95 (target <= 2x)':<44}{ours95 / floor95:>19.2f}x")


if __name__ == "__main__":
    main()
