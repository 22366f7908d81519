"""The vault: photos encrypted under a key that only the owner's passphrase can unwrap.

A user's *vault key* is random; only its passphrase-wrapped form (`vaultcrypto.WrappedVaultKey`)
is stored, in the keystore under `vault:<user id>`. Unlocking unwraps it and keeps it in this
process's memory only, behind a short-lived token (see `VaultTokens`). Moving a photo in encrypts
its original, thumbnail, preview and metadata under the vault key into
`<data>/blobs/vault/<user id>/<photo id>/`, appends `PhotoMovedToVault` and destroys the photo's
data keys in the same transaction (so every sealed copy of its fields in the log is shredded), and
only then deletes the plaintext blob and derivatives. Moving it out reverses this with a fresh
data key. How and why: docs/vault.md.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .durable import fsync_dir, write_atomic
from . import keystore, sealing, vaultcrypto
from . import vault_stream as streams
from .accounts import ACCOUNT_DELETE_HOOKS, LoginLimiter
from .errors import ConcurrencyConflict, Conflict, Forbidden, Invalid, NotFound
from .events import Event
from .eventstore import Meta, Transaction
from .library import PURGE_HOOKS
from .media import render
from .photos import (
    Camera, Exposure, Gps, PhotoDate, PhotoDetails, PhotoFavourited, PhotoLeftVault, PhotoMovedToVault, PhotoState,
    append_photo, key_prefix, load_photo, photo_stream, require_state, seal_for,
)
from . import motion
from .readmodels import library as lib
from .readmodels import motion as motion_read
from .readmodels.library import PhotoView

if TYPE_CHECKING:
    from .application import Octopus

log = logging.getLogger(__name__)

# -- events ---------------------------------------------------------------------------------------
# No secret and nothing personal goes into these: the wrapped key lives in the keystore.


class VaultCreated(Event):
    """The user made a vault. Its wrapped key is in the keystore (`vault:<user id>`), not here."""

    user_id: str


class VaultPassphraseChanged(Event):
    """The vault key was re-wrapped under a new passphrase; no photo was re-encrypted."""

    user_id: str


def vault_stream(user_id: str) -> str:
    return f"vault-{user_id}"


def vault_key_id(user_id: str) -> str:
    return f"vault:{user_id}"


# -- errors ---------------------------------------------------------------------------------------


class VaultDamaged(Invalid):
    """A vault file failed authentication (altered, truncated, swapped) or is missing.

    422 rather than 500: nothing is wrong with the server, the stored data is not what was
    written, and the client must learn that no bytes will come rather than get garbage.
    """

    title = "Vault data damaged"
    code = "vault_damaged"


# -- what is encrypted ------------------------------------------------------------------------------


class VaultClip(msgspec.Struct, kw_only=True):
    """A motion or Live Photo's clip (docs/motion.md): a span of the original (`sha256` None) or
    a Live Photo's MOV, sealed beside the original as the vault file `clip`."""

    source: str
    offset: int
    length: int
    mime: str
    sha256: str | None = None


class VaultMetadata(msgspec.Struct, kw_only=True):
    """Everything about a vault photo that is not its pixels, encrypted as one record."""

    details: PhotoDetails  # hash, filename, description, tags, dates, camera, exposure, GPS, phash
    mime: str
    size: int
    width: int
    height: int
    orientation: int
    favourite: bool
    uploaded_at: str
    format: int = 1
    # Media kind (records written before videos existed decode as photos).
    kind: str = "photo"
    duration: float | None = None
    video_codec: str | None = None
    fps: float | None = None
    motion: bool = False
    clip: VaultClip | None = None  # records written before clips moved with their photo: none


# Bytes of a requested span authenticated before the first is sent: a whole photo, or any range
# up to this size, is all-or-nothing. Larger spans (a video played from its start) are not read
# twice; their later chunks are authenticated one by one as they are streamed.
ALL_OR_NOTHING_BYTES = 8 * 1024 * 1024


class VaultOriginal(msgspec.Struct, frozen=True, kw_only=True):
    """A vault original opened for reading (`Vault.open_original`). Holds the vault key: keep it
    for one request only."""

    size: int  # plaintext bytes, authenticated
    tag: str  # names this encrypted file (random per sealing), nothing about its plaintext: an ETag
    view: PhotoView
    path: Path
    key: bytes
    context: bytes
    verified: bool  # already authenticated end to end (old-format files are, to learn their size)


class UnlockResult(msgspec.Struct):
    vault_token: str
    expires_at: str


class VaultPage(msgspec.Struct):
    photos: list[PhotoView]
    cursor: str | None


class VaultStatus(msgspec.Struct):
    exists: bool


_meta_decoder = msgspec.msgpack.Decoder(VaultMetadata)
_wrapped_decoder = msgspec.msgpack.Decoder(vaultcrypto.WrappedVaultKey)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MIN_PASSPHRASE = 8
MAX_PASSPHRASE = 1024
FILES = ("original", "thumb", "preview", "meta")


def vault_root(data_root: Path) -> Path:
    """Where every user's vault files live (inside the blob dir, so backups copy them)."""
    return Path(data_root) / "blobs" / "vault"


def _photo_dir(root: Path, user_id: str, photo_id: str) -> Path:
    # Both ids end up in a path; anything but plain id characters could escape the root.
    if not _ID.fullmatch(user_id) or not _ID.fullmatch(photo_id):
        raise NotFound(f"no photo {photo_id}")
    return root / user_id / photo_id


def _context(user_id: str, photo_id: str, part: str) -> bytes:
    # Bound into every chunk: a file copied to another photo, user or part fails to open.
    return f"{user_id}|{photo_id}|{part}".encode()


def _check_passphrase(passphrase: Any, field: str = "passphrase") -> str:
    if not isinstance(passphrase, str) or not MIN_PASSPHRASE <= len(passphrase) <= MAX_PASSPHRASE:
        raise Invalid(f"The passphrase must have {MIN_PASSPHRASE:,} to {MAX_PASSPHRASE:,} characters.",
                      code="passphrase_length", params={"min": MIN_PASSPHRASE, "max": MAX_PASSPHRASE})
    return passphrase


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- unlocked keys, in memory only ---------------------------------------------------------------------


class VaultAccess(msgspec.Struct, frozen=True):
    """What a vault operation is shown: the token from unlock, and the session presenting it.

    A token opens the vault only together with the session that unlocked it, so a token that
    leaks (a log, another device) is useless without that session, and it dies with it.
    """

    token: str | None
    session: str


class _Unlocked(msgspec.Struct):
    user_id: str
    session: str
    key: bytes
    expires_mono: float


class VaultTokens:
    """Unlocked vault keys by token digest, for a few minutes, in this process only.

    Never persisted: a restart locks every vault. Expiry uses the monotonic clock so changing the
    wall clock cannot extend a token. A user holds at most `per_user` live tokens (oldest go
    first), so memory stays bounded however often someone unlocks. Each token is bound to the
    session (its token digest) that unlocked it.
    """

    def __init__(self, minutes: int, *, per_user: int = 16, clock: Any = time.monotonic) -> None:
        self.lifetime = minutes * 60
        self.per_user = per_user
        self.clock = clock
        self._entries: dict[str, _Unlocked] = {}
        self._lock = threading.Lock()

    def _sweep(self, now: float) -> None:
        for digest in [d for d, e in self._entries.items() if e.expires_mono <= now]:
            del self._entries[digest]

    def issue(self, user_id: str, session: str, key: bytes) -> UnlockResult:
        if not session:
            raise Forbidden("the vault can only be unlocked from a signed-in session")
        token = vaultcrypto.new_vault_token()
        now = self.clock()
        with self._lock:
            self._sweep(now)
            mine = [d for d, e in self._entries.items() if e.user_id == user_id]  # insertion order
            for digest in mine[: max(0, len(mine) - self.per_user + 1)]:
                del self._entries[digest]
            self._entries[vaultcrypto.vault_token_digest(token)] = _Unlocked(user_id, session, key, now + self.lifetime)
        expires = datetime.now(timezone.utc) + timedelta(seconds=self.lifetime)
        return UnlockResult(token, expires.isoformat(timespec="seconds"))

    def key_for(self, user_id: str, access: VaultAccess | None) -> bytes:
        """The vault key behind the token if it is live, `user_id`'s and issued to the presenting
        session; Forbidden otherwise."""
        token = access.token if access is not None else None
        if not token or not isinstance(token, str) or len(token) > 200:
            raise Forbidden("the vault is locked; unlock it first (X-Vault-Token)", code="vault_locked")
        assert access is not None
        digest = vaultcrypto.vault_token_digest(token)
        with self._lock:
            self._sweep(self.clock())
            entry = self._entries.get(digest)
        # Another user's or another session's token is refused exactly like an unknown one.
        if entry is None or entry.user_id != user_id or entry.session != access.session:
            raise Forbidden("the vault is locked or the vault token has expired; unlock it again", code="vault_locked")
        return entry.key

    def live(self, user_id: str, session: str, digest: str) -> tuple[bytes, float] | None:
        """The vault key behind the token digest and its seconds left, if it is live and was issued
        to `user_id` and `session`; None otherwise (a stream URL holds only the digest)."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            entry = self._entries.get(digest)
        if entry is None or entry.user_id != user_id or entry.session != session:
            return None
        return entry.key, entry.expires_mono - now

    def revoke_user(self, user_id: str, *, keep: VaultAccess | None = None) -> None:
        """End every unlocked session of the user, except the token `keep` (if given)."""
        keep_digest = vaultcrypto.vault_token_digest(keep.token) if keep is not None and keep.token else None
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e.user_id == user_id and d != keep_digest]:
                del self._entries[digest]

    def revoke_session(self, user_id: str, session: str) -> int:
        """Lock: forget every token this session unlocked; returns how many."""
        with self._lock:
            mine = [d for d, e in self._entries.items() if e.user_id == user_id and e.session == session]
            for digest in mine:
                del self._entries[digest]
        return len(mine)

    def __len__(self) -> int:
        with self._lock:
            self._sweep(self.clock())
            return len(self._entries)


# -- the service ---------------------------------------------------------------------------------------


class Vault:
    """Vault commands and reads for every user of one library."""

    def __init__(self, octopus: Octopus) -> None:
        self.octopus = octopus
        self.store = octopus.store
        self.blobs = octopus.photos.blobs
        self.root = vault_root(octopus.paths.root)
        self.root.mkdir(parents=True, exist_ok=True)
        auth = octopus.config.auth
        self.tokens = VaultTokens(auth.vault_token_minutes)
        # Same policy as sign-ins: each wrong passphrase costs an argon2id run, so guesses are
        # limited per user and per client address.
        self.limiter = LoginLimiter(auth.login_max_failures, auth.login_window_seconds)
        octopus.accounts.on_sessions_ended.append(self._sessions_ended)
        self.all_or_nothing_bytes = ALL_OR_NOTHING_BYTES
        self._stream_key: bytes | None = None
        self.streams = streams.VaultStreams(self._stream_secret, auth.vault_stream_seconds)

    def photo_dir(self, user_id: str, photo_id: str) -> Path:
        return _photo_dir(self.root, user_id, photo_id)

    # -- the vault key ------------------------------------------------------------------------------
    async def status(self, user_id: str) -> VaultStatus:
        material = await self.octopus.read(lambda: keystore.get(self.store.reader(), vault_key_id(user_id)))
        return VaultStatus(exists=material is not None)

    async def create(self, user_id: str, passphrase: str, meta: Meta) -> VaultStatus:
        """Create the user's vault; Conflict if it exists. The new vault starts locked."""
        _check_passphrase(passphrase)
        if (await self.status(user_id)).exists:
            raise Conflict("you already have a vault", code="vault_exists")
        wrapped, _key = await self.octopus.media(vaultcrypto.create_vault, passphrase)

        def command(tx: Transaction) -> None:
            # Checked again under the writer lock: two creates may race, the second must not
            # replace the first one's key (that would lose whatever the first one encrypted).
            if keystore.get(tx.conn, vault_key_id(user_id)) is not None:
                raise Conflict("you already have a vault", code="vault_exists")
            keystore.put(tx.conn, vault_key_id(user_id), "vault", user_id, msgspec.msgpack.encode(wrapped))
            tx.append(vault_stream(user_id), None, [VaultCreated(user_id=user_id)], meta=_owned(meta, user_id))

        await self.store.transact_async(command)
        return VaultStatus(exists=True)

    async def _wrapped(self, user_id: str) -> tuple[vaultcrypto.WrappedVaultKey, bytes]:
        material = await self.octopus.read(lambda: keystore.get(self.store.reader(), vault_key_id(user_id)))
        if material is None:
            raise NotFound("you have no vault yet; create one first", code="no_vault")
        return _wrapped_decoder.decode(material), material

    async def _unwrap(self, user_id: str, passphrase: Any, client: str, wrapped: vaultcrypto.WrappedVaultKey,
                      new: str | None = None) -> tuple[bytes, vaultcrypto.WrappedVaultKey | None]:
        """Run the KDF under the rate limit; Forbidden (and a counted failure) if wrong."""
        keys = (f"vault:{user_id}", f"addr:{client}")
        self.limiter.check(*keys)
        if not isinstance(passphrase, str) or len(passphrase) > MAX_PASSPHRASE or not passphrase:
            self.limiter.failed(*keys)
            raise Forbidden("wrong vault passphrase", code="wrong_passphrase")

        def work() -> tuple[bytes, vaultcrypto.WrappedVaultKey | None]:
            key = vaultcrypto.unwrap_vault_key(wrapped, passphrase)
            return key, (vaultcrypto.rewrap_vault_key(wrapped, passphrase, new) if new is not None else None)

        try:
            result = await self.octopus.media(work)
        except vaultcrypto.WrongPassphrase:
            self.limiter.failed(*keys)
            raise Forbidden("wrong vault passphrase", code="wrong_passphrase") from None
        self.limiter.succeeded(keys[0])
        return result

    async def unlock(self, user_id: str, passphrase: str, *, session: str, client: str = "") -> UnlockResult:
        """Unwrap the vault key into memory; returns a token valid for `auth.vault_token_minutes`,
        and only together with `session` (the digest of the session token that unlocked it)."""
        wrapped, _ = await self._wrapped(user_id)
        key, _ = await self._unwrap(user_id, passphrase, client, wrapped)
        return self.tokens.issue(user_id, session, key)

    async def change_passphrase(self, user_id: str, old: str, new: str, meta: Meta, *, client: str = "",
                                keep: VaultAccess | None = None) -> None:
        """Re-wrap the same vault key under `new`; no photo is re-encrypted.

        Every other unlocked session of this user ends (whoever learnt the old passphrase may
        hold one); `keep`, the caller's own token, stays valid.
        """
        _check_passphrase(new, "new")
        wrapped, material = await self._wrapped(user_id)
        _key, rewrapped = await self._unwrap(user_id, old, client, wrapped, new=new)
        assert rewrapped is not None

        def command(tx: Transaction) -> None:
            if keystore.get(tx.conn, vault_key_id(user_id)) != material:
                raise Conflict("the vault passphrase was changed meanwhile; try again", code="stale_version")
            keystore.put(tx.conn, vault_key_id(user_id), "vault", user_id, msgspec.msgpack.encode(rewrapped))
            tx.append(vault_stream(user_id), None, [VaultPassphraseChanged(user_id=user_id)], meta=_owned(meta, user_id))

        await self.store.transact_async(command)
        self.tokens.revoke_user(user_id, keep=keep)
        # The old record plus the old passphrase still opens the vault: fold the WAL so no copy
        # of it lingers in the data dir (backups made before the change still hold it).
        await self.octopus.forget()

    def key_for(self, user_id: str, access: VaultAccess | None) -> bytes:
        return self.tokens.key_for(user_id, access)

    def unlocked(self, user_id: str, access: VaultAccess | None) -> bool:
        """Whether `access` opens the user's vault (for routes where a token is optional)."""
        try:
            self.key_for(user_id, access)
        except Forbidden:
            return False
        return True

    def lock(self, user_id: str, session: str) -> None:
        """Lock the vault for this session: every token it unlocked stops working now."""
        self.tokens.revoke_session(user_id, session)

    def _sessions_ended(self, user_id: str, session: str | None) -> None:
        # Signed out (one session) or password changed / account deleted (all of them).
        if session is None:
            self.tokens.revoke_user(user_id)
        else:
            self.tokens.revoke_session(user_id, session)

    # -- moving in --------------------------------------------------------------------------------------
    async def move_in(self, user_id: str, photo_id: str, access: VaultAccess | None, meta: Meta) -> PhotoView:
        """Encrypt the photo into the vault, then remove every plaintext copy of it."""
        key = self.key_for(user_id, access)
        row = await self.octopus.read(lambda: lib.photo_row(self.store.reader(), user_id, photo_id))
        if row is None:
            raise NotFound(f"no photo {photo_id}")
        fields = dict(zip(lib.COLUMNS, row))
        if fields["state"] == "vault":
            raise Conflict(f"photo {photo_id} is already in the vault", code="already_in_vault")
        if fields["state"] != "library":
            raise Conflict(f"photo {photo_id} is in the {fields['state']}; restore it before moving it to the vault",
                           code="restore_first")
        if not fields["sha256"]:
            raise NotFound(f"no photo {photo_id}")
        record = _metadata_from_row(fields)
        clip = await self.octopus.read(lambda: motion_read.clip_of(self.store.reader(), user_id, photo_id))
        if clip is not None:
            # The clip moves with its photo: a Live Photo's MOV is sealed beside the original and
            # its plaintext blob deleted below, or `gc` would collect it once the read model forgot it.
            record.clip = VaultClip(source=clip.source, offset=clip.offset, length=clip.length, mime=clip.mime,
                                    sha256=clip.sha256)
        version = fields["version"]
        directory = self.photo_dir(user_id, photo_id)
        await self.octopus.media(self._seal_files, directory, user_id, photo_id, key, record)

        def command(tx: Transaction) -> list[str]:
            state = load_photo(tx, photo_id, user_id)
            require_state(state, "library")
            if state.version != version:
                # An edit landed while we were encrypting: the metadata record would be stale.
                raise ConcurrencyConflict(
                    f"photo {photo_id} changed while it was being moved to the vault; try again",
                    stream=photo_stream(photo_id), expected=version, actual=state.version,
                )
            record_move_in(tx, state, meta)
            sha = record.details.sha256
            unused = [] if lib.sha_in_use(tx.conn, sha, except_photo=photo_id) else [sha]
            clip_sha = record.clip.sha256 if record.clip else None
            if clip_sha and not motion_read.blob_in_use(tx.conn, clip_sha, except_photo=photo_id):
                unused.append(clip_sha)
            return unused

        try:
            unused_shas = await self.store.transact_async(command)
        except BaseException:
            await self.octopus.media(_remove_tree, directory)
            raise
        for unused_sha in unused_shas:
            await self._settle_renders(unused_sha)
            await self.octopus.media(self.blobs.delete_all, unused_sha)
        await self.octopus.forget()
        return _view(photo_id, version + 1, record)

    async def _settle_renders(self, sha: str) -> None:
        """Wait for a library preview/thumb render of these bytes that started before the move
        committed: it would otherwise write a plaintext derivative after we deleted them. (No
        new one can start: the library serves derivatives only for photos in the library.)"""
        in_flight = getattr(self.octopus.photos, "_previews_in_flight", {})
        pending = [future for name, future in list(in_flight.items()) if name.endswith(f":{sha}")]
        if pending:
            await asyncio.gather(*(asyncio.shield(f) for f in pending), return_exceptions=True)

    def _seal_files(self, directory: Path, user_id: str, photo_id: str, key: bytes, record: VaultMetadata) -> None:
        """Encrypt original, derivatives and metadata into `directory` (blocking; media pool)."""
        sha = record.details.sha256
        original = self.blobs.original_path(sha)
        if not original.is_file():
            raise NotFound("the original of this photo is missing; run `octopus verify`")
        directory.mkdir(parents=True, exist_ok=True)
        vaultcrypto.encrypt_file(original, directory / "original", key, context=_context(user_id, photo_id, "original"))
        for kind in ("thumb", "preview"):
            existing = self.blobs.derivative_path(kind, sha)
            try:
                data = existing.read_bytes()
            except FileNotFoundError:
                # Rendered in memory and encrypted straight away: a plaintext preview never
                # touches the disk just so that it can be vaulted.
                data = render(original, kind, record.orientation, record.mime).data  # type: ignore[arg-type]
            write_atomic(directory / kind, vaultcrypto.encrypt_bytes(data, key, context=_context(user_id, photo_id, kind)))
        if record.clip is not None and record.clip.sha256:
            mov = self.blobs.original_path(record.clip.sha256)
            if not mov.is_file():
                raise NotFound("the Live Photo video of this photo is missing; run `octopus verify`")
            vaultcrypto.encrypt_file(mov, directory / "clip", key, context=_context(user_id, photo_id, "clip"))
        write_atomic(directory / "meta", vaultcrypto.encrypt_bytes(
            msgspec.msgpack.encode(record), key, context=_context(user_id, photo_id, "meta")))
        fsync_dir(directory)
        fsync_dir(directory.parent)

    # -- reading ----------------------------------------------------------------------------------------
    def _vault_row(self, user_id: str, photo_id: str) -> dict[str, Any]:
        row = lib.photo_row(self.store.reader(), user_id, photo_id)
        if row is None or row[2] != "vault":
            raise NotFound(f"no vault photo {photo_id}")
        return dict(zip(lib.COLUMNS, row))

    def _read_metadata(self, user_id: str, photo_id: str, key: bytes) -> VaultMetadata:
        path = self.photo_dir(user_id, photo_id) / "meta"
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise VaultDamaged(f"the vault files of photo {photo_id} are missing") from None
        try:
            plain = vaultcrypto.decrypt_bytes(blob, key, context=_context(user_id, photo_id, "meta"))
        except vaultcrypto.VaultTampered as exc:
            raise VaultDamaged(f"the vault metadata of photo {photo_id} failed authentication ({exc}); "
                               "it was altered or damaged on disk and cannot be shown") from None
        return _meta_decoder.decode(plain)

    async def photo(self, user_id: str, photo_id: str, access: VaultAccess | None) -> PhotoView:
        key = self.key_for(user_id, access)

        def work() -> PhotoView:
            row = self._vault_row(user_id, photo_id)
            return _view(photo_id, row["version"], self._read_metadata(user_id, photo_id, key))

        return await self.octopus.media(work)

    async def list(self, user_id: str, access: VaultAccess | None, *, cursor: str | None = None,
                   limit: int | None = None) -> VaultPage:
        """The user's vault photos, newest upload first, with their decrypted metadata."""
        key = self.key_for(user_id, access)
        n = lib.check_limit(limit)

        def work() -> VaultPage:
            # Paged on the read model's non-personal columns, so a page decrypts only its own
            # metadata records, whatever the size of the vault.
            args: list[Any] = [user_id]
            where = "owner = ? AND state = 'vault'"
            if cursor:
                uploaded, pid = lib.decode_cursor(cursor, 2)
                where += " AND (uploaded_at, id) < (?, ?)"
                args += [uploaded, pid]
            rows = self.store.reader().execute(
                f"SELECT {', '.join(lib.COLUMNS)} FROM photo WHERE {where} ORDER BY uploaded_at DESC, id DESC LIMIT ?",
                (*args, n + 1),
            ).fetchall()
            more = len(rows) > n
            photos = []
            for row in rows[:n]:
                fields = dict(zip(lib.COLUMNS, row))
                try:
                    photos.append(_view(fields["id"], fields["version"], self._read_metadata(user_id, fields["id"], key)))
                except VaultDamaged as exc:
                    # One damaged record must not hide the rest; the photo is listed without
                    # metadata so its owner can still see and delete it.
                    log.warning("%s", exc.detail)
                    photos.append(lib.to_view(row))
            last = dict(zip(lib.COLUMNS, rows[n - 1])) if more else None
            next_cursor = lib.encode_cursor(last["uploaded_at"], last["id"]) if last else None
            return VaultPage(photos, next_cursor)

        return await self.octopus.media(work)

    async def open_original(self, user_id: str, photo_id: str, access: VaultAccess | None) -> VaultOriginal:
        """The vault original, opened: its plaintext size and file tag, both authenticated, ready
        for `read_original`. Costs one chunk's decryption (files written before chunked sealing:
        one full pass, which is the only way that format can tell its size)."""
        return await self._open_original(user_id, photo_id, self.key_for(user_id, access))

    # -- stream URLs (vault_stream.py): a <video src> cannot send X-Vault-Token ------------------------
    def _stream_secret(self) -> bytes:
        if self._stream_key is None:
            self._stream_key = self.store.writer.call(streams.load_or_make_key)
        return self._stream_key

    async def stream_url(self, user_id: str, photo_id: str, access: VaultAccess) -> streams.StreamUrl:
        """A short-lived URL through which this session reads the original with Range, without the
        token; it stops working with the token (lock, sign-out, password change, expiry)."""
        key = self.key_for(user_id, access)
        await self._open_original(user_id, photo_id, key)  # same 404 as the other vault routes
        assert access.token is not None
        digest = vaultcrypto.vault_token_digest(access.token)
        live = self.tokens.live(user_id, access.session, digest)
        if live is None:
            raise Forbidden("the vault is locked or the vault token has expired; unlock it again", code="vault_locked")
        if self._stream_key is None:
            # Loaded off the event loop here, so `issue` below finds it in memory.
            self._stream_key = await self.store.writer.call_async(streams.load_or_make_key)
        return self.streams.issue(user_id=user_id, session=access.session, token_digest=digest, photo_id=photo_id,
                                  token_remaining_s=live[1])

    def stream_grant(self, sig: str, session: str) -> streams.StreamGrant:
        """The grant behind a stream URL if it is genuine, unexpired, this session's, and its vault
        token is still live; NotFound otherwise (one answer whatever the reason, and whether the
        photo exists or not)."""
        grant = self.streams.resolve(sig, session)
        if grant is None or self.tokens.live(grant.user_id, session, grant.token_digest) is None:
            raise NotFound("this stream link is not valid (it expired, or the vault was locked)")
        return grant

    def stream_alive(self, grant: streams.StreamGrant) -> bool:
        """Whether the grant's vault token is still live: checked between the chunks of a response,
        so a lock or sign-out ends a stream already under way."""
        return self.tokens.live(grant.user_id, grant.session, grant.token_digest) is not None

    async def open_stream(self, grant: streams.StreamGrant) -> VaultOriginal:
        """The original a stream grant names, opened as `open_original` does."""
        live = self.tokens.live(grant.user_id, grant.session, grant.token_digest)
        if live is None:
            raise NotFound("this stream link is not valid (it expired, or the vault was locked)")
        return await self._open_original(grant.user_id, grant.photo_id, live[0])

    async def _open_original(self, user_id: str, photo_id: str, key: bytes) -> VaultOriginal:
        context = _context(user_id, photo_id, "original")

        def work() -> VaultOriginal:
            row = self._vault_row(user_id, photo_id)
            record = self._read_metadata(user_id, photo_id, key)
            path = self.photo_dir(user_id, photo_id) / "original"
            with self._damage_as(photo_id, "original"), path.open("rb") as f:
                sealed = vaultcrypto.SealedFile(f, key, context=context)
                size = sealed.authenticate()
                return VaultOriginal(size=size, tag=sealed.tag, view=_view(photo_id, row["version"], record),
                                     path=path, key=key, context=context, verified=sealed.version == 1)

        return await self.octopus.media(work)

    async def read_original(self, original: VaultOriginal, first: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The plaintext of bytes `first .. first+length-1` of an opened original, as an iterator
        that decrypts only the chunks holding them.

        Up to `all_or_nothing_bytes` (`ALL_OR_NOTHING_BYTES`) of the span are authenticated before this returns, so a
        photo (or any range that size) is never served with genuine bytes that then break off:
        tampering there is a `VaultDamaged` here, before any byte is sent. Beyond that, a video
        is streamed without reading it twice: each chunk is still authenticated before any of
        its bytes are yielded, and a damaged one ends the stream short of its length.
        """
        length = original.size - first if length is None else length
        if length > 0 and not original.verified:
            ahead = min(length, self.all_or_nothing_bytes)

            def verify() -> None:
                with self._damage_as(original.view.id, "original"):
                    for _ in vaultcrypto.read_range(original.path, original.key, first, ahead, context=original.context):
                        pass

            await self.octopus.media(verify)

        def chunks() -> Iterator[bytes]:
            try:
                with original.path.open("rb") as f:
                    sealed = vaultcrypto.SealedFile(f, original.key, context=original.context)
                    if sealed.tag != original.tag:
                        raise vaultcrypto.VaultTampered("the file was replaced after it was opened")
                    yield from sealed.read(first, length)
            except vaultcrypto.VaultTampered:
                # Changed on disk after verification: stop the stream rather than send more.
                log.error("vault original of %s changed or is damaged while being served", original.view.id)
                raise

        return chunks()

    @contextmanager
    def _damage_as(self, photo_id: str, part: str) -> Iterator[None]:
        """A missing or unauthentic vault file becomes the one clear domain error."""
        try:
            yield
        except FileNotFoundError:
            raise VaultDamaged(f"the vault {part} of photo {photo_id} is missing") from None
        except vaultcrypto.VaultTampered as exc:
            raise VaultDamaged(f"the vault {part} of photo {photo_id} failed authentication ({exc}); "
                               "it was altered or damaged on disk, so no bytes are served") from None

    def _verify(self, path: Path, key: bytes, user_id: str, photo_id: str, part: str) -> int:
        with self._damage_as(photo_id, part):
            return vaultcrypto.verify_file(path, key, context=_context(user_id, photo_id, part))

    def _decrypt_small(self, user_id: str, photo_id: str, part: str, key: bytes) -> bytes:
        path = self.photo_dir(user_id, photo_id) / part
        with self._damage_as(photo_id, part):
            return vaultcrypto.decrypt_bytes(path.read_bytes(), key, context=_context(user_id, photo_id, part))

    async def thumbnail(self, user_id: str, photo_id: str, kind: str, access: VaultAccess | None) -> bytes:
        """The decrypted thumb or preview JPEG (small enough to hold whole)."""
        if kind not in ("thumb", "preview"):
            raise Invalid("size: must be thumb or preview")
        key = self.key_for(user_id, access)

        def work() -> bytes:
            self._vault_row(user_id, photo_id)
            return self._decrypt_small(user_id, photo_id, kind, key)

        return await self.octopus.media(work)

    # -- moving out -------------------------------------------------------------------------------------
    async def restore(self, user_id: str, photo_id: str, access: VaultAccess | None, meta: Meta) -> PhotoView:
        """Back into the library with its metadata, sealed under a fresh data key."""
        key = self.key_for(user_id, access)
        row = await self.octopus.read(lambda: lib.photo_row(self.store.reader(), user_id, photo_id))
        if row is None:
            raise NotFound(f"no photo {photo_id}")
        if row[2] != "vault":
            raise Conflict(f"photo {photo_id} is not in the vault")
        record, sha = await self.octopus.media(self._unseal_files, user_id, photo_id, key)
        clip = record.clip
        written = [sha] + ([clip.sha256] if clip is not None and clip.sha256 else [])

        def command(tx: Transaction) -> PhotoView:
            state = load_photo(tx, photo_id, user_id)
            require_state(state, "vault")
            # A new generation under a new key id: the old key id belongs to a shredded key, and
            # reusing it would make old sealed events readable again under the new key's name.
            key_id = key_prefix(photo_id) + str(_highest_generation(tx, photo_id) + 1)
            data_key = sealing.new_data_key()
            keystore.put(tx.conn, key_id, "photo", user_id, data_key)
            events: list[Event] = [PhotoLeftVault(
                photo_id=photo_id, key_id=key_id,
                sealed=seal_for(data_key, photo_id, "PhotoLeftVault", record.details),
            )]
            if record.favourite:
                events.append(PhotoFavourited(photo_id=photo_id))
            if clip is not None:
                events.append(motion.clip_event(photo_id, key_id, data_key, source=clip.source, offset=clip.offset,
                                                length=clip.length, mime=clip.mime, sha=clip.sha256))
            events.extend(motion.identified_again(tx, photo_id))
            append_photo(tx, state, events, meta)
            return lib.get_photo(tx.conn, user_id, photo_id)

        try:
            view = await self.store.transact_async(command)
        except BaseException:
            # The plaintext written back must not outlive a failed restore (unless others use it).
            def unused() -> list[str]:
                conn = self.store.reader()
                return [h for h in written if not lib.sha_in_use(conn, h, except_photo=photo_id)
                        and not motion_read.blob_in_use(conn, h, except_photo=photo_id)]

            for unused_sha in await self.octopus.read(unused):
                await self.octopus.media(self.blobs.delete_all, unused_sha)
            raise
        await self.octopus.media(_remove_tree, self.photo_dir(user_id, photo_id))
        return view

    def _unseal_files(self, user_id: str, photo_id: str, key: bytes) -> tuple[VaultMetadata, str]:
        """Authenticate every vault file, then write the original and thumb back (media pool)."""
        record = self._read_metadata(user_id, photo_id, key)
        directory = self.photo_dir(user_id, photo_id)
        self._verify(directory / "original", key, user_id, photo_id, "original")
        if record.clip is not None and record.clip.sha256:
            # Authenticated before any plaintext is written back, so a damaged clip leaves none.
            self._verify(directory / "clip", key, user_id, photo_id, "clip")
        thumb = self._decrypt_small(user_id, photo_id, "thumb", key)
        sha = record.details.sha256
        incoming = self.blobs.new_upload()
        try:
            try:
                for chunk in vaultcrypto.iter_decrypt_file(directory / "original", key,
                                                           context=_context(user_id, photo_id, "original")):
                    incoming.write(chunk)
            except vaultcrypto.VaultTampered as exc:
                raise VaultDamaged(f"the vault original of photo {photo_id} changed while being restored ({exc})") from None
            incoming.close()
            if incoming.sha256 != sha:
                raise VaultDamaged(f"the vault original of photo {photo_id} does not match its recorded hash")
            self.blobs.put_original(incoming)
        finally:
            incoming.discard()  # no-op once moved into the blob store
        if record.clip is not None and record.clip.sha256:
            self._unseal_clip(directory / "clip", key, user_id, photo_id, record.clip.sha256)
        self.blobs.put_derivative("thumb", sha, thumb)
        return record, sha

    def _unseal_clip(self, path: Path, key: bytes, user_id: str, photo_id: str, sha: str) -> None:
        """A Live Photo's MOV back into the blob store, authenticated and matching its hash."""
        incoming = self.blobs.new_upload()
        try:
            try:
                for chunk in vaultcrypto.iter_decrypt_file(path, key, context=_context(user_id, photo_id, "clip")):
                    incoming.write(chunk)
            except vaultcrypto.VaultTampered as exc:
                raise VaultDamaged(f"the vault clip of photo {photo_id} changed while being restored ({exc})") from None
            incoming.close()
            if incoming.sha256 != sha:
                raise VaultDamaged(f"the vault clip of photo {photo_id} does not match its recorded hash")
            self.blobs.put_original(incoming)
        finally:
            incoming.discard()

    # -- deleting ---------------------------------------------------------------------------------------
    async def purge(self, user_id: str, photo_id: str, access: VaultAccess | None, meta: Meta) -> None:
        """Delete a photo for good, a vault photo too (its vault files go after the commit).

        Needs a live token: a session alone must not be able to destroy what only the
        passphrase may open (without one, `PhotoLibrary.purge` treats vault photos as unknown).
        """
        self.key_for(user_id, access)
        await self.octopus.photos.purge(user_id, photo_id, meta, states=("library", "trash", "vault"))

    # -- housekeeping -----------------------------------------------------------------------------------
    def clean_orphans(self, older_than_s: float = 3600) -> int:
        """Remove vault folders of photos that are not in the vault (blocking; returns how many).

        They are left by a crash between encrypting and committing a move in, or between
        committing a restore or purge and deleting the files. The age limit spares a move in that
        is encrypting right now and has not committed yet.
        """
        cutoff = time.time() - older_than_s
        conn = self.store.reader()
        removed = 0
        for user_dir in (p for p in self.root.iterdir() if p.is_dir()):
            for photo_dir in (p for p in user_dir.iterdir() if p.is_dir()):
                row = conn.execute("SELECT state FROM photo WHERE id = ? AND owner = ?",
                                   (photo_dir.name, user_dir.name)).fetchone()
                if (row is None or row[0] != "vault") and photo_dir.stat().st_mtime < cutoff:
                    _remove_tree(photo_dir)
                    removed += 1
        return removed


def _owned(meta: Meta, user_id: str) -> Meta:
    return Meta(actor=meta.actor or user_id, owner=user_id, correlation_id=meta.correlation_id,
                causation_id=meta.causation_id)


def record_move_in(tx: Transaction, state: PhotoState, meta: Meta) -> None:
    """Append the move into the vault and shred the photo's library keys (every generation):
    from here its fields exist only in the vault's encrypted files. The test factories call this too."""
    append_photo(tx, state, [PhotoMovedToVault(photo_id=state.photo_id)], meta)
    keystore.delete_prefix(tx.conn, key_prefix(state.photo_id))


def _highest_generation(tx: Transaction, photo_id: str) -> int:
    highest = 0
    prefix = key_prefix(photo_id)
    for recorded in tx.read_stream(photo_stream(photo_id)):
        key_id = getattr(recorded.event, "key_id", "")
        if key_id.startswith(prefix) and key_id[len(prefix):].isdigit():
            highest = max(highest, int(key_id[len(prefix):]))
    return highest


def _metadata_from_row(f: dict[str, Any]) -> VaultMetadata:
    """The photo's current fields as the read model holds them (edits included)."""
    details = PhotoDetails(
        sha256=f["sha256"],
        filename=f["filename"] or "photo",
        description=f["description"] or "",
        tags=msgspec.json.decode(f["tags"] or "[]", type=list[str]),
        date=PhotoDate(taken_at=f["taken_at"] or f["uploaded_at"], taken_local=f["taken_local"],
                       source=f["taken_source"] or "upload"),
        camera=Camera(make=f["make"], model=f["model"], lens=f["lens"]),
        exposure=Exposure(iso=f["iso"], f_number=f["f_number"], exposure_time=f["exposure_time"],
                          focal_length=f["focal_length"]),
        gps=Gps(lat=f["gps_lat"], lon=f["gps_lon"]) if f["gps_lat"] is not None and f["gps_lon"] is not None else None,
        phash=f["phash"] or 0,
    )
    return VaultMetadata(
        details=details, mime=f["mime"], size=f["bytes"], width=f["width"], height=f["height"],
        orientation=f["orientation"], favourite=bool(f["favourite"]), uploaded_at=f["uploaded_at"],
        kind=f["kind"], duration=f["duration"], video_codec=f["video_codec"], fps=f["fps"], motion=bool(f["motion"]),
    )


def _view(photo_id: str, version: int, m: VaultMetadata) -> PhotoView:
    d = m.details
    return PhotoView(
        id=photo_id, filename=d.filename, sha256=d.sha256, bytes=m.size, mime=m.mime, width=m.width,
        height=m.height, taken_at=d.date.taken_at, uploaded_at=m.uploaded_at, tags=list(d.tags),
        favourite=m.favourite, description=d.description, camera=d.camera, exposure=d.exposure, gps=d.gps,
        state="vault", version=version, taken_source=d.date.source,
        kind=m.kind, duration=m.duration, video=lib.video_stream(m.video_codec, m.fps), motion=m.motion,
    )


# -- deletion hooks (module level: the photo and account code call them inside their transaction) --


def _data_root(tx: Transaction) -> Path:
    # The keystore and the blob dir share the data dir with the database file.
    return tx.store.path.parent


def _on_purge(tx: Transaction, owner: str, photo_id: str) -> None:
    """A purged vault photo's encrypted files go too, once the tombstone has committed."""
    try:
        directory = _photo_dir(vault_root(_data_root(tx)), owner, photo_id)
    except NotFound:
        return
    tx.after_commit(lambda: _remove_tree(directory))


def _on_account_deleted(tx: Transaction, user_id: str, meta: Meta) -> None:
    """Account deletion takes the wrapped vault key and every vault file with it."""
    keystore.delete(tx.conn, vault_key_id(user_id))
    if _ID.fullmatch(user_id):
        directory = vault_root(_data_root(tx)) / user_id
        tx.after_commit(lambda: _remove_tree(directory))


if _on_purge not in PURGE_HOOKS:
    PURGE_HOOKS.append(_on_purge)
if _on_account_deleted not in ACCOUNT_DELETE_HOOKS:
    ACCOUNT_DELETE_HOOKS.append(_on_account_deleted)
