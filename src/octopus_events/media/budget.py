"""How much memory image decodes may hold at once, so a hostile or huge photo cannot exhaust it.

A decode reserves its estimated peak (see :func:`~octopus_events.media.derivatives.decode_cost`)
before any pixel is decoded and gives it back when its pixels are freed. One that could never
fit is refused at once; one that fits waits, first come first served, until enough is free. The
reservations of all media workers together never exceed the limit, so a decode needing more
than half of it always runs alone: large decodes are serialised without a separate lock.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from octopus_events.media.errors import ImageTooLarge

MB = 1024 * 1024
#: Sized for a 1 GB machine: with an idle server near 100 MB this leaves room for the OS.
DEFAULT_DECODE_BUDGET_MB = 256


class DecodeBudget:
    """A counting reservation of bytes shared by every thread that decodes images."""

    def __init__(self, limit_mb: int = DEFAULT_DECODE_BUDGET_MB) -> None:
        if limit_mb <= 0:
            raise ValueError(f"a decode budget must be positive, got {limit_mb} MB")
        self._limit = limit_mb * MB
        self._in_use = 0
        self._cond = threading.Condition()
        # Waiters in arrival order: a stream of small decodes must not starve a large one.
        self._queue: deque[object] = deque()

    @property
    def limit_bytes(self) -> int:
        return self._limit

    @property
    def in_use_bytes(self) -> int:
        with self._cond:
            return self._in_use

    @property
    def waiting(self) -> int:
        """Decodes waiting for their turn (for /metrics and tests)."""
        with self._cond:
            return len(self._queue)

    def set_limit(self, limit_mb: int) -> None:
        """Change the limit (the server applies its configuration); waiters re-check at once."""
        if limit_mb <= 0:
            raise ValueError(f"a decode budget must be positive, got {limit_mb} MB")
        with self._cond:
            self._limit = limit_mb * MB
            self._cond.notify_all()

    @contextmanager
    def reserve(self, need: int, what: str) -> Iterator[None]:
        """Hold ``need`` bytes for the duration of the block, waiting until they are free.

        Raises :class:`ImageTooLarge` at once, without waiting, when ``need`` exceeds the
        whole limit. ``what`` describes the image for that message ("4000×3000 RGBA").
        """
        with self._cond:
            ticket = object()
            self._queue.append(ticket)
            try:
                while True:
                    if need > self._limit:
                        raise ImageTooLarge(
                            f"the image is too large to decode within the server's memory budget: {what} "
                            f"needs about {_mb(need)} MB, the budget is {_mb(self._limit)} MB"
                        )
                    if self._queue[0] is ticket and self._in_use + need <= self._limit:
                        break
                    self._cond.wait()
            finally:
                self._queue.remove(ticket)
                # Whoever is next in line may fit now, beside this one or instead of it.
                self._cond.notify_all()
            self._in_use += need
        try:
            yield
        finally:
            with self._cond:
                self._in_use -= need
                idle = self._in_use == 0
                self._cond.notify_all()
            if idle and need >= _TRIM_AFTER:
                _return_freed_memory()


# glibc keeps freed pixel blocks in its heaps, so one large photo would leave the server's RSS
# at its peak for good; after a large decode, with none running, hand the free pages back.
_TRIM_AFTER = 32 * MB


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None  # Windows and macOS allocators return large blocks themselves
    import ctypes  # here, not at import: a server that never decodes a large image never loads it

    try:
        libc = ctypes.CDLL(None)
        return libc.malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (musl): nothing to trim
        return None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    return _load_malloc_trim()


def _return_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _mb(size: int) -> int:
    return -(-size // MB)


#: Memory belongs to the process, not to one library: every decode in it shares this budget.
#: The server sets its limit from ``media.decode_budget_mb`` when it starts.
PROCESS_BUDGET = DecodeBudget()
