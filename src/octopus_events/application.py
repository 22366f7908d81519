"""The running library: one object that owns the event store, the projections and the blobs.

The web app and the CLI are thin shells over this; a test can do anything the API can do by
calling it directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

import msgspec

from . import oscompat
from .config import Config
from .eventstore import EventStore
from .priority import lower_this_thread
from .projection import ProjectionEngine, Projector

log = logging.getLogger(__name__)
T = TypeVar("T")


class DataPaths(msgspec.Struct, frozen=True):
    """The data dir's layout (documented in docs/data-dir.md)."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "octopus.db"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def create(self) -> None:
        for path in (self.root, self.blobs, self.tmp, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        # Originals and the keystore are private: nobody else on the box may read them.
        oscompat.make_private(self.root)


def all_projectors() -> list[type[Projector]]:
    from .readmodels import PROJECTORS

    return list(PROJECTORS)


class Octopus:
    """The photo library service. `open()` before use, `close()` after."""

    def __init__(self, config: Config, *, projectors: list[type[Projector]] | None = None) -> None:
        self.config = config
        self.paths = DataPaths(config.data_dir)
        self.store = EventStore(self.paths.db)
        self.engine = ProjectionEngine(self.store, projectors if projectors is not None else all_projectors())
        self.started_at = 0.0
        self.notifier: Any = None  # notifications.Notifier when a webhook or ntfy target is configured
        # Queries run on a few threads with their own read connections (WAL readers), so the
        # event loop never waits on SQLite and connections stay few on a 1 GB machine.
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="octopus-read")
        cores = os.cpu_count() or 2
        self.media_workers = config.media.workers or cores
        # Image work (decode, resize, hash) releases the GIL in Pillow and hashlib; a pool the
        # size of the cores keeps the CPU busy without letting memory grow with concurrency.
        # ...and below the event loop's priority, so requests stay quick while photos decode.
        self._media = ThreadPoolExecutor(max_workers=self.media_workers, thread_name_prefix="octopus-media",
                                         initializer=lower_this_thread)
        # Memory is the process's, so every library in it shares one decode budget.
        from .media.budget import PROCESS_BUDGET

        PROCESS_BUDGET.set_limit(config.media.decode_budget_mb)
        from .media.derivatives import allow_pixels

        # Pillow's own bomb guard (~89 MP) would refuse stored 200 MP originals' previews.
        allow_pixels(config.media.max_megapixels * 1_000_000)
        from .sync import Waiters

        # Long-polling sync requests wait here; the store wakes them when their owner's events commit.
        self.sync_waiters = Waiters(self.store)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a query function on a reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._readers, fn, *args)

    async def media(self, fn: Callable[..., T], *args: Any) -> T:
        """Run image work on the bounded media pool."""
        return await asyncio.get_running_loop().run_in_executor(self._media, fn, *args)

    def open(self, *, background_rebuilds: bool = True) -> Octopus:
        from .accounts import Accounts
        from .albums import Albums
        from .library import PhotoLibrary
        from .notifications import start_notifier
        from .vault import Vault
        from .dav import store as _dav_store  # noqa: F401  (purge hooks reach DAV copies from any process)

        started = time.perf_counter()
        self.paths.create()
        self.store.open()
        self.engine.start(background=background_rebuilds)
        self.photos = PhotoLibrary(self)
        self.accounts = Accounts(self)
        self.albums = Albums(self)
        self.vault = Vault(self)
        from .members import AlbumMembers
        from .partners import Partners

        self.members = AlbumMembers(self.store, self.read, self.sync_waiters)  # shared albums (docs/sharing.md)
        self.partners = Partners(self.store)
        from .devices import Devices

        self.devices = Devices(self)
        self.accounts.on_sessions_ended.append(self.devices.forget_user)
        from .shares import Shares

        auth = self.config.auth
        self.shares = Shares(self.store, self.accounts.hashing, self.read,
                             max_failures=auth.login_max_failures, window_s=auth.login_window_seconds)
        from .transcode import Transcoder

        # Playable copies: made only while the web app runs (web/app.py starts it), never by the CLI.
        self.transcoder = Transcoder(self)
        self.notifier = start_notifier(self)
        self.started_at = time.time()
        log.info("library open in %.0f ms at %s", (time.perf_counter() - started) * 1000, self.paths.root)
        return self

    def forget_now(self) -> None:
        """Make SQLite forget deleted rows: merge FTS segments, then fold the WAL into the main
        file and truncate it, so no old page image of a purged photo survives on disk."""
        self.engine.compact()
        self.store.writer.call(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone(), transaction=False)

    async def forget(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.forget_now)

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.stop()  # before the store: its threads write delivery state
            self.notifier = None
        transcoder = getattr(self, "transcoder", None)
        if transcoder is not None:
            transcoder.stop()  # before the store: it reads the read model
        devices = getattr(self, "devices", None)
        if devices is not None:
            devices.flush()  # activity (last seen, uploads) kept in memory: before the store closes
        shares = getattr(self, "shares", None)
        if shares is not None:
            shares.flush()  # view counts kept in memory: before the store closes
        accounts = getattr(self, "accounts", None)
        if accounts is not None:
            accounts.hashing.close()  # its argon2 threads: idle, but a test opens many libraries
        self._media.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.stop()
        self.store.close()

    def __enter__(self) -> Octopus:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
