"""Bulk commands: one action on many photos at once (the selection bar's actions).

All of a bulk command runs in one writer transaction and is all or nothing: every id is loaded
and checked (ownership: another user's id is NotFound like no id; state: a trashed photo cannot
be archived) and every new value worked out before the first event is appended, and any error
after that undoes the whole transaction anyway. Each photo that changes gets its own event in
its own stream, exactly what the one-photo command would append, so projections, sync and
replay know nothing of bulk.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Any, Union

import msgspec

from .errors import Invalid, TooLarge
from .eventstore import Meta, Transaction
from .events import Event
from .photos import (
    PhotoArchived, PhotoDate, PhotoFavourited, PhotoRedated, PhotoRestored, PhotoState, PhotoTagsSet, PhotoTrashed,
    PhotoUnarchived, PhotoUnfavourited, TagsSeal, append_photo, data_key, load_photo, normalise_tags,
    parse_taken_at, require_state, seal_for,
)
from .readmodels import library as lib
from .readmodels.library import PhotoView

MAX_BULK = 1_000
"""Ids one bulk command takes: one transaction, so a few hundred milliseconds at most; the UI
sends a larger selection in pieces of this many."""

MIN_YEAR, MAX_YEAR = 1800, 2200  # as parse_taken_at


class _Bulk(msgspec.Struct, tag_field="action", kw_only=True):
    photo_ids: list[str]


class Favourite(_Bulk, tag="favourite"):
    pass


class Unfavourite(_Bulk, tag="unfavourite"):
    pass


class AddTags(_Bulk, tag="add_tags"):
    tags: list[str]


class RemoveTags(_Bulk, tag="remove_tags"):
    tags: list[str]


class SetDate(_Bulk, tag="set_date"):
    taken_at: str


class DateShift(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An offset for a camera whose clock was wrong: "+1 y -3 h" is {years: 1, hours: -3}.
    Years and months move the calendar (31 January + 1 month is 28/29 February), the rest is
    a plain duration; each photo keeps its own UTC offset."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0


class ShiftDate(_Bulk, tag="shift_date"):
    shift: DateShift


class Archive(_Bulk, tag="archive"):
    pass


class Unarchive(_Bulk, tag="unarchive"):
    pass


class Trash(_Bulk, tag="trash"):
    pass


class Restore(_Bulk, tag="restore"):
    pass


BulkAction = Union[Favourite, Unfavourite, AddTags, RemoveTags, SetDate, ShiftDate, Archive, Unarchive, Trash, Restore]


class BulkResult(msgspec.Struct, kw_only=True):
    photos: list[PhotoView]  # every photo named, as it is now, in the order sent
    changed: int  # how many of them an event changed (the rest already were so)


# The states each action accepts ("library" includes archived photos, see PhotoState).
_ALLOWED: dict[type, tuple[str, ...]] = {
    Favourite: ("library", "trash"), Unfavourite: ("library", "trash"),
    AddTags: ("library", "trash"), RemoveTags: ("library", "trash"),
    SetDate: ("library", "trash"), ShiftDate: ("library", "trash"),
    Archive: ("library",), Unarchive: ("library",),
    Trash: ("library", "trash"), Restore: ("library", "trash"),
}


def unique_ids(photo_ids: list[str]) -> list[str]:
    """The ids in the order sent, each once; refuses an empty list or more than MAX_BULK."""
    ids = list(dict.fromkeys(photo_ids))
    if not ids:
        raise Invalid("photo_ids: name at least one photo")
    if len(ids) > MAX_BULK:
        raise TooLarge(f"photo_ids: at most {MAX_BULK:,} photos at a time ({len(ids):,} sent); send them in parts",
                       code="too_many_photos", params={"max": MAX_BULK})
    for i, value in enumerate(ids):
        if not value or len(value) > 64:
            raise Invalid(f"photo_ids[{i}]: not a photo id")
    return ids


def shifted(local: datetime, shift: DateShift) -> datetime:
    """`local` moved by `shift`: calendar months first (the day clamped to the month's last),
    then the duration. Out of range is Invalid, never an OverflowError."""
    months = local.month - 1 + shift.months + 12 * shift.years
    year = local.year + months // 12
    month = months % 12 + 1
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(f"shift: the date would be in {year}, outside {MIN_YEAR}-{MAX_YEAR}", code="date_out_of_range",
                      params={"min": MIN_YEAR, "max": MAX_YEAR})
    moved = local.replace(year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1]))
    try:
        moved += timedelta(days=shift.days, hours=shift.hours, minutes=shift.minutes, seconds=shift.seconds)
    except OverflowError:
        raise Invalid("shift: the offset is too large") from None
    if not MIN_YEAR <= moved.year <= MAX_YEAR:
        raise Invalid(f"shift: the date would be in {moved.year}, outside {MIN_YEAR}-{MAX_YEAR}", code="date_out_of_range",
                      params={"min": MIN_YEAR, "max": MAX_YEAR})
    return moved


def _check_shift(shift: DateShift) -> None:
    # Bounded before any arithmetic: timedelta refuses ±1e9 days with an OverflowError.
    limits = {"years": 400, "months": 4_800, "days": 146_100, "hours": 3_506_400, "minutes": 210_384_000,
              "seconds": 12_623_040_000}
    for field, limit in limits.items():
        if abs(getattr(shift, field)) > limit:
            raise Invalid(f"shift.{field}: at most ±{limit:,}")
    if not any(getattr(shift, f) for f in limits):
        raise Invalid("shift: the offset is zero; give years, months, days, hours, minutes or seconds", code="shift_zero")


def _moved_date(row: dict[str, Any], shift: DateShift) -> PhotoDate:
    taken_at = datetime.fromisoformat(row["taken_at"] or row["uploaded_at"])
    local = datetime.fromisoformat(row["taken_local"])
    moved = shifted(local, shift)
    return PhotoDate(taken_at=moved.replace(tzinfo=taken_at.tzinfo).isoformat(timespec="seconds"),
                     taken_local=moved.isoformat(timespec="seconds"), source="user")


def _events(tx: Transaction, owner: str, state: PhotoState, action: _Bulk, *, set_date: PhotoDate | None,
            tags: list[str], purge_at: str) -> list[Event]:
    """What the one-photo command would append for this photo (nothing when it already is so)."""
    pid = state.photo_id
    if isinstance(action, (Favourite, Unfavourite)):
        on = isinstance(action, Favourite)
        if state.favourite == on:
            return []
        return [PhotoFavourited(photo_id=pid) if on else PhotoUnfavourited(photo_id=pid)]
    if isinstance(action, (Archive, Unarchive)):
        on = isinstance(action, Archive)
        if state.archived == on:
            return []
        return [PhotoArchived(photo_id=pid) if on else PhotoUnarchived(photo_id=pid)]
    if isinstance(action, Trash):
        return [] if state.state == "trash" else [PhotoTrashed(photo_id=pid, purge_at=purge_at)]
    if isinstance(action, Restore):
        return [] if state.state == "library" else [PhotoRestored(photo_id=pid)]
    row = dict(zip(lib.COLUMNS, lib.photo_row(tx.conn, owner, pid) or ()))
    if isinstance(action, (AddTags, RemoveTags)):
        current: list[str] = msgspec.json.decode(row.get("tags") or "[]", type=list[str])
        if isinstance(action, AddTags):
            new = normalise_tags([*current, *tags])
        else:
            gone = {t.casefold() for t in tags}
            new = [t for t in current if t.casefold() not in gone]
        if new == current:
            return []
        sealed = seal_for(data_key(tx, state), pid, "PhotoTagsSet", TagsSeal(new))
        return [PhotoTagsSet(photo_id=pid, key_id=state.key_id, sealed=sealed)]
    if isinstance(action, (SetDate, ShiftDate)):
        date = set_date if set_date is not None else _moved_date(row, action.shift)  # type: ignore[attr-defined]
        if (date.taken_at, date.taken_local) == (row.get("taken_at"), row.get("taken_local")):
            return []
        sealed = seal_for(data_key(tx, state), pid, "PhotoRedated", date)
        return [PhotoRedated(photo_id=pid, key_id=state.key_id, sealed=sealed)]
    raise Invalid(f"action: {type(action).__name__} is not a bulk action")


def run(tx: Transaction, owner: str, action: _Bulk, meta: Meta, *, purge_at: str) -> BulkResult:
    """Apply `action` to every photo it names, inside the caller's writer transaction."""
    ids = unique_ids(action.photo_ids)
    set_date = parse_taken_at(action.taken_at) if isinstance(action, SetDate) else None
    if isinstance(action, ShiftDate):
        _check_shift(action.shift)
    tags = normalise_tags(action.tags) if isinstance(action, (AddTags, RemoveTags)) else []
    if isinstance(action, (AddTags, RemoveTags)) and not tags:
        raise Invalid("tags: name at least one tag")
    states = [load_photo(tx, pid, owner) for pid in ids]  # NotFound for any id that is not theirs
    allowed = _ALLOWED[type(action)]
    for state in states:
        require_state(state, *allowed)
    # Every new value is worked out before the first append (a shift out of range refuses all).
    plan = [(state, _events(tx, owner, state, action, set_date=set_date, tags=tags, purge_at=purge_at))
            for state in states]
    changed = 0
    for state, events in plan:
        if events:
            append_photo(tx, state, events, meta)
            changed += 1
    states_after = ("library", "trash")
    return BulkResult(photos=[lib.get_photo(tx.conn, owner, pid, states=states_after) for pid in ids], changed=changed)
