"""Motion and Live Photos in the domain: one item whose clip plays at /api/photos/{id}/motion.

A motion photo (Google, Samsung) carries its clip inside the original: the upload records
`PhotoMotionAttached` with the clip's span, and the clip is served from the original's bytes.

An Apple Live Photo arrives as two files, a still and a MOV, sharing a content identifier, in
either order. The identifier is personal-ish metadata, so the log never holds it: events carry
`pair`, an HMAC of it under the owner's pairing key (in the keystore, destroyed with the account),
which lets a MOV find its still and nothing else.
- The still comes first: `PhotoLiveIdentified` records its `pair`; a MOV with the same pair then
  attaches to it (`PhotoMotionAttached`, its blob hash sealed under the photo's own data key)
  and the upload answers 200 with the still. The MOV never becomes an item of its own.
- The MOV comes first: it is held (`LiveClipHeld`, stream `liveclip-<id>`), in no read model that
  lists items, and the upload answers 202 with the held clip. When its still arrives, the clip
  is attached in the same transaction as the still's upload (`LiveClipPaired`). A clip still
  unpaired after `trash.retention_days` is purged like expired trash (`LiveClipPurged`).
Deleting the photo destroys its key (so the sealed clip hash) and deletes the clip's blob.
docs/motion.md has the whole story.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import weakref
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, ClassVar

import msgspec

from . import keystore, sealing
from .accounts import ACCOUNT_DELETE_HOOKS
from .errors import NotFound
from .events import Event
from .eventstore import EventStore, Meta, Transaction
from .media.motion import EmbeddedClip, content_identifier, find_embedded_clip
from .media.sniff import SNIFF_BYTES, sniff
from .photos import photo_stream, seal_for

# -- events ------------------------------------------------------------------------------------------


class ClipSeal(msgspec.Struct):
    sha256: str  # the Live Photo MOV's blob


class HeldClipSeal(msgspec.Struct):
    sha256: str
    filename: str


class PhotoMotionAttached(Event):
    """The photo has a clip: inside its original (`offset`, `length`) for motion photos, or a MOV
    blob of its own for Live Photos (`source` = live-photo; its hash sealed under the photo's key)."""

    photo_id: str
    source: str  # google-container | google-microvideo | samsung | samsung-heic | live-photo
    length: int
    offset: int = 0
    mime: str = "video/mp4"
    key_id: str = ""
    sealed: bytes = b""
    sealed_struct: ClassVar[type] = ClipSeal


class PhotoLiveIdentified(Event):
    """The still of a Live Photo: a MOV whose keyed content-identifier hash is `pair` belongs to it."""

    photo_id: str
    pair: str


class LiveClipHeld(Event):
    """A Live Photo's MOV that arrived before its still: kept, not shown, until it pairs."""

    clip_id: str
    pair: str
    key_id: str
    size: int
    mime: str
    purge_at: str
    sealed: bytes
    sealed_struct: ClassVar[type] = HeldClipSeal


class LiveClipPaired(Event):
    clip_id: str
    photo_id: str


class LiveClipPurged(Event):
    clip_id: str
    reason: str  # unpaired_expired | account_deleted


MOTION_EVENTS = (PhotoMotionAttached, PhotoLiveIdentified, LiveClipHeld, LiveClipPaired, LiveClipPurged)


def clip_stream(clip_id: str) -> str:
    return f"liveclip-{clip_id}"


def clip_key_prefix(clip_id: str) -> str:
    return f"liveclip:{clip_id}:"


def held_context(clip_id: str) -> bytes:
    return f"{clip_id}|LiveClipHeld".encode()


# -- what an upload carries ------------------------------------------------------------------------


class MotionFacts(msgspec.Struct, frozen=True):
    """What an original says about motion: an embedded clip, an Apple content identifier."""

    mime: str
    clip: EmbeddedClip | None = None
    content_id: str | None = None

    @property
    def live_clip(self) -> bool:
        """A Live Photo's MOV: never an item of its own."""
        return self.mime == "video/quicktime" and self.content_id is not None


def inspect(path: Path | str) -> MotionFacts:
    """Read the motion facts of the file at ``path`` (blocking: run it on the media pool)."""
    with open(path, "rb") as fp:
        mime = sniff(fp.read(SNIFF_BYTES))
    if mime not in ("image/jpeg", "image/heic", "image/heif", "video/quicktime"):
        return MotionFacts(mime)
    clip = find_embedded_clip(path) if mime != "video/quicktime" else None
    return MotionFacts(mime, clip, content_identifier(path, mime))


def pair_hash(tx: Transaction, owner: str, content_id: str) -> str:
    """HMAC of the content identifier under the owner's pairing key (made on first use)."""
    key_id = f"livepair:{owner}"
    key = keystore.get(tx.conn, key_id)
    if key is None:
        key = secrets.token_bytes(32)
        keystore.put(tx.conn, key_id, "livepair", owner, key)
    return hmac.new(key, content_id.encode(), hashlib.sha256).hexdigest()


# -- in an upload's transaction --------------------------------------------------------------------


class HeldClip(msgspec.Struct, kw_only=True):
    """The answer to a Live Photo MOV whose still has not arrived yet (202)."""

    id: str
    state: str = "pending"  # waiting for its still; not an item of its own
    detail: str = "a Live Photo video: it joins its photo when that is uploaded"
    duplicate: bool = False


def still_events(tx: Transaction, owner: str, photo_id: str, key_id: str, key: bytes,
                 facts: MotionFacts, meta: Meta) -> list[Event]:
    """The events that go with a still's `PhotoUploaded`: its embedded clip, or its Live Photo
    pairing (attaching a held MOV at once when one waits for it)."""
    from .readmodels import motion as read

    if facts.clip is not None:
        clip = facts.clip
        return [PhotoMotionAttached(photo_id=photo_id, source=clip.source, offset=clip.offset, length=clip.length)]
    if facts.content_id is None:
        return []
    pair = pair_hash(tx, owner, facts.content_id)
    events: list[Event] = [PhotoLiveIdentified(photo_id=photo_id, pair=pair)]
    held = read.held_by_pair(tx.conn, owner, pair)
    if held is not None:
        clip_id, sha, size, mime, version = held
        events.append(_attached(photo_id, key_id, key, sha, size, mime))
        tx.append(clip_stream(clip_id), version, [LiveClipPaired(clip_id=clip_id, photo_id=photo_id)], meta=meta)
        keystore.delete_prefix(tx.conn, clip_key_prefix(clip_id))
    return events


def _attached(photo_id: str, key_id: str, key: bytes, sha: str, size: int, mime: str) -> PhotoMotionAttached:
    return PhotoMotionAttached(
        photo_id=photo_id, source="live-photo", length=size, mime=mime, key_id=key_id,
        sealed=seal_for(key, photo_id, "PhotoMotionAttached", ClipSeal(sha)),
    )


class JoinedClip(msgspec.Struct, frozen=True):
    """A Live Photo MOV that is its still's clip: attached now (`joined`), or already before."""

    photo_id: str
    joined: bool


def clip_event(photo_id: str, key_id: str, key: bytes, *, source: str, offset: int, length: int, mime: str,
               sha: str | None) -> PhotoMotionAttached:
    """The clip again, for a photo back from the vault (its old key, so its old record, is gone)."""
    if sha is not None:
        return _attached(photo_id, key_id, key, sha, length, mime)
    return PhotoMotionAttached(photo_id=photo_id, source=source, offset=offset, length=length, mime=mime)


def identified_again(tx: Transaction, photo_id: str) -> list[Event]:
    """A Live Photo still back from the vault pairs again (its `pair` is in its stream, clear)."""
    found = [r.event for r in tx.read_stream(photo_stream(photo_id)) if isinstance(r.event, PhotoLiveIdentified)]
    return [PhotoLiveIdentified(photo_id=photo_id, pair=found[-1].pair)] if found else []


def receive_clip(tx: Transaction, owner: str, *, sha: str, size: int, mime: str, filename: str,
                 content_id: str, retention: timedelta, meta: Meta) -> JoinedClip | HeldClip:
    """A Live Photo MOV: attach it to its still or hold it."""
    from .photos import load_photo
    from .readmodels import motion as read

    known = read.clip_by_sha(tx.conn, owner, sha)
    if known is not None:
        return JoinedClip(known, joined=False) if known.startswith("p") else HeldClip(id=known, duplicate=True)
    pair = pair_hash(tx, owner, content_id)
    for photo_id in read.stills_by_pair(tx.conn, owner, pair):
        state = load_photo(tx, photo_id, owner)
        if state.state not in ("library", "trash"):
            continue
        key = keystore.get(tx.conn, state.key_id)
        if key is None:
            continue
        result = tx.append(photo_stream(photo_id), state.version,
                           [_attached(photo_id, state.key_id, key, sha, size, mime)], meta=meta)
        del result
        return JoinedClip(photo_id, joined=True)
    clip_id = "c" + secrets.token_hex(10)
    key_id = clip_key_prefix(clip_id) + "1"
    key = sealing.new_data_key()
    keystore.put(tx.conn, key_id, "liveclip", owner, key)
    purge_at = (datetime.now(timezone.utc) + retention).isoformat(timespec="seconds")
    sealed = sealing.seal_struct(key, HeldClipSeal(sha, filename), context=held_context(clip_id))
    tx.append(clip_stream(clip_id), 0, [LiveClipHeld(clip_id=clip_id, pair=pair, key_id=key_id, size=size, mime=mime,
                                                     purge_at=purge_at, sealed=sealed)], meta=meta)
    return HeldClip(id=clip_id)


def purge_held_in(tx: Transaction, owner: str, clip_id: str, reason: str, meta: Meta) -> str | None:
    """Purge one held clip; returns its blob hash when nothing else uses it."""
    from .readmodels import motion as read

    row = read.held(tx.conn, clip_id)
    if row is None or row[0] != owner:
        raise NotFound(f"no held clip {clip_id}")
    _owner, sha, version = row
    tx.append(clip_stream(clip_id), version, [LiveClipPurged(clip_id=clip_id, reason=reason)], meta=meta)
    keystore.delete_prefix(tx.conn, clip_key_prefix(clip_id))
    return None if read.blob_in_use(tx.conn, sha, except_clip=clip_id) else sha


def purge_account_clips(tx: Transaction, owner: str, meta: Meta) -> None:
    """Account deletion: every held MOV of the owner goes (event, key, and its blob after the
    commit unless another user has the same bytes). The pairing key goes with the owner's keys."""
    from .readmodels import motion as read

    for clip_id in read.held_of(tx.conn, owner):
        sha = purge_held_in(tx, owner, clip_id, "account_deleted", Meta(actor=meta.actor, owner=owner))
        if sha:
            delete_after_commit(tx, sha)


# -- purging a photo ---------------------------------------------------------------------------------

# The blob stores of the open libraries, by their event store, so a purge (static: it gets
# only the transaction) can delete a Live Photo's MOV once the purge has committed.
_BLOB_DELETERS: weakref.WeakKeyDictionary[EventStore, Callable[[str], None]] = weakref.WeakKeyDictionary()


def register_blob_deleter(store: EventStore, delete: Callable[[str], None]) -> None:
    _BLOB_DELETERS[store] = delete


def clip_to_delete(tx: Transaction, photo_id: str) -> str | None:
    """Before a photo's tombstone: the MOV blob that must go with it (None when none, or when
    another photo or held clip still needs the same bytes)."""
    from .readmodels import motion as read

    sha = read.live_clip_sha(tx.conn, photo_id)
    if sha is None or read.blob_in_use(tx.conn, sha, except_photo=photo_id):
        return None
    return sha


def delete_after_commit(tx: Transaction, sha: str) -> None:
    """Delete the MOV blob once the purge has committed (never before: a rolled-back purge
    must find its clip)."""
    delete = _BLOB_DELETERS.get(tx.store)
    if delete is not None:
        tx.after_commit(lambda: delete(sha))
    # Without a registered store (direct log writes in tools) `octopus gc` finds the orphan.


if purge_account_clips not in ACCOUNT_DELETE_HOOKS:
    ACCOUNT_DELETE_HOOKS.append(purge_account_clips)
