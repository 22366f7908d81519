"""Background housekeeping while the server runs: purge trash whose retention ran out, remove
resumable uploads that expired (uploads.py), and clear temp files a crash left behind. Started and stopped with the app (see `create_app`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from litestar import Litestar

from ..application import Octopus
from ..errors import OctopusError
from ..uploads import uploads_of

log = logging.getLogger(__name__)

PURGE_EVERY_S = 600
# Uploads stream into tmp; one older than this is not streaming any more, it was abandoned.
TMP_MAX_AGE_S = 3600


async def run(octopus: Octopus, every_s: float = PURGE_EVERY_S) -> None:
    """Clean tmp once, then purge expired trash now and every `every_s` seconds until cancelled."""
    try:
        removed = await asyncio.to_thread(octopus.photos.blobs.clean_tmp, TMP_MAX_AGE_S)
        if removed:
            log.info("removed %d abandoned temp files", removed)
    except OSError as exc:
        log.warning("could not clean the temp directory: %s", exc)
    while True:
        try:
            purged = await octopus.photos.purge_expired()
            if purged:
                log.info("purged %d photos whose trash retention ran out", purged)
        except (OctopusError, OSError, sqlite3.Error):
            # Expected kinds of trouble (disk, a busy database): try again next round.
            log.exception("purging expired trash failed; will retry")
        try:
            expired = await uploads_of(octopus).remove_expired()
            if expired:
                log.info("removed %d resumable uploads that expired", expired)
        except (OctopusError, OSError, sqlite3.Error):
            log.exception("removing expired uploads failed; will retry")
        await asyncio.sleep(every_s)


def _report(task: asyncio.Task[None]) -> None:
    # A bug in the loop must not vanish with the task: say so loudly.
    if not task.cancelled() and task.exception() is not None:
        log.error("housekeeping stopped", exc_info=task.exception())


async def start(app: Litestar) -> None:
    octopus: Octopus = app.state.octopus
    task = asyncio.create_task(run(octopus), name="octopus-housekeeping")
    task.add_done_callback(_report)
    app.state.housekeeping = task


async def stop(app: Litestar) -> None:
    task: asyncio.Task[None] | None = app.state.get("housekeeping")
    if task is None or task.done():
        return  # a task that ended by itself was already reported by _report
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


ON_STARTUP = [start]
ON_SHUTDOWN = [stop]
