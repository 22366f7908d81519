"""Moving in from Octopus Photos 0.6.1: `octopus import DIR --from-octopus-0.6`.

0.6.1 (FastAPI + SQLAlchemy, the public gabrielbaute/octopus-photos repository) keeps its data
dir, by default `~/.OctopusPhotos`, as:

    config/.env                           its settings and secrets (never read here)
    instance/OctopusPhotos.db             SQLite: users, photos, albums, album_photos, user_storages
    data/storage/<user uuid>/photos/      originals, renamed <uuid>.<ext>
    data/storage/<user uuid>/thumbnails/  its 250 px thumbnails (not needed: we make our own)
    data/storage/<user uuid>/vault/photos/<photo uuid>.vault   vault originals, encrypted

Everything is read, nothing is written: the database is opened read-only (`mode=ro`, or
`immutable=1` for a WAL file, which would otherwise need a -shm file beside it), in one read
transaction so a snapshot is consistent, and files are only opened for reading. Users come in
with their bcrypt hashes (passwords.py verifies them at the first sign-in and replaces them with
argon2id), photos through `PhotoLibrary.upload` with their tags and descriptions, the 0.6 upload
time as the date of a file without one and its GPS where the file has none; then album members,
then the trash (with its deletion time), then vault photos for the owners whose passphrase is
given. A vault file is `nonce (12 bytes) || AES-256-GCM ciphertext+tag`, under a key derived by
PBKDF2-HMAC-SHA256 (100,000 iterations) from the passphrase and the 16-byte salt in
`photos.encryption_salt`: hex text, or (what 0.6.1's writer actually hands SQLAlchemy) the raw
bytes. Each is decrypted in memory, uploaded and moved into our vault, which is created with
that passphrase if the owner has none.

A second run imports nothing new: users are found by name, photos by content (per owner, as any
upload), albums by name, vault photos by the hashes inside the owner's vault. See docs/admin.md,
"Moving in from Octopus Photos 0.6".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
import unicodedata
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote

import msgspec

from . import oscompat
from .errors import Forbidden, InsufficientStorage, Invalid, NotFound, OctopusError, TooLarge
from .eventstore import Meta, Transaction
from .importer import CHUNK, MAX_REASONS, FileProblem, ImportProgress
from .media import MediaError
from .motion import HeldClip
from .photos import (
    MAX_DESCRIPTION, Gps, PhotoTrashed, append_photo, load_photo, normalise_tags,
)

if TYPE_CHECKING:
    from .application import Octopus
    from .vault import VaultAccess

DB_PATH = Path("instance") / "OctopusPhotos.db"
STORAGE_PATH = Path("data") / "storage"
# 0.6.1's vault (app/services/vault_service.py): PBKDF2-HMAC-SHA256, 32-byte key, AES-GCM.
VAULT_KDF_ITERATIONS = 100_000
VAULT_NONCE_BYTES = 12
VAULT_SALT_BYTES = 16
# A photo trashed in 0.6 longer ago than our retention would be purged by the first sweep after
# the import; 0.6.1 never emptied its trash, so such photos get this long to be looked at.
TRASH_GRACE = timedelta(days=7)
BUSY_TIMEOUT_S = 2.0
ALBUM_BATCH = 1000  # albums.MAX_PHOTOS_PER_CALL
IMPORT_CORRELATION = "import-0.6-"  # how this import's events are known in the log


# -- what 0.6.1 stored -----------------------------------------------------------------------------


class User06(msgspec.Struct, frozen=True):
    id: str
    username: str
    email: str
    password_hash: str
    admin: bool
    active: bool
    created_at: str


class Photo06(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    user_id: str
    storage_date: datetime | None  # upload time, UTC
    storage_path: str
    file_name: str
    description: str
    tags: list[str]
    trashed: bool
    deleted_at: datetime | None  # UTC
    encrypted: bool
    salt: bytes | None
    date_taken: str | None  # EXIF local time, no offset: YYYY-MM-DDTHH:MM:SS
    camera_make: str | None
    camera_model: str | None
    gps: Gps | None


class Album06(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    name: str
    description: str
    photo_ids: list[str]


class Library06(msgspec.Struct, frozen=True):
    root: Path
    users: list[User06]
    photos: list[Photo06]
    albums: list[Album06]
    bad_rows: list[FileProblem]


def looks_like_06(root: Path) -> bool:
    """Whether `root` is an Octopus Photos 0.6 data dir (its database is where 0.6 keeps it)."""
    return (root / DB_PATH).is_file()


def _utc(text: Any) -> datetime | None:
    """A SQLAlchemy DateTime as SQLite holds it ('2026-12-01 19:21:51.629503'), naive UTC."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _local(text: Any) -> str | None:
    """date_taken: EXIF wall-clock time as 0.6 parsed it (no zone)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if not 1800 <= moment.year <= 2200:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def _tags(raw: Any) -> list[str]:
    """photos.tags is a JSON column: a list when set by an edit, but the string "a,b" when 0.6.1's
    upload stored it (it joined the list with commas), or null."""
    if raw is None:
        return []
    try:
        value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except ValueError:
        value = raw if isinstance(raw, str) else None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value:
        try:
            out += normalise_tags([item]) if isinstance(item, str) else []
        except Invalid:
            continue  # one unusable tag (too long, control characters) does not lose the others
    return normalise_tags(out[:100])


def _salt(raw: Any) -> bytes | None:
    if isinstance(raw, bytes) and len(raw) == VAULT_SALT_BYTES:
        return raw
    if isinstance(raw, str):
        try:
            salt = bytes.fromhex(raw.strip())
        except ValueError:
            return None
        return salt if len(salt) == VAULT_SALT_BYTES else None
    return None


def _gps(lat: Any, lon: Any) -> Gps | None:
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or (lat == 0.0 and lon == 0.0):
        return None
    return Gps(lat=float(lat), lon=float(lon))


def _uuid_hex(raw: Any) -> str:
    """SQLAlchemy's Uuid on SQLite: CHAR(32), hex without dashes (tolerate dashes too)."""
    text = raw.hex() if isinstance(raw, bytes) and len(raw) == 16 else str(raw or "")
    try:
        return uuid.UUID(text).hex
    except ValueError:
        return text


def _connect(db: Path) -> sqlite3.Connection:
    """Open 0.6's database without writing anything, not even a journal or a -shm file."""
    for suffix in ("-journal", "-wal"):
        side = db.with_name(db.name + suffix)
        if side.is_file() and side.stat().st_size > 0:
            raise Invalid(f"{db}: in use or not closed cleanly ({side.name} is next to it); "
                          f"stop Octopus Photos 0.6, start and stop it once more, then import")
    with open(db, "rb") as fp:
        header = fp.read(100)
    if not header.startswith(b"SQLite format 3\x00"):
        raise Invalid(f"{db}: not an SQLite database; is this an Octopus Photos 0.6 data dir?")
    wal = len(header) > 19 and header[18] == 2
    # immutable=1 would also skip locking; a rollback-journal file is read under a shared lock,
    # so a 0.6 server writing at this moment makes us wait (BUSY_TIMEOUT_S), then say so.
    mode = "immutable=1" if wal else "mode=ro"
    conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?{mode}", uri=True, timeout=BUSY_TIMEOUT_S,
                           isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


_REQUIRED = {
    "users": {"id", "username", "email", "password_hash", "role", "is_active", "created_at"},
    "photos": {"id", "user_id", "storage_date", "storage_path", "file_name", "description", "tags", "is_deleted",
               "deleted_at", "is_encrypted", "encryption_salt", "date_taken", "camera_make", "camera_model",
               "latitude", "longitude"},
    "albums": {"id", "user_id", "name", "description"},
    "album_photos": {"photo_id", "album_id"},
}


def read_library(root: Path) -> Library06:
    """Everything of a 0.6 data dir the import needs, read in one read transaction.

    Raises `Invalid` with one clear line when `root` is not a readable 0.6 data dir or its
    database is locked."""
    root = root.expanduser()
    if not root.is_dir():
        raise Invalid(f"{root}: no such folder")
    db = root / DB_PATH
    if not db.is_file():
        raise Invalid(f"{root}: not an Octopus Photos 0.6 data dir (no {DB_PATH.as_posix()} in it)")
    try:
        conn = _connect(db)
    except PermissionError:
        raise Invalid(f"{db}: permission denied") from None
    except sqlite3.Error as exc:
        raise Invalid(f"{db}: cannot open it: {exc}") from None
    try:
        conn.execute("BEGIN")
        try:
            tables = {r[0]: {c[1] for c in conn.execute(f'PRAGMA table_info("{r[0]}")')}
                      for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise Invalid(f"{db}: the database is locked; is Octopus Photos 0.6 still running? "
                              f"Stop it and import again") from None
            raise Invalid(f"{db}: cannot read it: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise Invalid(f"{db}: not a readable database: {exc}") from None
        for table, columns in _REQUIRED.items():
            missing = columns - tables.get(table, set())
            if missing:
                raise Invalid(f"{db}: not an Octopus Photos 0.6 database (table {table} lacks "
                              f"{', '.join(sorted(missing))})")
        users = [User06(id=_uuid_hex(r[0]), username=str(r[1]), email=str(r[2] or ""), password_hash=str(r[3] or ""),
                        admin=str(r[4]).upper() == "ADMIN", active=bool(r[5]), created_at=str(r[6] or ""))
                 for r in conn.execute("SELECT id, username, email, password_hash, role, is_active, created_at "
                                       "FROM users ORDER BY created_at, id")]
        photos: list[Photo06] = []
        bad: list[FileProblem] = []
        for r in conn.execute(
            "SELECT id, user_id, storage_date, storage_path, file_name, description, tags, is_deleted, deleted_at, "
            "is_encrypted, encryption_salt, date_taken, camera_make, camera_model, latitude, longitude "
            "FROM photos ORDER BY storage_date, id"
        ):
            if not isinstance(r[3], str) or not r[3]:
                bad.append(FileProblem(f"photo {_uuid_hex(r[0])}", "no storage path in the 0.6 database"))
                continue
            photos.append(Photo06(
                id=_uuid_hex(r[0]), user_id=_uuid_hex(r[1]), storage_date=_utc(r[2]), storage_path=r[3],
                file_name=str(r[4] or "") or re.split(r"[\\/]", r[3])[-1],
                description=str(r[5] or "").strip()[:MAX_DESCRIPTION], tags=_tags(r[6]), trashed=bool(r[7]),
                deleted_at=_utc(r[8]), encrypted=bool(r[9]), salt=_salt(r[10]), date_taken=_local(r[11]),
                camera_make=(str(r[12]).strip() or None) if r[12] is not None else None,
                camera_model=(str(r[13]).strip() or None) if r[13] is not None else None,
                gps=_gps(r[14], r[15]),
            ))
        members: dict[str, list[str]] = {}
        for photo_id, album_id in conn.execute("SELECT photo_id, album_id FROM album_photos ORDER BY rowid"):
            members.setdefault(_uuid_hex(album_id), []).append(_uuid_hex(photo_id))
        albums = [Album06(id=_uuid_hex(r[0]), user_id=_uuid_hex(r[1]), name=str(r[2] or ""),
                          description=str(r[3] or "").strip(), photo_ids=members.get(_uuid_hex(r[0]), []))
                  for r in conn.execute("SELECT id, user_id, name, description FROM albums ORDER BY created_at, id")]
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise Invalid(f"{db}: the database is locked; is Octopus Photos 0.6 still running? "
                          f"Stop it and import again") from None
        raise Invalid(f"{db}: cannot read it: {exc}") from None
    finally:
        conn.close()
    return Library06(root=root, users=users, photos=photos, albums=albums, bad_rows=bad)


def source_file(root: Path, photo: Photo06) -> Path:
    """Where the photo's file is now. 0.6 stored absolute paths as it saw them (another home, a
    Windows drive, a data dir since moved), so the part after data/storage is taken and found
    under this `root`; a path that would leave data/storage is not followed."""
    parts = [p for p in re.split(r"[\\/]+", photo.storage_path) if p]
    tail: list[str] = []
    for i in range(len(parts) - 1, 0, -1):
        if parts[i].lower() == "storage" and parts[i - 1].lower() == "data":
            tail = parts[i + 1:]
            break
    if not tail or any(p in (".", "..") or ":" in p for p in tail):
        user_dir = str(uuid.UUID(photo.user_id)) if re.fullmatch(r"[0-9a-f]{32}", photo.user_id) else photo.user_id
        sub = ["vault", "photos"] if photo.encrypted else ["photos"]
        tail = [user_dir, *sub, parts[-1] if parts else ""]
    return root.joinpath(STORAGE_PATH, *tail)


def decrypt_vault_file(data: bytes, passphrase: str, salt: bytes) -> bytes:
    """0.6.1's vault format: `nonce || AES-GCM(ciphertext + tag)`, key = PBKDF2(passphrase, salt).
    Raises `Forbidden` for a wrong passphrase or a damaged file (GCM cannot tell them apart)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    if len(data) < VAULT_NONCE_BYTES + 16:
        raise Forbidden("the vault file is too short to be one")
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=VAULT_KDF_ITERATIONS).derive(
        passphrase.encode("utf-8"))
    try:
        return AESGCM(key).decrypt(data[:VAULT_NONCE_BYTES], data[VAULT_NONCE_BYTES:], None)
    except InvalidTag:
        raise Forbidden("wrong vault passphrase, or the vault file is damaged") from None


# -- usernames -------------------------------------------------------------------------------------

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def our_username(name: str) -> str:
    """0.6 allowed any 3-50 characters; ours are letters, digits and . _ @ -. Accents are dropped
    and anything else becomes '.', so "José García" signs in as "Jose.Garcia"."""
    if _USERNAME.match(name):
        return name
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9_.@-]+", ".", plain).strip("._@-")[:64]
    return text or "user"


def assign_usernames(users: list[User06]) -> dict[str, str]:
    """Our username for each 0.6 user (by 0.6 id). Two 0.6 names that become the same here ("José"
    and "Jose", or "Ana" and "ana": ours ignore case) must stay two accounts, so the later one (by
    0.6's creation order) gets "-2", "-3"... Decided from the 0.6 list alone, so every run of the
    import gives each 0.6 user the same name."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for user in sorted(users, key=lambda u: (u.created_at, u.id)):
        base = our_username(user.username)
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base[:60]}-{n}"
        taken.add(name.casefold())
        out[user.id] = name
    return out


# -- the report ------------------------------------------------------------------------------------


class MoveInReport(msgspec.Struct, kw_only=True):
    """What a run did (or, with `dry_run`, would do)."""

    source: str
    dry_run: bool
    users: int = 0
    users_created: list[str] = []
    users_existing: list[str] = []  # already here by that name: their photos join them, their password stays
    users_from_earlier_run: list[str] = []  # made by an earlier run of this import
    users_renamed: list[str] = []  # "0.6 name -> our name"
    users_without_password: list[str] = []  # inactive in 0.6: imported, but cannot sign in until `users passwd`
    photos: int = 0  # rows in 0.6, vault ones included
    imported: int = 0
    duplicates: int = 0  # already here (an earlier run, or the same bytes twice)
    failed: int = 0
    trashed: int = 0  # imported into the trash, with their 0.6 deletion time
    vault_imported: int = 0
    vault_duplicates: int = 0
    vault_skipped: int = 0
    albums_created: list[str] = []
    album_photos_added: int = 0
    tags_filled: int = 0  # photos already here that had no tags: given 0.6's
    descriptions_filled: int = 0
    failures: list[FileProblem] = []  # the first MAX_REASONS
    skipped: list[FileProblem] = []  # vault photos not imported, and why
    warnings: list[FileProblem] = []
    stopped: str | None = None
    seconds: float = 0.0


class _Stop(Exception):
    """Nothing more can be imported (disk full, quota reached)."""


# -- the import ------------------------------------------------------------------------------------


class MoveIn:
    """One run of `octopus import DIR --from-octopus-0.6` into `octopus` (see the module docstring)."""

    def __init__(self, octopus: Octopus, root: Path, *, vault_passphrases: dict[str, str] | None = None,
                 vault_passphrases_here: dict[str, str] | None = None,
                 dry_run: bool = False, progress: Callable[[ImportProgress], None] | None = None,
                 max_reasons: int = MAX_REASONS) -> None:
        self.octopus = octopus
        self.photos = octopus.photos
        self.root = Path(root).expanduser().resolve()
        self.passphrases = dict(vault_passphrases or {})
        # The passphrase of the owner's vault here, when it is not the 0.6 one (a vault made here
        # before the move, or a 0.6 passphrase too short for ours).
        self.passphrases_here = dict(vault_passphrases_here or {})
        self.dry_run = dry_run
        self.progress = progress
        self.max_reasons = max_reasons
        self.report = MoveInReport(source=str(self.root), dry_run=dry_run)
        self.correlation = IMPORT_CORRELATION + os.urandom(6).hex()
        self.started = time.monotonic()
        self.done = 0
        self.owners: dict[str, str] = {}  # 0.6 user id -> our user id (None in a dry run for new users)
        self.new_owner: set[str] = set()  # dry run: 0.6 users that would be created
        self.ids: dict[str, str] = {}  # 0.6 photo id -> our photo id
        # (owner, our photo id, 0.6 row, already here): trashed after the albums took them in
        self.to_trash: list[tuple[str, str, Photo06, bool]] = []
        self.seen: set[tuple[str, str]] = set()  # dry run: (0.6 user, sha256) within the run

    # -- bookkeeping -----------------------------------------------------------------------------
    def _note(self, into: list[FileProblem], where: str, reason: str) -> None:
        if len(into) < self.max_reasons:
            into.append(FileProblem(where, reason))

    def _fail(self, where: str, reason: str) -> None:
        self.report.failed += 1
        self._note(self.report.failures, where, reason)

    def _tick(self, current: str) -> None:
        self.done += 1
        if self.progress is not None:
            r = self.report
            self.progress(ImportProgress(r.photos, self.done, r.imported + r.vault_imported,
                                         r.duplicates + r.vault_duplicates, r.vault_skipped, r.failed,
                                         time.monotonic() - self.started, current))

    def _meta(self, owner: str) -> Meta:
        return Meta(actor=owner, owner=owner, correlation_id=self.correlation)

    def _where(self, photo: Photo06) -> str:
        path = source_file(self.root, photo)
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # -- the run ---------------------------------------------------------------------------------
    async def run(self) -> MoveInReport:
        if self.octopus.paths.root == self.root or self.root in self.octopus.paths.root.parents:
            raise Invalid(f"{self.root}: the 0.6 data dir cannot also hold this library; "
                          f"import into another data dir (OCTOPUS_STORAGE_DATA_DIR)")
        library = await asyncio.to_thread(read_library, self.root)
        r = self.report
        r.users = len(library.users)
        r.photos = len(library.photos)
        for problem in library.bad_rows:
            self._fail(problem.path, problem.reason)
        known = {u.username for u in library.users}
        unknown = sorted((set(self.passphrases) | set(self.passphrases_here)) - known)
        if unknown:
            raise Invalid(f"--vault-passphrase: no 0.6 user named {unknown[0]!r} "
                          f"(its users: {', '.join(sorted(known)) or 'none'})")
        await self._users(library)
        plain = [p for p in library.photos if not p.encrypted]
        await self._each(plain, self._photo)
        if not r.stopped:
            await self._albums(library)
            await self._trash()
            for user in library.users:
                vaulted = [p for p in library.photos if p.encrypted and p.user_id == user.id]
                if vaulted and not r.stopped:
                    await self._vault(user, vaulted)
        r.seconds = time.monotonic() - self.started
        return r

    async def _each(self, photos: list[Photo06], work: Callable[[Photo06], Any]) -> None:
        """Run `work` on each photo, a few at a time (one task per slot, not one per photo)."""
        slots = asyncio.Semaphore(self.octopus.media_workers)
        tasks: set[asyncio.Task[None]] = set()

        async def one(photo: Photo06) -> None:
            try:
                await work(photo)
            except _Stop as exc:
                self.report.stopped = self.report.stopped or str(exc)
                return
            self._tick(photo.file_name)

        try:
            for photo in photos:
                await slots.acquire()
                if self.report.stopped:
                    slots.release()
                    break
                task = asyncio.create_task(one(photo))
                tasks.add(task)
                task.add_done_callback(lambda t: (tasks.discard(t), slots.release()))
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    # -- users -----------------------------------------------------------------------------------
    async def _users(self, library: Library06) -> None:
        from .readmodels import users

        r = self.report
        names = assign_usernames(library.users)
        # Admins first: in an empty library the first account becomes admin whatever it asks for.
        for user in sorted(library.users, key=lambda u: not u.admin):
            name = names[user.id]
            if name != user.username:
                r.users_renamed.append(f"{user.username} -> {name}")
            found = await self.octopus.read(lambda: users.find_by_name(self.octopus.store.reader(), name))
            if found is not None:
                self.owners[user.id] = found.id
                if await self.octopus.read(_made_by_an_import, self.octopus.store.reader(), found.id):
                    r.users_from_earlier_run.append(name)
                else:
                    r.users_existing.append(name)
                continue
            usable = user.active and re.match(r"^\$2[abxy]?\$\d\d\$", user.password_hash) is not None
            if not usable:
                r.users_without_password.append(name)
            if self.dry_run:
                self.new_owner.add(user.id)
                r.users_created.append(name)
                continue
            # An inactive 0.6 account (or one without a bcrypt hash) keeps no way in: a hash of a
            # secret nobody knows, until an admin sets a password (`octopus users passwd`).
            stored = user.password_hash if usable else await self.octopus.accounts.hash_password(secrets.token_urlsafe(24))
            created = await self.octopus.store.transact_async(
                lambda tx: self.octopus.accounts.create_in(tx, name, stored, admin=user.admin, quota_bytes=None,
                                                           meta=Meta(actor="import", correlation_id=self.correlation)))
            self.owners[user.id] = created.id
            r.users_created.append(name)
            if user.email:
                await self._email(created.id, user.email)
        for photo in library.photos:
            if photo.user_id not in self.owners and photo.user_id not in self.new_owner:
                self._fail(self._where(photo), "its owner is not in the 0.6 database")

    async def _email(self, user_id: str, email: str) -> None:
        """The 0.6 e-mail address, kept as profile data (sealed under the user's key)."""
        try:
            await self.octopus.accounts.record_email(user_id, email, self._meta(user_id))
        except Invalid as exc:
            self._note(self.report.warnings, f"user {email!r}", f"e-mail not kept: {exc}")

    # -- photos ----------------------------------------------------------------------------------
    async def _read_into(self, path: Path) -> Any:
        incoming = self.photos.new_upload()

        def copy() -> None:
            if not path.is_file():
                raise FileNotFoundError(2, "missing", str(path))
            with open(path, "rb") as fp:
                while chunk := fp.read(CHUNK):
                    incoming.write(chunk)

        try:
            await asyncio.to_thread(copy)
        except BaseException:
            incoming.discard()
            raise
        return incoming

    async def _photo(self, photo: Photo06) -> None:
        r = self.report
        owner = self.owners.get(photo.user_id)
        if owner is None and photo.user_id not in self.new_owner:
            return  # reported with the users
        path = source_file(self.root, photo)
        where = self._where(photo)
        try:
            size = await asyncio.to_thread(lambda: path.stat().st_size)
        except FileNotFoundError:
            self._fail(where, f"the file of {photo.file_name!r} is missing; skipped")
            return
        except OSError as exc:
            self._fail(where, f"cannot read: {exc.strerror or exc}")
            return
        if size > self.photos.max_upload_bytes:
            self._fail(where, f"larger than the upload limit of {self.photos.max_upload_bytes // (1024 * 1024)} MB")
            return
        if self.dry_run:
            await self._classify(photo, owner, path, where)
            return
        assert owner is not None
        try:
            incoming = await self._read_into(path)
        except OSError as exc:
            self._fail(where, f"cannot read: {exc.strerror or exc}")
            return
        try:
            view, created = await self.photos.upload(
                owner, incoming, filename=photo.file_name, tags=photo.tags, description=photo.description or None,
                gps=photo.gps, uploaded_at=photo.storage_date, meta=self._meta(owner))
        except MediaError as exc:
            self._fail(where, exc.detail)
            return
        except (InsufficientStorage, TooLarge) as exc:
            raise _Stop(str(exc)) from None
        except OctopusError as exc:
            self._fail(where, str(exc))
            return
        if isinstance(view, HeldClip):
            self._fail(where, "a Live Photo video without its photo; not an item of its own")
            return
        self.ids[photo.id] = view.id
        meta = self._meta(owner)
        if not created:
            r.duplicates += 1
            if photo.trashed and view.state == "library":
                self.to_trash.append((owner, view.id, photo, True))  # an earlier run stopped before its trash
            # Already here (an earlier run, or the phone backed it up): fill in what it lacks only.
            if view.state in ("library", "archived", "trash"):
                if photo.tags and not view.tags:
                    await self.photos.set_tags(owner, view.id, photo.tags, meta)
                    r.tags_filled += 1
                if photo.description and not view.description:
                    await self.photos.edit(owner, view.id, description=photo.description, taken_at=None,
                                           version=None, meta=meta)
                    r.descriptions_filled += 1
            return
        r.imported += 1
        if photo.date_taken and view.taken_source == "upload":
            # 0.6 read a date our EXIF reader did not: keep it (its wall-clock time, as 0.6 showed it).
            await self.photos.edit(owner, view.id, description=None, taken_at=photo.date_taken, version=None, meta=meta)
        if photo.trashed:
            self.to_trash.append((owner, view.id, photo, False))

    async def _classify(self, photo: Photo06, owner: str | None, path: Path, where: str) -> None:
        from .importer import _sha256_of

        try:
            sha = await asyncio.to_thread(_sha256_of, path)
        except OSError as exc:
            self._fail(where, f"cannot read: {exc.strerror or exc}")
            return
        key = (photo.user_id, sha)
        again = key in self.seen
        self.seen.add(key)
        if again or (owner is not None and await self.photos.check(owner, [sha])):
            self.report.duplicates += 1
            return
        self.report.imported += 1
        self.report.trashed += photo.trashed

    # -- albums ----------------------------------------------------------------------------------
    async def _albums(self, library: Library06) -> None:
        from .albums import check_name
        from .readmodels import albums as read_albums

        r = self.report
        existing: dict[str, dict[str, str]] = {}
        for album in library.albums:
            owner = self.owners.get(album.user_id)
            where = f"album {album.name!r}"
            try:
                name = check_name(album.name)
            except Invalid as exc:
                self._note(r.warnings, where, f"not imported: {exc}")
                continue
            if owner is None:
                if album.user_id in self.new_owner:
                    r.albums_created.append(name)  # dry run, new user
                continue
            if owner not in existing:
                found = await self.octopus.read(lambda: read_albums.list_albums(self.octopus.store.reader(), owner))
                mine: dict[str, str] = {}
                for a in reversed(found):  # listed newest first: the oldest of a name wins
                    mine.setdefault(a.name, a.id)
                existing[owner] = mine
            album_id = existing[owner].get(name)
            if album_id is None:
                r.albums_created.append(name)
                if self.dry_run:
                    continue
                detail = await self.octopus.albums.create(owner, name, self._meta(owner))
                album_id = existing[owner][name] = detail.id
            if album.description and not self.dry_run:
                await self._album_description(owner, album_id, album.description)
            ids = list(dict.fromkeys(self.ids[p] for p in album.photo_ids if p in self.ids))
            if not ids or self.dry_run:
                continue
            visible = await self.octopus.read(lambda: read_albums.visible_photos(self.octopus.store.reader(), owner, ids))
            ids = [p for p in ids if p in visible]  # a photo trashed or vaulted here meanwhile stays out
            if not ids:
                continue
            before = await self.octopus.read(lambda: read_albums.members(self.octopus.store.reader(), album_id, ids))
            for start in range(0, len(ids), ALBUM_BATCH):
                try:
                    await self.octopus.albums.add(owner, album_id, ids[start:start + ALBUM_BATCH], self._meta(owner))
                except (NotFound, Invalid) as exc:
                    self._note(r.warnings, where, f"members not all added: {exc}")
            r.album_photos_added += len(set(ids) - before)

    async def _album_description(self, owner: str, album_id: str, description: str) -> None:
        """0.6's description, unless the album here has one (an earlier run, or written since)."""
        from .readmodels import albums as read_albums

        detail = await self.octopus.read(lambda: read_albums.get(self.octopus.store.reader(), owner, album_id))
        if not detail.description:
            try:
                await self.octopus.albums.describe(owner, album_id, description[:2000], self._meta(owner))
            except Invalid as exc:
                self._note(self.report.warnings, f"album {detail.name!r}", f"description not kept: {exc}")

    # -- trash -----------------------------------------------------------------------------------
    async def _trash(self) -> None:
        """Into the trash with the 0.6 deletion time, after the albums took them as members (0.6
        keeps a trashed photo in its albums; so do we, hidden until it is restored)."""
        retention = timedelta(days=self.octopus.config.trash.retention_days)
        now = datetime.now(timezone.utc)
        batch = self.to_trash
        self.to_trash = []

        def command(tx: Transaction, part: list[tuple[str, str, Photo06, bool]]) -> int:
            done = 0
            for owner, photo_id, photo, already_here in part:
                if already_here and not _left_untrashed_by_an_import(tx, photo_id):
                    continue  # backed up otherwise, or trashed or restored here since: the owner's choice stands
                state = load_photo(tx, photo_id, owner)
                if state.state != "library":
                    continue
                deleted = photo.deleted_at or now
                purge_at = max(deleted + retention, now + TRASH_GRACE)
                append_photo(tx, state, [PhotoTrashed(
                    photo_id=photo_id, purge_at=purge_at.isoformat(timespec="seconds"),
                    trashed_at=deleted.isoformat(timespec="microseconds"),
                )], self._meta(owner))
                done += 1
            return done

        for start in range(0, len(batch), 500):
            part = batch[start:start + 500]
            self.report.trashed += await self.octopus.store.transact_async(lambda tx: command(tx, part))

    # -- the vault -------------------------------------------------------------------------------
    async def _vault(self, user: User06, rows: list[Photo06]) -> None:
        r = self.report
        name = our_username(user.username)
        owner = self.owners.get(user.id)
        passphrase = self.passphrases.get(user.username)

        def skip_all(reason: str) -> None:
            r.vault_skipped += len(rows)
            self._note(r.skipped, f"{name}: {len(rows)} vault photo{'s' if len(rows) != 1 else ''}", reason)
            for photo in rows:
                self._tick(photo.file_name)

        if passphrase is None:
            skip_all(f"not imported: give the 0.6 vault passphrase (--vault-passphrase {user.username}=...)")
            return
        access: VaultAccess | None = None
        shas: set[str] = set()
        unlocked_at = 0.0
        for i, photo in enumerate(rows):
            plaintext = await self._decrypt(photo, passphrase)
            if plaintext is None:
                self._tick(photo.file_name)
                continue
            if self.dry_run:
                r.vault_imported += 1
                self._tick(photo.file_name)
                continue
            assert owner is not None
            if access is None:
                # Only now, with a 0.6 vault file opened by it: a mistyped passphrase must not
                # become the passphrase of a new vault here.
                here = self.passphrases_here.get(user.username, passphrase)
                reason = None
                try:
                    access = await self._open_vault(owner, here)
                except Forbidden:
                    reason = (f"{name} already has a vault here with another passphrase; give it with "
                              f"--vault-passphrase-here {user.username}=..., then import again")
                except Invalid as exc:  # a 0.6 passphrase our vaults do not take (too short)
                    reason = (f"{exc} Give the passphrase for {name}'s vault here with "
                              f"--vault-passphrase-here {user.username}=..., then import again")
                if reason is not None:
                    skip_all_from = rows[i:]
                    r.vault_skipped += len(skip_all_from)
                    self._note(r.skipped, f"{name}: {len(skip_all_from)} vault photo(s)", reason)
                    for rest in skip_all_from:
                        self._tick(rest.file_name)
                    return
                shas = await self._vault_hashes(owner, access)
                unlocked_at = time.monotonic()
            elif time.monotonic() - unlocked_at > self.octopus.config.auth.vault_token_minutes * 30:
                # Half its lifetime gone: a fresh token, so a long vault never outlives it midway.
                access = await self._open_vault(owner, self.passphrases_here.get(user.username, passphrase))
                unlocked_at = time.monotonic()
            await self._into_vault(owner, photo, plaintext, access, shas)
            self._tick(photo.file_name)

    async def _decrypt(self, photo: Photo06, passphrase: str) -> bytes | None:
        """The photo's bytes, or None (counted as skipped, with the reason)."""
        r = self.report
        where = self._where(photo)
        if photo.salt is None:
            r.vault_skipped += 1
            self._note(r.skipped, where, "its salt in the 0.6 database is missing or unreadable")
            return None
        path = source_file(self.root, photo)
        try:
            size = await asyncio.to_thread(lambda: path.stat().st_size)
            if size > self.photos.max_upload_bytes + 64:
                self._fail(where, "larger than the upload limit")
                return None
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            r.vault_skipped += 1
            self._note(r.skipped, where, f"the vault file of {photo.file_name!r} is missing")
            return None
        except OSError as exc:
            self._fail(where, f"cannot read: {exc.strerror or exc}")
            return None
        try:
            assert photo.salt is not None
            return await self.octopus.media(decrypt_vault_file, data, passphrase, photo.salt)
        except Forbidden as exc:
            r.vault_skipped += 1
            self._note(r.skipped, where, str(exc))
            return None

    async def _open_vault(self, owner: str, passphrase: str) -> VaultAccess:
        from .vault import VaultAccess

        vault = self.octopus.vault
        if not (await vault.status(owner)).exists:
            await vault.create(owner, passphrase, self._meta(owner))
        session = "import:" + secrets.token_hex(8)  # a session of its own, gone with this process
        unlocked = await vault.unlock(owner, passphrase, session=session, client="import")
        return VaultAccess(token=unlocked.vault_token, session=session)

    async def _vault_hashes(self, owner: str, access: VaultAccess) -> set[str]:
        out: set[str] = set()
        cursor: str | None = None
        while True:
            page = await self.octopus.vault.list(owner, access, cursor=cursor, limit=500)
            out.update(p.sha256 for p in page.photos if p.sha256)
            cursor = page.cursor
            if not cursor or not page.photos:
                return out

    async def _into_vault(self, owner: str, photo: Photo06, plaintext: bytes, access: VaultAccess,
                          shas: set[str]) -> None:
        r = self.report
        where = self._where(photo)
        sha = hashlib.sha256(plaintext).hexdigest()
        if sha in shas:
            r.vault_duplicates += 1
            return
        incoming = self.photos.new_upload()
        try:
            await asyncio.to_thread(incoming.write, plaintext)
        except BaseException:
            incoming.discard()
            raise
        del plaintext
        meta = self._meta(owner)
        try:
            view, created = await self.photos.upload(
                owner, incoming, filename=photo.file_name, tags=photo.tags, description=photo.description or None,
                gps=photo.gps, uploaded_at=photo.storage_date, meta=meta)
        except MediaError as exc:
            self._fail(where, exc.detail)
            return
        except (InsufficientStorage, TooLarge) as exc:
            raise _Stop(str(exc)) from None
        except OctopusError as exc:
            self._fail(where, str(exc))
            return
        if isinstance(view, HeldClip):
            self._fail(where, "a Live Photo video without its photo; not an item of its own")
            return
        if not created:
            # The same bytes are in the library (0.6 had them twice): moving that one would take
            # it out of the library, so it stays, and the vault copy is reported.
            r.vault_skipped += 1
            self._note(r.skipped, where, "the same photo is in the library; it stays there")
            return
        if photo.date_taken and view.taken_source == "upload":
            await self.photos.edit(owner, view.id, description=None, taken_at=photo.date_taken, version=None, meta=meta)
        try:
            await self.octopus.vault.move_in(owner, view.id, access, meta)
        except OctopusError as exc:
            # Still in the library, where the next run finds it and leaves it (the same bytes).
            self._fail(where, f"came in, but not into the vault: {exc}; move it there from the library")
            return
        shas.add(sha)
        r.vault_imported += 1


def _made_by_an_import(conn: sqlite3.Connection, user_id: str) -> bool:
    from .accounts import user_stream

    row = conn.execute("SELECT correlation_id FROM events WHERE stream = ? AND stream_version = 1",
                       (user_stream(user_id),)).fetchone()
    return row is not None and str(row[0] or "").startswith(IMPORT_CORRELATION)


def _left_untrashed_by_an_import(tx: Transaction, photo_id: str) -> bool:
    """Whether the photo came in through an import from 0.6 that stopped before trashing it: its
    upload is such an import's, and it has been neither trashed nor restored since."""
    from .photos import PhotoRestored, photo_stream

    recorded = list(tx.read_stream(photo_stream(photo_id)))
    if not recorded or not (recorded[0].correlation_id or "").startswith(IMPORT_CORRELATION):
        return False
    return not any(isinstance(r.event, (PhotoTrashed, PhotoRestored)) for r in recorded)


def parse_passphrases(values: list[str], files: list[str], *, option: str = "--vault-passphrase") -> dict[str, str]:
    """`--vault-passphrase USER=PASSPHRASE` and `--vault-passphrase-file USER=PATH` (the file's
    first line), so a passphrase need not appear in the shell's history or `ps`."""
    out: dict[str, str] = {}
    for value in values:
        user, sep, passphrase = value.partition("=")
        if not sep or not user or not passphrase:
            raise Invalid(f"{option}: write it as USER=PASSPHRASE")
        out[user] = passphrase
    for value in files:
        user, sep, path = value.partition("=")
        if not sep or not user or not path:
            raise Invalid("--vault-passphrase-file: write it as USER=PATH")
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as fp:
                line = fp.readline().rstrip("\r\n")
        except OSError as exc:
            raise Invalid(f"--vault-passphrase-file: {path}: {exc.strerror or exc}") from None
        if not line:
            raise Invalid(f"--vault-passphrase-file: {path} is empty")
        out[user] = line
    return out


def describe_06(root: Path) -> str:
    """One line about the 0.6 library in `root` for `serve`'s refusal: its users, photos, albums."""
    try:
        library = read_library(root)
    except Invalid as exc:
        return f"its database could not be read: {exc}"
    vault = sum(p.encrypted for p in library.photos)
    return (f"{len(library.users)} users, {len(library.photos) - vault} photos, {vault} in vaults, "
            f"{len(library.albums)} albums")


def refusal(data_dir: Path) -> str | None:
    """What `serve` (and an import into it) says when its data dir is an Octopus Photos 0.6 one:
    None when it is not, or when this library already lives there beside it.

    Both products default to ~/.OctopusPhotos. Running in it would put our files among 0.6's (and
    an uninstaller removing 0.6's folder would take this library with it), so we do not start
    there: we say what we found and the command that moves it into a data dir of its own."""
    if not looks_like_06(data_dir) or (data_dir / "octopus.db").exists():
        return None
    target = data_dir.parent / "OctopusPhotos"
    if target == data_dir:
        target = data_dir.parent / "OctopusPhotos-library"
    move = "  " + oscompat.shell_with_env("OCTOPUS_STORAGE_DATA_DIR", str(target),
                                          f"octopus import {data_dir} --from-octopus-0.6") + "\n"
    if oscompat.shell_with_env("X", "1", "y").startswith("set "):  # cmd.exe: the variable stays set
        serve = "then, in the same window:  octopus serve\n"
    else:
        serve = f"then serve that library:  OCTOPUS_STORAGE_DATA_DIR={target} octopus serve\n"
    return (f"{data_dir} holds an Octopus Photos 0.6 library ({describe_06(data_dir)}); this version "
            f"keeps its library in a data dir of its own and changed nothing there.\n"
            f"Move it in with (the 0.6 files stay as they are):\n{move}{serve}"
            f"(or set storage.data_dir in a config file; see docs/admin.md, \"Moving in from Octopus Photos 0.6\")")
