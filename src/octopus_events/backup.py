"""`octopus backup DEST`: a consistent, incremental copy of a library, safe while the server runs.

The database (events, read models, keystore) is copied with SQLite's online backup API in one
step: in WAL mode that step reads one snapshot while the server keeps writing, so the copy is the
library exactly as it was at one commit. The files (the blob tree and the WebDAV folders) are
synchronised afterwards. That order is what makes the copy whole: a blob is in place before the
event that references it is appended, so every blob the copied log names already existed when the
snapshot was taken.

Incremental: DEST may hold an earlier backup of the same library (known by the id of its first
event). Originals and derivatives are content-addressed and never change in place, and the other
files (vault files, WebDAV files) are replaced by rename when they change, so a file whose size
and modification time match the manifest of the earlier backup is already there: only new and
changed files are copied, and files the library no longer has are removed from DEST, so a
backup refreshed after a deletion no longer holds what was deleted (docs/deletion.md). A nightly
backup that changed little costs one database snapshot and one walk of the tree.

Which files to remove is judged against the listing taken *before* the snapshot and the one after
it: a file deleted while the backup runs may still be named by the snapshot, so it stays until the
next backup, whose snapshot no longer names it.

`backup.json` in DEST records every file with its size, modification time and, for files not
named by their content, its SHA-256, so `octopus restore` can verify every byte it copies back.
The database is written beside its final name and renamed into place only once it verifies, so
an interrupted backup leaves the previous one whole.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

import msgspec

from . import oscompat
from .application import DataPaths
from .durable import fsync_dir, fsync_file
from .errors import OctopusError
from .eventstore import verify_log

MANIFEST = "backup.json"
MANIFEST_FORMAT = 1
DB_NAME = "octopus.db"
DAV_INDEX = "dav/index.db"
# Trees of plain files that belong to the library; the two databases are copied by SQLite.
FILE_TREES = ("blobs", "dav")
# Files in those trees that are not library content: the WebDAV index and SQLite's side files
# (the index is copied by SQLite), and the temp files of writes in progress in the blob tree.
_SKIP = re.compile(r"dav/index\.db(-wal|-shm|-journal)?$|blobs/(.*/)?\.[^/]*\.tmp$")
_ORIGINAL = re.compile(r"blobs/originals/[0-9a-f]{2}/([0-9a-f]{64})$")
# Content-addressed files never change in place (a change is a new name), so a hard link is as
# good as a copy; anything else (vault and WebDAV files) is copied, so that a later write to the
# library's file can never reach into the backup through a shared inode.
_LINKABLE = re.compile(r"blobs/(originals|derivatives)/")
_CHUNK = 1 << 20


class BackupError(OctopusError):
    title = "Backup failed"


class FileEntry(msgspec.Struct, frozen=True, array_like=True):
    """One file of a backup: size and mtime of the source when copied, SHA-256 when its name is
    not its content's hash (an original's name is)."""

    size: int
    mtime_ns: int
    sha256: str | None = None


class Manifest(msgspec.Struct):
    """`backup.json`: what a backup holds, so the next one can skip what is there and a restore
    can verify every byte."""

    format: int
    library: str
    head: int
    created_at: str
    files: dict[str, FileEntry]


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
    incremental: bool = False
    copied: int = 0
    copied_bytes: int = 0
    unchanged: int = 0
    removed: int = 0
    vanished: int = 0


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def library_id(db: Path) -> str:
    """The library's identity: the id of its first event ('' for a library with none yet)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)
    try:
        row = conn.execute("SELECT event_id FROM events WHERE position = 1").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{db} is not an Octopus database ({exc})") from None
    finally:
        conn.close()
    return row[0] if row else ""


def read_manifest(dest: Path) -> Manifest | None:
    """The manifest of the backup in `dest`, or None when there is none or it cannot be read."""
    try:
        return msgspec.json.decode((dest / MANIFEST).read_bytes(), type=Manifest)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def check_destination(dest: Path, data_dir: Path) -> tuple[Path, bool]:
    """Resolve DEST; refuse one that would mix the backup into the library or into other files.

    Returns (dest, incremental): incremental when DEST holds an earlier backup of this library.
    """
    dest = dest.expanduser().resolve()
    data_dir = data_dir.resolve()
    if _is_within(dest, data_dir):
        raise BackupError(f"{dest} is inside the data dir {data_dir}; back up to somewhere else")
    if not dest.exists():
        return dest, False
    if not dest.is_dir():
        raise BackupError(f"{dest} exists and is not a directory")
    if not any(dest.iterdir()):
        return dest, False
    if not (dest / DB_NAME).is_file():
        raise BackupError(f"{dest} is not empty and holds no backup; back up into a new or empty directory")
    theirs, ours = library_id(dest / DB_NAME), library_id(data_dir / DB_NAME)
    if theirs != ours:
        raise BackupError(f"{dest} holds a backup of another library; use another directory for this one")
    return dest, True


def copy_database(source: Path, target: Path) -> None:
    """Copy a live SQLite database with the online backup API, as one consistent snapshot.

    All pages go in one step (`pages=-1`): copying in several steps would restart every time the
    server commits in between and might never finish on a busy library, whereas one step holds a
    WAL read snapshot that does not block the server's writes.
    """
    target.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30.0)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
            # The copy keeps WAL mode from the header; checkpoint so DEST holds one self-contained
            # file, and leave WAL mode so no -wal/-shm files appear beside it when it is read.
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    fsync_file(target)


def list_files(root: Path, *, stat: bool = True) -> dict[str, os.stat_result | None]:
    """Every library file under the trees of `root` by its '/'-separated relative path, with its
    stat (or None without `stat`). Plain strings and scandir: on 20,000 files pathlib's own cost
    was most of an incremental backup's time."""
    found: dict[str, os.stat_result | None] = {}
    base = os.fspath(root)

    def walk(folder: str, rel: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        for entry in entries:
            name = f"{rel}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, name)
            elif not _SKIP.match(name):
                try:
                    found[name] = entry.stat(follow_symlinks=False) if stat else None
                except FileNotFoundError:
                    continue  # deleted while we walked

    for tree in FILE_TREES:
        walk(os.path.join(base, tree), tree)
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_hash(rel: str) -> str | None:
    """The SHA-256 a file's name promises (originals), else None."""
    match = _ORIGINAL.match(rel)
    return match.group(1) if match else None


class _Copier:
    """Copies files into DEST, by hard link while both sides share a file system."""

    def __init__(self) -> None:
        self.link = True
        self.linked_any = False

    def copy(self, rel: str, src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp")
        tmp.unlink(missing_ok=True)
        link = self.link and _LINKABLE.match(rel) is not None
        if link:
            try:
                os.link(src, tmp)
                self.linked_any = True
            except OSError as exc:
                # Another file system (EXDEV) or one without hard links: copy from here on.
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                self.link = link = False
        if not link:
            shutil.copy2(src, tmp)
            fsync_file(tmp)
        oscompat.replace(tmp, dst)


def _unchanged(entry: FileEntry | None, st: os.stat_result, in_dest: bool) -> bool:
    """Already in DEST as the manifest describes it (`octopus restore` checks its bytes)."""
    return in_dest and entry is not None and entry.size == st.st_size and entry.mtime_ns == st.st_mtime_ns


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


def _remove(dest: Path, rel: str) -> None:
    """Remove one file from DEST and the folders it leaves empty (never a tree's own folder)."""
    path = dest / rel
    path.unlink(missing_ok=True)
    parent = path.parent
    while parent.parent != dest and parent.parent.name not in ("",):
        try:
            parent.rmdir()
        except OSError:
            return  # not empty (or gone)
        parent = parent.parent


def backup(
    data_dir: Path,
    dest: Path,
    *,
    config_file: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BackupReport:
    """Copy the library in `data_dir` into `dest` (new, empty, or an earlier backup of the same
    library, which is brought up to date), then verify the copy.

    `config_file` is copied too when given, else `<data_dir>/config.toml` if it exists.
    """
    started = time.perf_counter()
    say = progress or (lambda _: None)
    paths = DataPaths(data_dir.resolve())
    if not paths.db.is_file():
        raise BackupError(f"no library at {paths.root} (no octopus.db there)")
    dest, incremental = check_destination(dest, paths.root)
    dest.mkdir(parents=True, exist_ok=True)
    oscompat.make_private(dest)  # the copy holds the keystore and originals, like the data dir
    previous = read_manifest(dest) if incremental else None
    known = previous.files if previous is not None else {}

    before = list_files(paths.root, stat=False)
    in_dest = list_files(dest, stat=False) if incremental else {}
    say("copying the database" + (" (the files are brought up to date after it)" if incremental else ""))
    partial = dest / f"{DB_NAME}.partial"
    copy_database(paths.db, partial)
    if (paths.root / DAV_INDEX).is_file():
        (dest / "dav").mkdir(exist_ok=True)
        copy_database(paths.root / DAV_INDEX, dest / f"{DAV_INDEX}.partial")
    after = list_files(paths.root)

    say("copying new files" if incremental else "copying the files")
    copier = _Copier()
    files: dict[str, FileEntry] = {}
    copied = copied_bytes = unchanged = vanished = 0
    for rel, st in after.items():
        assert st is not None
        entry = known.get(rel)
        if _unchanged(entry, st, rel in in_dest):
            files[rel] = entry  # type: ignore[assignment]
            unchanged += 1
            continue
        src, dst = paths.root / rel, dest / rel
        try:
            copier.copy(rel, src, dst)
            digest = None if content_hash(rel) else sha256_of(dst)
        except FileNotFoundError:
            vanished += 1  # deleted since the listing: the snapshot cannot need it
            continue
        files[rel] = FileEntry(st.st_size, st.st_mtime_ns, digest)
        copied += 1
        copied_bytes += st.st_size

    removed = 0
    if incremental:
        keep = before.keys() | files.keys()
        # What the manifest listed and what DEST holds that it did not (an older backup, a crash).
        for rel in known.keys() | in_dest.keys():
            if rel not in keep:
                _remove(dest, rel)
                removed += 1
        for rel in before.keys() - files.keys():  # listed before, deleted before we got to it
            if rel in in_dest and rel in known:
                files[rel] = known[rel]

    config_copied = False
    config_source = config_file if config_file is not None else paths.root / "config.toml"
    if config_source.is_file():
        shutil.copy2(config_source, dest / "config.toml")
        config_copied = True

    say("verifying the copy")
    events, head, problem = verify_copy(partial)
    if problem is not None:
        partial.unlink(missing_ok=True)
        return BackupReport(
            dest=str(dest), events=events, head=head, db_bytes=0, blobs=len(files), blob_bytes=0,
            blobs_linked=copier.linked_any, config_copied=config_copied,
            seconds=round(time.perf_counter() - started, 3), verified=False, problem=problem,
            incremental=incremental,
        )
    # The database goes into place last, and the manifest with it: until then DEST holds the
    # earlier backup whole (its files are a superset of what its database names).
    oscompat.replace(partial, dest / DB_NAME)
    if (dest / f"{DAV_INDEX}.partial").is_file():
        os.replace(dest / f"{DAV_INDEX}.partial", dest / DAV_INDEX)
    manifest = Manifest(
        format=MANIFEST_FORMAT, library=library_id(dest / DB_NAME), head=head,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), files=files,
    )
    tmp = dest / f".{MANIFEST}.tmp"
    tmp.write_bytes(msgspec.json.encode(manifest))
    fsync_file(tmp)
    oscompat.replace(tmp, dest / MANIFEST)
    fsync_dir(dest)
    return BackupReport(
        dest=str(dest), events=events, head=head, db_bytes=(dest / DB_NAME).stat().st_size,
        blobs=len(files), blob_bytes=sum(f.size for f in files.values()), blobs_linked=copier.linked_any,
        config_copied=config_copied, seconds=round(time.perf_counter() - started, 3), verified=True,
        incremental=incremental, copied=copied, copied_bytes=copied_bytes, unchanged=unchanged,
        removed=removed, vanished=vanished,
    )
