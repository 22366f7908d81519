"""What the request hardening costs a request, over real HTTP on this machine.

    uv run python tests/benchmarks/bench_http_overhead.py [REQUESTS_PER_VARIANT]

Four servers run side by side in child processes, each the app that `create_app` builds on its own
fresh data dir, served with the uvicorn settings `octopus serve` uses (`web.server.uvicorn_config`)
on a TCP_NODELAY socket:
- shipped: as shipped: `LimitedHttpProtocol` (head cap, head and body deadlines, connection
  bound), the Host check (web/hosts.py) and the security headers (web/security_headers.py);
- no-limits: uvicorn's own `HttpToolsProtocol` instead of ours;
- no-guard: the Host check replaced by a pass-through, no headers hook;
- floor: neither of them: the same app with none of the hardening.
One keep-alive connection to each, a raw-socket client (so the client's own cost stays small), and
GET /api/health in alternating rounds so all see the same machine load. Reported: p50 and p95 of
each, and what each part adds to the floor's p50. Target: < 0.1 ms added per request in all.
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
VARIANTS = ("shipped", "no-limits", "no-guard", "floor")

CHILD = r"""
import asyncio, sys
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from octopus_events.application import Octopus
from octopus_events.cli import _listen
from octopus_events.config import load_config
from octopus_events.web import app as app_module, hosts
from octopus_events.web.server import uvicorn_config

variant, data_dir = sys.argv[1], sys.argv[2]
if variant in ("no-guard", "floor"):
    hosts.guard = lambda policy: (lambda app: app)
    async def no_headers(message, scope):
        return None
    app_module.add_security_headers = no_headers
config = load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": data_dir, "OCTOPUS_LOG_LEVEL": "warning"})
octopus = Octopus(config).open()
app = app_module.create_app(octopus, listen_host="127.0.0.1", housekeeping_tasks=False)
settings = uvicorn_config(app, config)
if variant in ("no-limits", "floor"):
    settings.http = HttpToolsProtocol
sock = _listen("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
asyncio.run(uvicorn.Server(settings).serve(sockets=[sock]))
"""


class Connection:
    """One keep-alive HTTP/1.1 connection; reads exactly one response (Content-Length) per request."""

    def __init__(self, port: int) -> None:
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
        procs = {v: start(v, Path(tmp) / v) for v in VARIANTS}
        try:
            conns = {v: Connection(port) for v, (_, port) in procs.items()}
            heads = {v: c.get().lower() for v, c in conns.items()}
            assert b"content-security-policy" in heads["shipped"]
            assert b"content-security-policy" not in heads["floor"]
            for c in conns.values():  # warm up all
                for _ in range(200):
                    c.get()
            times: dict[str, list[float]] = {v: [] for v in VARIANTS}
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
    print(f"GET /api/health, {N} keep-alive requests per variant, alternating rounds of {ROUND}")
    print(f"{'':11}{'p50 ms':>9}{'p95 ms':>9}{'added p50':>11}{'ratio':>8}")
    for v in VARIANTS:
        print(f"{v:11}{p50[v]:9.3f}{p95[v]:9.3f}{p50[v] - p50['floor']:11.3f}{p50[v] / p50['floor']:8.3f}")
    added = p50["shipped"] - p50["floor"]
    print(f"all hardening adds {added:.3f} ms per request (p50); target < {TARGET_MS} ms: "
          f"{'met' if added < TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
