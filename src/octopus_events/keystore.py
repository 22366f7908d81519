"""The keystore table: secrets that must never enter the immutable log.

Per-photo data keys (crypto-shredding: destroy the row and every sealed copy of the photo's
personal fields in the log is unreadable), per-user keys (album names, profile), password
hashes, session token digests and wrapped vault keys. Rows are deleted with `secure_delete` on,
and deleting code checkpoints the WAL so the old page images do not linger either.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Iterable


def put(conn: sqlite3.Connection, key_id: str, purpose: str, owner: str | None, material: bytes) -> None:
    conn.execute(
        "INSERT INTO keystore (key_id, purpose, owner, material, created_us) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (key_id) DO UPDATE SET material = excluded.material",
        (key_id, purpose, owner, material, time.time_ns() // 1000),
    )


def get(conn: sqlite3.Connection, key_id: str) -> bytes | None:
    row = conn.execute("SELECT material FROM keystore WHERE key_id = ?", (key_id,)).fetchone()
    return row[0] if row else None


def get_many(conn: sqlite3.Connection, key_ids: Iterable[str]) -> dict[str, bytes]:
    ids = list(dict.fromkeys(key_ids))
    out: dict[str, bytes] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ",".join("?" * len(part))
        out.update(conn.execute(f"SELECT key_id, material FROM keystore WHERE key_id IN ({marks})", part).fetchall())
    return out


def delete(conn: sqlite3.Connection, key_id: str) -> None:
    conn.execute("DELETE FROM keystore WHERE key_id = ?", (key_id,))


def delete_prefix(conn: sqlite3.Connection, prefix: str) -> None:
    """Delete every key whose id starts with `prefix` (all generations of a photo's key)."""
    conn.execute("DELETE FROM keystore WHERE key_id >= ? AND key_id < ?", (prefix, prefix + "\uffff"))


def delete_owner(conn: sqlite3.Connection, owner: str, purpose: str | None = None) -> None:
    if purpose is None:
        conn.execute("DELETE FROM keystore WHERE owner = ?", (owner,))
    else:
        conn.execute("DELETE FROM keystore WHERE owner = ? AND purpose = ?", (owner, purpose))


def rows_for(conn: sqlite3.Connection, owner: str, purpose: str) -> list[tuple[str, bytes]]:
    return conn.execute(
        "SELECT key_id, material FROM keystore WHERE owner = ? AND purpose = ?", (owner, purpose)
    ).fetchall()
