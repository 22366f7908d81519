"""Media work runs below the event loop's priority (src/octopus_events/priority.py).

Checked on the real threads: the library's media pool in-process, and the threads of a real
`octopus serve` after an upload, by reading each thread's nice value from /proc.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from ci_support import requires
from http_support import Server, image_bytes
from octopus_events.application import Octopus
from octopus_events.config import load_config
from octopus_events.priority import MEDIA_NICE, thread_nice

pytestmark = requires(sys.platform.startswith("linux"), "Linux (thread nice values are read from /proc)",
                      "run these on Linux; Windows lowers thread priority through SetThreadPriority")


def _nice_of_task(pid: int, tid: str) -> int:
    with open(f"/proc/{pid}/task/{tid}/stat", "rb") as fh:
        return int(fh.read().rpartition(b")")[2].split()[16])


def test_media_threads_run_below_the_callers_priority(tmp_path: Path) -> None:
    config = load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(tmp_path / "data")})
    octopus = Octopus(config)
    try:
        import asyncio

        async def media_thread_id() -> int:
            return await octopus.media(threading.get_native_id)

        tid = asyncio.run(media_thread_id())
        assert tid != threading.get_native_id()
        assert thread_nice(tid) == max(MEDIA_NICE, os.getpriority(os.PRIO_PROCESS, 0))
        # Only the media thread was lowered: the calling thread keeps its priority.
        assert thread_nice(threading.get_native_id()) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        octopus.close()


def test_a_serving_process_decodes_at_background_priority(server: Server) -> None:
    user = server.new_user()
    assert user.upload(image_bytes(41, size=(800, 600))).status_code == 201
    assert server.proc is not None
    pid = server.proc.pid
    nice = {tid: _nice_of_task(pid, tid) for tid in os.listdir(f"/proc/{pid}/task")}
    base = nice[str(pid)]  # the main thread runs the event loop
    lowered = [tid for tid, value in nice.items() if value == max(MEDIA_NICE, base)]
    assert base < MEDIA_NICE and lowered, nice
