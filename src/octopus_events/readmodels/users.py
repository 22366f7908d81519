"""The users read model: sign-in lookups, profiles and the admin's user list."""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

from ..accounts import (
    DisplayNameSeal, EmailSeal, User, UserDeleted, UserEmailSet, UserNames, UserProfileChanged, UserRegistered,
    unseal_user,
)
from ..eventstore import RecordedEvent
from ..projection import Projector
from .library import rfc3339_us


class UsersProjector(Projector):
    name = "users"
    sql_file = "users.sql"

    def on_UserRegistered(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserRegistered)
        names = unseal_user(conn, event, UserNames)
        if names is None:
            return  # the account was deleted and its key shredded
        conn.execute(
            f"INSERT OR REPLACE INTO {self.t.app_user} (id, name_key, username, display_name, admin, quota_bytes, "
            f"created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event.user_id, names.username.casefold(), names.username, names.display_name,
             int(event.admin), event.quota_bytes, rfc3339_us(recorded.recorded_us)),
        )

    def on_UserProfileChanged(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserProfileChanged)
        seal = unseal_user(conn, event, DisplayNameSeal)
        if seal is not None:
            conn.execute(f"UPDATE {self.t.app_user} SET display_name = ? WHERE id = ?", (seal.display_name, event.user_id))

    def on_UserEmailSet(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserEmailSet)
        seal = unseal_user(conn, event, EmailSeal)
        if seal is not None:
            conn.execute(f"UPDATE {self.t.app_user} SET email = ? WHERE id = ?", (seal.email, event.user_id))

    def on_UserDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserDeleted)
        conn.execute(f"DELETE FROM {self.t.app_user} WHERE id = ?", (event.user_id,))


_COLS = "id, username, display_name, admin, quota_bytes, created_at, email"


def _user(row: Sequence[Any]) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6])


def get(conn: sqlite3.Connection, user_id: str) -> User | None:
    row = conn.execute(f"SELECT {_COLS} FROM app_user WHERE id = ?", (user_id,)).fetchone()
    return _user(row) if row else None


def find_by_name(conn: sqlite3.Connection, username: str) -> User | None:
    row = conn.execute(f"SELECT {_COLS} FROM app_user WHERE name_key = ?", (str(username).casefold(),)).fetchone()
    return _user(row) if row else None


def all_users(conn: sqlite3.Connection) -> list[User]:
    return [_user(r) for r in conn.execute(f"SELECT {_COLS} FROM app_user ORDER BY name_key")]


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM app_user").fetchone()[0]


def quota_of(conn: sqlite3.Connection, user_id: str) -> int:
    row = conn.execute("SELECT quota_bytes FROM app_user WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else 0
