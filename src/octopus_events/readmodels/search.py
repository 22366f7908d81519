"""The search read model: FTS5 over filename, description, tags, camera and place name, plus filters."""

from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..errors import BadRequest, Invalid
from ..eventstore import RecordedEvent
from ..photos import (
    DescriptionSeal, PhotoDate, PhotoDescribed, PhotoDetails, PhotoLeftVault, PhotoMovedToVault, PhotoPurged,
    PhotoRedated, PhotoTagsSet, PhotoUploaded, TagsSeal, Unsealer,
)
from ..projection import Projector
from .library import PHOTO_SELECT, PhotoPage, check_limit, decode_cursor, encode_cursor, to_view
from .places import place_of


def camera_text(details: PhotoDetails) -> str:
    c = details.camera
    return " ".join(x for x in (c.make, c.model, c.lens) if x)


def doc_rowid(taken_local: str, position: int) -> int:
    """Newest-taken first is descending rowid order; the position keeps rowids unique."""
    try:
        seconds = int(datetime.fromisoformat(taken_local).replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        seconds = 0
    return (seconds << 20) | (position & 0xFFFFF)


def place_text(details: PhotoDetails) -> str:
    """City, region and country of where the photo was taken, so "Madrid" finds it."""
    if details.gps is None:
        return ""
    place = place_of(details.gps.lat, details.gps.lon)
    if place is None:
        return ""
    return " ".join(dict.fromkeys(x for x in (place.city, place.region, place.country) if x))


def owner_term(owner: str | None) -> str:
    """The owner id as one FTS word (ids are letters and digits)."""
    return "".join(ch for ch in (owner or "") if ch.isalnum())


class SearchProjector(Projector):
    name = "search"
    sql_file = "search.sql"

    def _doc(self, conn: sqlite3.Connection, photo_id: str) -> int | None:
        row = conn.execute(f"SELECT doc FROM {self.t.search_rowid} WHERE photo_id = ?", (photo_id,)).fetchone()
        return row[0] if row else None

    def on_PhotoUploaded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, (PhotoUploaded, PhotoLeftVault))
        details = Unsealer(conn).open(event, PhotoDetails)
        if not isinstance(details, PhotoDetails):
            return
        # The rowid derives from the log, so a replay gives the same rowids as live updates did.
        doc = doc_rowid(details.date.taken_local, recorded.position)
        conn.execute(
            f"INSERT INTO {self.t.search_doc} (rowid, photo_id, owner, filename, description, tags, camera, place) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (doc, event.photo_id, owner_term(recorded.owner), details.filename, details.description,
             " ".join(details.tags), camera_text(details), place_text(details)),
        )
        conn.execute(f"INSERT OR REPLACE INTO {self.t.search_rowid} VALUES (?, ?)", (event.photo_id, doc))

    def on_PhotoRedated(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoRedated)
        doc = self._doc(conn, event.photo_id)
        when = Unsealer(conn).open(event, PhotoDate)
        if doc is None or not isinstance(when, PhotoDate):
            return
        row = conn.execute(
            f"SELECT photo_id, owner, filename, description, tags, camera, place FROM {self.t.search_doc} WHERE rowid = ?",
            (doc,),
        ).fetchone()
        new = doc_rowid(when.taken_local, recorded.position)
        conn.execute(f"DELETE FROM {self.t.search_doc} WHERE rowid = ?", (doc,))
        conn.execute(
            f"INSERT INTO {self.t.search_doc} (rowid, photo_id, owner, filename, description, tags, camera, place) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (new, *row),
        )
        conn.execute(f"UPDATE {self.t.search_rowid} SET doc = ? WHERE photo_id = ?", (new, event.photo_id))

    def on_PhotoDescribed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoDescribed)
        doc = self._doc(conn, event.photo_id)
        sealed = Unsealer(conn).open(event, DescriptionSeal)
        if doc is not None and isinstance(sealed, DescriptionSeal):
            conn.execute(f"UPDATE {self.t.search_doc} SET description = ? WHERE rowid = ?", (sealed.description, doc))

    def on_PhotoTagsSet(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PhotoTagsSet)
        doc = self._doc(conn, event.photo_id)
        sealed = Unsealer(conn).open(event, TagsSeal)
        if doc is not None and isinstance(sealed, TagsSeal):
            conn.execute(f"UPDATE {self.t.search_doc} SET tags = ? WHERE rowid = ?", (" ".join(sealed.tags), doc))

    def remove(self, conn: sqlite3.Connection, photo_id: str) -> None:
        doc = self._doc(conn, photo_id)
        if doc is not None:
            conn.execute(f"DELETE FROM {self.t.search_doc} WHERE rowid = ?", (doc,))
            conn.execute(f"DELETE FROM {self.t.search_rowid} WHERE photo_id = ?", (photo_id,))

    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, (PhotoPurged, PhotoMovedToVault))
        self.remove(conn, event.photo_id)

    on_PhotoMovedToVault = on_PhotoPurged
    on_PhotoLeftVault = on_PhotoUploaded

    def compact(self, conn: sqlite3.Connection) -> None:
        # FTS5 keeps deleted terms in old segments until they merge (SQLite 3.40 has no
        # 'secure-delete' option), so after a purge merge everything: the terms are then gone.
        conn.execute(f"INSERT INTO {self.t.search_doc} ({self.t.search_doc}) VALUES ('optimize')")


_WORD = re.compile(r"\w+", re.UNICODE)
KINDS = ("photo", "video")


def _term(word: str) -> str:
    # Prefix matching for words of two letters or more; a single character matches itself only:
    # "4"* would expand to every number that starts with 4 and merge thousands of lists.
    return f'"{word}"*' if len(word) > 1 else f'"{word}"'


def fts_query(text: str) -> str:
    """User text as an FTS5 query: every word must match (as a prefix); no operators leak through."""
    return " ".join(_term(w) for w in _WORD.findall(text)[:20])


# A year, a month or a day in the text ("2008", "2008-05", "2008-05-10") means "taken then": people
# type a year into search and expect the photos of that year, not file names that hold the digits.
_PERIOD = re.compile(r"(?<![\w-])(1[89]\d\d|2[0-2]\d\d)(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?(?![\w-])")


def taken_periods(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Split search text into the words left and the periods it names, each as [start, end)
    bounds on the local taken time (`photo.taken_local` compares as text)."""
    periods: list[tuple[str, str]] = []

    def take(m: re.Match[str]) -> str:
        year, month, day = m.group(1), m.group(2), m.group(3)
        try:
            if day:
                start = date(int(year), int(month), int(day))
                periods.append((start.isoformat(), (start + timedelta(days=1)).isoformat()))
            elif month:
                y, mo = int(year), int(month)
                periods.append((f"{y:04d}-{mo:02d}", f"{y + mo // 12:04d}-{mo % 12 + 1:02d}"))
            else:
                periods.append((year, f"{int(year) + 1:04d}"))
        except ValueError:  # 2008-02-30: not a day, so an ordinary word
            return m.group(0)
        return " "

    rest = _PERIOD.sub(take, text)
    return rest, periods


def _day(value: str, name: str) -> str:
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise BadRequest(f"{name}: expected a date YYYY-MM-DD") from None


def search(conn: sqlite3.Connection, owner: str, *, q: str | None = None, tag: str | None = None,
           date_from: str | None = None, date_to: str | None = None, camera: str | None = None,
           favourite: bool | None = None, kind: str | None = None, cursor: str | None = None,
           limit: int | None = None) -> PhotoPage:
    """Photos matching the words (prefixes) in filename, description, tags, camera or place, and the
    filters; newest taken first. With words, the FTS index drives the walk in rowid (= taken
    time) order; without, the library's timeline index does (or, for kind=video, its index of
    videos)."""
    n = check_limit(limit)
    if kind is not None and kind not in KINDS:
        raise Invalid(f"kind: must be one of {', '.join(KINDS)}, not {kind[:40]!r}")
    where = ["p.owner = ?", "p.state = 'library'"]
    args: list[Any] = [owner]
    match_parts = []
    if q and q.strip():
        q, periods = taken_periods(q)
        if periods:  # "2008 2010": taken in either year
            where.append("(" + " OR ".join("(p.taken_local >= ? AND p.taken_local < ?)" for _ in periods) + ")")
            args += [bound for period in periods for bound in period]
        expr = fts_query(q)
        if expr:
            match_parts.append(expr)
    if camera and camera.strip():
        words = _WORD.findall(camera)[:10]
        if words:
            match_parts.append("camera : (" + " ".join(_term(w) for w in words) + ")")
    join_args: list[Any] = []
    join = ""
    if tag and tag.strip():
        join = " JOIN photo_tag t ON t.photo_id = p.id AND t.owner = p.owner AND t.tag = ?"
        join_args.append(" ".join(tag.split()).casefold())
    if date_from:
        where.append("p.taken_local >= ?")
        args.append(_day(date_from, "from"))
    if date_to:
        where.append("p.taken_local < ?")
        args.append(_day(date_to, "to") + "T99")  # the whole "to" day is included
    if favourite is not None:
        where.append("p.favourite = ?")
        args.append(int(favourite))
    if kind is not None:
        # A literal, not a parameter: SQLite uses the partial index of videos only when the
        # query's terms match the index's WHERE as written.
        where.append(f"p.kind = '{kind}'")
    if match_parts:
        match = f'owner : "{owner_term(owner)}" AND ' + " AND ".join(f"({m})" for m in match_parts)
        fts_where = ["search_doc MATCH ?"]
        fts_args: list[Any] = [match]
        if cursor:
            (last,) = decode_cursor(cursor, 1)
            if not last.lstrip("-").isdigit():
                raise BadRequest("cursor: not a cursor this server gave out")
            fts_where.append("s.rowid < ?")
            fts_args.append(int(last))
        sql = (
            f"SELECT s.rowid, {PHOTO_SELECT[len('SELECT '):]} JOIN search_doc s ON s.photo_id = p.id{join} "
            f"WHERE {' AND '.join(fts_where + where)} ORDER BY s.rowid DESC LIMIT ?"
        )
        params = (*join_args, *fts_args, *args, n + 1)
    else:
        if cursor:
            taken, pid = decode_cursor(cursor, 2)
            where.append("(p.taken_local, p.id) < (?, ?)")
            args += [taken, pid]
        sql = f"SELECT 0, {PHOTO_SELECT[len('SELECT '):]}{join} WHERE {' AND '.join(where)} ORDER BY p.taken_local DESC, p.id DESC LIMIT ?"
        params = (*join_args, *args, n + 1)
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc):
            raise BadRequest("q: the search text could not be understood") from None
        raise
    more = len(rows) > n
    rows = rows[:n]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(str(last[0])) if match_parts else encode_cursor(last[15], last[1])
    return PhotoPage([to_view(r[1:]) for r in rows], next_cursor)
