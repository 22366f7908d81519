"""The partners read model: who shares their library with whom, and the partner timelines.

A partner's view and the merged timeline are index walks of the `photo_timeline` index, one per
library shown (the caller's and each partner's), each stopping after a page; the pages are then
merged by (taken_local, id). So the first page of a 100,000 + 100,000 merged timeline reads about
two pages of rows, not 200,000 (tests/benchmarks/bench_partners.py).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from ..accounts import UserDeleted
from ..errors import NotFound
from ..eventstore import RecordedEvent
from ..partners import PartnerShareEnded, PartnerShareStarted, PartnerTimelineMerged
from ..projection import Projector
from .library import COLUMNS, _local_day, check_limit, decode_cursor, encode_cursor, rfc3339_us
from .members import SharedPhoto, shared_view


class PartnersProjector(Projector):
    name = "partners"
    sql_file = "partners.sql"

    def on_PartnerShareStarted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PartnerShareStarted)
        t = self.t
        found = conn.execute(f"SELECT created_at FROM {t.partner_share} WHERE owner = ? AND partner = ?",
                             (event.user_id, event.partner_id)).fetchone()
        created = found[0] if found else rfc3339_us(recorded.recorded_us)
        conn.execute(f"INSERT OR REPLACE INTO {t.partner_share} VALUES (?, ?, ?, ?)",
                     (event.user_id, event.partner_id, event.since, created))

    def on_PartnerShareEnded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PartnerShareEnded)
        conn.execute(f"DELETE FROM {self.t.partner_share} WHERE owner = ? AND partner = ?", (event.user_id, event.partner_id))

    def on_PartnerTimelineMerged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, PartnerTimelineMerged)
        if event.merge:
            conn.execute(f"INSERT OR IGNORE INTO {self.t.partner_merge} VALUES (?)", (event.user_id,))
        else:
            conn.execute(f"DELETE FROM {self.t.partner_merge} WHERE user_id = ?", (event.user_id,))

    def on_UserDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserDeleted)
        t = self.t
        conn.execute(f"DELETE FROM {t.partner_share} WHERE owner = ?1 OR partner = ?1", (event.user_id,))
        conn.execute(f"DELETE FROM {t.partner_merge} WHERE user_id = ?", (event.user_id,))


# -- queries ------------------------------------------------------------------------------------------


class Share(msgspec.Struct):
    since: str | None
    created_at: str


class PartnerEntry(msgspec.Struct):
    username: str
    display_name: str
    since: str | None
    created_at: str


class Partners(msgspec.Struct):
    """GET /api/partners: whom I share with, who shares with me, and my timeline setting."""

    shared_by_me: list[PartnerEntry]
    shared_with_me: list[PartnerEntry]
    merge_partners: bool


class SharedDay(msgspec.Struct):
    date: str
    photos: list[SharedPhoto]


class SharedTimelinePage(msgspec.Struct):
    days: list[SharedDay]
    cursor: str | None


def share_of(conn: sqlite3.Connection, owner: str, partner: str) -> Share | None:
    found = conn.execute("SELECT since, created_at FROM partner_share WHERE owner = ? AND partner = ?",
                         (owner, partner)).fetchone()
    return Share(*found) if found else None


def count_shared(conn: sqlite3.Connection, owner: str) -> int:
    return conn.execute("SELECT count(*) FROM partner_share WHERE owner = ?", (owner,)).fetchone()[0]


def merges(conn: sqlite3.Connection, user_id: str) -> bool:
    return conn.execute("SELECT 1 FROM partner_merge WHERE user_id = ?", (user_id,)).fetchone() is not None


def lists(conn: sqlite3.Connection, user_id: str) -> Partners:
    mine = conn.execute(
        "SELECT u.username, u.display_name, s.since, s.created_at FROM partner_share s JOIN app_user u ON u.id = s.partner "
        "WHERE s.owner = ? ORDER BY u.name_key", (user_id,)).fetchall()
    theirs = conn.execute(
        "SELECT u.username, u.display_name, s.since, s.created_at FROM partner_share s JOIN app_user u ON u.id = s.owner "
        "WHERE s.partner = ? ORDER BY u.name_key", (user_id,)).fetchall()
    return Partners([PartnerEntry(*r) for r in mine], [PartnerEntry(*r) for r in theirs], merges(conn, user_id))


def sharers_of(conn: sqlite3.Connection, partner: str) -> list[tuple[str, str, str | None]]:
    """(owner id, owner username, since) of every library shared with `partner`."""
    return conn.execute(
        "SELECT s.owner, u.username, s.since FROM partner_share s JOIN app_user u ON u.id = s.owner "
        "WHERE s.partner = ? ORDER BY s.owner", (partner,)).fetchall()


PARTNER_VIEWER_SQL = (
    "SELECT p.owner FROM photo p JOIN partner_share s ON s.owner = p.owner AND s.partner = ?2 "
    "WHERE p.id = ?1 AND p.state = 'library' AND p.archived = 0 AND (s.since IS NULL OR p.taken_local >= s.since)"
)


def partner_viewer_owner(conn: sqlite3.Connection, viewer: str, photo_id: str) -> str | None:
    """The owner of `photo_id` when they share it with `viewer` as a partner (library items,
    not archived, taken on or after the share's `since` only)."""
    found = conn.execute(PARTNER_VIEWER_SQL, (photo_id, viewer)).fetchone()
    return found[0] if found else None


_COLS = ", ".join("p." + c for c in COLUMNS)


def _branch(since: str | None, cursor: bool) -> str:
    # As the owner's own timeline: library items, not archived (partners never see the
    # archive, the trash or the vault), walking the same `photo_shown` index.
    where = "p.owner = ? AND p.state = 'library' AND p.archived = 0"
    if since is not None:
        where += " AND p.taken_local >= ?"
    if cursor:
        where += " AND (p.taken_local, p.id) < (?, ?)"
    return (f"SELECT * FROM (SELECT {_COLS} FROM photo p WHERE {where} "
            f"ORDER BY p.taken_local DESC, p.id DESC LIMIT ?)")


def merged_sql(sinces: list[str | None], cursor: bool) -> str:
    """One page of several libraries newest first: a bounded index walk per library, merged."""
    return (" UNION ALL ".join(_branch(s, cursor) for s in sinces)
            + " ORDER BY 15 DESC, 1 DESC LIMIT ?")  # taken_local, id (column positions)


def _timeline(conn: sqlite3.Connection, libraries: list[tuple[str, str, str | None]], cursor: str | None,
              limit: int | None) -> SharedTimelinePage:
    n = check_limit(limit)
    after = decode_cursor(cursor, 2) if cursor else None
    args: list[Any] = []
    for owner, _, since in libraries:
        args.append(owner)
        if since is not None:
            args.append(since)
        if after is not None:
            args += after
        args.append(n + 1)
    args.append(n + 1)
    rows = conn.execute(merged_sql([s for _, _, s in libraries], after is not None), args).fetchall()
    names = {owner: name for owner, name, _ in libraries}
    more = len(rows) > n
    rows = rows[:n]
    days: list[SharedDay] = []
    for row in rows:
        photo = shared_view(row, names[row[1]])
        day = _local_day(photo)
        if not days or days[-1].date != day:
            days.append(SharedDay(day, []))
        days[-1].photos.append(photo)
    return SharedTimelinePage(days, encode_cursor(rows[-1][14], rows[-1][0]) if more else None)


def partner_timeline(conn: sqlite3.Connection, viewer: str, username: str, cursor: str | None = None,
                     limit: int | None = None) -> SharedTimelinePage:
    """The library `username` shares with `viewer`, newest first (404 when they share none)."""
    for owner, name, since in sharers_of(conn, viewer):
        if name.casefold() == str(username).casefold():
            return _timeline(conn, [(owner, name, since)], cursor, limit)
    raise NotFound(f"{username!r} shares no library with you")


def merged_timeline(conn: sqlite3.Connection, viewer: str, viewer_name: str, cursor: str | None = None,
                    limit: int | None = None) -> SharedTimelinePage | None:
    """The caller's timeline with their partners' items, each with its owner; None when the
    caller does not merge, or nobody shares with them (the plain timeline answers then)."""
    if not merges(conn, viewer):
        return None
    sharers = sharers_of(conn, viewer)
    if not sharers:
        return None
    return _timeline(conn, [(viewer, viewer_name, None), *sharers], cursor, limit)


def shared_owner(conn: sqlite3.Connection, viewer: str, photo_id: str) -> str | None:
    """Whose item `photo_id` is, when `viewer` may see it without owning it: through a shared
    album they own or belong to, or as a partner. None: it is not theirs to see (404)."""
    from .members import album_viewer_owner

    return album_viewer_owner(conn, viewer, photo_id) or partner_viewer_owner(conn, viewer, photo_id)
