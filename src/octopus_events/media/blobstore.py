"""Content-addressed files: originals by SHA-256, derivatives beside them, lazily made ones capped.

Layout under the root::

    originals/<sha[:2]>/<sha>
    derivatives/<kind>/<sha[:2]>/<sha>.jpg

Every file is written to the temp directory first, fsynced, then renamed into place, so a
crash leaves either the whole file or nothing at its final name (orphans in tmp are removed by
:meth:`BlobStore.clean_tmp`). The temp directory must be on the same file system as the root.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from octopus_events import oscompat
from octopus_events.durable import fsync_dir, fsync_file

ORIGINAL = "original"
PREVIEW = "preview"
# Derivatives made lazily on first view (media/derivatives.py SIZES): the preview, the grid's
# hi-DPI thumb and the viewer's large size. They share one LRU cap; the thumb, made at upload
# and needed by every grid, is never evicted.
CACHED_KINDS = ("preview", "thumb2x", "large")

_SHA_RE = re.compile(r"[0-9a-f]{64}")
_KIND_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class BlobNotFound(FileNotFoundError):
    """No blob of that kind is stored for that hash."""


class IncomingBlob:
    """An upload body being streamed to a temp file while its SHA-256 is computed."""

    def __init__(self, path: Path, fp: IO[bytes]) -> None:
        self.path = path
        self._fp: IO[bytes] | None = fp
        self._hash = hashlib.sha256()
        self._size = 0
        self._sha256: str | None = None
        self._discarded = False

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the body; only known once :meth:`close` has been called."""
        if self._sha256 is None:
            raise RuntimeError("the upload is still open; close() it before asking for its hash")
        return self._sha256

    @property
    def closed(self) -> bool:
        """True once no more bytes can be written."""
        return self._fp is None

    def write(self, chunk: bytes) -> None:
        """Append a chunk of the body."""
        if self._fp is None:
            raise ValueError("write to a closed upload")
        self._fp.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def close(self) -> None:
        """Finish the body; the hash becomes available. Idempotent."""
        if self._fp is not None:
            self._fp.close()
            self._fp = None
            if not self._discarded:
                self._sha256 = self._hash.hexdigest()

    def discard(self) -> None:
        """Throw the upload away and remove its temp file. Idempotent."""
        self._discarded = True
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> IncomingBlob:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()


class PreviewCache:
    """Least-recently-used bookkeeping that keeps the lazily made derivatives (``CACHED_KINDS``:
    previews, hi-DPI thumbs, large views) under ``max_bytes`` together.

    They are regenerable caches, so on a small disk the ones nobody looked at recently go.
    Access order lives in memory (seeded from file mtimes at start-up), which is enough to make
    good choices without a write per view. Entries are keyed ``(kind, sha)``; a bare ``sha``
    means the preview.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        # ``directory`` is the preview folder; its siblings hold the other cached kinds.
        self._root = directory.parent
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()
        self._seed()

    @property
    def total_bytes(self) -> int:
        """Bytes of cached derivative files the cache knows about."""
        return self._total

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return (key if isinstance(key, tuple) else (PREVIEW, key)) in self._entries

    def touch(self, sha: str, kind: str = PREVIEW) -> None:
        """Record that the ``kind`` derivative of ``sha`` was just served."""
        with self._lock:
            if (kind, sha) in self._entries:
                self._entries.move_to_end((kind, sha))

    def added(self, sha: str, size: int, kind: str = PREVIEW) -> list[str]:
        """Record a newly written derivative, evict older ones over the cap; return evicted hashes."""
        with self._lock:
            self._total -= self._entries.pop((kind, sha), 0)
            self._entries[(kind, sha)] = size
            self._total += size
            evicted: list[str] = []
            # The newest file stays even if it alone exceeds the cap: it is about to be served.
            while self._total > self.max_bytes and len(self._entries) > 1:
                (old_kind, old_sha), old_size = self._entries.popitem(last=False)
                self._total -= old_size
                _derivative_file(self._root / old_kind, old_sha).unlink(missing_ok=True)
                evicted.append(old_sha)
            return evicted

    def forget(self, sha: str, kind: str | None = None) -> None:
        """Drop ``sha`` from the books (its file was deleted elsewhere): one kind, or all."""
        with self._lock:
            for k in (kind,) if kind else CACHED_KINDS:
                self._total -= self._entries.pop((k, sha), 0)

    def _seed(self) -> None:
        found: list[tuple[float, str, str, int]] = []
        for kind in CACHED_KINDS:
            directory = self._root / kind
            if not directory.is_dir():
                continue
            for shard in directory.iterdir():
                if not shard.is_dir():
                    continue
                for entry in os.scandir(shard):
                    sha = entry.name.removesuffix(".jpg")
                    if entry.is_file() and _SHA_RE.fullmatch(sha):
                        stat = entry.stat()
                        found.append((stat.st_mtime, kind, sha, stat.st_size))
        for _mtime, kind, sha, size in sorted(found):
            self._entries[(kind, sha)] = size
            self._total += size


class BlobStore:
    """Content-addressed store for originals and their derivatives.

    ``preview_max_bytes`` caps the lazily made derivatives (``CACHED_KINDS``, LRU eviction);
    ``None`` keeps them all.
    Safe to use from several worker threads: every write is a rename of a private temp file.
    """

    def __init__(self, root: Path, tmp_dir: Path, *, preview_max_bytes: int | None = None) -> None:
        self.root = Path(root)
        self.tmp_dir = Path(tmp_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.previews: PreviewCache | None = None
        if preview_max_bytes is not None:
            self.previews = PreviewCache(self.root / "derivatives" / PREVIEW, preview_max_bytes)

    # --- originals -------------------------------------------------------------------------

    def new_upload(self) -> IncomingBlob:
        """Start streaming an upload body into a fresh temp file."""
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.tmp_dir)
        return IncomingBlob(Path(name), os.fdopen(fd, "wb"))

    def put_original(self, incoming: IncomingBlob) -> str:
        """Move a finished upload into place under its hash and return the hash.

        When the same bytes are already stored the temp file is simply removed.
        """
        incoming.close()
        sha = incoming.sha256
        dest = self.original_path(sha)
        if dest.exists():
            incoming.discard()
            return sha
        fsync_file(incoming.path)
        _move_into_place(incoming.path, dest)
        return sha

    def original_path(self, sha: str) -> Path:
        """Where the original with hash ``sha`` lives (whether or not it exists)."""
        _check_sha(sha)
        return self.root / "originals" / sha[:2] / sha

    def open_original(self, sha: str) -> IO[bytes]:
        """Open a stored original for reading; :class:`BlobNotFound` when it is absent."""
        try:
            return open(self.original_path(sha), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no original {sha}") from None

    def iter_originals(self) -> Iterator[str]:
        """Yield the hash of every stored original (order unspecified), for gc and verify."""
        base = self.root / "originals"
        if not base.is_dir():
            return
        for shard in sorted(base.iterdir()):
            if shard.is_dir():
                for entry in sorted(os.scandir(shard), key=lambda e: e.name):
                    if entry.is_file() and _SHA_RE.fullmatch(entry.name):
                        yield entry.name

    # --- derivatives -----------------------------------------------------------------------

    def put_derivative(self, kind: str, sha: str, data: bytes) -> Path:
        """Store (or replace) the ``kind`` derivative of ``sha``; return its path."""
        dest = self.derivative_path(kind, sha)
        fd, name = tempfile.mkstemp(prefix=f"{kind}-", suffix=".part", dir=self.tmp_dir)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as fp:
                fp.write(data)
                fp.flush()
                os.fsync(fp.fileno())
            _move_into_place(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if kind in CACHED_KINDS and self.previews is not None:
            self.previews.added(sha, len(data), kind)
        return dest

    def derivative_path(self, kind: str, sha: str) -> Path:
        """Where the ``kind`` derivative of ``sha`` lives (whether or not it exists)."""
        _check_kind(kind)
        _check_sha(sha)
        return _derivative_file(self.root / "derivatives" / kind, sha)

    def open_derivative(self, kind: str, sha: str) -> IO[bytes]:
        """Open a derivative for serving (counts as a use for the preview cache)."""
        try:
            fp = open(self.derivative_path(kind, sha), "rb")
        except FileNotFoundError:
            if kind in CACHED_KINDS and self.previews is not None:
                self.previews.forget(sha, kind)
            raise BlobNotFound(f"no {kind} for {sha}") from None
        if kind in CACHED_KINDS and self.previews is not None:
            self.previews.touch(sha, kind)
        return fp

    def has(self, kind: str, sha: str) -> bool:
        """Whether the original (``kind="original"``) or a derivative of ``sha`` is stored."""
        path = self.original_path(sha) if kind == ORIGINAL else self.derivative_path(kind, sha)
        return path.is_file()

    # --- deletion and housekeeping ---------------------------------------------------------

    def delete_all(self, sha: str) -> None:
        """Remove the original and every derivative of ``sha``. Idempotent."""
        self.original_path(sha).unlink(missing_ok=True)
        derivatives = self.root / "derivatives"
        if derivatives.is_dir():
            for kind_dir in derivatives.iterdir():
                if kind_dir.is_dir() and _KIND_RE.fullmatch(kind_dir.name):
                    _derivative_file(kind_dir, sha).unlink(missing_ok=True)
        if self.previews is not None:
            self.previews.forget(sha)

    def clean_tmp(self, older_than_s: float) -> int:
        """Delete temp files older than ``older_than_s`` seconds (left by crashes); return how many.

        The age limit spares uploads that are still streaming.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # removed concurrently by its owner
        return removed


def _derivative_file(kind_dir: Path, sha: str) -> Path:
    return kind_dir / sha[:2] / f"{sha}.jpg"


def _check_sha(sha: str) -> None:
    # Hashes end up in paths: anything but 64 lowercase hex digits could escape the root.
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha):
        raise ValueError(f"not a SHA-256 hex digest: {sha!r}")


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind) or kind == ORIGINAL:
        raise ValueError(f"not a derivative kind: {kind!r}")


def _move_into_place(tmp: Path, dest: Path) -> None:
    created = not dest.parent.is_dir()
    dest.parent.mkdir(parents=True, exist_ok=True)
    oscompat.replace(tmp, dest)  # retried on Windows while a reader holds `dest` open
    fsync_dir(dest.parent)
    if created:
        fsync_dir(dest.parent.parent)
