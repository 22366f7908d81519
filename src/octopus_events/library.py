"""Photo commands: upload, describe, re-date, tag, favourite, trash, restore, purge.

Each command runs as one writer transaction: it folds the photo's stream, checks ownership and
state, appends events (inline projections update in the same transaction) and returns the photo
as the read model now shows it. Image work happens before, on the media pool, never under the
writer lock.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import msgspec

from . import geocode
from . import keystore, motion, sealing
from .errors import InsufficientStorage, Invalid, NotFound, TooLarge
from .eventstore import Meta, Transaction
from .media import VIDEO_MIMES, Analysis, BlobStore, IncomingBlob, analyse, render
from .media.blobstore import CACHED_KINDS
from .media.derivatives import SIZES
from .photos import (
    Camera, DescriptionSeal, Exposure, Gps, PhotoArchived, PhotoDetails, PhotoDescribed, PhotoFavourited, PhotoPurged,
    PhotoRedated, PhotoRestored, PhotoTagsSet, PhotoTrashed, PhotoUnarchived, PhotoUnfavourited, PhotoUploaded, TagsSeal,
    append_photo, check_description, check_version, data_key, date_from_exif, key_prefix, load_photo,
    new_photo_id, normalise_tags, offset_from_instant, parse_taken_at, photo_stream, require_state, seal_for,
    upload_date,
)
from .quota import QuotaReservations
from .readmodels import library as lib
from .readmodels import motion as motion_read
from .readmodels.library import PhotoView

if TYPE_CHECKING:
    from .application import Octopus

log = logging.getLogger(__name__)

MAX_FILENAME = 255
MAX_CHECK = 5_000
"""Hashes one `check` call takes: a phone asks about its camera roll in pages of this many."""
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def clean_filename(name: str | None) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:MAX_FILENAME] or "photo"


class PhotoLibrary:
    """The photo commands of one library (all users)."""

    def __init__(self, octopus: Octopus) -> None:
        self.octopus = octopus
        self.store = octopus.store
        self.config = octopus.config
        self.blobs = BlobStore(
            octopus.paths.blobs, octopus.paths.tmp,
            preview_max_bytes=octopus.config.storage.preview_cache_mb * 1024 * 1024,
        )
        self._previews_in_flight: dict[str, asyncio.Future[Path]] = {}
        from .downloads import Downloads

        self.downloads = Downloads(self.blobs)  # ZIPs of many originals (downloads.py)
        self.quota = QuotaReservations()
        motion.register_blob_deleter(self.store, self.blobs.delete_all)

    # -- upload ------------------------------------------------------------------------------------
    def new_upload(self) -> IncomingBlob:
        return self.blobs.new_upload()

    @property
    def max_upload_bytes(self) -> int:
        return self.config.storage.max_upload_mb * 1024 * 1024

    @property
    def max_video_bytes(self) -> int:
        return self.config.storage.max_video_mb * 1024 * 1024

    def upload_limit(self, mime: str) -> int:
        """The size limit for an upload of this (sniffed) type: videos have their own."""
        return self.max_video_bytes if mime in VIDEO_MIMES else self.max_upload_bytes

    def check_disk(self, incoming_bytes: int = 0) -> None:
        free = shutil.disk_usage(self.octopus.paths.root).free
        if free - incoming_bytes < self.config.storage.min_free_mb * 1024 * 1024:
            raise InsufficientStorage("the server's disk is full; free some space or ask the admin", code="disk_full")

    async def upload(
        self,
        owner: str,
        incoming: IncomingBlob,
        *,
        filename: str | None,
        taken_at: str | None = None,
        tags: Sequence[str] = (),
        description: str | None = None,
        gps: Gps | None = None,
        taken_instant: datetime | None = None,
        uploaded_at: datetime | None = None,
        meta: Meta,
    ) -> tuple[PhotoView, bool]:
        """Store a finished upload; returns (photo, created). Same bytes again: (existing, False).

        `gps` and `taken_instant` are what a client knows beside the file (a Takeout sidecar):
        the location is used only when the file has none, the instant only gives an EXIF local
        time without an offset its offset. `uploaded_at` (aware) is when the photo was first
        uploaded elsewhere (moving in from Octopus Photos 0.6): the date of a file without one.

        The temp file is always consumed: moved into the blob store or deleted.
        """
        reserved = 0
        try:
            incoming.close()
            sha = incoming.sha256
            tags = normalise_tags(tags)
            description = check_description(description or "")
            user_date = parse_taken_at(taken_at) if taken_at else None
            existing = await self.octopus.read(_existing, self.octopus, owner, sha)
            if existing is not None:
                incoming.discard()
                existing.duplicate = True
                return existing, False
            # Held until the event has committed, so concurrent uploads cannot all fit at once.
            reserved = await self.octopus.read(lambda: self.quota.reserve(self.store.reader(), owner, incoming.size))
            self.check_disk(incoming.size)
            facts = await self.octopus.media(motion.inspect, incoming.path)
            if facts.live_clip:
                # A Live Photo's MOV joins its still instead of becoming an item (docs/motion.md).
                return await self._live_clip(owner, incoming, filename, facts, meta, reserved)
            max_pixels = self.config.media.max_megapixels * 1_000_000
            analysis: Analysis = await self.octopus.media(lambda: analyse(incoming.path, max_pixels=max_pixels))
            await self.octopus.media(self._store_blobs, incoming, analysis)
        except BaseException:
            self.quota.release(owner, reserved)
            raise
        finally:
            incoming.discard()  # no-op once moved into the blob store
        md = analysis.metadata
        offset = md.offset_minutes
        if offset is None and md.taken_local and taken_instant is not None:
            offset = offset_from_instant(md.taken_local, taken_instant)
        date = (
            date_from_exif(md.taken_local, offset, md.taken_source)
            or user_date
            or upload_date(uploaded_at or datetime.now(timezone.utc))
        )
        if user_date is not None and md.taken_local:
            date = user_date  # an explicit taken_at from the client wins over EXIF
        details = PhotoDetails(
            sha256=sha,
            filename=clean_filename(filename),
            description=description,
            tags=tags,
            date=date,
            camera=Camera(make=md.make, model=md.model, lens=md.lens),
            exposure=Exposure(iso=md.iso, f_number=md.f_number, exposure_time=md.exposure_time, focal_length=md.focal_length),
            gps=Gps(lat=md.gps_lat, lon=md.gps_lon) if md.gps_lat is not None and md.gps_lon is not None else gps,
            phash=analysis.phash,
        )
        if details.gps is not None and not geocode.loaded():
            # The first photo with GPS builds the place-name index here, on a media thread, not
            # in the writer's transaction, where the places projector names it (docs/places.md).
            await self.octopus.media(geocode.warm)

        def command(tx: Transaction) -> tuple[PhotoView, bool]:
            # Checked again under the writer lock: two uploads of the same bytes may race.
            found = lib.existing_by_sha(tx.conn, owner, [sha])
            if found:
                return lib.get_photo(tx.conn, owner, found[sha]), False
            photo_id = new_photo_id()
            key_id = key_prefix(photo_id) + "1"
            key = sealing.new_data_key()
            keystore.put(tx.conn, key_id, "photo", owner, key)
            extra = motion.still_events(tx, owner, photo_id, key_id, key, facts, meta)
            event = PhotoUploaded(
                photo_id=photo_id, key_id=key_id, mime=analysis.mime, size=incoming.size,
                width=analysis.width, height=analysis.height, orientation=analysis.orientation,
                sealed=seal_for(key, photo_id, "PhotoUploaded", details),
                kind=analysis.kind, duration=analysis.duration,
                video_codec=analysis.video.codec if analysis.video else None,
                fps=analysis.video.fps if analysis.video else None,
                motion=any(isinstance(e, motion.PhotoMotionAttached) for e in extra),
            )
            tx.append(photo_stream(photo_id), 0, [event, *extra], meta=meta)
            return lib.get_photo(tx.conn, owner, photo_id), True

        try:
            view, created = await self.store.transact_async(command)
        finally:
            self.quota.release(owner, reserved)
        if not created:
            view.duplicate = True
        return view, created

    async def _live_clip(self, owner: str, incoming: IncomingBlob, filename: str | None, facts: motion.MotionFacts,
                         meta: Meta, reserved: int) -> tuple[PhotoView | motion.HeldClip, bool]:
        """Attach a Live Photo MOV to its still (200 with the still) or hold it (202)."""
        assert facts.content_id is not None
        retention = timedelta(days=self.config.trash.retention_days)
        try:
            sha, size = incoming.sha256, incoming.size
            await self.octopus.media(self.blobs.put_original, incoming)
            result = await self.store.transact_async(lambda tx: motion.receive_clip(
                tx, owner, sha=sha, size=size, mime=facts.mime, filename=clean_filename(filename),
                content_id=facts.content_id or "", retention=retention, meta=meta))
        finally:
            self.quota.release(owner, reserved)
            incoming.discard()
        if isinstance(result, motion.HeldClip):
            return result, not result.duplicate
        view = await self.octopus.read(lambda: lib.get_photo(self.store.reader(), owner, result.photo_id))
        view.duplicate = not result.joined  # the same MOV again: already there
        return view, False

    def _store_blobs(self, incoming: IncomingBlob, analysis: Analysis) -> None:
        sha = incoming.sha256
        self.blobs.put_original(incoming)
        self.blobs.put_derivative("thumb", sha, analysis.thumb)

    async def check(self, owner: str, hashes: Sequence[str]) -> dict[str, str]:
        """Which of `hashes` (hex SHA-256s) `owner` already has: {hash: photo id}.

        Items in the library or the trash count (their bytes are stored); vault items never
        show, since their hash is sealed too (docs/sync.md, "Already backed up?")."""
        if len(hashes) > MAX_CHECK:
            raise TooLarge(f"sha256: at most {MAX_CHECK:,} hashes per request ({len(hashes):,} sent); split the list")
        for i, value in enumerate(hashes):
            if _SHA256.fullmatch(value) is None:
                raise Invalid(f"sha256[{i}]: {value[:80]!r} is not a hex SHA-256 (64 hex digits)")
        # The answer's keys are lower-case, as the API shows a photo's sha256 everywhere else.
        unique = list(dict.fromkeys(h.lower() for h in hashes))
        return await self.octopus.read(lambda: lib.existing_by_sha(self.store.reader(), owner, unique))

    # -- edits -------------------------------------------------------------------------------------
    async def edit(self, owner: str, photo_id: str, *, description: str | None, taken_at: str | None,
                   version: int | None, meta: Meta) -> PhotoView:
        new_date = parse_taken_at(taken_at) if taken_at is not None else None
        text = check_description(description) if description is not None else None

        def command(tx: Transaction) -> PhotoView:
            state = load_photo(tx, photo_id, owner)
            require_state(state, "library", "trash")
            check_version(state, version)
            key = data_key(tx, state)
            events: list[Any] = []
            if text is not None:
                events.append(PhotoDescribed(photo_id=photo_id, key_id=state.key_id,
                                             sealed=seal_for(key, photo_id, "PhotoDescribed", DescriptionSeal(text))))
            if new_date is not None:
                events.append(PhotoRedated(photo_id=photo_id, key_id=state.key_id,
                                           sealed=seal_for(key, photo_id, "PhotoRedated", new_date)))
            if events:
                append_photo(tx, state, events, meta)
            return lib.get_photo(tx.conn, owner, photo_id)

        return await self.store.transact_async(command)

    async def set_tags(self, owner: str, photo_id: str, tags: Sequence[str], meta: Meta) -> PhotoView:
        cleaned = normalise_tags(tags)

        def command(tx: Transaction) -> PhotoView:
            state = load_photo(tx, photo_id, owner)
            require_state(state, "library", "trash")
            current = lib.get_photo(tx.conn, owner, photo_id)
            if current.tags != cleaned:
                key = data_key(tx, state)
                append_photo(tx, state, [PhotoTagsSet(photo_id=photo_id, key_id=state.key_id,
                                                      sealed=seal_for(key, photo_id, "PhotoTagsSet", TagsSeal(cleaned)))], meta)
            return lib.get_photo(tx.conn, owner, photo_id)

        return await self.store.transact_async(command)

    async def favourite(self, owner: str, photo_id: str, on: bool, meta: Meta) -> PhotoView:
        def command(tx: Transaction) -> PhotoView:
            state = load_photo(tx, photo_id, owner)
            require_state(state, "library", "trash")
            if state.favourite != on:
                event = PhotoFavourited(photo_id=photo_id) if on else PhotoUnfavourited(photo_id=photo_id)
                append_photo(tx, state, [event], meta)
            return lib.get_photo(tx.conn, owner, photo_id)

        return await self.store.transact_async(command)

    async def trash(self, owner: str, photo_id: str, meta: Meta) -> PhotoView:
        retention = timedelta(days=self.config.trash.retention_days)

        def command(tx: Transaction) -> PhotoView:
            state = load_photo(tx, photo_id, owner)
            if state.state == "trash":
                return lib.get_photo(tx.conn, owner, photo_id)
            require_state(state, "library")
            purge_at = (datetime.now(timezone.utc) + retention).isoformat(timespec="seconds")
            append_photo(tx, state, [PhotoTrashed(photo_id=photo_id, purge_at=purge_at)], meta)
            return lib.get_photo(tx.conn, owner, photo_id)

        return await self.store.transact_async(command)

    async def restore(self, owner: str, photo_id: str, meta: Meta) -> PhotoView:
        def command(tx: Transaction) -> PhotoView:
            state = load_photo(tx, photo_id, owner)
            if state.state == "library":
                return lib.get_photo(tx.conn, owner, photo_id)
            require_state(state, "trash")
            append_photo(tx, state, [PhotoRestored(photo_id=photo_id)], meta)
            return lib.get_photo(tx.conn, owner, photo_id)

        return await self.store.transact_async(command)

    async def archive(self, owner: str, photo_id: str, on: bool, meta: Meta) -> PhotoView:
        """Archive (off the timeline, months and memories; kept everywhere else) or bring back.
        Only a photo in the library: a trashed one is restored first (docs/ui.md, Archive)."""
        def command(tx: Transaction) -> PhotoView:
            state = load_photo(tx, photo_id, owner)
            require_state(state, "library")
            if state.archived != on:
                append_photo(tx, state, [PhotoArchived(photo_id=photo_id) if on else PhotoUnarchived(photo_id=photo_id)], meta)
            return lib.get_photo(tx.conn, owner, photo_id)

        return await self.store.transact_async(command)

    async def bulk(self, owner: str, action: Any, meta: Meta) -> Any:
        """One action on many photos, all or nothing (bulk.py): a `bulk.BulkAction` in, a
        `bulk.BulkResult` out."""
        from . import bulk

        purge_at = (datetime.now(timezone.utc) + timedelta(days=self.config.trash.retention_days)).isoformat(timespec="seconds")
        return await self.store.transact_async(lambda tx: bulk.run(tx, owner, action, meta, purge_at=purge_at))

    # -- permanent deletion ------------------------------------------------------------------------
    @staticmethod
    def purge_in(tx: Transaction, owner: str, photo_id: str, reason: str, meta: Meta, *,
                 states: Sequence[str] | None = None) -> str | None:
        """Append the tombstone and destroy the photo's keys, inside the caller's transaction.

        With `states`, a photo in any other state is NotFound (a vault photo stays invisible to
        whoever has not unlocked the vault; a restored photo does not expire).

        Static so that the test factories that write the log directly purge through this code.

        Returns the blob hash to delete after commit, or None when other photos still use it.
        """
        state = load_photo(tx, photo_id, owner)
        if states is not None and state.state not in states:
            raise NotFound(f"no photo {photo_id}")
        row = lib.photo_row(tx.conn, owner, photo_id)
        sha = row[4] if row else None
        clip_sha = motion.clip_to_delete(tx, photo_id)  # read before the tombstone drops the row
        append_photo(tx, state, [PhotoPurged(photo_id=photo_id, reason=reason)], meta)
        if clip_sha:
            motion.delete_after_commit(tx, clip_sha)
        keystore.delete_prefix(tx.conn, key_prefix(photo_id))
        for hook in PURGE_HOOKS:
            hook(tx, owner, photo_id)
        if sha and not lib.sha_in_use(tx.conn, sha, except_photo=photo_id):
            return sha
        return None

    async def purge(self, owner: str, photo_id: str, meta: Meta, *, reason: str = "deleted",
                    states: Sequence[str] = ("library", "trash")) -> None:
        """Delete a photo for good. A vault photo only through `Vault.purge`, which checks the token."""
        sha = await self.store.transact_async(
            lambda tx: self.purge_in(tx, owner, photo_id, reason, meta, states=states))
        await self.after_purge([sha] if sha else [])

    async def after_purge(self, hashes: Sequence[str]) -> None:
        """Delete blobs no photo uses any more, then make SQLite forget the deleted rows."""
        for sha in hashes:
            await self.octopus.media(self.blobs.delete_all, sha)
        await self.octopus.forget()

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Purge every trashed photo whose retention ran out; returns how many."""
        moment = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        due = await self.octopus.read(lambda: lib.due_for_purge(self.store.reader(), moment))
        hashes = []
        for photo_id, owner in due:
            try:
                sha = await self.store.transact_async(
                    lambda tx, p=photo_id, o=owner: self.purge_in(tx, o, p, "trash_expired", Meta(actor="system", owner=o),
                                                         states=("trash",))
                )
            except NotFound:
                continue  # restored or purged meanwhile
            if sha:
                hashes.append(sha)
        held = await self.octopus.read(lambda: motion_read.held_due(self.store.reader(), moment))
        for clip_id, owner in held:
            try:
                sha = await self.store.transact_async(
                    lambda tx, c=clip_id, o=owner: motion.purge_held_in(tx, o, c, "unpaired_expired",
                                                                      Meta(actor="system", owner=o)))
            except NotFound:
                continue  # paired meanwhile
            if sha:
                hashes.append(sha)
        if due or held:
            await self.after_purge(hashes)
        return len(due)

    async def collect_garbage(self) -> GarbageReport:
        """`octopus gc`: expired trash, blobs no photo references, stale temp files."""
        purged = await self.purge_expired()

        def sweep() -> tuple[int, int]:
            conn = self.store.reader()
            used = {row[0] for row in conn.execute("SELECT sha256 FROM photo WHERE sha256 IS NOT NULL")}
            used |= motion_read.clip_hashes(conn)
            cutoff = time.time() - ORPHAN_AGE_S
            orphans = 0
            for sha in list(self.blobs.iter_originals()):
                if sha in used:
                    continue
                try:
                    if self.blobs.original_path(sha).stat().st_mtime > cutoff:
                        continue  # may belong to an upload whose event is being appended now
                except FileNotFoundError:
                    continue
                self.blobs.delete_all(sha)
                orphans += 1
            return orphans, self.blobs.clean_tmp(ORPHAN_AGE_S)

        orphans, temp_files = await self.octopus.media(sweep)
        orphans += await self.octopus.media(self.octopus.vault.clean_orphans)
        return GarbageReport(purged, orphans, temp_files)

    # -- derivatives ---------------------------------------------------------------------------------
    async def derivative(self, owner: str, photo_id: str, kind: str) -> tuple[Path, str]:
        """Path of an upright derivative (made now if missing) and the photo's hash (its ETag)."""
        if kind not in SIZES:
            raise Invalid(f"size: must be one of {', '.join(SIZES)}")
        row = await self.octopus.read(lambda: lib.photo_row(self.store.reader(), owner, photo_id))
        if row is None or row[2] not in ("library", "trash") or not row[4]:
            raise NotFound(f"no photo {photo_id}")
        return await self.derivative_of(row[4], kind, row[9], row[6]), row[4]

    async def derivative_of(self, sha: str, kind: str, orientation: int, mime: str) -> Path:
        """The derivative of the original `sha` (made now if missing), for a caller that has
        already checked the item may be seen (a share link, web/public.py): no second read."""
        if kind not in SIZES:
            raise Invalid(f"size: must be one of {', '.join(SIZES)}")
        path = self.blobs.derivative_path(kind, sha)
        if path.is_file():
            if kind in CACHED_KINDS and self.blobs.previews is not None:
                self.blobs.previews.touch(sha, kind)
            return path
        key = f"{kind}:{sha}"
        pending = self._previews_in_flight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self.octopus.media(self._render, sha, kind, orientation, mime))
            self._previews_in_flight[key] = pending
            pending.add_done_callback(lambda _: self._previews_in_flight.pop(key, None))
        return await asyncio.shield(pending)

    def _render(self, sha: str, kind: str, orientation: int, mime: str) -> Path:
        original = self.blobs.original_path(sha)
        if not original.is_file():
            raise NotFound("the original of this photo is missing; run `octopus verify`")
        image = render(original, kind, orientation, mime)
        return self.blobs.put_derivative(kind, sha, image.data)

    async def original(self, owner: str, photo_id: str) -> tuple[Path, PhotoView]:
        view = await self.octopus.read(lambda: lib.get_photo(self.store.reader(), owner, photo_id))
        if not view.sha256:
            raise NotFound(f"no photo {photo_id}")
        path = self.blobs.original_path(view.sha256)
        if not path.is_file():
            raise NotFound("the original of this photo is missing; run `octopus verify`")
        return path, view

    async def playable(self, owner: str, photo_id: str) -> tuple[Path, PhotoView]:
        """The playable copy of a video (transcode.py): same ownership and state rules as the
        original; NotFound while there is none (not made yet, not needed, or transcoding off)."""
        from .transcode import PLAYABLE

        view = await self.octopus.read(lambda: lib.get_photo(self.store.reader(), owner, photo_id))
        if not view.sha256 or view.state not in ("library", "archived", "trash"):
            raise NotFound(f"no photo {photo_id}")
        path = self.blobs.derivative_path(PLAYABLE, view.sha256)
        if view.kind != "video" or not path.is_file():
            raise NotFound(f"photo {photo_id} has no playable copy (yet)")
        view.playable = True
        return path, view

    def has_playable(self, view: PhotoView) -> bool | None:
        """For GET /api/photos/{id}: whether a video has a playable copy; None for a photo."""
        from .transcode import PLAYABLE

        if view.kind != "video" or not view.sha256:
            return None
        return self.blobs.has(PLAYABLE, view.sha256)

    async def motion_clip(self, owner: str, photo_id: str) -> tuple[Path, motion_read.Clip, str]:
        """The clip of a motion or Live Photo: the file it is in and its entry (a motion photo's
        clip is a span of the original), and the hash its ETag is made from. Same ownership and
        state rules as the original; NotFound when the photo has no clip."""
        def find() -> tuple[PhotoView, motion_read.Clip | None]:
            conn = self.store.reader()
            return lib.get_photo(conn, owner, photo_id), motion_read.clip_of(conn, owner, photo_id)

        view, clip = await self.octopus.read(find)
        if clip is None or not view.sha256:
            raise NotFound(f"photo {photo_id} has no motion clip")
        sha = clip.sha256 or view.sha256
        path = self.blobs.original_path(sha)
        if not path.is_file():
            raise NotFound("the clip of this photo is missing; run `octopus verify`")
        return path, clip, sha


ORPHAN_AGE_S = 3600


class GarbageReport(msgspec.Struct):
    purged: int
    orphans: int
    temp_files: int


def _existing(octopus: Octopus, owner: str, sha: str) -> PhotoView | None:
    conn = octopus.store.reader()
    found = lib.existing_by_sha(conn, owner, [sha])
    if not found:
        return None
    return lib.get_photo(conn, owner, found[sha])


# Other modules (albums, vault) add what purging a photo means for them: hook(tx, owner, photo_id).
PURGE_HOOKS: list[Any] = []
