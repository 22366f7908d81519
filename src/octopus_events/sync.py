"""The sync feed for mobile clients: a versioned wire shape over one user's slice of the log.

Phones mirror a library by taking a snapshot once and then pulling "what changed since my
cursor". The wire shape here is deliberately separate from the internal event classes: an
internal event may be split, renamed or upcast, and clients must not notice. Each wire event is
built from one log row (plus, for a photo returning from the vault, the clear fields of its
upload), so a cursor is just a log position and "seen cursor N" means "seen everything up to N".

The wire events are built once, when their log events are appended, by the sync index read
model (readmodels/sync.py), which also shreds a photo's rows when it is purged or vaulted. A
pull reads that index by (owner, position) and sends the stored `data` objects as they are.

The protocol is described for client authors in docs/sync.md; change both together.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import sqlite3
import threading
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Iterator

import msgspec

from .database import connect
from .errors import BadRequest, Gone
from .eventstore import EventStore
from .readmodels.library import PHOTO_SELECT, PhotoView, to_view
from .readmodels.members import shared_rows_after
from .readmodels.sync import WIRE_DATA, rows_after

if TYPE_CHECKING:
    from .application import Octopus

PROTOCOL_VERSION = 1
"""Bumped only for a change an existing client would misread; additions stay in version 1."""

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_WAIT_S = 60.0

# -- wire shapes (protocol version 1; the `data` of each type: readmodels/sync.py WIRE_DATA) ----------


class SyncEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One change, with the cursor that points just after it. `data` is stored ready-encoded."""

    type: str
    cursor: str
    at: str
    photo_id: str | None = None
    album_id: str | None = None
    data: msgspec.Raw


class SyncPage(msgspec.Struct, kw_only=True):
    events: list[SyncEvent]
    cursor: str
    more: bool


class SnapshotAlbum(msgspec.Struct, kw_only=True):
    """An album with every member the client can know (photos in the library or the trash)."""

    id: str
    name: str
    created_at: str
    version: int
    photo_ids: list[str]


class Snapshot(msgspec.Struct, kw_only=True):
    photos: list[PhotoView]
    albums: list[SnapshotAlbum]
    cursor: str


# -- cursors ---------------------------------------------------------------------------------------

_CURSOR = re.compile(r"v(\d{1,4}):(\d{1,18})")


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"v{PROTOCOL_VERSION}:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The log position a cursor stands for (0 for none). BadRequest when it is not a cursor at
    all; Gone when it is one of an older protocol version this server no longer serves."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this server gave out") from None
    match = _CURSOR.fullmatch(text)
    if match is None or len(cursor) > 40:
        raise BadRequest("cursor: not a cursor this server gave out")
    if int(match.group(1)) != PROTOCOL_VERSION:
        raise Gone(f"cursor: sync protocol v{match.group(1)} is not served any more; start again from the snapshot")
    return int(match.group(2))


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
    return limit


def check_wait(wait: float | None) -> float:
    if wait is None:
        return 0.0
    if not 0 <= wait <= MAX_WAIT_S:
        raise BadRequest(f"wait: must be between 0 and {MAX_WAIT_S:g} seconds")
    return float(wait)


# -- reading the feed ------------------------------------------------------------------------------


class FeedRead(msgspec.Struct):
    page: SyncPage
    head: int
    """The log head the page was read at: a long-poll waits for commits beyond it."""


def read_feed(conn: sqlite3.Connection, owner: str, after: int, limit: int) -> FeedRead:
    """`owner`'s wire events after log position `after`, read in one transaction with the head
    they are checked against."""
    conn.execute("BEGIN")
    try:
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        if after > head:
            raise Gone(
                f"cursor: position {after} is beyond this server's log ({head}); it was probably restored "
                "from an older backup: start again from the snapshot"
            )
        rows = rows_after(conn, owner, after, limit + 1)
        # Shared albums put rows in their members' feeds too (docs/sync.md "Shared albums"):
        # both sources are in log order, so the page is their merge.
        shared = shared_rows_after(conn, owner, after, limit + 1)
        if shared:
            rows = sorted(rows + shared, key=lambda r: r[0])[:limit + 1]
    finally:
        conn.execute("COMMIT")
    more = len(rows) > limit
    if more:
        if rows[limit][0] == rows[limit - 1][0]:
            # A position may carry two rows (a contributor's add: the owner's album row and
            # their shared row); a cursor is a position, so a page never ends between them.
            split = rows[limit][0]
            rows = [r for r in rows[:limit] if r[0] != split] or [r for r in rows if r[0] == split]
        else:
            del rows[limit:]
    raw = msgspec.Raw
    events = [
        SyncEvent(type=r[1], cursor=encode_cursor(r[0]), at=r[2], photo_id=r[3], album_id=r[4], data=raw(r[5]))
        for r in rows
    ]
    cursor = events[-1].cursor if events else encode_cursor(after)
    return FeedRead(SyncPage(events=events, cursor=cursor, more=more), head)


# -- the snapshot ----------------------------------------------------------------------------------

SNAPSHOT_CHUNK = 500
"""Photos read, encoded and sent at a time: memory stays that many rows, whatever the library."""

SNAPSHOT_CACHE_KB = 2048
_encode = msgspec.json.Encoder().encode
_PHOTOS_SQL = f"{PHOTO_SELECT} WHERE p.owner = ? AND p.state IN ('library', 'trash') ORDER BY p.id"
_ALBUMS_SQL = "SELECT id, name, created_at, version FROM album WHERE owner = ? ORDER BY created_at, id"
_MEMBERS_SQL = (
    "SELECT ap.photo_id FROM album_photo ap JOIN photo p ON p.id = ap.photo_id "
    "WHERE ap.album_id = ? AND p.state IN ('library', 'trash') ORDER BY ap.position"
)


def snapshot_chunks(conn: sqlite3.Connection, owner: str) -> Iterator[bytes]:
    """`owner`'s snapshot as pieces of one JSON object, `{"photos": [...], "albums": [...],
    "cursor": ...}` (the `Snapshot` shape), SNAPSHOT_CHUNK photos a piece.

    All of it is read in one read transaction, held from the first piece until the last (or until
    the iterator is closed): in WAL mode that is one fixed view of the database, so the pieces are
    consistent at the cursor that ends them however many commits land meanwhile, and the writer
    is never blocked by it. `conn` must be this snapshot's own connection (docs/sync.md says what
    a long read costs the WAL)."""
    conn.execute("BEGIN")
    try:
        # The first read fixes the transaction's view; the head is read in it.
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        yield b'{"photos":['
        rows = conn.execute(_PHOTOS_SQL, (owner,))
        sep = b""
        while batch := rows.fetchmany(SNAPSHOT_CHUNK):
            yield sep + _encode([to_view(r) for r in batch])[1:-1]
            sep = b","
        yield b'],"albums":['
        sep = b""
        for album_id, name, created_at, version in conn.execute(_ALBUMS_SQL, (owner,)).fetchall():
            members = [r[0] for r in conn.execute(_MEMBERS_SQL, (album_id,))]
            yield sep + _encode(SnapshotAlbum(id=album_id, name=name, created_at=created_at, version=version,
                                              photo_ids=members))
            sep = b","
        yield b'],"cursor":' + _encode(encode_cursor(head)) + b"}"
    finally:
        conn.execute("COMMIT")


def read_snapshot(conn: sqlite3.Connection, owner: str) -> Snapshot:
    """The whole snapshot in memory (in-process callers and tests; HTTP streams the pieces)."""
    return msgspec.json.decode(b"".join(snapshot_chunks(conn, owner)), type=Snapshot)


# -- long-poll ---------------------------------------------------------------------------------------


class Waiters:
    """Requests waiting for a user's next event, woken by the event store's commit listener.

    A waiter is one future in a dict: nothing polls, nothing runs while it waits. The listener
    runs on whichever thread committed; it only looks at the dict under a lock and, when someone
    waits for one of the owners, hands the wake-up to that waiter's event loop. Appends by
    another process (the CLI) are not seen here: such a waiter times out and the client's next
    pull finds the events.
    """

    def __init__(self, store: EventStore | None = None) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str | None, int] = {}
        self._waiting: dict[str, dict[asyncio.Future[bool], int]] = {}
        if store is not None:
            store.add_commit_listener(self.committed)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())

    def committed(self, head: int, owners: Iterable[str | None]) -> None:
        """Commit listener: `owners` just had events committed, the last at or below `head`."""
        woken: list[asyncio.Future[bool]] = []
        with self._lock:
            for owner in owners:
                self._latest[owner] = head
                waiting = self._waiting.get(owner) if owner is not None else None
                if waiting:
                    woken.extend(f for f, seen in waiting.items() if seen < head)
        for future in woken:
            try:
                future.get_loop().call_soon_threadsafe(_wake, future)
            except RuntimeError:  # that loop has closed: its request is gone anyway
                pass

    async def wait(self, owner: str, seen_head: int, timeout: float) -> bool:
        """True as soon as an event of `owner` is committed beyond `seen_head` (at once if that
        already happened), False when `timeout` seconds pass first."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._latest.get(owner, 0) > seen_head:
                return True
            self._waiting.setdefault(owner, {})[future] = seen_head
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return False
        finally:
            with self._lock:
                waiting = self._waiting.get(owner)
                if waiting is not None:
                    waiting.pop(future, None)
                    if not waiting:
                        del self._waiting[owner]


def _wake(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(True)


# -- what the HTTP layer calls -------------------------------------------------------------------------


async def pull(octopus: Octopus, owner: str, cursor: str | None, limit: int | None = None,
               wait: float | None = None) -> SyncPage:
    """One page of `owner`'s feed after `cursor`; with `wait`, an empty page is held back until
    an event arrives or `wait` seconds pass."""
    n = check_limit(limit)
    seconds = check_wait(wait)
    after = decode_cursor(cursor)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        found = await octopus.read(lambda a=after: read_feed(octopus.store.reader(), owner, a, n))
        page = found.page
        remaining = deadline - loop.time()
        if page.events or page.more or remaining <= 0:
            return page
        if not await octopus.sync_waiters.wait(owner, found.head, remaining):
            return page
        # Skipped (shredded) events may have moved the cursor on; never hand out an older one.
        after = decode_cursor(page.cursor)


async def snapshot(octopus: Octopus, owner: str) -> Snapshot:
    return await octopus.read(lambda: read_snapshot(octopus.store.reader(), owner))


async def stream_snapshot(octopus: Octopus, owner: str) -> AsyncIterator[bytes]:
    """The snapshot's JSON pieces as the HTTP layer sends them: each piece is read on a reader
    thread when the client has taken the one before, so a slow client costs no memory.

    Its own connection, since the read transaction spans many reader-pool calls (any pool thread
    may run the next piece; never two at once) and must not leak into other requests' reads. It
    is closed, ending the transaction, when the stream ends, fails or the client goes away."""
    conn = await octopus.read(lambda: connect(octopus.store.path, role="reader"))
    # One pass over the owner's rows: a page once read is not read again, so a small cache is
    # as fast and keeps the snapshot's memory small (tests/test_http_snapshot.py holds it to that).
    conn.execute(f"PRAGMA cache_size=-{SNAPSHOT_CACHE_KB}")
    reading = _SnapshotReader(conn, snapshot_chunks(conn, owner))
    try:
        while (piece := await octopus.read(reading.next)) is not None:
            yield piece
    finally:
        await octopus.read(reading.close)


class _SnapshotReader:
    """One streamed snapshot's pieces and connection. The lock matters when the client goes away
    mid-piece: the cancelled request's thread is still reading, and closing must wait for it."""

    def __init__(self, conn: sqlite3.Connection, pieces: Iterator[bytes]) -> None:
        self._conn, self._pieces, self._lock = conn, pieces, threading.Lock()

    def next(self) -> bytes | None:
        with self._lock:
            return next(self._pieces, None)

    def close(self) -> None:
        with self._lock:
            self._pieces.close()  # its `finally` ends the read transaction
            self._conn.close()


__all__ = [
    "DEFAULT_LIMIT", "MAX_LIMIT", "MAX_WAIT_S", "PROTOCOL_VERSION", "WIRE_DATA", "FeedRead", "Snapshot",
    "SnapshotAlbum", "SyncEvent", "SyncPage", "Waiters", "decode_cursor", "encode_cursor", "pull", "read_feed",
    "read_snapshot", "snapshot", "snapshot_chunks", "stream_snapshot",
]
