"""The device files store: each device's Uploads folder on disk, and what became of its media.

Layout (docs/data-dir.md): `<data_dir>/dav/<owner>/<device>/` holds the files exactly as the
device put them; `<data_dir>/dav/index.db` records which of them became which library item
(so deleting the item for good can reach its copy here), the keyed-hash tombstones of photos
deleted for good and the dead properties (properties.py). Locks live in memory only (they
last minutes; RFC 4918 lets a server drop them). None of this is event-sourced: like the
blobs, these are bytes the device owns, and index.db is written with `secure_delete` so a
deleted row leaves no page image behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Coroutine, TypeVar
from urllib.parse import quote

from .. import keystore
from ..errors import OctopusError
from ..eventstore import Meta
from ..media import ACCEPTED_MIMES, sniff
from ..media.sniff import SNIFF_BYTES

if TYPE_CHECKING:
    from ..application import Octopus
    from ..media import IncomingBlob
    from .auth import DavIdentity

log = logging.getLogger(__name__)
T = TypeVar("T")
UPLOADS = "Uploads"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dav_media (
    owner TEXT NOT NULL, device TEXT NOT NULL, relpath TEXT NOT NULL,
    photo_id TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (owner, device, relpath)
);
CREATE INDEX IF NOT EXISTS dav_media_photo ON dav_media (owner, photo_id);
-- Dead properties (PROPPATCH), keyed by the resource's ref URL (properties.py).
CREATE TABLE IF NOT EXISTS dav_prop (url TEXT NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (url, name));
-- HMAC-SHA256(owner's tombstone key, content SHA-256) of each photo deleted for good.
CREATE TABLE IF NOT EXISTS dav_tombstone (owner TEXT NOT NULL, mac BLOB NOT NULL, PRIMARY KEY (owner, mac));
"""
TOMBSTONE_PURPOSE = "dav_tombstone"
_USAGE_TTL_S = 60.0  # a walk corrects the running total at most this often


def tombstone_key_id(owner: str) -> str:
    return f"dav_tombstone:{owner}"


def ref_url(owner: str, device: str, relpath: str) -> str:
    """The ref URL WsgiDAV keys an Uploads file's properties and locks by (provider.DeviceFile)."""
    return f"/~{owner}~{device}" + quote(f"/{UPLOADS}/{relpath}")


class Index:
    """index.db and the files it describes; usable without the WsgiDAV app (the purge hooks run
    wherever a photo is deleted: the web app, the CLI, trash expiry)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.write_lock = self._write_lock = threading.Lock()
        # Called with each purged file's ref URL (the WsgiDAV app drops its in-memory locks).
        self.on_removed: list[Callable[[str], None]] = []
        # Device file bytes per owner: one walk of dav/<owner>/, then kept as a running total
        # (each write re-counts only its own file), walked again after _USAGE_TTL_S. A walk per
        # PUT made a backup of n files O(n²) once a quota asked for the total on every PUT.
        self._usage: dict[str, _Usage] = {}
        self._usage_changes: dict[str, int] = {}  # per owner: a walk that raced a change is not kept
        # Files being PUT: their bytes are held as a quota reservation until the PUT ends.
        self.in_flight: set[Path] = set()
        self._usage_lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            self._drop_old_ghosts(conn)
        # Older versions kept locks and properties in shelve files, which keep deleted keys
        # (filenames) readable: they go.
        for old in self.root.glob("*.shelve*"):
            shred(old)

    def _drop_old_ghosts(self, conn: sqlite3.Connection) -> None:
        """Older versions left a purged photo's Uploads entry in place (an empty file and a
        `dav_ghost` row keeping its name): both go, as a permanent deletion requires."""
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'dav_ghost'").fetchone() is None:
            return
        for owner, device, relpath in conn.execute("SELECT owner, device, relpath FROM dav_ghost").fetchall():
            path = self.root / owner / device / relpath
            if path.is_file() and path.stat().st_size == 0:
                path.unlink()
            conn.execute("DELETE FROM dav_prop WHERE url = ?", (ref_url(owner, device, relpath),))
        conn.execute("DROP TABLE dav_ghost")
        conn.execute("VACUUM")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.root / "index.db", isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=DELETE")  # no WAL: no old page images kept beside it
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # -- device file bytes (storage and quota) ------------------------------------------------------
    def device_file_bytes(self, owner: str) -> int:
        """Bytes of the owner's Uploads files that are no library item (non-media, refused
        media), files being PUT left out (they are held as quota reservations)."""
        now = time.monotonic()
        with self._usage_lock:
            found = self._usage.get(owner)
            if found is not None and found.expires > now:
                return found.total
            in_flight = set(self.in_flight)
            changes = self._usage_changes.get(owner, 0)
        items = {(d, r) for d, r in self.db.execute("SELECT device, relpath FROM dav_media WHERE owner = ?", (owner,))}
        sizes: dict[Path, int] = {}
        base = self.root / owner
        for folder, _dirs, files in os.walk(base):
            rel_folder = os.path.relpath(folder, base)
            device, _, below = rel_folder.partition(os.sep)
            for name in files:
                full = Path(folder) / name
                if full in in_flight or (device, os.path.join(below, name) if below else name) in items:
                    continue
                try:
                    sizes[full] = os.lstat(full).st_size
                except FileNotFoundError:
                    continue
        usage = _Usage(now + _USAGE_TTL_S, sizes, sum(sizes.values()))
        with self._usage_lock:
            if self._usage_changes.get(owner, 0) == changes:
                self._usage[owner] = usage
        return usage.total

    def usage_changed(self, owner: str) -> None:
        """Many files may have changed (a folder deleted or moved, the account gone): walk again."""
        with self._usage_lock:
            self._usage.pop(owner, None)
            self._usage_changes[owner] = self._usage_changes.get(owner, 0) + 1

    def file_changed(self, owner: str, device: str, relpath: str) -> None:
        """One Uploads file was written, removed, taken in or left out: re-count only it."""
        full = self.root / owner / device / relpath
        counted = 0
        if full not in self.in_flight and self.db.execute(
                "SELECT 1 FROM dav_media WHERE owner = ? AND device = ? AND relpath = ?",
                (owner, device, relpath)).fetchone() is None:
            try:
                st = os.lstat(full)
                counted = st.st_size if stat.S_ISREG(st.st_mode) else 0
            except (FileNotFoundError, NotADirectoryError):
                counted = 0
        with self._usage_lock:
            self._usage_changes[owner] = self._usage_changes.get(owner, 0) + 1
            usage = self._usage.get(owner)
            if usage is None:
                return
            usage.total += counted - usage.sizes.pop(full, 0)
            if counted:
                usage.sizes[full] = counted

    # -- what became of a file ----------------------------------------------------------------------
    def forget_path(self, identity: DavIdentity, relpath: str, *, recursive: bool = False) -> None:
        """The device deleted or overwrote a file (or a folder): its records go with it."""
        with self._write_lock:
            self.db.execute("DELETE FROM dav_media WHERE owner = ? AND device = ? AND relpath = ?",
                            (identity.owner, identity.device, relpath))
            if recursive:
                prefix = relpath.rstrip("/") + "/"
                self.db.execute("DELETE FROM dav_media WHERE owner = ? AND device = ? AND substr(relpath, 1, ?) = ?",
                                (identity.owner, identity.device, len(prefix), prefix))
        if recursive:
            self.usage_changed(identity.owner)
        else:
            self.file_changed(identity.owner, identity.device, relpath)

    def moved(self, identity: DavIdentity, old: str, new: str) -> None:
        """A MOVE keeps what the file became (it is the same file under another name)."""
        with self._write_lock:
            self.db.execute("DELETE FROM dav_media WHERE owner = ? AND device = ? AND relpath = ?",
                            (identity.owner, identity.device, new))
            self.db.execute("UPDATE dav_media SET relpath = ? WHERE owner = ? AND device = ? AND relpath = ?",
                            (new, identity.owner, identity.device, old))
            old_prefix, new_prefix = old.rstrip("/") + "/", new.rstrip("/") + "/"
            self.db.execute(
                "UPDATE dav_media SET relpath = ? || substr(relpath, ?) WHERE owner = ? AND device = ? "
                "AND substr(relpath, 1, ?) = ?",
                (new_prefix, len(old_prefix) + 1, identity.owner, identity.device, len(old_prefix), old_prefix))
        if (self.root / identity.owner / identity.device / new).is_file():
            self.file_changed(identity.owner, identity.device, old)
            self.file_changed(identity.owner, identity.device, new)
        else:
            self.usage_changed(identity.owner)  # a folder: everything below it moved

    # -- tombstones ---------------------------------------------------------------------------------
    def copies_of(self, owner: str, photo_id: str) -> list[tuple[str, str, str]]:
        return self.db.execute("SELECT device, relpath, sha256 FROM dav_media WHERE owner = ? AND photo_id = ?",
                               (owner, photo_id)).fetchall()

    def purged(self, owner: str, photo_id: str, copies: list[tuple[str, str, str]], macs: list[bytes]) -> None:
        """After a photo's permanent deletion: every Uploads copy of it goes entirely (bytes,
        name, dead properties, locks), and its content hash becomes a keyed tombstone so the
        same bytes uploaded again are not taken in."""
        with self._write_lock:
            for mac in macs:
                self.db.execute("INSERT OR IGNORE INTO dav_tombstone (owner, mac) VALUES (?, ?)", (owner, mac))
        for device, relpath, _sha in copies:
            self.remove_file(owner, device, relpath)
        with self._write_lock:
            self.db.execute("DELETE FROM dav_media WHERE owner = ? AND photo_id = ?", (owner, photo_id))

    def remove_file(self, owner: str, device: str, relpath: str) -> None:
        """An Uploads file gone for good: bytes overwritten, its rows and properties deleted."""
        shred(self.root / owner / device / relpath)
        url = ref_url(owner, device, relpath)
        with self._write_lock:
            self.db.execute("DELETE FROM dav_media WHERE owner = ? AND device = ? AND relpath = ?", (owner, device, relpath))
        self.file_changed(owner, device, relpath)
        self.forget_props(url)
        for removed in self.on_removed:
            removed(url)

    def forget_props(self, url: str) -> None:
        with self._write_lock:
            prefix = url.rstrip("/") + "/"
            self.db.execute("DELETE FROM dav_prop WHERE url = ? OR substr(url, 1, ?) = ?", (url, len(prefix), prefix))

    def account_deleted(self, owner: str) -> None:
        self.usage_changed(owner)
        shutil.rmtree(self.root / owner, ignore_errors=True)
        with self._write_lock:
            for table in ("dav_media", "dav_tombstone"):
                self.db.execute(f"DELETE FROM {table} WHERE owner = ?", (owner,))
            prefix = f"/~{owner}~"
            self.db.execute("DELETE FROM dav_prop WHERE substr(url, 1, ?) = ?", (len(prefix), prefix))



class DavStore(Index):
    """The index plus the bridge from WsgiDAV's threads to the library's event loop."""

    def __init__(self, octopus: Octopus, loop: asyncio.AbstractEventLoop) -> None:
        from .auth import AccountPasswordCache

        super().__init__(octopus.paths.root / "dav")
        with _INDEXES_LOCK:
            _INDEXES[self.root] = self  # purges in this process reach this app's locks too
        self.octopus = octopus
        self.loop = loop
        self.account_cache = AccountPasswordCache()
        self.password_seen: dict[str, bytes] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a library coroutine from a WsgiDAV thread and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def device_root(self, identity: DavIdentity) -> Path:
        path = self.root / identity.owner / identity.device
        path.mkdir(parents=True, exist_ok=True)
        return path

    def tombstoned(self, owner: str, sha: str) -> bool:
        key = keystore.get(self.octopus.store.reader(), tombstone_key_id(owner))
        if key is None:
            return False
        mac = tombstone_mac(key, sha)
        return self.db.execute("SELECT 1 FROM dav_tombstone WHERE owner = ? AND mac = ?", (owner, mac)).fetchone() is not None

    # -- ingest -------------------------------------------------------------------------------------
    def ingest(self, identity: DavIdentity, relpath: str, path: Path, incoming: IncomingBlob) -> str | None:
        """A media file the device finished writing: through the upload pipeline (the same bytes
        twice are one item). Returns the photo id, or None when it stays only a device file;
        raises Tombstoned (the file removed again) for the bytes of a photo deleted for good."""
        incoming.close()
        sha = incoming.sha256
        if self.tombstoned(identity.owner, sha):
            # Deleted for good: the PUT still succeeds (an app would retry an error for ever),
            # but the bytes and the name go at once; nothing is listed or taken in.
            incoming.discard()
            self.remove_file(identity.owner, identity.device, relpath)
            raise Tombstoned
        from .auth import ACCOUNT_DEVICE

        meta = Meta(actor=identity.owner, owner=identity.owner, correlation_id=f"dav:{identity.device}")
        try:
            view, _created = self.run(self.octopus.photos.upload(identity.owner, incoming, filename=path.name, meta=meta))
        except OctopusError as exc:
            # Not a photo we can take (broken, too large, over quota): it stays a device file.
            log.info("dav: %s kept as a device file: %s", relpath, exc)
            return None
        finally:
            incoming.discard()
        devices = getattr(self.octopus, "devices", None)
        if devices is not None and identity.device != ACCOUNT_DEVICE:
            devices.uploaded(identity.device)
        photo_id = getattr(view, "id", None)
        if not isinstance(photo_id, str):
            return None  # a Live Photo's clip joined (or waits for) its still
        with self._write_lock:
            self.db.execute("INSERT OR REPLACE INTO dav_media (owner, device, relpath, photo_id, sha256) VALUES (?, ?, ?, ?, ?)",
                            (identity.owner, identity.device, relpath, photo_id, sha))
        self.file_changed(identity.owner, identity.device, relpath)
        return photo_id


class _Usage:
    """An owner's device file bytes: the counted size of each file, and their sum."""

    __slots__ = ("expires", "sizes", "total")

    def __init__(self, expires: float, sizes: dict[Path, int], total: int) -> None:
        self.expires = expires
        self.sizes = sizes
        self.total = total


class Tombstoned(Exception):
    """The file a device just put is a photo deleted for good: it has been removed again."""


class TeeWriter:
    """The file a PUT writes: the device's copy, and (when the first bytes say it is media) an
    upload temp file hashed on the way, so the pipeline needs no second read."""

    def __init__(self, fp: Any, store: DavStore) -> None:
        self._fp = fp
        self._store = store
        self._head = b""
        self.incoming: IncomingBlob | None = None
        self._decided = False

    def write(self, data: bytes) -> int:
        self._fp.write(data)
        if not self._decided:
            self._head += data
            if len(self._head) < SNIFF_BYTES:
                return len(data)
            self._decide()
        elif self.incoming is not None:
            self.incoming.write(data)
        return len(data)

    def _decide(self) -> None:
        self._decided = True
        if sniff(self._head[:SNIFF_BYTES]) in ACCEPTED_MIMES:
            self.incoming = self._store.octopus.photos.new_upload()
            self.incoming.write(self._head)
        self._head = b""

    def close(self) -> None:
        if not self._decided:
            self._decide()
        self._fp.close()

    def discard(self) -> None:
        if self.incoming is not None:
            self.incoming.discard()
            self.incoming = None


def shred(path: Path) -> None:
    """Overwrite a file's bytes before unlinking it, so its blocks no longer hold the photo."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as fp:
            chunk = b"\0" * min(size, 1 << 20)
            left = size
            while left > 0:
                n = min(left, len(chunk))
                fp.write(chunk[:n])
                left -= n
            fp.flush()
            os.fsync(fp.fileno())
    except FileNotFoundError:
        return
    path.unlink(missing_ok=True)


def tombstone_mac(key: bytes, sha: str) -> bytes:
    return hmac.new(key, bytes.fromhex(sha), hashlib.sha256).digest()


_INDEXES: dict[Path, Index] = {}
_INDEXES_LOCK = threading.Lock()


def index_for(tx: Any) -> Index | None:
    """The DAV index beside this transaction's event log, if DAV was ever used there."""
    root = Path(tx.store.path).parent / "dav"
    if not (root / "index.db").exists():
        return None
    with _INDEXES_LOCK:
        found = _INDEXES.get(root)
        if found is None:
            found = _INDEXES[root] = Index(root)
        return found


def _on_purge(tx: Any, owner: str, photo_id: str) -> None:
    index = index_for(tx)
    if index is None:
        return
    copies = index.copies_of(owner, photo_id)
    if not copies:
        return
    # The owner's tombstone key is made in the purge's own transaction (the keystore dies with
    # the account, and with it every tombstone's meaning).
    key = keystore.get(tx.conn, tombstone_key_id(owner))
    if key is None:
        key = secrets.token_bytes(32)
        keystore.put(tx.conn, tombstone_key_id(owner), TOMBSTONE_PURPOSE, owner, key)
    macs = [tombstone_mac(key, sha) for _d, _r, sha in copies]
    tx.after_commit(lambda: index.purged(owner, photo_id, copies, macs))


def _on_account_deleted(tx: Any, user_id: str, meta: Any) -> None:
    index = index_for(tx)
    if index is not None:
        tx.after_commit(lambda: index.account_deleted(user_id))


def _device_file_bytes(conn: Any, owner: str) -> int:
    """storage.DEVICE_FILE_SOURCES: the owner's device files beside this read connection's log."""
    row = conn.execute("PRAGMA database_list").fetchone()
    if row is None or not row[2]:
        return 0
    root = Path(row[2]).parent / "dav"
    if not (root / owner).is_dir():
        return 0
    with _INDEXES_LOCK:
        found = _INDEXES.get(root)
        if found is None:
            found = _INDEXES[root] = Index(root)
    return found.device_file_bytes(owner)


def install_hooks() -> None:
    from ..accounts import ACCOUNT_DELETE_HOOKS
    from ..library import PURGE_HOOKS
    from ..readmodels.storage import DEVICE_FILE_SOURCES

    if _device_file_bytes not in DEVICE_FILE_SOURCES:
        DEVICE_FILE_SOURCES.append(_device_file_bytes)

    if _on_purge not in PURGE_HOOKS:
        PURGE_HOOKS.append(_on_purge)
    if _on_account_deleted not in ACCOUNT_DELETE_HOOKS:
        ACCOUNT_DELETE_HOOKS.append(_on_account_deleted)


install_hooks()
