"""Outgoing notifications: webhooks and ntfy for a few chosen kinds of event.

Two halves. The `notifications` projector (asynchronous) turns events into rows of an outbox
table, committed with its checkpoint, so a restart neither loses a notification nor makes one
twice. The `Notifier` (daemon threads, started only when a target is configured) closes quiet
upload runs, scans the trash once in a while, and sends outbox rows to every target with
retries and backoff, recording per-target state in `notification_delivery`.

Delivery is at least once: a crash between a successful send and recording it resends the same
notification under the same `X-Octopus-Delivery` id, and receivers drop the duplicate. Nothing
here runs on the append path; a dead or hanging endpoint only ever delays its own deliveries.
See docs/notifications.md.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import random
import sqlite3
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import msgspec

from .accounts import DeviceSeal, UserDeleted, UserSignedIn, unseal_user
from .database import WriterClosed
from .events import Event
from .eventstore import EventStore, Meta, RecordedEvent, Transaction
from .photos import PhotoUploaded
from .projection import Projector

if TYPE_CHECKING:
    from .application import Octopus
    from .config import NotificationsConfig

log = logging.getLogger(__name__)

KINDS = ("upload_batch_finished", "import_finished", "trash_purge_soon", "login_new_device", "shared_album_new_items")


# -- the import event ------------------------------------------------------------------------------


class ImportFinished(Event):
    """An `octopus import` run ended. Counts only: which files were imported is nobody's business
    but the library's."""

    user_id: str
    imported: int
    skipped: int
    failed: int


def import_stream(user_id: str) -> str:
    return f"import-{user_id}"


def record_import_finished(tx: Transaction, user_id: str, imported: int, skipped: int, failed: int) -> None:
    """Append `ImportFinished` for an import run (for the `import` command, inside its transaction)."""
    tx.append(
        import_stream(user_id), None,
        [ImportFinished(user_id=user_id, imported=imported, skipped=skipped, failed=failed)],
        meta=Meta(actor=user_id, owner=user_id),
    )


# -- the outbox projector --------------------------------------------------------------------------

_json = msgspec.json.Encoder()


def notification_id(key: str) -> str:
    """The delivery id for a dedup key: opaque, fixed length, and the same on every replay."""
    return "n" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _insert(conn: sqlite3.Connection, table: str, key: str, kind: str, user_id: str, at_us: int, data: dict[str, Any]) -> None:
    conn.execute(
        f"INSERT OR IGNORE INTO {table} (id, kind, user_id, at_us, data) VALUES (?, ?, ?, ?, ?)",
        (notification_id(key), kind, user_id, at_us, _json.encode(data).decode()),
    )


def _run_finished(conn: sqlite3.Connection, table: str, user_id: str, first_event_id: str, photos: int,
                  first_us: int, last_us: int) -> None:
    _insert(conn, table, f"upload_batch_finished:{user_id}:{first_event_id}", "upload_batch_finished", user_id, last_us,
            {"photos": photos, "started_at": rfc3339(first_us), "finished_at": rfc3339(last_us)})


def _album_run_finished(conn: sqlite3.Connection, table: str, user_id: str, album_id: str, first_event_id: str,
                        photos: int, first_us: int, last_us: int) -> None:
    _insert(conn, table, f"shared_album_new_items:{user_id}:{album_id}:{first_event_id}", "shared_album_new_items",
            user_id, last_us, {"album_id": album_id, "photos": photos, "started_at": rfc3339(first_us),
                               "finished_at": rfc3339(last_us)})


def _shared_album(conn: sqlite3.Connection, t: Any, recorded: RecordedEvent, quiet_us: int) -> None:
    """New items in a shared album, batched per (member, album) like upload runs: every member
    and the owner hear about items someone else added (docs/notifications.md). The projector
    keeps its own copy of albums' owners and members: during a rebuild it must not read other
    read models, which show the end of the log."""
    from .albums import AlbumCreated, AlbumDeleted, AlbumPhotosAdded
    from .members import AlbumMemberAdded, AlbumMemberRemoved

    event = recorded.event
    if isinstance(event, AlbumCreated):
        if recorded.owner is not None:
            conn.execute(f"INSERT OR REPLACE INTO {t.notification_album} VALUES (?, ?)", (event.album_id, recorded.owner))
    elif isinstance(event, AlbumDeleted):
        for table in (t.notification_album, t.notification_album_member, t.notification_album_run):
            conn.execute(f"DELETE FROM {table} WHERE album_id = ?", (event.album_id,))
    elif isinstance(event, AlbumMemberAdded):
        conn.execute(f"INSERT OR IGNORE INTO {t.notification_album_member} VALUES (?, ?)", (event.album_id, event.user_id))
    elif isinstance(event, AlbumMemberRemoved):
        conn.execute(f"DELETE FROM {t.notification_album_member} WHERE album_id = ? AND user_id = ?",
                     (event.album_id, event.user_id))
        conn.execute(f"DELETE FROM {t.notification_album_run} WHERE album_id = ? AND user_id = ?",
                     (event.album_id, event.user_id))
    elif isinstance(event, AlbumPhotosAdded):
        found = conn.execute(f"SELECT owner FROM {t.notification_album} WHERE album_id = ?", (event.album_id,)).fetchone()
        if found is None:
            return
        members = [r[0] for r in conn.execute(
            f"SELECT user_id FROM {t.notification_album_member} WHERE album_id = ? ORDER BY user_id", (event.album_id,))]
        if not members:
            return  # not shared: nobody else to tell
        adder = event.by or found[0]
        for user_id in [found[0], *members]:
            if user_id == adder:
                continue
            run = conn.execute(
                f"SELECT first_event_id, photos, first_us, last_us FROM {t.notification_album_run} "
                f"WHERE user_id = ? AND album_id = ?", (user_id, event.album_id)).fetchone()
            if run is not None and recorded.recorded_us - run[3] >= quiet_us:
                _album_run_finished(conn, t.notification_outbox, user_id, event.album_id, *run)
                run = None
            if run is None:
                run = (recorded.event_id, 0, recorded.recorded_us, recorded.recorded_us)
            conn.execute(f"INSERT OR REPLACE INTO {t.notification_album_run} VALUES (?, ?, ?, ?, ?, ?)",
                         (user_id, event.album_id, run[0], run[1] + len(event.photo_ids), run[2], recorded.recorded_us))


class NotificationsProjector(Projector):
    name = "notifications"
    sql_file = "notifications.sql"
    inline = False
    # A user's uploads count as one run until none of theirs arrived for this long. The projector
    # splits runs by event time (so a replay splits them the same way) and the Notifier closes
    # the last one by wall-clock time. Tests shorten it.
    batch_quiet_seconds: ClassVar[float] = 60.0

    def apply_batch(self, conn: sqlite3.Connection, batch: Sequence[RecordedEvent]) -> None:
        # Upload runs are folded in memory: a rebuild feeds thousands of uploads per call.
        runs: dict[str, list[Any] | None] = {}
        quiet_us = int(self.batch_quiet_seconds * 1_000_000)
        outbox, run_table = self.t.notification_outbox, self.t.notification_upload_run

        def load(user_id: str) -> list[Any] | None:
            if user_id not in runs:
                row = conn.execute(
                    f"SELECT first_event_id, photos, first_us, last_us FROM {run_table} WHERE user_id = ?", (user_id,)
                ).fetchone()
                runs[user_id] = list(row) if row else None
            return runs[user_id]

        for recorded in batch:
            event = recorded.event
            if isinstance(event, PhotoUploaded):
                owner = recorded.owner
                if owner is None:
                    continue
                run = load(owner)
                if run is not None and recorded.recorded_us - run[3] >= quiet_us:
                    _run_finished(conn, outbox, owner, run[0], run[1], run[2], run[3])
                    run = None
                if run is None:
                    runs[owner] = [recorded.event_id, 1, recorded.recorded_us, recorded.recorded_us]
                else:
                    run[1] += 1
                    run[3] = recorded.recorded_us
            elif isinstance(event, UserSignedIn):
                if not event.new_device:
                    continue
                seal = unseal_user(conn, event, DeviceSeal)
                # The key is gone once the account is deleted; the notice then says less.
                data = {"device": seal.device} if isinstance(seal, DeviceSeal) else {}
                _insert(conn, outbox, f"login_new_device:{recorded.event_id}", "login_new_device",
                        event.user_id, recorded.recorded_us, data)
            elif isinstance(event, ImportFinished):
                _insert(conn, outbox, f"import_finished:{recorded.event_id}", "import_finished", event.user_id,
                        recorded.recorded_us, {"imported": event.imported, "skipped": event.skipped, "failed": event.failed})
            elif isinstance(event, UserDeleted):
                # Device names are personal data; the account's erasure takes its notices along.
                runs[event.user_id] = None
                conn.execute(f"DELETE FROM {outbox} WHERE user_id = ?", (event.user_id,))
                conn.execute(f"DELETE FROM {self.t.notification_album_run} WHERE user_id = ?", (event.user_id,))
                conn.execute(f"DELETE FROM {self.t.notification_album_member} WHERE user_id = ?", (event.user_id,))
            elif type(event).__name__ in _SHARED_ALBUM_EVENTS:
                _shared_album(conn, self.t, recorded, quiet_us)
        for user_id, run in runs.items():
            if run is None:
                conn.execute(f"DELETE FROM {run_table} WHERE user_id = ?", (user_id,))
            else:
                conn.execute(
                    f"INSERT OR REPLACE INTO {run_table} (user_id, first_event_id, photos, first_us, last_us) "
                    "VALUES (?, ?, ?, ?, ?)", (user_id, *run),
                )


_SHARED_ALBUM_EVENTS = {"AlbumCreated", "AlbumDeleted", "AlbumMemberAdded", "AlbumMemberRemoved", "AlbumPhotosAdded"}


# -- delivery --------------------------------------------------------------------------------------

_DELIVERY_SCHEMA = """
CREATE TABLE IF NOT EXISTS notification_delivery (
    notification_id TEXT NOT NULL,
    target          TEXT NOT NULL,     -- 'webhook:<hash of URL>' or 'ntfy:<hash of URL>'; never the URL
    state           TEXT NOT NULL,     -- pending | delivered | failed
    attempts        INTEGER NOT NULL,
    created_us      INTEGER NOT NULL,
    next_attempt_us INTEGER NOT NULL,
    delivered_us    INTEGER,
    last_error      TEXT,
    PRIMARY KEY (notification_id, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notification_delivery_due ON notification_delivery (target, state, next_attempt_us);
"""
# Not in projections/: delivery state is not derived from the log. Keeping it out of the read
# model means a rebuild of the outbox (same ids) finds every delivery it already made.


class DeliveryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Timings of the Notifier. The defaults suit a real server; tests pass short ones."""

    # Waits before the 2nd, 3rd, … attempt; the last one repeats until `give_up_after`.
    backoff: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 3600.0)
    jitter: float = 0.2  # ± this fraction, so many failed deliveries do not retry in lockstep
    give_up_after: float = 86_400.0
    timeout: float = 5.0  # per socket operation of one request
    poll: float = 1.0  # how often the planner looks for new outbox rows and quiet upload runs
    trash_scan_every: float = 600.0
    trash_window: float = 86_400.0  # "soon": purge_at within this many seconds
    # Rows older than this are never sent: a notice from long ago (first start on an old
    # library, a long outage, a newly added target) would only be noise.
    horizon: float = 86_400.0
    keep_for: float = 30 * 86_400.0  # delivered and failed rows are forgotten after this


DEFAULT_POLICY = DeliveryPolicy()


class Target(msgspec.Struct, frozen=True):
    kind: str  # webhook | ntfy
    url: str
    id: str  # what the database stores: no URL, since URLs may carry tokens
    label: str  # what logs say: scheme and host only


def targets_of(config: Any) -> list[Target]:
    """The configured targets (`config` is the `[notifications]` section)."""
    urls = [("webhook", u) for u in config.webhooks] + ([("ntfy", config.ntfy_url)] if config.ntfy_url else [])
    out = []
    for kind, url in urls:
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        parts = urllib.parse.urlsplit(url)
        try:
            parts.port  # raises on "host:abc"; better now, once, than in every delivery attempt
        except ValueError:
            log.error("notifications: a %s URL has an invalid port; it is ignored", kind)
            continue
        out.append(Target(kind, url, f"{kind}:{digest}", f"{kind} {parts.scheme}://{parts.hostname}"))
    return out


class WebhookBody(msgspec.Struct):
    id: str
    kind: str
    user_id: str
    at: str
    data: msgspec.Raw


class Pending(msgspec.Struct):
    id: str
    kind: str
    user_id: str
    at_us: int
    data: str
    attempts: int
    created_us: int


def rfc3339(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, timezone.utc).isoformat(timespec="seconds")


def sign(secret: str, body: bytes) -> str:
    """The `X-Octopus-Signature` value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_request(n: Pending, secret: str) -> tuple[bytes, dict[str, str]]:
    body = _json.encode(WebhookBody(n.id, n.kind, n.user_id, rfc3339(n.at_us), msgspec.Raw(n.data.encode())))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OctopusPhotos",
        "X-Octopus-Event": n.kind,
        "X-Octopus-Delivery": n.id,
    }
    if secret:
        headers["X-Octopus-Signature"] = sign(secret, body)
    return body, headers


_TITLES = {
    "upload_batch_finished": "Upload finished",
    "import_finished": "Import finished",
    "trash_purge_soon": "Trash will be emptied soon",
    "login_new_device": "Sign-in from a new device",
    "shared_album_new_items": "New in a shared album",
}


def ntfy_text(kind: str, data: dict[str, Any]) -> str:
    """The plain-text message for ntfy (which shows it as the notification's body)."""
    if kind == "upload_batch_finished":
        n = data.get("photos", 0)
        return f"{n} photo{'s' if n != 1 else ''} uploaded."
    if kind == "import_finished":
        return f"Imported {data.get('imported', 0)}, skipped {data.get('skipped', 0)}, failed {data.get('failed', 0)}."
    if kind == "trash_purge_soon":
        n = data.get("photos", 0)
        return f"{n} photo{'s' if n != 1 else ''} in the trash will be deleted for good within a day."
    if kind == "login_new_device":
        device = data.get("device")
        return f"New sign-in from {device!r}." if device else "New sign-in from a new device."
    if kind == "shared_album_new_items":
        n = data.get("photos", 0)
        return f"{n} new item{'s' if n != 1 else ''} in an album shared with you."
    return kind


def ntfy_request(n: Pending) -> tuple[bytes, dict[str, str]]:
    text = ntfy_text(n.kind, msgspec.json.decode(n.data))
    return text.encode(), {
        "Content-Type": "text/plain; charset=utf-8",
        "User-Agent": "OctopusPhotos",
        "Title": _TITLES.get(n.kind, "Octopus Photos"),
        "Tags": "octopus",
    }


class DeliveryFailed(Exception):
    """One attempt did not get a 2xx; the message is safe to store (no URL, no secret)."""


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    """POST once; raise DeliveryFailed unless the answer is 2xx. Redirects count as failures
    (following one would resend the body somewhere nobody configured)."""
    parts = urllib.parse.urlsplit(url)
    conn_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn = conn_type(parts.hostname or "", parts.port, timeout=timeout)
        try:
            conn.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
            response = conn.getresponse()
            response.read(65_536)
        finally:
            conn.close()
    except TimeoutError:
        raise DeliveryFailed("timed out") from None
    except (OSError, http.client.HTTPException) as exc:
        # str(exc) may name the host or quote the URL; the class and errno text are enough.
        reason = getattr(exc, "strerror", None) or ""
        raise DeliveryFailed(f"{type(exc).__name__}{': ' + reason if reason else ''}") from None
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"HTTP {response.status}")


class Notifier:
    """The delivery worker: one planner thread and one sender thread per target, so a hanging
    webhook delays only its own queue.

    `clock` (seconds since the epoch) is the only time it reads: every schedule decision (when
    to retry, when to give up, which runs are quiet, what is too old) is taken against it, so a
    test can walk a day of retries in an instant by calling `plan_once` and `send_due` itself."""

    def __init__(self, store: EventStore, config: NotificationsConfig, policy: DeliveryPolicy | None = None,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.policy = policy or DEFAULT_POLICY
        self.clock = clock
        self.targets = targets_of(self.config)
        self.kinds = [k for k in self.config.events if k in KINDS]
        self._stop = threading.Event()
        self._wake = {t.id: threading.Event() for t in self.targets}
        self._threads: list[threading.Thread] = []
        self._random = random.Random()
        self._next_trash_scan = 0.0
        self._next_prune = 0.0

    # -- life cycle -------------------------------------------------------------------------------
    def prepare(self) -> Notifier:
        """Create the delivery table if needed (`start` does this first)."""
        self.store.writer.call(lambda conn: conn.executescript(_DELIVERY_SCHEMA), transaction=False)
        return self

    def start(self) -> Notifier:
        self.prepare()
        if self.config.webhooks and not self.config.webhook_secret:
            log.warning("notifications: webhooks are configured without webhook_secret; bodies go unsigned")
        self._threads.append(threading.Thread(target=self._planner_loop, name="octopus-notify-plan", daemon=True))
        for target in self.targets:
            self._threads.append(
                threading.Thread(target=self._sender_loop, args=(target,), name=f"octopus-notify-{target.kind}", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for thread in self._threads:
            # A sender may sit in a request; it gives up after the socket timeout.
            thread.join(self.policy.timeout + 2.0)

    # -- planning ---------------------------------------------------------------------------------
    def _planner_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.plan_once():
                    for event in self._wake.values():
                        event.set()
            except WriterClosed:
                return
            except sqlite3.Error:
                log.exception("notifications: planning failed; trying again")
            self._stop.wait(self.policy.poll)

    def plan_once(self, now: float | None = None) -> bool:
        """Close quiet upload runs, scan the trash when due, and queue new outbox rows for every
        target. True when something was queued."""
        now = self.clock() if now is None else now
        if self.store.reader().execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notification_outbox'"
        ).fetchone() is None:
            return False  # the outbox is still being built for the first time (large old log)
        self.close_quiet_runs(now)
        if now >= self._next_trash_scan and "trash_purge_soon" in self.kinds:
            self.scan_trash(now)
            self._next_trash_scan = now + self.policy.trash_scan_every
        queued = self.queue_new(now)
        if now >= self._next_prune:
            self.prune(now)
            self._next_prune = now + 3600.0
        return queued

    def close_quiet_runs(self, now: float) -> None:
        quiet_us = int(NotificationsProjector.batch_quiet_seconds * 1_000_000)
        cutoff = int(now * 1_000_000) - quiet_us
        reader = self.store.reader()
        if reader.execute("SELECT 1 FROM notification_upload_run WHERE last_us <= ?1 UNION ALL "
                          "SELECT 1 FROM notification_album_run WHERE last_us <= ?1 LIMIT 1", (cutoff,)).fetchone() is None:
            return

        def job(conn: sqlite3.Connection) -> None:
            # A run only looks quiet if the projector has seen every upload; while it lags,
            # closing would split one run into two notices. Under the writer lock nothing is
            # appended meanwhile, so this comparison is exact.
            seen = conn.execute("SELECT position FROM projection_checkpoints WHERE name = ?", (NotificationsProjector.name,)).fetchone()
            head = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0]
            if seen is None or seen[0] < head:
                return
            rows = conn.execute(
                "SELECT user_id, first_event_id, photos, first_us, last_us FROM notification_upload_run WHERE last_us <= ?",
                (cutoff,),
            ).fetchall()
            for user_id, first_event_id, photos, first_us, last_us in rows:
                _run_finished(conn, "notification_outbox", user_id, first_event_id, photos, first_us, last_us)
                conn.execute("DELETE FROM notification_upload_run WHERE user_id = ?", (user_id,))
            albums = conn.execute(
                "SELECT user_id, album_id, first_event_id, photos, first_us, last_us FROM notification_album_run "
                "WHERE last_us <= ?", (cutoff,)).fetchall()
            for user_id, album_id, *run in albums:
                _album_run_finished(conn, "notification_outbox", user_id, album_id, *run)
                conn.execute("DELETE FROM notification_album_run WHERE user_id = ? AND album_id = ?", (user_id, album_id))

        self.store.writer.call(job)

    def scan_trash(self, now: float) -> None:
        """One notice per user and UTC day when trashed photos will be purged within the window."""
        reader = self.store.reader()
        if reader.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'photo'").fetchone() is None:
            return  # the library read model is not part of this server (tests with few projectors)
        moment = datetime.fromtimestamp(now, timezone.utc)
        until = (moment + timedelta(seconds=self.policy.trash_window)).isoformat(timespec="seconds")
        rows = reader.execute(
            "SELECT owner, count(*), min(purge_at) FROM photo WHERE state = 'trash' AND purge_at <= ? GROUP BY owner",
            (until,),
        ).fetchall()
        if not rows:
            return
        day = moment.date().isoformat()

        def job(conn: sqlite3.Connection) -> None:
            for owner, count, first in rows:
                _insert(conn, "notification_outbox", f"trash_purge_soon:{owner}:{day}", "trash_purge_soon", owner,
                        int(now * 1_000_000), {"photos": count, "first_purge_at": first})

        self.store.writer.call(job)

    def queue_new(self, now: float) -> bool:
        if not self.targets or not self.kinds:
            return False
        since = int((now - self.policy.horizon) * 1_000_000)
        marks = ",".join("?" * len(self.kinds))
        found = []
        reader = self.store.reader()
        for target in self.targets:
            rows = reader.execute(
                f"SELECT o.id FROM notification_outbox o WHERE o.at_us >= ? AND o.kind IN ({marks}) AND NOT EXISTS "
                "(SELECT 1 FROM notification_delivery d WHERE d.notification_id = o.id AND d.target = ?)",
                (since, *self.kinds, target.id),
            ).fetchall()
            found.extend((r[0], target.id) for r in rows)
        if not found:
            return False
        now_us = int(now * 1_000_000)
        self.store.writer.call(lambda conn: conn.executemany(
            "INSERT OR IGNORE INTO notification_delivery (notification_id, target, state, attempts, created_us, next_attempt_us) "
            "VALUES (?, ?, 'pending', 0, ?, ?)", [(nid, tid, now_us, now_us) for nid, tid in found],
        ))
        return True

    def prune(self, now: float) -> None:
        cutoff = int((now - self.policy.keep_for) * 1_000_000)

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM notification_delivery WHERE state != 'pending' AND created_us < ?", (cutoff,))
            # A pending delivery whose notice is gone (account deleted) has nothing left to send.
            conn.execute(
                "DELETE FROM notification_delivery WHERE state = 'pending' AND notification_id NOT IN "
                "(SELECT id FROM notification_outbox)"
            )
            conn.execute("DELETE FROM notification_outbox WHERE at_us < ?", (cutoff,))

        self.store.writer.call(job)

    # -- sending ----------------------------------------------------------------------------------
    def _sender_loop(self, target: Target) -> None:
        wake = self._wake[target.id]
        while not self._stop.is_set():
            wait = self.policy.poll
            try:
                if self.send_due(target):
                    continue
                next_at = self.next_attempt(target)
                if next_at is not None:
                    wait = min(wait, max(0.0, next_at - self.clock()))
            except WriterClosed:
                return
            except sqlite3.Error:
                log.exception("notifications: %s: reading the queue failed; trying again", target.label)
            wake.wait(wait)
            wake.clear()

    def send_due(self, target: Target) -> int:
        """Make one attempt for every notification due at `target` now; how many were attempted."""
        due = self.due(target, self.clock())
        for n in due:
            if self._stop.is_set():
                break
            self.deliver(target, n)
        return len(due)

    def next_attempt(self, target: Target) -> float | None:
        """When (clock seconds) the next pending attempt at `target` is due; None if nothing is pending."""
        row = self.store.reader().execute(
            "SELECT min(next_attempt_us) FROM notification_delivery WHERE target = ? AND state = 'pending'",
            (target.id,),
        ).fetchone()
        return None if row is None or row[0] is None else row[0] / 1_000_000

    def due(self, target: Target, now: float, limit: int = 20) -> list[Pending]:
        rows = self.store.reader().execute(
            "SELECT o.id, o.kind, o.user_id, o.at_us, o.data, d.attempts, d.created_us "
            "FROM notification_delivery d JOIN notification_outbox o ON o.id = d.notification_id "
            "WHERE d.target = ? AND d.state = 'pending' AND d.next_attempt_us <= ? "
            "ORDER BY d.next_attempt_us, o.at_us LIMIT ?",
            (target.id, int(now * 1_000_000), limit),
        ).fetchall()
        return [Pending(*row) for row in rows]

    def deliver(self, target: Target, n: Pending) -> bool:
        """One attempt for one notification at one target; records the outcome. True if delivered."""
        if target.kind == "webhook":
            body, headers = webhook_request(n, self.config.webhook_secret)
        else:
            body, headers = ntfy_request(n)
        error: str | None = None
        try:
            post(target.url, body, headers, self.policy.timeout)
        except DeliveryFailed as exc:
            error = str(exc)[:200]
        now = self.clock()
        attempts = n.attempts + 1
        if error is None:
            self.store.writer.call(lambda conn: conn.execute(
                "UPDATE notification_delivery SET state = 'delivered', attempts = ?, delivered_us = ?, last_error = NULL "
                "WHERE notification_id = ? AND target = ?", (attempts, int(now * 1_000_000), n.id, target.id),
            ))
            return True
        given_up = now - n.created_us / 1_000_000 >= self.policy.give_up_after
        delay = self.backoff(attempts)
        log.warning("notifications: %s %s to %s failed (attempt %d%s): %s", n.kind, n.id, target.label, attempts,
                    ", giving up" if given_up else f", next in {delay:.0f} s", error)
        self.store.writer.call(lambda conn: conn.execute(
            "UPDATE notification_delivery SET state = ?, attempts = ?, next_attempt_us = ?, last_error = ? "
            "WHERE notification_id = ? AND target = ?",
            ("failed" if given_up else "pending", attempts, int((now + delay) * 1_000_000), error, n.id, target.id),
        ))
        return False

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure, with jitter."""
        steps = self.policy.backoff
        base = steps[min(attempts, len(steps)) - 1] if steps else 0.0
        return base * self._random.uniform(1 - self.policy.jitter, 1 + self.policy.jitter)


def start_notifier(octopus: Octopus, policy: DeliveryPolicy | None = None) -> Notifier | None:
    """Start delivering when a target is configured and the outbox projector runs; else None."""
    config = octopus.config.notifications
    if not (config.webhooks or config.ntfy_url):
        return None
    if NotificationsProjector.name not in octopus.engine.classes:
        log.warning("notifications: targets are configured but the notifications projector is not loaded")
        return None
    return Notifier(octopus.store, config, policy).start()
