"""Dead properties (PROPPATCH) in dav/index.db, not WsgiDAV's shelve.

A property is keyed by its resource's ref URL, which holds the device's filename. A shelve
(dbm) file keeps deleted keys' bytes in place, so after a photo's permanent deletion its name
could still be read from it (CONTRACT.md, Deletion). index.db runs with `secure_delete` and no
WAL, so deleting a row zeroes it; and a purge from the CLI or trash expiry, which has no WsgiDAV
app, can delete the rows too (`Index.forget_props`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Index


def _child_prefix(url: str) -> str:
    return url.rstrip("/") + "/"


class SqlitePropertyManager:
    """WsgiDAV's property manager interface over the `dav_prop` table."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def get_properties(self, norm_url: str, environ: Any = None) -> list[str]:
        return [r[0] for r in self.index.db.execute("SELECT name FROM dav_prop WHERE url = ?", (norm_url,))]

    def get_property(self, norm_url: str, name: str, environ: Any = None) -> bytes | None:
        row = self.index.db.execute("SELECT value FROM dav_prop WHERE url = ? AND name = ?", (norm_url, name)).fetchone()
        return bytes(row[0]) if row else None

    def write_property(self, norm_url: str, name: str, property_value: bytes, dry_run: bool = False, environ: Any = None) -> None:
        if dry_run:
            return
        with self.index.write_lock:
            self.index.db.execute("INSERT OR REPLACE INTO dav_prop (url, name, value) VALUES (?, ?, ?)",
                                  (norm_url, name, property_value))

    def remove_property(self, norm_url: str, name: str, dry_run: bool = False, environ: Any = None) -> None:
        if dry_run:
            return
        with self.index.write_lock:
            self.index.db.execute("DELETE FROM dav_prop WHERE url = ? AND name = ?", (norm_url, name))

    def remove_properties(self, norm_url: str, environ: Any = None) -> None:
        self.index.forget_props(norm_url)

    def copy_properties(self, src_url: str, dest_url: str, environ: Any = None) -> None:
        with self.index.write_lock:
            self.index.db.execute("DELETE FROM dav_prop WHERE url = ?", (dest_url,))
            self.index.db.execute("INSERT INTO dav_prop (url, name, value) SELECT ?, name, value FROM dav_prop WHERE url = ?",
                                  (dest_url, src_url))

    def move_properties(self, src_url: str, dest_url: str, with_children: bool, environ: Any = None) -> None:
        with self.index.write_lock:
            db = self.index.db
            db.execute("DELETE FROM dav_prop WHERE url = ?", (dest_url,))
            db.execute("UPDATE dav_prop SET url = ? WHERE url = ?", (dest_url, src_url))
            if with_children:
                old, new = _child_prefix(src_url), _child_prefix(dest_url)
                db.execute("DELETE FROM dav_prop WHERE substr(url, 1, ?) = ?", (len(new), new))
                db.execute("UPDATE dav_prop SET url = ? || substr(url, ?) WHERE substr(url, 1, ?) = ?",
                           (new, len(old) + 1, len(old), old))
