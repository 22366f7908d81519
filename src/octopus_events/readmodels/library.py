"""The library read model: photos as their owner sees them, timeline, months, favourites,
memories ("on this day"), trash and tags.

The projector folds a batch of events in memory, per photo, then writes each touched photo once
and adjusts the month and tag counters by difference. Inline appends pass batches of one or
two events; rebuilds pass chunks of thousands, so 1,000,000 uploads become a handful of bulk
inserts. Both go through the same code, so "replay equals incremental" holds by construction
and is checked by the property tests anyway.
"""

from __future__ import annotations

import base64
import operator
import sqlite3
from collections import Counter
from datetime import date, datetime, timezone
from typing import Any, Sequence

import msgspec

from ..errors import BadRequest, NotFound
from ..eventstore import RecordedEvent
from ..photos import (
    Camera, DescriptionSeal, Exposure, Gps, PhotoDate, PhotoDescribed, PhotoDetails, PhotoFavourited,
    PhotoArchived, PhotoLeftVault, PhotoMovedToVault, PhotoPurged, PhotoUnarchived, PhotoRedated, PhotoRestored, PhotoTagsSet, PhotoTrashed,
    PhotoUnfavourited, PhotoUploaded, TagsSeal, Unsealer,
)
from ..geocode import Place
from ..motion import PhotoLiveIdentified, PhotoMotionAttached
from ..projection import Projector

COLUMNS = (
    "id", "owner", "state", "version", "sha256", "bytes", "mime", "width", "height", "orientation",
    "filename", "description", "tags", "taken_at", "taken_local", "taken_source", "md", "uploaded_at",
    "favourite", "make", "model", "lens", "iso", "f_number", "exposure_time", "focal_length",
    "gps_lat", "gps_lon", "phash", "trashed_at", "purge_at",
    "kind", "duration", "video_codec", "fps", "motion", "archived",
)
_SELECT_COLS = ", ".join(COLUMNS)
_as_tuple = operator.itemgetter(*COLUMNS)
_json = msgspec.json.Encoder()
_tags_decoder = msgspec.json.Decoder(list[str])


def rfc3339_us(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, timezone.utc).isoformat(timespec="seconds")


def _apply_details(row: dict[str, Any], d: PhotoDetails) -> None:
    row["sha256"] = d.sha256
    row["filename"] = d.filename
    row["description"] = d.description
    row["tags"] = _json.encode(d.tags).decode()
    _apply_date(row, d.date)
    row["make"], row["model"], row["lens"] = d.camera.make, d.camera.model, d.camera.lens
    e = d.exposure
    row["iso"], row["f_number"], row["exposure_time"], row["focal_length"] = e.iso, e.f_number, e.exposure_time, e.focal_length
    row["gps_lat"], row["gps_lon"] = (d.gps.lat, d.gps.lon) if d.gps else (None, None)
    row["phash"] = d.phash


def _apply_date(row: dict[str, Any], d: PhotoDate) -> None:
    row["taken_at"] = d.taken_at
    row["taken_local"] = d.taken_local
    row["taken_source"] = d.source
    row["md"] = d.taken_local[5:10]


def _contribution(row: dict[str, Any] | None) -> tuple[tuple[str, str] | None, dict[tuple[str, str], str]]:
    """What one photo adds to the month and tag counters (only photos in the library count):
    its (owner, month) and its tags as {(owner, case-folded tag): spelling}. An archived photo
    keeps its tags but leaves the months (the scrubber follows the timeline)."""
    if row is None or row["state"] != "library":
        return None, {}
    month = None if row["archived"] else (row["owner"], row["taken_local"][:7])
    if row["tags"] == "[]":
        return month, {}
    return month, {(row["owner"], label.casefold()): label for label in _tags_decoder.decode(row["tags"])}


_labels_decoder = msgspec.json.Decoder(dict[str, int])


def _display_label(labels: dict[str, int]) -> str:
    return min(labels.items(), key=lambda kv: (-kv[1], kv[0]))[0]


class LibraryProjector(Projector):
    name = "library"
    sql_file = "library.sql"
    code_version = 3  # 2: a Live Photo still's PhotoLiveIdentified counts in the row's version; 3: archive

    def apply_batch(self, conn: sqlite3.Connection, batch: Sequence[RecordedEvent]) -> None:
        unsealer: Unsealer | None = None
        rows: dict[str, dict[str, Any] | None] = {}  # photo id -> final row (None: deleted)
        before: dict[str, dict[str, Any] | None] = {}  # photo id -> row as stored before the batch
        for recorded in batch:
            event = recorded.event
            kind = type(event)
            if kind not in _HANDLED:
                continue
            photo_id = event.photo_id  # type: ignore[attr-defined]
            if kind is PhotoUploaded:
                assert isinstance(event, PhotoUploaded)
                if unsealer is None:
                    unsealer = Unsealer(conn, batch)
                row = dict.fromkeys(COLUMNS)
                row.update(
                    id=photo_id, owner=recorded.owner, state="library", version=recorded.stream_version,
                    bytes=event.size, mime=event.mime, width=event.width, height=event.height,
                    orientation=event.orientation, description="", tags="[]", favourite=0,
                    uploaded_at=rfc3339_us(recorded.recorded_us), kind=event.kind, duration=event.duration,
                    video_codec=event.video_codec, fps=event.fps, motion=int(event.motion), archived=0,
                )
                details = unsealer.open(event, PhotoDetails)
                if isinstance(details, PhotoDetails):
                    _apply_details(row, details)
                else:  # key destroyed: purged or in the vault; keep the shape, not the content
                    row.update(taken_local=row["uploaded_at"][:19], md=row["uploaded_at"][5:10])
                if photo_id not in before:
                    # The first event of a stream creates the photo: there is nothing to load.
                    before[photo_id] = None if recorded.stream_version == 1 else self._load(conn, photo_id)
                rows[photo_id] = row
                continue
            if photo_id not in rows:
                loaded = self._load(conn, photo_id)
                before[photo_id] = loaded
                rows[photo_id] = None if loaded is None else dict(loaded)
            row = rows[photo_id]
            if row is None:
                continue
            row["version"] = recorded.stream_version
            if kind is PhotoFavourited:
                row["favourite"] = 1
            elif kind is PhotoUnfavourited:
                row["favourite"] = 0
            elif kind is PhotoTrashed:
                row["state"], row["trashed_at"], row["purge_at"] = "trash", event.trashed_at or rfc3339_us(recorded.recorded_us), event.purge_at  # type: ignore[attr-defined]
            elif kind is PhotoRestored:
                row["state"], row["trashed_at"], row["purge_at"] = "library", None, None
            elif kind is PhotoArchived:
                row["archived"] = 1
            elif kind is PhotoUnarchived:
                row["archived"] = 0
            elif kind is PhotoMotionAttached:
                row["motion"] = 1  # a Live Photo's MOV that arrived after its still
            elif kind is PhotoPurged:
                rows[photo_id] = None
            elif kind is PhotoMovedToVault:
                # Nothing personal stays in the clear: only that a vault photo with this id exists.
                for column in _PERSONAL:
                    row[column] = None
                row.update(state="vault", description="", tags="[]", favourite=0, trashed_at=None, purge_at=None, archived=0,
                           taken_local=row["uploaded_at"][:19], md=row["uploaded_at"][5:10])
            elif kind is PhotoLeftVault:
                if unsealer is None:
                    unsealer = Unsealer(conn, batch)
                back = unsealer.open(event, PhotoDetails)
                row.update(state="library")
                if isinstance(back, PhotoDetails):
                    _apply_details(row, back)
            else:
                if unsealer is None:
                    unsealer = Unsealer(conn, batch)
                if kind is PhotoDescribed:
                    sealed = unsealer.open(event, DescriptionSeal)
                    if isinstance(sealed, DescriptionSeal):
                        row["description"] = sealed.description
                elif kind is PhotoTagsSet:
                    sealed_tags = unsealer.open(event, TagsSeal)
                    if isinstance(sealed_tags, TagsSeal):
                        row["tags"] = _json.encode(sealed_tags.tags).decode()
                elif kind is PhotoRedated:
                    sealed_date = unsealer.open(event, PhotoDate)
                    if isinstance(sealed_date, PhotoDate):
                        _apply_date(row, sealed_date)
        if rows:
            self._write(conn, before, rows)

    def _load(self, conn: sqlite3.Connection, photo_id: str) -> dict[str, Any] | None:
        found = conn.execute(f"SELECT {_SELECT_COLS} FROM {self.t.photo} WHERE id = ?", (photo_id,)).fetchone()
        return dict(zip(COLUMNS, found)) if found else None

    def _write(self, conn: sqlite3.Connection, before: dict[str, dict[str, Any] | None],
               rows: dict[str, dict[str, Any] | None]) -> None:
        t = self.t
        months: Counter[tuple[str, str]] = Counter()
        label_delta: Counter[tuple[str, str, str]] = Counter()  # (owner, tag, spelling) -> change
        tag_rows_out: list[tuple[str, str]] = []
        tag_rows_in: list[tuple[str, str, str, str]] = []
        upserts: list[tuple[Any, ...]] = []
        deletes: list[tuple[str]] = []
        for photo_id, row in rows.items():
            old = before.get(photo_id)
            old_month, old_tags = _contribution(old)
            new_month, new_tags = _contribution(row)
            if old_month != new_month:
                if old_month:
                    months[old_month] -= 1
                if new_month:
                    months[new_month] += 1
            if old_tags != new_tags:
                for (owner, tag), label in old_tags.items():
                    label_delta[(owner, tag, label)] -= 1
                for (owner, tag), label in new_tags.items():
                    label_delta[(owner, tag, label)] += 1
            # photo_tag holds a row per tag of each photo in the library; rewrite a photo's rows
            # only when its tags, its state or its date (the rows' sort key) changed.
            changed = (
                row is None or old is None or old_tags != new_tags or old["taken_local"] != row["taken_local"]
            )
            if old_tags and changed:
                tag_rows_out.append((photo_id,))
            if row is not None and new_tags and changed:
                for (owner, tag) in new_tags:
                    tag_rows_in.append((owner, tag, row["taken_local"], photo_id))
            if row is None:
                if old is not None:
                    deletes.append((photo_id,))
            elif row != old:
                upserts.append(_as_tuple(row))
        if deletes:
            conn.executemany(f"DELETE FROM {t.photo} WHERE id = ?", deletes)
        if upserts:
            marks = ",".join("?" * len(COLUMNS))
            conn.executemany(f"INSERT OR REPLACE INTO {t.photo} ({_SELECT_COLS}) VALUES ({marks})", upserts)
        if tag_rows_out:
            conn.executemany(f"DELETE FROM {t.photo_tag} WHERE photo_id = ?", tag_rows_out)
        if tag_rows_in:
            conn.executemany(f"INSERT OR REPLACE INTO {t.photo_tag} VALUES (?, ?, ?, ?)", tag_rows_in)
        month_changes = [(owner, month, n) for (owner, month), n in months.items() if n]
        if month_changes:
            conn.executemany(
                f"INSERT INTO {t.timeline_month} (owner, month, count) VALUES (?, ?, ?) "
                f"ON CONFLICT (owner, month) DO UPDATE SET count = count + excluded.count",
                month_changes,
            )
            conn.execute(f"DELETE FROM {t.timeline_month} WHERE count <= 0")
        per_tag: dict[tuple[str, str], dict[str, int]] = {}
        for (owner, tag, label), n in label_delta.items():
            if n:
                per_tag.setdefault((owner, tag), {})[label] = n
        for (owner, tag), changes in per_tag.items():
            found = conn.execute(f"SELECT labels FROM {t.tag_count} WHERE owner = ? AND tag = ?", (owner, tag)).fetchone()
            spellings = _labels_decoder.decode(found[0]) if found else {}
            for label, n in changes.items():
                spellings[label] = spellings.get(label, 0) + n
            spellings = {k: v for k, v in spellings.items() if v > 0}
            if spellings:
                conn.execute(
                    f"INSERT OR REPLACE INTO {t.tag_count} (owner, tag, label, count, labels) VALUES (?, ?, ?, ?, ?)",
                    (owner, tag, _display_label(spellings), sum(spellings.values()), _json.encode(dict(sorted(spellings.items()))).decode()),
                )
            elif found:
                conn.execute(f"DELETE FROM {t.tag_count} WHERE owner = ? AND tag = ?", (owner, tag))


_HANDLED = {
    PhotoUploaded, PhotoDescribed, PhotoRedated, PhotoTagsSet, PhotoFavourited, PhotoUnfavourited,
    PhotoTrashed, PhotoRestored, PhotoPurged, PhotoMovedToVault, PhotoLeftVault, PhotoMotionAttached,
    PhotoArchived, PhotoUnarchived,
    PhotoLiveIdentified,  # changes nothing shown, but the row's version must follow the stream's
}
_PERSONAL = (
    "sha256", "filename", "taken_at", "taken_source", "make", "model", "lens", "iso", "f_number",
    "exposure_time", "focal_length", "gps_lat", "gps_lon", "phash",
)


# -- views ------------------------------------------------------------------------------------------


class VideoStream(msgspec.Struct):
    """What a client needs to know before it tries to play a video's original."""

    codec: str  # FFmpeg's name: h264, hevc, vp9, av1...
    fps: float | None


class PhotoView(msgspec.Struct, kw_only=True):
    """A photo as the API shows it (CONTRACT.md, GET /api/photos/{id})."""

    id: str
    filename: str | None
    sha256: str | None
    bytes: int
    mime: str
    width: int
    height: int
    taken_at: str | None
    uploaded_at: str
    tags: list[str]
    favourite: bool
    description: str
    camera: Camera
    exposure: Exposure
    gps: Gps | None
    state: str  # library | archived | trash | vault (archived: in the library, not on the timeline)
    version: int
    taken_source: str | None = None
    purge_at: str | None = None
    duplicate: bool = False
    # Media kinds (CONTRACT.md): every item, photo or video, carries these.
    kind: str = "photo"  # photo | video
    duration: float | None = None  # seconds; null for photos
    video: VideoStream | None = None
    motion: bool = False  # a motion or Live Photo
    # GET /api/photos/{id} of a video: whether a playable copy exists (transcode.py); null elsewhere.
    playable: bool | None = None
    # Where it was taken, by name (offline reverse geocoding of `gps`, readmodels/places.py);
    # null without GPS or far from any named place.
    place: Place | None = None


def video_stream(codec: str | None, fps: float | None) -> VideoStream | None:
    return VideoStream(codec, fps) if codec is not None else None


def to_view(r: Sequence[Any], cls: type[PhotoView] | None = None, **extra: Any) -> PhotoView:
    """A row as the API shows it; `cls` a PhotoView subclass with `extra` fields (sharing's
    `owner`), built in one go rather than copied from a PhotoView."""
    return (cls or PhotoView)(
        id=r[0], state="archived" if r[36] and r[2] == "library" else r[2], version=r[3], sha256=r[4], bytes=r[5], mime=r[6], width=r[7], height=r[8],
        filename=r[10], description=r[11], tags=_tags_decoder.decode(r[12]), taken_at=r[13],
        taken_source=r[15], uploaded_at=r[17], favourite=bool(r[18]),
        camera=Camera(make=r[19], model=r[20], lens=r[21]),
        exposure=Exposure(iso=r[22], f_number=r[23], exposure_time=r[24], focal_length=r[25]),
        gps=Gps(lat=r[26], lon=r[27]) if r[26] is not None and r[27] is not None else None,
        purge_at=r[30], kind=r[31], duration=r[32], video=video_stream(r[33], r[34]), motion=bool(r[35]),
        place=_place(r[_PLACE]) if len(r) > _PLACE else None, **extra,
    )


# The place name is a scalar subquery, not a join: every listing's plan (index walks, the FTS
# walk of search) stays what it was, and the name costs one primary-key probe per returned row.
_PLACE = len(COLUMNS)
PHOTO_SELECT = (
    f"SELECT {', '.join('p.' + c for c in COLUMNS)}, "
    "(SELECT city || char(31) || ifnull(region, '') || char(31) || ifnull(country, '') FROM place_item "
    "WHERE photo_id = p.id AND city IS NOT NULL) FROM photo p"
)


def _place(packed: str | None) -> Place | None:
    if not packed:
        return None
    city, region, country = packed.split("\x1f")
    return Place(city=city, region=region or None, country=country)

# -- queries -------------------------------------------------------------------------------------------

MAX_PAGE = 500


class Day(msgspec.Struct):
    date: str
    photos: list[PhotoView]


class TimelinePage(msgspec.Struct):
    days: list[Day]
    cursor: str | None


class PhotoPage(msgspec.Struct):
    photos: list[PhotoView]
    cursor: str | None


class MonthCount(msgspec.Struct):
    month: str
    count: int


class TagCount(msgspec.Struct):
    tag: str
    count: int


class Memory(msgspec.Struct):
    year: int
    years_ago: int
    photos: list[PhotoView]


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("\x1f")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this server gave out") from None
    if len(parts) != n:
        raise BadRequest("cursor: not a cursor this server gave out")
    return parts


def check_limit(limit: int | None, default: int = 100) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit: must be between 1 and {MAX_PAGE}")
    return limit


def get_photo(conn: sqlite3.Connection, owner: str, photo_id: str, *, states: tuple[str, ...] = ("library", "trash")) -> PhotoView:
    row = conn.execute(f"{PHOTO_SELECT} WHERE p.id = ? AND p.owner = ?", (photo_id, owner)).fetchone()
    if row is None or row[2] not in states:
        raise NotFound(f"no photo {photo_id}")
    return to_view(row)


def photo_row(conn: sqlite3.Connection, owner: str, photo_id: str) -> tuple[Any, ...] | None:
    return conn.execute(f"{PHOTO_SELECT} WHERE p.id = ? AND p.owner = ?", (photo_id, owner)).fetchone()


def _page(conn: sqlite3.Connection, where: str, params: tuple[Any, ...], cursor: str | None, limit: int) -> tuple[list[PhotoView], str | None]:
    args: list[Any] = list(params)
    if cursor:
        taken, pid = decode_cursor(cursor, 2)
        where += " AND (p.taken_local, p.id) < (?, ?)"
        args += [taken, pid]
    rows = conn.execute(
        f"{PHOTO_SELECT} WHERE {where} ORDER BY p.taken_local DESC, p.id DESC LIMIT ?", (*args, limit + 1)
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][14], rows[-1][0]) if more else None
    return [to_view(r) for r in rows], next_cursor


def timeline(conn: sqlite3.Connection, owner: str, cursor: str | None = None, limit: int | None = None) -> TimelinePage:
    photos, next_cursor = _page(conn, "p.owner = ? AND p.state = 'library' AND p.archived = 0", (owner,), cursor,
                                check_limit(limit))
    days: list[Day] = []
    for photo in photos:
        day = _local_day(photo)
        if not days or days[-1].date != day:
            days.append(Day(day, []))
        days[-1].photos.append(photo)
    return TimelinePage(days, next_cursor)


def _local_day(photo: PhotoView) -> str:
    # taken_at carries the photo's own offset, so its date part is the local calendar day.
    return (photo.taken_at or photo.uploaded_at)[:10]


def months(conn: sqlite3.Connection, owner: str) -> list[MonthCount]:
    rows = conn.execute(
        "SELECT month, count FROM timeline_month WHERE owner = ? ORDER BY month DESC", (owner,)
    ).fetchall()
    return [MonthCount(m, c) for m, c in rows]


def favourites(conn: sqlite3.Connection, owner: str, cursor: str | None = None, limit: int | None = None) -> PhotoPage:
    photos, next_cursor = _page(
        conn, "p.owner = ? AND p.favourite = 1 AND p.state = 'library'", (owner,), cursor, check_limit(limit)
    )
    return PhotoPage(photos, next_cursor)


def tags(conn: sqlite3.Connection, owner: str) -> list[TagCount]:
    rows = conn.execute(
        "SELECT label, count FROM tag_count WHERE owner = ? ORDER BY count DESC, tag", (owner,)
    ).fetchall()
    return [TagCount(label, count) for label, count in rows]


def tag_photos(conn: sqlite3.Connection, owner: str, tag: str, cursor: str | None = None, limit: int | None = None) -> PhotoPage:
    key = " ".join(tag.split()).casefold()
    args: list[Any] = [owner, key]
    where = "t.owner = ? AND t.tag = ?"
    if cursor:
        taken, pid = decode_cursor(cursor, 2)
        where += " AND (t.taken_local, t.photo_id) < (?, ?)"
        args += [taken, pid]
    n = check_limit(limit)
    rows = conn.execute(
        f"{PHOTO_SELECT} JOIN photo_tag t ON t.photo_id = p.id WHERE {where} "
        f"ORDER BY t.taken_local DESC, t.photo_id DESC LIMIT ?",
        (*args, n + 1),
    ).fetchall()
    more = len(rows) > n
    rows = rows[:n]
    return PhotoPage([to_view(r) for r in rows], encode_cursor(rows[-1][14], rows[-1][0]) if more else None)


def memories(conn: sqlite3.Connection, owner: str, on: date, per_year: int = 50) -> list[Memory]:
    rows = conn.execute(
        f"{PHOTO_SELECT} WHERE p.owner = ? AND p.md = ? AND p.state = 'library' AND p.archived = 0 AND p.taken_local < ? "
        f"ORDER BY p.taken_local DESC",
        (owner, on.strftime("%m-%d"), f"{on.year:04d}"),
    ).fetchall()
    by_year: dict[int, list[PhotoView]] = {}
    for row in rows:
        year = int(row[14][:4])
        bucket = by_year.setdefault(year, [])
        if len(bucket) < per_year:
            bucket.append(to_view(row))
    return [Memory(year, on.year - year, photos) for year, photos in sorted(by_year.items(), reverse=True)]


def archive(conn: sqlite3.Connection, owner: str, cursor: str | None = None, limit: int | None = None) -> PhotoPage:
    """Archived photos, newest first (GET /api/archive)."""
    photos, next_cursor = _page(conn, "p.owner = ? AND p.state = 'library' AND p.archived = 1", (owner,), cursor,
                                check_limit(limit))
    return PhotoPage(photos, next_cursor)


def trash(conn: sqlite3.Connection, owner: str) -> list[PhotoView]:
    rows = conn.execute(
        f"{PHOTO_SELECT} WHERE p.owner = ? AND p.state = 'trash' ORDER BY p.purge_at, p.id", (owner,)
    ).fetchall()
    return [to_view(r) for r in rows]


def due_for_purge(conn: sqlite3.Connection, now_iso: str, limit: int = 500) -> list[tuple[str, str]]:
    """(photo id, owner) of trashed photos whose retention has run out, across all users."""
    return conn.execute(
        "SELECT id, owner FROM photo WHERE state = 'trash' AND purge_at <= ? ORDER BY purge_at LIMIT ?",
        (now_iso, limit),
    ).fetchall()


CHECK_SQL = (
    "SELECT p.sha256, p.id FROM json_each(?) AS j CROSS JOIN photo p "
    "ON p.sha256 = j.value WHERE p.owner = ? AND p.state != 'vault'"
)
"""One probe of the covering `photo_by_sha` index per hash (CROSS JOIN keeps json_each outside),
the hashes bound as one JSON array. IN lists of 500 let the planner walk the owner's timeline
index instead: 100 times slower at 5,000 hashes (bench_check.py)."""


def existing_by_sha(conn: sqlite3.Connection, owner: str, hashes: Sequence[str]) -> dict[str, str]:
    """{sha256: photo id} for those of `hashes` that `owner` has outside the vault (a vault
    item's hash is sealed, so its row has none)."""
    if not hashes:
        return {}
    out: dict[str, str] = {}
    for sha, photo_id in conn.execute(CHECK_SQL, (msgspec.json.encode(hashes).decode(), owner)):
        # Two items may share bytes (one came back from the vault beside a copy): the smallest
        # id answers, so the answer never flips between calls.
        if sha not in out or photo_id < out[sha]:
            out[sha] = photo_id
    return out


def sha_in_use(conn: sqlite3.Connection, sha256: str, *, except_photo: str) -> bool:
    """Whether any other photo (of any user) still references these bytes."""
    row = conn.execute("SELECT 1 FROM photo WHERE sha256 = ? AND id != ? LIMIT 1", (sha256, except_photo)).fetchone()
    return row is not None


def photos_of(conn: sqlite3.Connection, owner: str) -> list[tuple[str, str | None, str]]:
    """(id, sha256, state) of every photo a user has, for account deletion."""
    return conn.execute("SELECT id, sha256, state FROM photo WHERE owner = ?", (owner,)).fetchall()
