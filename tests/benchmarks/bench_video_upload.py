"""A large video upload over loopback: a real `octopus serve` next to a bare ASGI floor.

    uv run python tests/benchmarks/bench_video_upload.py [MEGABYTES, default 2048] [--runs N]

The body is a real MP4 (an H.264 clip made with PyAV: 160×120, 3 s) followed by an MP4 `free`
box that pads it to the size asked for: a valid file that players and our pipeline read like
any MP4 (the box is skipped), so the whole upload path runs — the body streamed to a temp file
while hashed, the poster and metadata read by PyAV, the blob fsynced and renamed, the event
appended. Generating a real 2 GB encoded video would take minutes and measure the encoder;
the server's work per byte is the same whatever the bytes are.

The floor is uvicorn (httptools, as `octopus serve` uses) with a minimal ASGI app that parses
the same multipart body with the same parser (`multipart.PushMultipartParser`) and writes the
file part to a temp file, fsyncing it and its directory once at the end, as the blob store
does. No hashing, no auth, no analysis, no database: what any server must do at least.

Reported per run: MB/s of each (client's first byte to the answer), the ratio, and the server's
RSS growth during the upload (peak VmRSS sampled every 20 ms minus VmRSS just before; the
server has already ingested a small video and a photo, so PyAV's one-time load is not counted
here: bench_video.py measures that). Targets: RSS growth <= 30 MB; ours >= 80 % of the floor.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

MB = 1024 * 1024
SIZE_MB = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2048
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 2
BOUNDARY = "octopusbenchboundary"
CHUNK = 1024 * 1024
T = TypeVar("T")

FLOOR_APP = textwrap.dedent('''
    import os, tempfile, multipart

    DIR = os.environ["FLOOR_DIR"]

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        ctype = dict(scope["headers"]).get(b"content-type", b"").decode()
        boundary = ctype.split("boundary=", 1)[1]
        parser = multipart.PushMultipartParser(boundary)
        fd, path = tempfile.mkstemp(dir=DIR)
        out = os.fdopen(fd, "wb")
        in_file = False
        size = 0
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
            for event in parser.parse(message.get("body", b"")):
                if isinstance(event, multipart.MultipartSegment):
                    in_file = event.name == "file"
                elif event is None:
                    in_file = False
                elif in_file:
                    out.write(event)
                    size += len(event)
        parser.close()
        out.flush()
        os.fsync(out.fileno())
        out.close()
        final = path + ".done"
        os.rename(path, final)
        dir_fd = os.open(DIR, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)
        os.unlink(final)
        body = b'{"bytes": %d}' % size
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_up(base: str, path: str = "/api/health") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + path, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{base} did not come up")


def real_mp4() -> bytes:
    from video_support import H264, clip_bytes

    return clip_bytes(H264, "mp4", seconds=3.0)


class Body:
    """The multipart body: form head, the MP4, a `free` box up to the size, closing boundary."""

    def __init__(self, mp4: bytes, total_file_bytes: int) -> None:
        self.mp4 = mp4
        self.pad = total_file_bytes - len(mp4)
        assert 8 <= self.pad < 2**32, "the free box's 32-bit size must hold the padding"
        self.head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
                     f"Content-Type: video/mp4\r\n\r\n").encode()
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.length = len(self.head) + len(mp4) + self.pad + len(self.tail)

    def chunks(self) -> Iterator[bytes]:
        yield self.head + self.mp4 + self.pad.to_bytes(4, "big") + b"free"
        zeros = bytes(CHUNK)
        left = self.pad - 8
        while left > 0:
            n = min(CHUNK, left)
            yield zeros if n == CHUNK else zeros[:n]
            left -= n
        yield self.tail


def post(port: int, path: str, body: Body, token: str | None = None) -> tuple[float, int, bytes]:
    """(seconds from the first byte sent to the whole answer, status, answer body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(body.length)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    start = time.perf_counter()
    conn.request("POST", path, body=body.chunks(), headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, answer.status, data


class Pair(NamedTuple):
    """Our server and the bare floor app, started side by side, and a signed-in client of ours."""

    server: subprocess.Popen[bytes]
    floor: subprocess.Popen[bytes]
    ours_port: int
    floor_port: int
    client: httpx.Client
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        for proc in (self.server, self.floor):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_pair(scratch: Path, floor_app: str) -> Pair:
    """`octopus serve` on a fresh data dir under `scratch` (the code of the tree this script is in,
    wherever the venv points) and uvicorn + httptools running `floor_app`, writing under
    scratch/floor; both up, and a benchmark user registered and signed in."""
    data_dir, floor_dir = scratch / "data", scratch / "floor"
    floor_dir.mkdir(parents=True, exist_ok=True)
    (scratch / "floor_app.py").write_text(floor_app)
    ours_port, floor_port = free_port(), free_port()
    env = {**os.environ, "OCTOPUS_STORAGE_DATA_DIR": str(data_dir), "OCTOPUS_LOG_LEVEL": "warning",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    server = subprocess.Popen([sys.executable, "-m", "octopus_events.cli", "serve", "--port", str(ours_port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    floor = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "floor_app:app", "--port", str(floor_port), "--http", "httptools",
         "--log-level", "warning", "--no-access-log"],
        cwd=scratch, env={**os.environ, "FLOOR_DIR": str(floor_dir)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT)
    ours_base = f"http://127.0.0.1:{ours_port}"
    wait_up(ours_base)
    wait_up(f"http://127.0.0.1:{floor_port}", "/")
    client = httpx.Client(base_url=ours_base, timeout=60)
    client.post("/api/auth/register", json={"username": "bench", "password": "bench-password"}).raise_for_status()
    token = client.post("/api/auth/login", json={"username": "bench", "password": "bench-password"}).json()["token"]
    return Pair(server, floor, ours_port, floor_port, client, token)


def peak_rss_during(pid: int, work: Callable[[], T]) -> tuple[T, float, float]:
    """Run `work` while sampling `pid`'s RSS every 20 ms: (its result, RSS before, peak RSS) in MB."""
    before = rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, before, max(peak)


class RunTable:
    """The per-run table and the best-of summary both upload benchmarks print."""

    def __init__(self) -> None:
        self.results: list[tuple[float, float, float]] = []
        print("| run | ours MB/s | floor MB/s | ratio | RSS before | RSS peak | growth |")
        print("|---|---|---|---|---|---|---|")

    def add(self, ours: float, bare: float, before: float, top: float) -> None:
        growth = top - before
        self.results.append((ours, bare, growth))
        print(f"| {len(self.results)} | {ours:,.0f} | {bare:,.0f} | {ours / bare:.0%} | {before:.1f} MB | {top:.1f} MB "
              f"| {growth:+.1f} MB |", flush=True)

    def summary(self, rss_target_mb: int) -> None:
        best_ours = max(r[0] for r in self.results)
        best_bare = max(r[1] for r in self.results)
        worst_growth = max(r[2] for r in self.results)
        print()
        print(f"best of {len(self.results)}: ours {best_ours:,.0f} MB/s, floor {best_bare:,.0f} MB/s, "
              f"ratio {best_ours / best_bare:.0%} (target >= 80 %); RSS growth at most {worst_growth:+.1f} MB "
              f"(target <= {rss_target_mb} MB)")


def main() -> None:
    mp4 = real_mp4()
    body = Body(mp4, SIZE_MB * MB)
    scratch = Path(tempfile.mkdtemp(prefix="octopus-bench-video-"))
    pair = start_pair(scratch, FLOOR_APP)
    server, ours_port, floor_port, client, token, auth = (pair.server, pair.ours_port, pair.floor_port, pair.client,
                                                          pair.token, pair.auth)
    try:
        # Warm up: PyAV loaded by a first small video, Pillow by a photo; then let RSS settle.
        from http_support import image_bytes

        for name, data in (("warm.mp4", mp4), ("warm.jpg", image_bytes(1))):
            client.post("/api/photos", headers=auth, files={"file": (name, data)}).raise_for_status()
        time.sleep(1.0)
        print(f"body: {body.length / MB:,.0f} MB (a {len(mp4):,}-byte H.264 MP4 padded with a free box)")
        print(f"server RSS after warm-up: {rss_mb(server.pid):.1f} MB")
        print()
        table = RunTable()
        for _ in range(RUNS):
            floor_s, status, _ = post(floor_port, "/", body)
            assert status == 201, status
            (ours_s, status, answer), before, top = peak_rss_during(
                server.pid, lambda: post(ours_port, "/api/photos", body, token))
            assert status == 201, (status, answer[:300])
            photo = httpx.Response(200, content=answer).json()
            assert photo["kind"] == "video" and photo["bytes"] == SIZE_MB * MB, photo
            client.delete(f"/api/photos/{photo['id']}", headers=auth).raise_for_status()  # next run is not a duplicate
            size_mb = body.length / MB
            table.add(size_mb / ours_s, size_mb / floor_s, before, top)
        table.summary(rss_target_mb=30)
    finally:
        pair.stop()
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


if __name__ == "__main__":
    main()
