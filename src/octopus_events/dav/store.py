"""The device files store: each device's Uploads folder on disk, and what became of its media.

Layout (docs/data-dir.md): `<data_dir>/dav/<owner>/<device>/` holds the files exactly as the
device put them; `<data_dir>/dav/index.db` records which of them became which library item
(so deleting the item for good can reach its copy here) and the keyed-hash tombstones of
photos deleted for good; `locks.shelve` and `props.shelve` are WsgiDAV's locks and dead
properties. None of this is event-sourced: like the blobs, these are bytes the device owns,
and index.db is written with `secure_delete` so a deleted row leaves no page image behind.
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
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Coroutine, TypeVar

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dav_media (
    owner TEXT NOT NULL, device TEXT NOT NULL, relpath TEXT NOT NULL,
    photo_id TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (owner, device, relpath)
);
CREATE INDEX IF NOT EXISTS dav_media_photo ON dav_media (owner, photo_id);
-- A file whose photo was deleted for good: its bytes are gone, the entry the device listed stays.
CREATE TABLE IF NOT EXISTS dav_ghost (
    owner TEXT NOT NULL, device TEXT NOT NULL, relpath TEXT NOT NULL,
    size INTEGER NOT NULL, mtime REAL NOT NULL, etag TEXT NOT NULL,
    PRIMARY KEY (owner, device, relpath)
);
-- HMAC-SHA256(owner's tombstone key, content SHA-256) of each photo deleted for good.
CREATE TABLE IF NOT EXISTS dav_tombstone (owner TEXT NOT NULL, mac BLOB NOT NULL, PRIMARY KEY (owner, mac));
"""
TOMBSTONE_PURPOSE = "dav_tombstone"


def tombstone_key_id(owner: str) -> str:
    return f"dav_tombstone:{owner}"


class Index:
    """index.db and the files it describes; usable without the WsgiDAV app (the purge hooks run
    wherever a photo is deleted: the web app, the CLI, trash expiry)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

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

    # -- what became of a file ----------------------------------------------------------------------
    def ghost(self, identity: DavIdentity, relpath: str) -> tuple[int, float, str] | None:
        row = self.db.execute("SELECT size, mtime, etag FROM dav_ghost WHERE owner = ? AND device = ? AND relpath = ?",
                              (identity.owner, identity.device, relpath)).fetchone()
        return (int(row[0]), float(row[1]), str(row[2])) if row else None

    def ghost_set_mtime(self, identity: DavIdentity, relpath: str, mtime: float) -> None:
        with self._write_lock:
            self.db.execute("UPDATE dav_ghost SET mtime = ? WHERE owner = ? AND device = ? AND relpath = ?",
                            (mtime, identity.owner, identity.device, relpath))

    def forget_path(self, identity: DavIdentity, relpath: str, *, recursive: bool = False) -> None:
        """The device deleted or overwrote a file (or a folder): its records go with it."""
        with self._write_lock:
            for table in ("dav_media", "dav_ghost"):
                self.db.execute(f"DELETE FROM {table} WHERE owner = ? AND device = ? AND relpath = ?",
                                (identity.owner, identity.device, relpath))
                if recursive:
                    prefix = relpath.rstrip("/") + "/"
                    self.db.execute(f"DELETE FROM {table} WHERE owner = ? AND device = ? AND substr(relpath, 1, ?) = ?",
                                    (identity.owner, identity.device, len(prefix), prefix))

    def moved(self, identity: DavIdentity, old: str, new: str) -> None:
        """A MOVE keeps what the file became (it is the same file under another name)."""
        with self._write_lock:
            for table in ("dav_media", "dav_ghost"):
                self.db.execute(f"DELETE FROM {table} WHERE owner = ? AND device = ? AND relpath = ?",
                                (identity.owner, identity.device, new))
                self.db.execute(f"UPDATE {table} SET relpath = ? WHERE owner = ? AND device = ? AND relpath = ?",
                                (new, identity.owner, identity.device, old))
                old_prefix, new_prefix = old.rstrip("/") + "/", new.rstrip("/") + "/"
                self.db.execute(
                    f"UPDATE {table} SET relpath = ? || substr(relpath, ?) WHERE owner = ? AND device = ? "
                    "AND substr(relpath, 1, ?) = ?",
                    (new_prefix, len(old_prefix) + 1, identity.owner, identity.device, len(old_prefix), old_prefix))

    # -- tombstones ---------------------------------------------------------------------------------
    def copies_of(self, owner: str, photo_id: str) -> list[tuple[str, str, str]]:
        return self.db.execute("SELECT device, relpath, sha256 FROM dav_media WHERE owner = ? AND photo_id = ?",
                               (owner, photo_id)).fetchall()

    def purged(self, owner: str, photo_id: str, copies: list[tuple[str, str, str]], macs: list[bytes]) -> None:
        """After a photo's permanent deletion: every Uploads copy of it loses its bytes (the entry
        the device listed stays, so it does not upload it again) and its content hash becomes a
        keyed tombstone so the same bytes uploaded again are not taken in."""
        from .auth import DavIdentity

        with self._write_lock:
            for mac in macs:
                self.db.execute("INSERT OR IGNORE INTO dav_tombstone (owner, mac) VALUES (?, ?)", (owner, mac))
        for device, relpath, _sha in copies:
            self.make_ghost(DavIdentity(owner, device, ""), relpath, self.root / owner / device / relpath)
        with self._write_lock:
            self.db.execute("DELETE FROM dav_media WHERE owner = ? AND photo_id = ?", (owner, photo_id))

    def make_ghost(self, identity: DavIdentity, relpath: str, path: Path) -> None:
        """Replace a file by its bytes-less entry: same name, size, mtime and ETag."""
        from wsgidav import util

        try:
            st = path.stat()
        except FileNotFoundError:
            return
        etag = util.get_file_etag(str(path))
        shred(path)
        path.touch()
        os.utime(path, (st.st_mtime, st.st_mtime))
        with self._write_lock:
            self.db.execute("INSERT OR REPLACE INTO dav_ghost (owner, device, relpath, size, mtime, etag) VALUES (?, ?, ?, ?, ?, ?)",
                            (identity.owner, identity.device, relpath, st.st_size, st.st_mtime, etag))
            self.db.execute("DELETE FROM dav_media WHERE owner = ? AND device = ? AND relpath = ?",
                            (identity.owner, identity.device, relpath))

    def account_deleted(self, owner: str) -> None:
        shutil.rmtree(self.root / owner, ignore_errors=True)
        with self._write_lock:
            for table in ("dav_media", "dav_ghost", "dav_tombstone"):
                self.db.execute(f"DELETE FROM {table} WHERE owner = ?", (owner,))



class DavStore(Index):
    """The index plus the bridge from WsgiDAV's threads to the library's event loop."""

    def __init__(self, octopus: Octopus, loop: asyncio.AbstractEventLoop) -> None:
        from .auth import AccountPasswordCache

        super().__init__(octopus.paths.root / "dav")
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
        twice are one item). Returns the photo id, or None when it stays only a device file."""
        incoming.close()
        sha = incoming.sha256
        if self.tombstoned(identity.owner, sha):
            incoming.discard()
            self.make_ghost(identity, relpath, path)
            return None
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
        return photo_id


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


def install_hooks() -> None:
    from ..accounts import ACCOUNT_DELETE_HOOKS
    from ..library import PURGE_HOOKS

    if _on_purge not in PURGE_HOOKS:
        PURGE_HOOKS.append(_on_purge)
    if _on_account_deleted not in ACCOUNT_DELETE_HOOKS:
        ACCOUNT_DELETE_HOOKS.append(_on_account_deleted)


install_hooks()
