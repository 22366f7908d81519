"""Image and video work runs below the event loop's priority.

On a weak box (half a core under a CPU quota, as on a school laptop) four uploads decoding
photos used to keep `/api/health` and every page waiting behind them. The media pool's threads
lower their own scheduling priority when they start, so the kernel runs the event loop's thread
first whenever both are ready; the media work still gets every cycle nobody else wants, so ingest
throughput on an otherwise idle machine does not change.

Linux schedules threads individually: `setpriority` on the thread's own id (its TID) changes only
that thread. Windows has a per-thread priority of its own (`SetThreadPriority`). Elsewhere
(macOS, where `setpriority` would lower the whole process) nothing is changed.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

#: The nice value media threads take on Linux (0 is normal, 19 the lowest).
MEDIA_NICE = 10
_THREAD_PRIORITY_BELOW_NORMAL = -1  # Windows' winbase.h


def lower_this_thread() -> None:
    """Give the calling thread background priority (a ThreadPoolExecutor initializer)."""
    try:
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, max(current, MEDIA_NICE))
        elif sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            kernel32.SetThreadPriority(kernel32.GetCurrentThread(), _THREAD_PRIORITY_BELOW_NORMAL)
    except OSError as exc:
        # A sandbox may forbid it; the work still runs, only at normal priority.
        log.debug("could not lower a media thread's priority: %s", exc)


def thread_nice(native_id: int) -> int | None:
    """The nice value of one of this process's threads on Linux (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    with open(f"/proc/self/task/{native_id}/stat", "rb") as fh:
        # Field 19 (nice) counts after the ")" that ends the command name, which may hold spaces.
        fields = fh.read().rpartition(b")")[2].split()
    return int(fields[16])
