"""Admin routes: projection status and rebuilds, Prometheus metrics, the playable-copy queue."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from ..application import Octopus
from ..projection import ProjectionStatus
from ..transcode import TranscodeStatus
from .auth import ADMIN, ADMIN_OR_LOOPBACK

TAGS = ["admin"]


@get("/api/admin/projections", tags=TAGS, opt={"auth": ADMIN}, summary="Every read model: version, position, lag, state")
async def projections(octopus: NamedDependency[Octopus]) -> list[ProjectionStatus]:
    return await octopus.read(octopus.engine.status)


@post("/api/admin/projections/{name:str}/rebuild", tags=TAGS, opt={"auth": ADMIN}, status_code=202,
      summary="Rebuild a read model in the background (reads and writes go on)")
async def rebuild(octopus: NamedDependency[Octopus], name: FromPath[str]) -> dict[str, str]:
    # rebuild() only starts a thread; unknown names raise NotFound (404) before that.
    octopus.engine.rebuild(name)
    return {"name": name, "state": "rebuilding"}


def _rss_bytes() -> int | None:
    """Resident memory from /proc (Linux); None elsewhere rather than a guess."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def _photo_counts(octopus: Octopus) -> list[tuple[str, int]]:
    conn = octopus.store.reader()
    return conn.execute("SELECT state, count(*) FROM photo GROUP BY state ORDER BY state").fetchall()


def _metrics_text(octopus: Octopus) -> str:
    lines = [
        "# HELP octopus_log_head Position of the last event in the log.",
        "# TYPE octopus_log_head gauge",
        f"octopus_log_head {octopus.store.head()}",
        "# HELP octopus_projection_lag Events a read model has not applied yet.",
        "# TYPE octopus_projection_lag gauge",
    ]
    statuses = octopus.engine.status()
    for s in statuses:
        lines.append(f'octopus_projection_lag{{name="{s.name}",state="{s.state}"}} {s.lag}')
    lines += ["# HELP octopus_photos Photos stored, by state.", "# TYPE octopus_photos gauge"]
    counts = dict(_photo_counts(octopus))
    for state in ("library", "trash", "vault"):
        lines.append(f'octopus_photos{{state="{state}"}} {counts.get(state, 0)}')
    rss = _rss_bytes()
    if rss is not None:
        lines += [
            "# HELP process_resident_memory_bytes Resident memory of the server process.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {rss}",
        ]
    return "\n".join(lines) + "\n"


@get("/metrics", tags=TAGS, opt={"auth": ADMIN_OR_LOOPBACK}, include_in_schema=False)
async def metrics(octopus: NamedDependency[Octopus]) -> Response[str]:
    text = await octopus.read(_metrics_text, octopus)
    # Litestar appends "; charset=utf-8" to text/ types itself; naming it here sent it twice.
    return Response(text, media_type="text/plain; version=0.0.4")


@get("/api/admin/transcode", tags=TAGS, opt={"auth": ADMIN},
     summary="Playable copies of videos browsers cannot play: on or off, encoder, pending, done, failed, current")
async def transcode(octopus: NamedDependency[Octopus]) -> TranscodeStatus:
    return await octopus.read(octopus.transcoder.status)


ROUTES = [projections, rebuild, metrics, transcode]
