"""`octopus backup DEST`: a consistent copy of a library, safe to take while the server runs.

The database (events, read models, keystore) is copied with SQLite's online backup API in one
step: in WAL mode that step reads one snapshot while the server keeps writing, so the copy is the
library exactly as it was at one commit. The blob store is copied afterwards. That order is what
makes the copy whole: a blob is in place before the event that references it is appended, so
every blob the copied log names already existed when the snapshot was taken.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Callable

import msgspec

from .application import DataPaths
from .errors import OctopusError
from .eventstore import verify_log


class BackupError(OctopusError):
    title = "Backup failed"


class BackupReport(msgspec.Struct, frozen=True):
    """What a backup copied and whether the copy verified."""

    dest: str
    events: int
    head: int
    db_bytes: int
    blobs: int
    blob_bytes: int
    blobs_linked: bool
    config_copied: bool
    seconds: float
    verified: bool
    problem: str | None = None


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_destination(dest: Path, data_dir: Path) -> Path:
    """Resolve DEST and refuse one that would mix the backup into the library or into other files."""
    dest = dest.expanduser().resolve()
    data_dir = data_dir.resolve()
    if _is_within(dest, data_dir):
        raise BackupError(f"{dest} is inside the data dir {data_dir}; back up to somewhere else")
    if dest.exists():
        if not dest.is_dir():
            raise BackupError(f"{dest} exists and is not a directory")
        if any(dest.iterdir()):
            raise BackupError(f"{dest} is not empty; back up into a new or empty directory")
    return dest


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_database(source: Path, target: Path) -> None:
    """Copy a live SQLite database with the online backup API, as one consistent snapshot.

    All pages go in one step (`pages=-1`): copying in several steps would restart every time the
    server commits in between and might never finish on a busy library, whereas one step holds a
    WAL read snapshot that does not block the server's writes.
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30.0)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
            # The copy keeps WAL mode from the header; checkpoint so DEST holds one self-contained file.
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dst.close()
    finally:
        src.close()
    _fsync(target)


def copy_blobs(source: Path, target: Path) -> tuple[int, int, bool]:
    """Copy the blob tree, hard-linking while source and target share a file system.

    Blobs are content-addressed and never modified in place (a change is a new blob), so a hard
    link is as good as a copy and costs no space. Returns (files, bytes, linked).
    """
    files = size = 0
    link = True
    if not source.is_dir():
        return 0, 0, False
    for root, dirs, names in os.walk(source):
        dirs.sort()
        rel = Path(root).relative_to(source)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for name in sorted(names):
            src_file = Path(root) / name
            dst_file = target / rel / name
            if link:
                try:
                    os.link(src_file, dst_file)
                except OSError as exc:
                    # Another file system (EXDEV) or one without hard links: copy from here on.
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                        raise
                    link = False
            if not link:
                shutil.copy2(src_file, dst_file)
                _fsync(dst_file)
            files += 1
            size += dst_file.stat().st_size
    return files, size, link and files > 0


def verify_copy(db: Path) -> tuple[int, int, str | None]:
    """Open the copied database and check its log. Returns (events, head, problem or None)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        quick = conn.execute("PRAGMA quick_check").fetchone()[0]
        if quick != "ok":
            return 0, 0, f"the copied database is damaged: {quick}"
        report = verify_log(conn)
    finally:
        conn.close()
    if not report.ok:
        return report.checked, report.head, f"position {report.first_bad_position}: {report.problem}"
    return report.checked, report.head, None


def backup(
    data_dir: Path,
    dest: Path,
    *,
    config_file: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BackupReport:
    """Copy the library in `data_dir` into the new or empty directory `dest`, then verify the copy.

    `config_file` is copied too when given, else `<data_dir>/config.toml` if it exists.
    """
    started = time.perf_counter()
    say = progress or (lambda _: None)
    paths = DataPaths(data_dir.resolve())
    if not paths.db.is_file():
        raise BackupError(f"no library at {paths.root} (no octopus.db there)")
    dest = check_destination(dest, paths.root)
    dest.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(dest, 0o700)  # the copy holds the keystore and originals, like the data dir
    copy_paths = DataPaths(dest)

    say("copying the database")
    copy_database(paths.db, copy_paths.db)
    say("copying the blobs")
    blobs, blob_bytes, linked = copy_blobs(paths.blobs, copy_paths.blobs)
    config_copied = False
    config_source = config_file if config_file is not None else paths.root / "config.toml"
    if config_source.is_file():
        shutil.copy2(config_source, dest / "config.toml")
        config_copied = True

    say("verifying the copy")
    events, head, problem = verify_copy(copy_paths.db)
    return BackupReport(
        dest=str(dest), events=events, head=head, db_bytes=copy_paths.db.stat().st_size, blobs=blobs,
        blob_bytes=blob_bytes, blobs_linked=linked, config_copied=config_copied,
        seconds=round(time.perf_counter() - started, 3), verified=problem is None, problem=problem,
    )
