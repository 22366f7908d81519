"""Durable file writes: temp file, fsync, rename, fsync the directory.

A crash at any point leaves either the old file or the new one, never half of one; the blob
store, the vault and the sealed-file writer all write this way.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import oscompat


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op on Windows: oscompat.fsync_dir)."""
    oscompat.fsync_dir(directory)


def fsync_file(path: Path) -> None:
    # Windows refuses fsync (_commit) on a read-only handle, so open for writing.
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, tmp_dir: Path | None = None) -> None:
    """Write `data` to `path` all or nothing (the temp file sits in `tmp_dir`, else beside `path`,
    and must be on the same filesystem)."""
    fd, name = tempfile.mkstemp(dir=tmp_dir or path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        oscompat.replace(tmp, path)  # retried on Windows while someone holds `path` open
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
