"""What the connection limits (web/server.py) cost a request, over real HTTP on this machine.

    uv run python tests/benchmarks/bench_http_limits.py [REQUESTS_PER_VARIANT]

Two servers run side by side in child processes over the app `create_app` builds on a fresh data
dir, both with the uvicorn settings `octopus serve` uses (`web.server.uvicorn_config`):
- limits: as shipped, `LimitedHttpProtocol` (head cap, head and body deadlines, connection bound);
- plain: the same settings with uvicorn's own `HttpToolsProtocol`.
One keep-alive connection to each (the raw-socket client of bench_http_overhead.py), GET
/api/health in alternating rounds so both see the same load. Target: < 0.1 ms added per request.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http_overhead import ROUND, Connection  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2000
TARGET_MS = 0.1

CHILD = r"""
import asyncio, sys
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from octopus_events.application import Octopus
from octopus_events.cli import _listen
from octopus_events.config import load_config
from octopus_events.web.app import create_app
from octopus_events.web.server import uvicorn_config

variant, data_dir = sys.argv[1], sys.argv[2]
config = load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": data_dir, "OCTOPUS_LOG_LEVEL": "warning"})
octopus = Octopus(config).open()
app = create_app(octopus, listen_host="127.0.0.1", housekeeping_tasks=False)
settings = uvicorn_config(app, config)
if variant == "plain":
    settings.http = HttpToolsProtocol
sock = _listen("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
asyncio.run(uvicorn.Server(settings).serve(sockets=[sock]))
"""


def start(variant: str, data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, variant, str(data_dir)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.strip().isdigit():
        proc.kill()
        raise SystemExit(f"{variant} server did not start")
    return proc, int(line)


def main() -> None:
    variants = ("limits", "plain")
    with tempfile.TemporaryDirectory() as tmp:
        procs = {v: start(v, Path(tmp) / v) for v in variants}
        try:
            conns = {v: Connection(port) for v, (_, port) in procs.items()}
            for c in conns.values():  # warm up both
                for _ in range(200):
                    c.get()
            times: dict[str, list[float]] = {v: [] for v in variants}
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
    added = p50["limits"] - p50["plain"]
    print(f"GET /api/health, {N} keep-alive requests per variant, alternating rounds of {ROUND}")
    print(f"{'':8}{'p50 ms':>10}{'p95 ms':>10}")
    for v in variants:
        print(f"{v:8}{p50[v]:10.3f}{p95[v]:10.3f}")
    print(f"added per request (p50): {added:.3f} ms   ratio limits/plain: {p50['limits'] / p50['plain']:.3f}   "
          f"target < {TARGET_MS} ms: {'met' if added < TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
