"""Resumable uploads (the core behind tus at /api/uploads; docs/uploads.md).

An upload is a folder `<data_dir>/tmp/uploads/<id>/` holding `data` (the bytes so far) and
`state` (owner, length, acknowledged offset, metadata, expiry as msgspec JSON). `state` is
replaced atomically (write, fsync, rename, fsync the folder) only after the appended bytes were
fsynced, so the offset it names is always backed by durable bytes. A crash may leave bytes past
that offset in `data` (never acknowledged, possibly never checksummed): they are cut off before
the next append, so what a client resumes from is exactly what it was told.

When the last byte arrives the file goes through the same pipeline as `POST /api/photos`
(`PhotoLibrary.upload`): sniffing, limits, quota, dedup, Live Photo handling.

Nothing here knows about HTTP: the web shell (web/uploads.py) translates headers and statuses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .durable import fsync_dir
from .errors import BadRequest, Conflict, Invalid, NotFound, OctopusError, TooLarge
from .eventstore import Meta
from .media import VIDEO_MIMES, IncomingBlob, sniff
from .media.sniff import SNIFF_BYTES
from .readmodels import albums as albums_read

if TYPE_CHECKING:
    from .application import Octopus

log = logging.getLogger(__name__)

# Bytes go to the writer thread in batches this large: at most one batch in flight per PATCH, so
# memory stays at two batches per upload however large the body (see web/photos._UploadWriter).
WRITE_BATCH = 1024 * 1024
MAX_METADATA = 16 * 1024  # the encoded Upload-Metadata header
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEY = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # tus: keys are HTTP tokens


class ChecksumMismatch(OctopusError):
    """The body of one append did not match its Upload-Checksum; none of it was kept."""

    title = "Checksum mismatch"
    code = "checksum_mismatch"


class UnsupportedVersion(OctopusError):
    """The client speaks a version of the resumable-upload protocol we do not."""

    title = "Unsupported tus version"
    code = "tus_version"


class UnsupportedChecksum(BadRequest):
    title = "Unsupported checksum algorithm"
    code = "tus_checksum_algorithm"


class UploadState(msgspec.Struct, kw_only=True):
    """The `state` file beside an upload's bytes."""

    id: str
    owner: str
    length: int
    offset: int = 0
    metadata: dict[str, str] = {}
    created_at: float
    expires_at: float
    reserved: int = 0  # quota bytes held for it in this process (re-held after a restart)
    checked_type: bool = False  # the size limit of the sniffed type has been applied


class Finished(msgspec.Struct, kw_only=True):
    """What the last byte (or a known `sha256` at creation) turned into."""

    photo_id: str
    duplicate: bool = False
    held_clip: bool = False  # a Live Photo MOV waiting for its still (docs/motion.md)


class _WholeHash:
    """The running SHA-256 of an upload's bytes `[0, offset)`, kept in memory between appends
    so the last byte does not mean reading the whole file again. After a restart it is rebuilt
    from `data` once, on the next append."""

    def __init__(self, offset: int, digest: Any) -> None:
        self.offset = offset
        self.digest = digest


class _Assembled(IncomingBlob):
    """A finished upload handed to the photo pipeline: already closed, its hash already known."""

    def __init__(self, path: Path, size: int, sha256: str) -> None:
        super().__init__(path, None)  # type: ignore[arg-type]  # nothing is written any more
        self._size = size
        self._sha256 = sha256


def parse_metadata(raw: str | None) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent)."""
    if not raw:
        return {}
    if len(raw) > MAX_METADATA:
        raise BadRequest("Upload-Metadata is too long")
    found: dict[str, str] = {}
    for pair in raw.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not _KEY.match(parts[0]):
            raise BadRequest(f"Upload-Metadata: {pair.strip()[:60]!r} is not 'key base64value'")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise BadRequest(f"Upload-Metadata: the value of {parts[0]!r} is not base64 of UTF-8 text") from None
        if parts[0] in found:
            raise BadRequest(f"Upload-Metadata: {parts[0]!r} appears twice")
        found[parts[0]] = value
    return found


def parse_checksum(raw: str | None) -> tuple[str, bytes] | None:
    """`Upload-Checksum: <algorithm> <base64 digest>`."""
    if raw is None:
        return None
    algorithm, _, encoded = raw.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise UnsupportedChecksum(f"Upload-Checksum: {algorithm[:20]!r} is not one of {', '.join(CHECKSUMS)}")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise BadRequest("Upload-Checksum: the digest is not base64") from None
    if len(digest) != CHECKSUMS[algorithm]().digest_size:
        raise BadRequest(f"Upload-Checksum: a {algorithm} digest has {CHECKSUMS[algorithm]().digest_size} bytes")
    return algorithm, digest


class Uploads:
    """Every pending resumable upload of the library (all users)."""

    def __init__(self, octopus: Octopus, *, clock: Callable[[], float] = time.time) -> None:
        self.octopus = octopus
        self.photos = octopus.photos
        self.root = octopus.paths.tmp / "uploads"
        self.expire_seconds = octopus.config.uploads.expire_hours * 3600
        # The clock decides expiry; tests of the core pass their own instead of waiting hours.
        self.clock = clock
        self._busy: set[str] = set()  # uploads with an append (or completion) under way
        self._hashes: dict[str, _WholeHash] = {}
        self._lock = threading.Lock()
        self._restored = False

    # -- limits ----------------------------------------------------------------------------------
    @property
    def max_size(self) -> int:
        return max(self.photos.max_upload_bytes, self.photos.max_video_bytes)

    # -- creation --------------------------------------------------------------------------------
    async def create(self, owner: str, length: int, metadata: dict[str, str]) -> UploadState | Finished:
        """A new upload of `length` bytes, or at once the existing item when the caller's library
        already holds the `sha256` the metadata names (no upload is created then)."""
        await self._restore()
        sha = metadata.get("sha256")
        if sha is not None:
            sha = sha.strip().lower()
            if not _SHA256.match(sha):
                raise Invalid("Upload-Metadata sha256: not 64 hex digits")
            known = await self.photos.check(owner, [sha])
            if sha in known:
                return Finished(photo_id=known[sha], duplicate=True)
        album = metadata.get("album_id")
        if album:
            if not await self.octopus.read(lambda: albums_read.owned(self.octopus.store.reader(), owner, album)):
                raise NotFound(f"album_id: no album {album[:40]!r}")
        if length < 1:
            raise Invalid("Upload-Length: the file is empty")
        if length > self.max_size:
            raise TooLarge(f"the upload is larger than the limit of {self.max_size // (1024 * 1024)} MB")
        self.photos.check_disk(length)
        reserved = await self.octopus.read(
            lambda: self.photos.quota.reserve(self.octopus.store.reader(), owner, length))
        now = self.clock()
        state = UploadState(id=secrets.token_hex(16), owner=owner, length=length, metadata=metadata,
                            created_at=now, expires_at=now + self.expire_seconds, reserved=reserved)
        try:
            await asyncio.to_thread(self._create_files, state)
        except BaseException:
            self.photos.quota.release(owner, reserved)
            raise
        with self._lock:
            self._hashes[state.id] = _WholeHash(0, hashlib.sha256())
        return state

    def _create_files(self, state: UploadState) -> None:
        created = not self.root.is_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_dir(self.root.parent)
        folder = self.root / state.id
        folder.mkdir()
        (folder / "data").touch()
        self._write_state(state)
        fsync_dir(self.root)

    # -- reading ---------------------------------------------------------------------------------
    async def get(self, owner: str, upload_id: str) -> UploadState:
        """The upload, if it is this owner's and has not expired (expired ones are removed now)."""
        await self._restore()
        state = await asyncio.to_thread(self._load, upload_id)
        if state is None or state.owner != owner:
            raise NotFound("no such upload")
        if state.expires_at <= self.clock() and upload_id not in self._busy:
            await self._remove(state)
            raise NotFound("the upload expired")
        return state

    def _load(self, upload_id: str) -> UploadState | None:
        if not _ID.match(upload_id):
            return None
        try:
            raw = (self.root / upload_id / "state").read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return msgspec.json.decode(raw, type=UploadState)
        except msgspec.DecodeError:
            log.warning("upload %s has an unreadable state file; ignoring it", upload_id)
            return None

    # -- appending -------------------------------------------------------------------------------
    async def append(self, owner: str, upload_id: str, offset: int, body: AsyncIterator[bytes], *,
                     declared: int | None, checksum: tuple[str, bytes] | None,
                     meta: Meta) -> tuple[UploadState, Finished | None]:
        """Append `body` at `offset` (which must be the acknowledged offset: else Conflict).

        `declared` is the body's announced length (None if unknown). A body that ends early (the
        client went away) keeps what arrived, fsynced, unless a checksum was given: then nothing
        of it can be trusted and none is kept. On the last byte the file is stored as a photo."""
        state = await self.get(owner, upload_id)
        with self._lock:
            if upload_id in self._busy:
                raise Conflict("another request is appending to this upload right now")
            self._busy.add(upload_id)
        try:
            state = await asyncio.to_thread(self._load, upload_id) or state  # re-read under the lock
            if offset != state.offset:
                raise Conflict(f"Upload-Offset {offset} is not the upload's offset {state.offset}")
            if declared is not None and state.offset + declared > state.length:
                raise Invalid(f"the body would take the upload past its Upload-Length of {state.length}")
            if declared:
                self.photos.check_disk(declared)
            whole = await self._whole_hash(state)
            try:
                state = await self._receive(state, whole, body, declared, checksum)
            except TooLarge:
                await self._remove(state)  # its type's limit: no later append could fit either
                raise
            if state.offset < state.length:
                return state, None
            return state, await self._finish(state, whole, meta)
        finally:
            with self._lock:
                self._busy.discard(upload_id)

    async def _whole_hash(self, state: UploadState) -> _WholeHash:
        with self._lock:
            kept = self._hashes.get(state.id)
        if kept is not None and kept.offset == state.offset:
            return kept

        def rebuild() -> _WholeHash:
            digest = hashlib.sha256()
            path = self.root / state.id / "data"
            with open(path, "r+b") as fp:
                fp.truncate(state.offset)  # bytes past the acknowledged offset were never promised
                left = state.offset
                while left:
                    chunk = fp.read(min(left, WRITE_BATCH))
                    if not chunk:
                        raise OSError(f"upload {state.id} is shorter than its acknowledged offset")
                    digest.update(chunk)
                    left -= len(chunk)
            return _WholeHash(state.offset, digest)

        whole = await asyncio.to_thread(rebuild)
        with self._lock:
            self._hashes[state.id] = whole
        return whole

    async def _receive(self, state: UploadState, whole: _WholeHash, body: AsyncIterator[bytes],
                       declared: int | None, checksum: tuple[str, bytes] | None) -> UploadState:
        path = self.root / state.id / "data"
        part = CHECKSUMS[checksum[0]]() if checksum else None
        before = whole.digest.copy()  # to give back what a refused body added
        limit = state.length - state.offset
        fp = await asyncio.to_thread(open, path, "r+b")
        received = 0
        batch: list[bytes] = []
        batched = 0
        pending: asyncio.Future[None] | None = None
        head = b""

        def write(chunks: list[bytes]) -> None:
            for chunk in chunks:
                fp.write(chunk)
                whole.digest.update(chunk)
                if part is not None:
                    part.update(chunk)

        async def settle() -> None:
            nonlocal pending
            if pending is not None:
                # Shielded: a cancelled request must not abandon a write half done on its thread.
                await asyncio.shield(pending)
                pending = None

        try:
            fp.seek(state.offset)
            fp.truncate()
            async for chunk in body:
                if not chunk:
                    continue
                if received + len(chunk) > limit:
                    raise Invalid(f"the body takes the upload past its Upload-Length of {state.length}")
                if not state.checked_type and len(head) < SNIFF_BYTES and state.offset == 0:
                    head += chunk[:SNIFF_BYTES - len(head)]
                    if len(head) >= min(SNIFF_BYTES, state.length):
                        self._check_type(state, head)
                received += len(chunk)
                batch.append(chunk)
                batched += len(chunk)
                if batched >= WRITE_BATCH:
                    await settle()
                    chunks, batch, batched = batch, [], 0
                    pending = asyncio.ensure_future(asyncio.to_thread(write, chunks))
            await settle()
            if batch:
                await asyncio.to_thread(write, batch)
                batch = []
            cut = declared is not None and received < declared
            if checksum is not None and (cut or part is None or part.digest() != checksum[1]):
                whole.digest = before
                await asyncio.to_thread(fp.truncate, state.offset)
                if cut:
                    raise BadRequest("the body ended early; nothing of it was kept (it had a checksum)")
                raise ChecksumMismatch(f"the body does not match its {checksum[0]} checksum; nothing of it was kept")
            await asyncio.to_thread(_flush_and_sync, fp)
        except BaseException:
            await settle_quietly(pending)
            whole.digest = before
            whole.offset = state.offset
            fp.close()
            raise
        fp.close()
        state.offset += received
        whole.offset = state.offset
        if head and len(head) >= min(SNIFF_BYTES, state.length):
            state.checked_type = True
        state.expires_at = self.clock() + self.expire_seconds
        await asyncio.to_thread(self._write_state, state)
        return state

    def _check_type(self, state: UploadState, head: bytes) -> None:
        """Photos and videos have their own size limits, known once the first bytes are here."""
        mime = sniff(head)
        limit = self.photos.upload_limit(mime)
        if state.length > limit:
            what = "video" if mime in VIDEO_MIMES else "photo"
            raise TooLarge(f"the {what} is larger than the limit of {limit // (1024 * 1024)} MB")

    async def _finish(self, state: UploadState, whole: _WholeHash, meta: Meta) -> Finished:
        """The last byte is in: through the photo pipeline, then the upload is gone either way."""
        from .motion import HeldClip

        folder = self.root / state.id
        md = state.metadata
        incoming = _Assembled(folder / "data", state.length, whole.digest.hexdigest())
        # The pipeline reserves the file's bytes itself: ours go back first, or the file would
        # count twice against the quota and a tight quota could never be filled by tus.
        self.photos.quota.release(state.owner, state.reserved)
        state.reserved = 0
        try:
            view, _created = await self.photos.upload(state.owner, incoming, filename=md.get("filename"),
                                                       taken_at=md.get("taken_at") or None, meta=meta)
        finally:
            await self._remove(state)
        if isinstance(view, HeldClip):
            return Finished(photo_id=view.id, duplicate=view.duplicate, held_clip=True)
        album = md.get("album_id")
        if album:
            await self.octopus.albums.add(state.owner, album, [view.id], meta)
        return Finished(photo_id=view.id, duplicate=bool(view.duplicate))

    # -- termination and expiry ------------------------------------------------------------------
    async def terminate(self, owner: str, upload_id: str) -> None:
        state = await self.get(owner, upload_id)
        if upload_id in self._busy:
            raise Conflict("the upload is receiving bytes right now; try again when that request ends")
        await self._remove(state)

    async def remove_expired(self) -> int:
        """Remove every upload whose expiry passed (housekeeping, `octopus gc`); return how many."""
        await self._restore()
        removed = 0
        for state in await asyncio.to_thread(self._all):
            if state.expires_at <= self.clock() and state.id not in self._busy:
                await self._remove(state)
                removed += 1
        return removed

    async def _remove(self, state: UploadState) -> None:
        with self._lock:
            self._hashes.pop(state.id, None)
        self.photos.quota.release(state.owner, state.reserved)
        state.reserved = 0
        await asyncio.to_thread(shutil.rmtree, self.root / state.id, True)

    def _all(self) -> list[UploadState]:
        if not self.root.is_dir():
            return []
        found = []
        for entry in os.scandir(self.root):
            state = self._load(entry.name) if entry.is_dir() else None
            if state is not None:
                found.append(state)
            elif entry.is_dir() and _ID.match(entry.name) and not (Path(entry.path) / "state").exists():
                # A folder whose state was never written: creation crashed before answering.
                shutil.rmtree(entry.path, ignore_errors=True)
        return found

    async def _restore(self) -> None:
        """After a restart, hold the quota of the uploads still pending again (in-memory)."""
        if self._restored:
            return
        self._restored = True
        for state in await asyncio.to_thread(self._all):
            try:
                state.reserved = await self.octopus.read(
                    lambda s=state: self.photos.quota.reserve(self.octopus.store.reader(), s.owner, s.length))
            except TooLarge:
                # The quota shrank meanwhile: the upload may go on; the pipeline checks at the end.
                state.reserved = 0
            await asyncio.to_thread(self._write_state, state)

    def _write_state(self, state: UploadState) -> None:
        folder = self.root / state.id
        tmp = folder / "state.tmp"
        with open(tmp, "wb") as fp:
            fp.write(msgspec.json.encode(state))
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, folder / "state")
        fsync_dir(folder)


def _flush_and_sync(fp: Any) -> None:
    fp.flush()
    os.fsync(fp.fileno())


async def settle_quietly(pending: asyncio.Future[None] | None) -> None:
    """Wait for a write in flight before cleaning up after a failure (its own error is moot)."""
    if pending is not None:
        try:
            await asyncio.shield(pending)
        except OSError:
            pass


def uploads_of(octopus: Octopus) -> Uploads:
    """The one `Uploads` of an open library, made on first use."""
    found: Uploads | None = getattr(octopus, "_uploads", None)
    if found is None:
        found = Uploads(octopus)
        octopus._uploads = found  # type: ignore[attr-defined]
    return found
