"""The devices read model: each user's devices (app passwords) by name and creation time."""

from __future__ import annotations

import sqlite3

import msgspec

from ..accounts import UserDeleted, unseal_user
from ..devices import DeviceAdded, DeviceNameSeal, DeviceRevoked
from ..eventstore import RecordedEvent
from ..projection import Projector
from .library import rfc3339_us


class DevicesProjector(Projector):
    name = "devices"
    sql_file = "devices.sql"

    def on_DeviceAdded(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, DeviceAdded)
        seal = unseal_user(conn, event, DeviceNameSeal)
        if seal is None:
            return  # the account was deleted and its key shredded
        conn.execute(f"INSERT OR REPLACE INTO {self.t.device} VALUES (?, ?, ?, ?)",
                     (event.device_id, event.user_id, seal.name, rfc3339_us(recorded.recorded_us)))

    def on_DeviceRevoked(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, DeviceRevoked)
        conn.execute(f"DELETE FROM {self.t.device} WHERE id = ?", (event.device_id,))

    def on_UserDeleted(self, conn: sqlite3.Connection, recorded: RecordedEvent) -> None:
        event = recorded.event
        assert isinstance(event, UserDeleted)
        conn.execute(f"DELETE FROM {self.t.device} WHERE owner = ?", (event.user_id,))


class DeviceRow(msgspec.Struct):
    id: str
    name: str
    created_at: str


def get(conn: sqlite3.Connection, owner: str, device_id: str) -> DeviceRow | None:
    row = conn.execute("SELECT id, name, created_at FROM device WHERE id = ? AND owner = ?", (device_id, owner)).fetchone()
    return DeviceRow(*row) if row else None


def of_owner(conn: sqlite3.Connection, owner: str) -> list[DeviceRow]:
    return [DeviceRow(*r) for r in conn.execute(
        "SELECT id, name, created_at FROM device WHERE owner = ? ORDER BY created_at DESC, rowid DESC", (owner,))]
