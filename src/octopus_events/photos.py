"""Photos: events, the personal fields they seal, and the commands that produce them.

A photo lives in stream `photo-<id>`; its events carry what is not personal (size, type,
dimensions) in the clear and seal everything personal (hash of the bytes, filename,
description, tags, dates, camera, GPS, perceptual hash) under the photo's own data key, which
sits in the keystore. Purging the photo destroys the key: the log keeps only that a photo with
that id existed and was deleted.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Sequence

import msgspec

from . import keystore, sealing
from .errors import ConcurrencyConflict, Conflict, Invalid, NotFound
from .events import Event, decode_event
from .eventstore import Meta, RecordedEvent, Transaction

# -- personal fields, always sealed ------------------------------------------------------------


class Camera(msgspec.Struct, kw_only=True):
    make: str | None = None
    model: str | None = None
    lens: str | None = None


class Exposure(msgspec.Struct, kw_only=True):
    iso: int | None = None
    f_number: float | None = None
    exposure_time: str | None = None
    focal_length: float | None = None


class Gps(msgspec.Struct, kw_only=True):
    lat: float
    lon: float


class PhotoDate(msgspec.Struct, kw_only=True):
    """When a photo was taken: RFC 3339 with offset, the local wall-clock time used for days and
    "on this day", and where the date came from (DateTimeOriginal, …, upload, user)."""

    taken_at: str
    taken_local: str
    source: str


class PhotoDetails(msgspec.Struct, kw_only=True):
    sha256: str
    filename: str
    description: str = ""
    tags: list[str] = []
    date: PhotoDate
    camera: Camera = msgspec.field(default_factory=Camera)
    exposure: Exposure = msgspec.field(default_factory=Exposure)
    gps: Gps | None = None
    phash: int = 0


class DescriptionSeal(msgspec.Struct):
    description: str


class TagsSeal(msgspec.Struct):
    tags: list[str]


# -- events ------------------------------------------------------------------------------------


class PhotoUploaded(Event):
    """A photo or a video entered the library. What kind of media it is (and a video's length,
    codec and frame rate) is not personal, so it stays in the clear beside the size and type.
    The media fields have photo defaults, so events stored before videos existed decode as
    photos unchanged (no upcast needed)."""

    photo_id: str
    key_id: str
    mime: str
    size: int
    width: int
    height: int
    orientation: int
    sealed: bytes
    kind: str = "photo"  # photo | video
    duration: float | None = None  # seconds, videos only
    video_codec: str | None = None  # FFmpeg's codec name: h264, hevc, vp9, av1...
    fps: float | None = None
    motion: bool = False  # a motion or Live Photo (its clip comes with it)
    sealed_struct: ClassVar[type] = PhotoDetails


class PhotoDescribed(Event):
    photo_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = DescriptionSeal


class PhotoRedated(Event):
    photo_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = PhotoDate


class PhotoTagsSet(Event):
    photo_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = TagsSeal


class PhotoFavourited(Event):
    photo_id: str


class PhotoUnfavourited(Event):
    photo_id: str


class PhotoTrashed(Event):
    photo_id: str
    purge_at: str
    # When its owner trashed it, if that was before this event: a photo that came in already
    # trashed (moving in from Octopus Photos 0.6). None: when the event was recorded.
    trashed_at: str | None = None


class PhotoRestored(Event):
    photo_id: str


class PhotoArchived(Event):
    """The photo left the timeline (and its months and memories) but stays everywhere else:
    albums, search, tags, favourites, sync. Not personal: only the id."""

    photo_id: str


class PhotoUnarchived(Event):
    """Back on the timeline."""

    photo_id: str


class PhotoPurged(Event):
    """The tombstone: all that remains of a photo once it is deleted for good."""

    photo_id: str
    reason: str  # deleted | trash_expired | account_deleted


class PhotoMovedToVault(Event):
    """The photo left the library for its owner's vault. Its data key is destroyed with this
    event, so every sealed copy of its fields in the log is unreadable from now on."""

    photo_id: str


class PhotoLeftVault(Event):
    """The photo came back from the vault, with its fields sealed under a fresh data key."""

    photo_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = PhotoDetails


PHOTO_EVENTS = (
    PhotoUploaded, PhotoDescribed, PhotoRedated, PhotoTagsSet, PhotoFavourited, PhotoUnfavourited,
    PhotoTrashed, PhotoRestored, PhotoPurged, PhotoMovedToVault, PhotoLeftVault, PhotoArchived, PhotoUnarchived,
)

# -- sealing helpers -----------------------------------------------------------------------------


def photo_stream(photo_id: str) -> str:
    return f"photo-{photo_id}"


def new_photo_id() -> str:
    return "p" + secrets.token_hex(10)


def first_upload(conn: sqlite3.Connection, photo_id: str) -> tuple[PhotoUploaded, int] | None:
    """The photo's upload event and when it was recorded (µs). Its clear fields (size, type,
    dimensions, media kind) still hold for a photo back from the vault, whose return event
    seals only the personal fields again."""
    row = conn.execute(
        "SELECT type, type_version, data, recorded_us FROM events WHERE stream = ? AND stream_version = 1",
        (photo_stream(photo_id),),
    ).fetchone()
    if row is None:
        return None
    event = decode_event(row[0], row[1], row[2])
    return (event, row[3]) if isinstance(event, PhotoUploaded) else None


def key_prefix(photo_id: str) -> str:
    return f"photo:{photo_id}:"


def _context(photo_id: str, event_type: str) -> bytes:
    return f"{photo_id}|{event_type}".encode()


def seal_for(key: bytes, photo_id: str, event_type: str, obj: msgspec.Struct) -> bytes:
    return sealing.seal_struct(key, obj, context=_context(photo_id, event_type))


class Unsealer:
    """Opens sealed fields inside projectors; caches keys for one batch of events.

    A missing key means the photo was purged or moved into the vault: the fields are gone, and
    `open` returns None so projectors skip them.
    """

    def __init__(self, conn: sqlite3.Connection, batch: Sequence[RecordedEvent] = ()) -> None:
        self.conn = conn
        ids = [getattr(r.event, "key_id") for r in batch if hasattr(r.event, "key_id")]
        self.keys: dict[str, bytes] = keystore.get_many(conn, ids) if len(ids) > 1 else {}

    def open(self, event: Event, type_: type[msgspec.Struct]) -> msgspec.Struct | None:
        key_id: str = getattr(event, "key_id")
        key = self.keys.get(key_id)
        if key is None:
            key = keystore.get(self.conn, key_id)
            if key is None:
                return None
            self.keys[key_id] = key
        tag = type(event).__struct_config__.tag
        assert isinstance(tag, str)
        try:
            return sealing.unseal_struct(key, getattr(event, "sealed"), type_, context=_context(event.photo_id, tag))  # type: ignore[attr-defined]
        except sealing.SealError:
            return None


# -- normalising user input ------------------------------------------------------------------------

MAX_TAGS = 100
MAX_TAG_LENGTH = 64
MAX_DESCRIPTION = 10_000


def normalise_tags(tags: Sequence[str]) -> list[str]:
    """Trimmed, case-insensitively unique, in the order given; commas are not allowed in a tag."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        if not isinstance(raw, str):
            raise Invalid("tags must be strings")
        tag = " ".join(raw.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(f"A tag may have at most {MAX_TAG_LENGTH} characters.", code="tag_length",
                          params={"max": MAX_TAG_LENGTH})
        if any(ord(ch) < 32 for ch in tag):
            raise Invalid("Tags may not contain control characters.", code="tag_characters")
        key = tag.casefold()
        if key not in seen:
            seen.add(key)
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise Invalid(f"A photo may have at most {MAX_TAGS} tags.", code="too_many_tags", params={"max": MAX_TAGS})
    return out


def check_description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(f"A description may have at most {MAX_DESCRIPTION:,} characters.", code="description_length",
                      params={"max": MAX_DESCRIPTION})
    return text.strip()


def parse_taken_at(value: str) -> PhotoDate:
    """A user-supplied date: RFC 3339 with offset (or a bare date/time, read as UTC)."""
    text = value.strip()
    try:
        if len(text) == 10:
            moment = datetime.fromisoformat(text + "T12:00:00")
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(f"taken_at: {value!r} is not an RFC 3339 date-time") from None
    if not 1800 <= moment.year <= 2200:
        raise Invalid("taken_at: the year must be between 1800 and 2200", code="date_out_of_range",
                      params={"min": 1800, "max": 2200})
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    return PhotoDate(taken_at=moment.isoformat(timespec="seconds"), taken_local=local, source="user")


def date_from_exif(taken_local: str | None, offset_minutes: int | None, source: str) -> PhotoDate | None:
    if not taken_local:
        return None
    try:
        local = datetime.fromisoformat(taken_local)
    except ValueError:
        return None
    tz = timezone(timedelta(minutes=offset_minutes)) if offset_minutes is not None else timezone.utc
    return PhotoDate(
        taken_at=local.replace(tzinfo=tz).isoformat(timespec="seconds"),
        taken_local=local.isoformat(timespec="seconds"),
        source=source,
    )


def offset_from_instant(taken_local: str | None, instant: datetime) -> int | None:
    """The UTC offset (minutes) of a local time without one, from the instant it stands for
    (a Google Takeout sidecar's `photoTakenTime`): local − instant, rounded to 15 minutes because
    real zones are whole quarter hours and clocks drift; None outside ±14 h (another moment)."""
    try:
        local = datetime.fromisoformat(taken_local or "").replace(tzinfo=None)
    except ValueError:
        return None
    minutes = round((local - instant.astimezone(timezone.utc).replace(tzinfo=None)).total_seconds() / 900) * 15
    return minutes if abs(minutes) <= 14 * 60 else None


def upload_date(now: datetime) -> PhotoDate:
    local = now.astimezone()
    return PhotoDate(
        taken_at=local.isoformat(timespec="seconds"),
        taken_local=local.replace(tzinfo=None).isoformat(timespec="seconds"),
        source="upload",
    )


# -- the photo aggregate ---------------------------------------------------------------------------


class PhotoState(msgspec.Struct):
    """What commands need to decide: folded from the photo's own stream."""

    photo_id: str
    owner: str | None = None
    state: str = "none"  # none | library | trash | vault | purged
    favourite: bool = False
    # Archived is a flag beside `state`, not a state of its own: an archived photo is in the
    # library for every command (tag, favourite, trash, vault); only the timeline hides it. It
    # survives a trip through the trash, not one through the vault.
    archived: bool = False
    key_id: str = ""
    version: int = 0


def load_photo(tx: Transaction, photo_id: str, owner: str) -> PhotoState:
    """The photo as its owner may act on it; another user's photo is NotFound, like no photo."""
    state = PhotoState(photo_id)
    for recorded in tx.read_stream(photo_stream(photo_id)):
        state.version = recorded.stream_version
        event = recorded.event
        if isinstance(event, PhotoUploaded):
            state.owner, state.state, state.key_id = recorded.owner, "library", event.key_id
        elif isinstance(event, PhotoFavourited):
            state.favourite = True
        elif isinstance(event, PhotoUnfavourited):
            state.favourite = False
        elif isinstance(event, PhotoTrashed):
            state.state = "trash"
        elif isinstance(event, PhotoRestored):
            state.state = "library"
        elif isinstance(event, PhotoPurged):
            state.state = "purged"
        elif isinstance(event, PhotoArchived):
            state.archived = True
        elif isinstance(event, PhotoUnarchived):
            state.archived = False
        elif isinstance(event, PhotoMovedToVault):
            state.state, state.archived = "vault", False
        elif isinstance(event, PhotoLeftVault):
            state.state, state.key_id = "library", event.key_id
    if state.owner != owner or state.state in ("none", "purged"):
        raise NotFound(f"no photo {photo_id}")
    return state


def check_version(state: PhotoState, version: int | None) -> None:
    if version is not None and version != state.version:
        raise ConcurrencyConflict(
            f"photo {state.photo_id} is at version {state.version}, not {version}; reload and try again",
            stream=photo_stream(state.photo_id), expected=version, actual=state.version,
        )


def data_key(tx: Transaction, state: PhotoState) -> bytes:
    key = keystore.get(tx.conn, state.key_id)
    if key is None:
        raise NotFound(f"no photo {state.photo_id}")
    return key


def append_photo(tx: Transaction, state: PhotoState, events: list[Event], meta: Meta) -> int:
    result = tx.append(photo_stream(state.photo_id), state.version, events, meta=meta)
    state.version = result.stream_version
    return result.stream_version


def require_state(state: PhotoState, *allowed: str) -> None:
    if state.state == "vault" and "vault" not in allowed:
        # Outside the vault a vault photo does not exist: a Conflict would confirm its id to
        # anyone with a session but without the vault passphrase.
        raise NotFound(f"no photo {state.photo_id}")
    if state.state not in allowed:
        raise Conflict(f"photo {state.photo_id} is in the {state.state}; this needs it in the {' or '.join(allowed)}",
                   code="wrong_state")
