"""A 1 GB tus upload over loopback: a real `octopus serve` next to a bare ASGI floor.

    uv run python tests/benchmarks/bench_tus.py [MEGABYTES, default 1024] [--patch-mb N] [--runs N]

The file is a real MP4 (an H.264 clip made with PyAV) followed by an MP4 `free` box padding it
to the size asked for (see bench_video_upload.py): a valid file, so the whole path runs, up to
and including the last PATCH, which stores the video through the photo pipeline. It is sent as
PATCHes of `--patch-mb` (64) MB after a POST creating the upload, each streamed from a generator
of 1 MB chunks (the client holds no body in memory).

The floor is uvicorn (httptools, as `octopus serve` uses) with a minimal ASGI app that answers
the POST by creating a file and each PATCH by writing its body at Upload-Offset and fsyncing once
at the end of the PATCH: our fsync policy (bytes fsynced before the 204). No hashing, no checksum,
no state file, no auth, no database, no pipeline at the end: what any tus server must do at least.

Reported per run: MB/s of each (creation to the last answer), the ratio, and the server's RSS
growth (peak VmRSS sampled every 20 ms minus VmRSS just before). Targets: ours >= 80 % of the
floor; RSS growth <= 20 MB.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Iterator


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_video_upload import RunTable, peak_rss_during, real_mp4, rss_mb, start_pair  # noqa: E402

MB = 1024 * 1024
CHUNK = MB
SIZE_MB = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1024
PATCH_MB = int(sys.argv[sys.argv.index("--patch-mb") + 1]) if "--patch-mb" in sys.argv else 64
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 2

FLOOR_APP = textwrap.dedent('''
    import os, secrets

    DIR = os.environ["FLOOR_DIR"]

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        if scope["method"] == "POST":
            name = secrets.token_hex(16)
            open(os.path.join(DIR, name), "wb").close()
            answer = [(b"location", b"/files/" + name.encode()), (b"tus-resumable", b"1.0.0")]
            await send({"type": "http.response.start", "status": 201, "headers": answer})
            await send({"type": "http.response.body", "body": b""})
            return
        path = os.path.join(DIR, scope["path"].rsplit("/", 1)[1])
        offset = int(headers[b"upload-offset"])
        with open(path, "r+b") as out:
            out.seek(offset)
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
                body = message.get("body", b"")
                out.write(body)
                offset += len(body)
            out.flush()
            os.fsync(out.fileno())
        answer = [(b"upload-offset", str(offset).encode()), (b"tus-resumable", b"1.0.0")]
        await send({"type": "http.response.start", "status": 204, "headers": answer})
        await send({"type": "http.response.body", "body": b""})
''')


class File:
    """The MP4 padded with a `free` box, produced in 1 MB chunks between two offsets."""

    def __init__(self, mp4: bytes, total: int) -> None:
        self.mp4 = mp4
        self.total = total
        pad = total - len(mp4)
        assert 8 <= pad < 2**32
        self.head = mp4 + pad.to_bytes(4, "big") + b"free"

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        zeros = bytes(CHUNK)
        at = start
        while at < end:
            if at < len(self.head):
                piece = self.head[at:min(end, len(self.head))]
            else:
                piece = zeros[:min(CHUNK, end - at)]
            yield piece
            at += len(piece)


def upload(port: int, path: str, file: File, auth: dict[str, str]) -> tuple[float, dict[str, str]]:
    """(seconds from the POST to the last PATCH's answer, that answer's headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", path, headers={**auth, "Tus-Resumable": "1.0.0", "Upload-Length": str(file.total),
                                        "Upload-Metadata": "filename YmlnLm1wNA=="})
    created = conn.getresponse()
    created.read()
    assert created.status == 201, created.status
    location = created.getheader("location")
    assert location
    offset = 0
    headers: dict[str, str] = {}
    while offset < file.total:
        end = min(file.total, offset + PATCH_MB * MB)
        conn.request("PATCH", location, body=file.chunks(offset, end), headers={
            **auth, "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset), "Content-Length": str(end - offset),
            "Content-Type": "application/offset+octet-stream"})
        answer = conn.getresponse()
        data = answer.read()
        assert answer.status == 204, (answer.status, data[:300])
        headers = {k.lower(): v for k, v in answer.getheaders()}
        offset = int(headers["upload-offset"])
        assert offset == end, (offset, end)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, headers


def main() -> None:
    mp4 = real_mp4()
    file = File(mp4, SIZE_MB * MB)
    scratch = Path(tempfile.mkdtemp(prefix="octopus-bench-tus-"))
    floor_dir = scratch / "floor"
    pair = start_pair(scratch, FLOOR_APP)
    server, ours_port, floor_port, client, auth = pair.server, pair.ours_port, pair.floor_port, pair.client, pair.auth
    try:
        # Warm up: PyAV loaded by a first small video through tus itself; then let RSS settle.
        upload(ours_port, "/api/uploads", File(mp4, len(mp4) + 4096), auth)
        time.sleep(1.0)
        print(f"file: {SIZE_MB:,} MB (a {len(mp4):,}-byte H.264 MP4 padded with a free box), PATCHes of {PATCH_MB} MB")
        print(f"server RSS after warm-up: {rss_mb(server.pid):.1f} MB")
        print()
        table = RunTable()
        for _ in range(RUNS):
            floor_s, _ = upload(floor_port, "/files", file, {})
            for leftover in floor_dir.iterdir():
                leftover.unlink()
            (ours_s, headers), before, top = peak_rss_during(
                server.pid, lambda: upload(ours_port, "/api/uploads", file, auth))
            photo_id = headers["octopus-photo-id"]
            client.delete(f"/api/photos/{photo_id}", headers=auth).raise_for_status()  # next run is not a duplicate
            table.add(SIZE_MB / ours_s, SIZE_MB / floor_s, before, top)
        table.summary(rss_target_mb=20)
    finally:
        pair.stop()
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


if __name__ == "__main__":
    main()
