"""The shared-albums read model: memberships, who may see which item, and the members' share of
the sync feed (docs/sharing.md, docs/sync.md "Shared albums").

The projector reads only its own tables (an album's owner and items, whose each item is), never
the albums or library read models, so a rebuild folds the log to the same rows as incremental
appends did. Feed rows carry ids only; `shared_rows_after` turns them into wire data when a page
is sent, from what the caller may see at that moment.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

import msgspec

from ..accounts import UserDeleted
from ..albums import AlbumCreated, AlbumDeleted, AlbumPhotosAdded, AlbumPhotosRemoved
from ..eventstore import RecordedEvent
from ..members import AlbumMemberAdded, AlbumMemberRemoved
from ..photos import PhotoPurged
from ..projection import Projector
from .library import PHOTO_SELECT, PhotoView, rfc3339_us, to_view


class FeedIds(msgspec.Struct, kw_only=True, omit_defaults=True):
    photo_ids: list[str] = []
    role: str | None = None


_json = msgspec.json.Encoder()
_ids = msgspec.json.Decoder(FeedIds)


class MembersProjector(Projector):
    name = "members"
    sql_file = "members.sql"

    # -- albums and their items ------------------------------------------------------------------
    def on_AlbumCreated(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumCreated)
        if recorded.owner is not None:
            conn.execute(f"INSERT OR REPLACE INTO {self.t.member_album} VALUES (?, ?)", (event.album_id, recorded.owner))

    def on_AlbumDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumDeleted)
        t = self.t
        members = self._members(conn, event.album_id)
        # What the feeds said about the album goes; each member is told only that it is gone.
        gone = conn.execute(f"SELECT owner, position, album_id FROM {t.shared_feed} WHERE album_id = ?",
                            (event.album_id,)).fetchall()
        conn.executemany(f"DELETE FROM {t.shared_feed_ref} WHERE owner = ? AND position = ? AND album_id = ?", gone)
        conn.execute(f"DELETE FROM {t.shared_feed} WHERE album_id = ?", (event.album_id,))
        for user_id in members:
            self._feed(conn, recorded, user_id, "album.left", event.album_id, FeedIds())
        conn.execute(f"DELETE FROM {t.album_member} WHERE album_id = ?", (event.album_id,))
        conn.execute(f"DELETE FROM {t.member_album_photo} WHERE album_id = ?", (event.album_id,))
        conn.execute(f"DELETE FROM {t.member_album} WHERE album_id = ?", (event.album_id,))

    def on_AlbumPhotosAdded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumPhotosAdded)
        owner = self._owner(conn, event.album_id)
        if owner is None:
            return
        whose = event.by or owner
        conn.executemany(f"INSERT OR IGNORE INTO {self.t.member_album_photo} VALUES (?, ?, ?)",
                         [(event.album_id, p, whose) for p in event.photo_ids])
        for user_id in self._audience(conn, event.album_id, owner):
            if user_id != whose:
                self._feed(conn, recorded, user_id, "album.shared_added", event.album_id, FeedIds(photo_ids=list(event.photo_ids)))

    def on_AlbumPhotosRemoved(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumPhotosRemoved)
        owner = self._owner(conn, event.album_id)
        if owner is None:
            return
        whose = self._item_owners(conn, event.album_id, event.photo_ids)
        conn.executemany(f"DELETE FROM {self.t.member_album_photo} WHERE album_id = ? AND photo_id = ?",
                         [(event.album_id, p) for p in event.photo_ids])
        for user_id in self._audience(conn, event.album_id, owner):
            told = [p for p in event.photo_ids if p in whose and whose[p] != user_id]
            if told:
                self._feed(conn, recorded, user_id, "album.shared_removed", event.album_id, FeedIds(photo_ids=told))

    # -- memberships ---------------------------------------------------------------------------------
    def on_AlbumMemberAdded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumMemberAdded)
        t = self.t
        conn.execute(f"INSERT OR REPLACE INTO {t.album_member} VALUES (?, ?, ?, ?)",
                     (event.album_id, event.user_id, event.role, rfc3339_us(recorded.recorded_us)))
        items = [r[0] for r in conn.execute(
            f"SELECT photo_id FROM {t.member_album_photo} WHERE album_id = ? AND owner != ? ORDER BY photo_id",
            (event.album_id, event.user_id))]
        self._feed(conn, recorded, event.user_id, "album.joined", event.album_id, FeedIds(photo_ids=items, role=event.role))

    def on_AlbumMemberRemoved(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, AlbumMemberRemoved)
        conn.execute(f"DELETE FROM {self.t.album_member} WHERE album_id = ? AND user_id = ?", (event.album_id, event.user_id))
        self._feed(conn, recorded, event.user_id, "album.left", event.album_id, FeedIds())

    # -- an item leaving and coming back ---------------------------------------------------------------
    # Trashed or vaulted, an item leaves every album view at once (the read side filters by state);
    # these rows tell the phones of everyone else who saw it, and bring it back on restore.
    def on_PhotoTrashed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._state_changed(conn, recorded, "album.shared_removed")

    def on_PhotoMovedToVault(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._state_changed(conn, recorded, "album.shared_removed")

    def on_PhotoRestored(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._state_changed(conn, recorded, "album.shared_added")

    def on_PhotoLeftVault(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._state_changed(conn, recorded, "album.shared_added")

    # Its owner re-tags, describes or re-dates it: the others get the item as it is now.
    def on_PhotoDescribed(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._state_changed(conn, recorded, "album.shared_updated")

    def on_PhotoTagsSet(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._state_changed(conn, recorded, "album.shared_updated")

    def on_PhotoRedated(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        self._state_changed(conn, recorded, "album.shared_updated")

    def _state_changed(self, conn: sqlite3.Connection, recorded: RecordedEvent, type_: str) -> None:
        photo_id = recorded.event.photo_id  # type: ignore[attr-defined]
        for album_id, whose in conn.execute(f"SELECT album_id, owner FROM {self.t.member_album_photo} WHERE photo_id = ? "
                                            f"ORDER BY album_id", (photo_id,)).fetchall():
            album_owner = self._owner(conn, album_id)
            if album_owner is None:
                continue
            for user_id in self._audience(conn, album_id, album_owner):
                if user_id != whose:
                    self._feed(conn, recorded, user_id, type_, album_id, FeedIds(photo_ids=[photo_id]))

    # -- deletion ------------------------------------------------------------------------------------
    def on_PhotoPurged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        photo_id = recorded.event.photo_id  # type: ignore[attr-defined]
        t = self.t
        # Earlier rows stop naming it...
        for key in conn.execute(f"SELECT owner, position, album_id FROM {t.shared_feed_ref} WHERE photo_id = ?",
                                (photo_id,)).fetchall():
            found = conn.execute(f"SELECT data FROM {t.shared_feed} WHERE owner = ? AND position = ? AND album_id = ?",
                                 key).fetchone()
            if found is not None:
                data = _ids.decode(found[0])
                data.photo_ids = [p for p in data.photo_ids if p != photo_id]
                conn.execute(f"UPDATE {t.shared_feed} SET data = ? WHERE owner = ? AND position = ? AND album_id = ?",
                             (_json.encode(data), *key))
        conn.execute(f"DELETE FROM {t.shared_feed_ref} WHERE photo_id = ?", (photo_id,))
        # ...and whoever could see it through an album gets the tombstone (its id, nothing else).
        for album_id, whose in conn.execute(f"SELECT album_id, owner FROM {t.member_album_photo} WHERE photo_id = ?",
                                            (photo_id,)).fetchall():
            album_owner = self._owner(conn, album_id)
            if album_owner is None:
                continue
            for user_id in self._audience(conn, album_id, album_owner):
                if user_id != whose:
                    self._feed(conn, recorded, user_id, "album.shared_removed", album_id, FeedIds(photo_ids=[photo_id]),
                               refs=False)
        conn.execute(f"DELETE FROM {t.member_album_photo} WHERE photo_id = ?", (photo_id,))

    def on_UserDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserDeleted)
        t = self.t
        conn.execute(f"DELETE FROM {t.shared_feed} WHERE owner = ?", (event.user_id,))
        conn.execute(f"DELETE FROM {t.shared_feed_ref} WHERE owner = ?", (event.user_id,))
        conn.execute(f"DELETE FROM {t.album_member} WHERE user_id = ?", (event.user_id,))

    # -- helpers -------------------------------------------------------------------------------------
    def _owner(self, conn: sqlite3.Connection, album_id: str) -> str | None:
        found = conn.execute(f"SELECT owner FROM {self.t.member_album} WHERE album_id = ?", (album_id,)).fetchone()
        return found[0] if found else None

    def _members(self, conn: sqlite3.Connection, album_id: str) -> list[str]:
        return [r[0] for r in conn.execute(
            f"SELECT user_id FROM {self.t.album_member} WHERE album_id = ? ORDER BY user_id", (album_id,))]

    def _audience(self, conn: sqlite3.Connection, album_id: str, owner: str) -> list[str]:
        """Everyone who sees the album's items: its owner and its members."""
        return [owner, *self._members(conn, album_id)]

    def _item_owners(self, conn: sqlite3.Connection, album_id: str, photo_ids: Sequence[str]) -> dict[str, str]:
        marks = ",".join("?" * len(photo_ids))
        return dict(conn.execute(
            f"SELECT photo_id, owner FROM {self.t.member_album_photo} WHERE album_id = ? AND photo_id IN ({marks})",
            (album_id, *photo_ids)).fetchall())

    def _feed(self, conn: sqlite3.Connection, recorded: RecordedEvent, user_id: str, type_: str, album_id: str,
              data: FeedIds, *, refs: bool = True) -> None:
        t = self.t
        conn.execute(f"INSERT OR REPLACE INTO {t.shared_feed} VALUES (?, ?, ?, ?, ?, ?)",
                     (user_id, recorded.position, type_, rfc3339_us(recorded.recorded_us), album_id, _json.encode(data)))
        if refs and data.photo_ids:
            conn.executemany(f"INSERT OR IGNORE INTO {t.shared_feed_ref} VALUES (?, ?, ?, ?)",
                             [(p, user_id, recorded.position, album_id) for p in data.photo_ids])


# -- queries ------------------------------------------------------------------------------------------


class Member(msgspec.Struct):
    username: str
    display_name: str
    role: str  # owner | contributor | viewer
    since: str | None = None


def album_owner(conn: sqlite3.Connection, album_id: str) -> str | None:
    found = conn.execute("SELECT owner FROM album WHERE id = ?", (album_id,)).fetchone()
    return found[0] if found else None


def access(conn: sqlite3.Connection, user_id: str, album_id: str) -> str | None:
    """`owner`, `contributor` or `viewer`: what `user_id` is to the album; None when it is not
    theirs to know about (answered 404, exactly like an album that does not exist)."""
    found = conn.execute(
        "SELECT a.owner = ?1, m.role FROM album a LEFT JOIN album_member m ON m.album_id = a.id AND m.user_id = ?1 "
        "WHERE a.id = ?2", (user_id, album_id)).fetchone()
    if found is None:
        return None
    if found[0]:
        return "owner"
    return found[1]


def role_of(conn: sqlite3.Connection, album_id: str, user_id: str) -> str | None:
    found = conn.execute("SELECT role FROM album_member WHERE album_id = ? AND user_id = ?", (album_id, user_id)).fetchone()
    return found[0] if found else None


def count(conn: sqlite3.Connection, album_id: str) -> int:
    return conn.execute("SELECT count(*) FROM album_member WHERE album_id = ?", (album_id,)).fetchone()[0]


def items_of(conn: sqlite3.Connection, album_id: str, user_id: str) -> list[str]:
    """The items `user_id` contributed to the album (all states: a trashed one leaves too)."""
    return [r[0] for r in conn.execute(
        "SELECT photo_id FROM member_album_photo WHERE album_id = ? AND owner = ? ORDER BY photo_id", (album_id, user_id))]


def item_owners(conn: sqlite3.Connection, album_id: str, photo_ids: Sequence[str]) -> dict[str, str]:
    marks = ",".join("?" * len(photo_ids))
    return dict(conn.execute(
        f"SELECT photo_id, owner FROM member_album_photo WHERE album_id = ? AND photo_id IN ({marks})",
        (album_id, *photo_ids)).fetchall())


def albums_of_member(conn: sqlite3.Connection, user_id: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT album_id FROM album_member WHERE user_id = ? ORDER BY album_id", (user_id,))]


def members_of(conn: sqlite3.Connection, album_id: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT user_id FROM album_member WHERE album_id = ? ORDER BY user_id", (album_id,))]


def list_members(conn: sqlite3.Connection, album_id: str) -> list[Member]:
    """The album's owner first, then its members by username."""
    out: list[Member] = []
    owner = conn.execute(
        "SELECT u.username, u.display_name FROM album a JOIN app_user u ON u.id = a.owner WHERE a.id = ?", (album_id,)
    ).fetchone()
    if owner is not None:
        out.append(Member(owner[0], owner[1], "owner"))
    out.extend(Member(r[0], r[1], r[2], r[3]) for r in conn.execute(
        "SELECT u.username, u.display_name, m.role, m.since FROM album_member m JOIN app_user u ON u.id = m.user_id "
        "WHERE m.album_id = ? ORDER BY u.name_key", (album_id,)))
    return out


def shared_album_rows(conn: sqlite3.Connection, user_id: str) -> list[tuple[Any, ...]]:
    """(id, name, created_at, version, role, owner username) of the albums shared with `user_id`."""
    return conn.execute(
        "SELECT a.id, a.name, a.created_at, a.version, m.role, u.username FROM album_member m "
        "JOIN album a ON a.id = m.album_id JOIN app_user u ON u.id = a.owner "
        "WHERE m.user_id = ? ORDER BY a.created_at DESC, a.id", (user_id,)).fetchall()


def has_members(conn: sqlite3.Connection, album_id: str) -> bool:
    return conn.execute("SELECT 1 FROM album_member WHERE album_id = ? LIMIT 1", (album_id,)).fetchone() is not None


ALBUM_VIEWER_SQL = (
    "SELECT p.owner FROM photo p WHERE p.id = ?1 AND p.state = 'library' AND EXISTS ("
    "SELECT 1 FROM member_album_photo ap JOIN member_album a ON a.album_id = ap.album_id "
    "WHERE ap.photo_id = ?1 AND (a.owner = ?2 OR EXISTS ("
    "SELECT 1 FROM album_member m WHERE m.album_id = ap.album_id AND m.user_id = ?2)))"
)


def album_viewer_owner(conn: sqlite3.Connection, viewer: str, photo_id: str) -> str | None:
    """The owner of `photo_id` when `viewer` may see it through an album they own or belong to
    (only items in the library: trashed, archived and vaulted ones are nobody else's business)."""
    found = conn.execute(ALBUM_VIEWER_SQL, (photo_id, viewer)).fetchone()
    return found[0] if found else None


# -- the feed, as sent ---------------------------------------------------------------------------------


class SharedPhoto(PhotoView, kw_only=True):
    """An item as someone other than its owner sees it: with the owner's username."""

    owner: str


class SharedAlbumData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`album.joined`, `album.shared_added` and `album.shared_updated`: the album (joined only)
    and the items the caller may see now; `album.shared_removed`: the ids to drop; `album.left`:
    nothing."""

    name: str | None = None
    owner: str | None = None
    role: str | None = None
    photos: list[SharedPhoto] | None = None
    photo_ids: list[str] | None = None


SHARED_FEED_SQL = (
    "SELECT position, type, at, NULL, album_id, data FROM shared_feed WHERE owner = ? AND position > ? "
    "ORDER BY position, album_id LIMIT ?"
)


def shared_photos(conn: sqlite3.Connection, viewer: str, album_id: str, photo_ids: Sequence[str]) -> list[SharedPhoto]:
    """Those of `photo_ids` that `viewer` may see in the album now, with their owners."""
    if not photo_ids or access(conn, viewer, album_id) is None:
        return []
    marks = ",".join("?" * len(photo_ids))
    rows = conn.execute(
        f"{PHOTO_SELECT.replace('FROM photo p', ', u.username FROM photo p')} "
        f"JOIN member_album_photo ap ON ap.photo_id = p.id AND ap.album_id = ? JOIN app_user u ON u.id = p.owner "
        f"WHERE p.state = 'library' AND p.id IN ({marks}) ORDER BY p.id", (album_id, *photo_ids)).fetchall()
    return [shared_view(r, r[-1]) for r in rows]


def shared_view(row: Sequence[Any], owner: str) -> SharedPhoto:
    return to_view(row, SharedPhoto, owner=owner)  # type: ignore[return-value]


def shared_rows_after(conn: sqlite3.Connection, owner: str, after: int, limit: int) -> list[tuple[Any, ...]]:
    """`owner`'s share rows after `after`, in the sync feed's row shape, their data made now."""
    out = []
    for position, type_, at, _, album_id, raw in conn.execute(SHARED_FEED_SQL, (owner, after, limit)).fetchall():
        ids = _ids.decode(raw)
        data = SharedAlbumData()
        if type_ == "album.joined":
            found = conn.execute("SELECT a.name, u.username FROM album a JOIN app_user u ON u.id = a.owner WHERE a.id = ?",
                                 (album_id,)).fetchone()
            if found is not None and access(conn, owner, album_id) is not None:
                data.name, data.owner = found
                data.role = ids.role
            data.photos = shared_photos(conn, owner, album_id, ids.photo_ids)
        elif type_ in ("album.shared_added", "album.shared_updated"):
            data.photos = shared_photos(conn, owner, album_id, ids.photo_ids)
        elif type_ == "album.shared_removed":
            data.photo_ids = ids.photo_ids
        out.append((position, type_, at, None, album_id, _json.encode(data)))
    return out


def album_owner_name(conn: sqlite3.Connection, album_id: str) -> str | None:
    found = conn.execute("SELECT u.username FROM album a JOIN app_user u ON u.id = a.owner WHERE a.id = ?",
                         (album_id,)).fetchone()
    return found[0] if found else None
