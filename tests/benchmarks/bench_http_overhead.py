"""What the Host check and the security headers cost a request, over real HTTP on this machine.

    uv run python tests/benchmarks/bench_http_overhead.py [REQUESTS_PER_VARIANT]

Two servers run side by side in child processes, each uvicorn + httptools over the app that
`create_app` builds on its own fresh data dir, on a TCP_NODELAY socket as `octopus serve` uses:
- ours: the app as shipped (web/hosts.py guard, web/security_headers.py hook);
- floor: the same app built with the guard replaced by a pass-through and without the headers hook.
One keep-alive connection to each, a raw-socket client (so the client's own cost stays small), and
GET /api/health in alternating rounds of 100 so both see the same machine load. Reported: p50 and
p95 of each, the difference of the p50s and the ratio. Target: < 0.1 ms added per request.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2000
ROUND = 100
TARGET_MS = 0.1

CHILD = r"""
import asyncio, sys
import uvicorn
from octopus_events.application import Octopus
from octopus_events.cli import _listen
from octopus_events.config import load_config
from octopus_events.web import app as app_module, hosts

variant, data_dir = sys.argv[1], sys.argv[2]
if variant == "floor":
    hosts.guard = lambda policy: (lambda app: app)
    async def no_headers(message, scope):
        return None
    app_module.add_security_headers = no_headers
octopus = Octopus(load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": data_dir, "OCTOPUS_LOG_LEVEL": "warning"})).open()
app = app_module.create_app(octopus, listen_host="127.0.0.1", housekeeping_tasks=False)
sock = _listen("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                                      server_header=False, http="httptools"))
asyncio.run(server.serve(sockets=[sock]))
"""


class Connection:
    """One keep-alive HTTP/1.1 connection; reads exactly one response (Content-Length) per request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        self.buf = b""

    def get(self) -> bytes:
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buf = rest[length:]
        assert head.startswith(b"HTTP/1.1 200"), head
        return head


def start(variant: str, data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, variant, str(data_dir)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.strip().isdigit():
        proc.kill()
        raise SystemExit(f"{variant} server did not start")
    return proc, int(line)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        procs = {v: start(v, Path(tmp) / v) for v in ("ours", "floor")}
        try:
            conns = {v: Connection(port) for v, (_, port) in procs.items()}
            heads = {v: c.get() for v, c in conns.items()}
            assert b"content-security-policy" in heads["ours"].lower()
            assert b"content-security-policy" not in heads["floor"].lower()
            for c in conns.values():  # warm up both
                for _ in range(200):
                    c.get()
            times: dict[str, list[float]] = {v: [] for v in conns}
            for _ in range(N // ROUND):
                for v, c in conns.items():
                    for _ in range(ROUND):
                        t0 = time.perf_counter()
                        c.get()
                        times[v].append((time.perf_counter() - t0) * 1000)
        finally:
            for proc, _ in procs.values():
                proc.terminate()
                proc.wait(10)
    p50 = {v: statistics.median(t) for v, t in times.items()}
    p95 = {v: statistics.quantiles(t, n=20)[18] for v, t in times.items()}
    added = p50["ours"] - p50["floor"]
    print(f"GET /api/health, {N} keep-alive requests per variant, alternating rounds of {ROUND}")
    print(f"{'':8}{'p50 ms':>10}{'p95 ms':>10}")
    for v in ("ours", "floor"):
        print(f"{v:8}{p50[v]:10.3f}{p95[v]:10.3f}")
    print(f"added per request (p50): {added:.3f} ms   ratio ours/floor: {p50['ours'] / p50['floor']:.3f}   "
          f"target < {TARGET_MS} ms: {'met' if added < TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
