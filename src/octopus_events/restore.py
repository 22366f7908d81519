"""`octopus restore SRC DATA_DIR`: a backup back into a new data dir, every byte verified.

The restore writes into a hidden sibling of DATA_DIR and renames it into place only when
everything verified, so a damaged backup or a full disk leaves no half library where the server
would start on it. Verification as it goes: the database's integrity and the log's hash chain
first, then every file: an original against the SHA-256 its name is, any other file against the
SHA-256 in the backup's manifest. A backup made before manifests existed (no `backup.json`) still
restores; its originals are verified by name and the rest only copied, and the report says so.
Afterwards the restored library is opened and `octopus verify`'s checks run on it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Callable

import msgspec

from . import oscompat
from .backup import DAV_INDEX, DB_NAME, MANIFEST, content_hash, list_files, read_manifest, verify_copy
from .durable import fsync_dir, fsync_file
from .errors import OctopusError

_CHUNK = 1 << 20


class RestoreError(OctopusError):
    title = "Restore failed"


class RestoreReport(msgspec.Struct, frozen=True):
    data_dir: str
    events: int
    head: int
    files: int
    file_bytes: int
    verified_files: int
    unverified_files: int
    config_copied: bool
    seconds: float


def _check_target(data_dir: Path, src: Path) -> Path:
    data_dir = data_dir.expanduser().resolve()
    if data_dir == src or src in data_dir.parents or data_dir in src.parents:
        raise RestoreError(f"{data_dir} and the backup {src} overlap; restore somewhere else")
    if data_dir.exists():
        if not data_dir.is_dir():
            raise RestoreError(f"{data_dir} exists and is not a directory")
        if any(data_dir.iterdir()):
            raise RestoreError(f"{data_dir} is not empty; restore into a new or empty directory")
    return data_dir


def _copy_verified(src: Path, dst: Path, expected: str | None) -> bool:
    """Copy one file, hashing the bytes as they are read; False when they are not what the
    backup promised."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, dst)
    return expected is None or digest.hexdigest() == expected


def _copy_db(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro&immutable=1", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()
    fsync_file(target)


def restore(src: Path, data_dir: Path, *, progress: Callable[[str], None] | None = None) -> RestoreReport:
    """Restore the backup in `src` into the new or empty directory `data_dir`."""
    started = time.perf_counter()
    say = progress or (lambda _: None)
    src = src.expanduser().resolve()
    if not (src / DB_NAME).is_file():
        raise RestoreError(f"no backup at {src} (no {DB_NAME} there)")
    data_dir = _check_target(data_dir, src)
    manifest = read_manifest(src)
    if manifest is None and (src / MANIFEST).exists():
        raise RestoreError(f"{src / MANIFEST} is damaged; the backup cannot be verified")

    work = data_dir.parent / f".{data_dir.name}.restoring"
    if work.exists():
        shutil.rmtree(work)  # an earlier restore that was interrupted
    work.mkdir(parents=True)
    try:
        say("restoring the database")
        _copy_db(src / DB_NAME, work / DB_NAME)
        events, head, problem = verify_copy(work / DB_NAME)
        if problem is not None:
            raise RestoreError(f"the backup's database does not verify: {problem}")
        if manifest is not None and head < manifest.head:
            raise RestoreError(f"the backup's database ends at {head}, its manifest says {manifest.head}")
        if (src / DAV_INDEX).is_file():
            _copy_db(src / DAV_INDEX, work / DAV_INDEX)

        say("restoring and verifying the files")
        wanted = manifest.files if manifest is not None else {rel: None for rel in list_files(src)}
        files = file_bytes = verified = unverified = 0
        for rel, entry in sorted(wanted.items()):
            source = src / rel
            if not source.is_file():
                raise RestoreError(f"the backup lacks {rel}; it is incomplete")
            expected = content_hash(rel) or (entry.sha256 if entry is not None else None)
            if not _copy_verified(source, work / rel, expected):
                raise RestoreError(f"{rel} in the backup is damaged (its bytes do not match their SHA-256)")
            if entry is not None and entry.size != source.stat().st_size:
                raise RestoreError(f"{rel} in the backup has {source.stat().st_size} bytes, {entry.size} expected")
            files += 1
            file_bytes += source.stat().st_size
            if expected is None:
                unverified += 1
            else:
                verified += 1
        config_copied = (src / "config.toml").is_file()
        if config_copied:
            shutil.copy2(src / "config.toml", work / "config.toml")
        for folder in ("tmp", "logs"):
            (work / folder).mkdir(exist_ok=True)
        oscompat.make_private(work)
        fsync_dir(work)
        if data_dir.exists():
            data_dir.rmdir()  # empty, checked above
        os.replace(work, data_dir)
        fsync_dir(data_dir.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return RestoreReport(
        data_dir=str(data_dir), events=events, head=head, files=files, file_bytes=file_bytes,
        verified_files=verified, unverified_files=unverified, config_copied=config_copied,
        seconds=round(time.perf_counter() - started, 3),
    )
