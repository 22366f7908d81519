"""Notifications: outbox projector and delivery worker, against real HTTP receivers on loopback.

Events are appended through the store exactly as the commands write them (sealed under real
keys), so the tests need no images and run in a few seconds with shortened delivery timings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import msgspec
import pytest

from octopus_events import keystore, notifications, sealing
from octopus_events.accounts import DeviceSeal, UserNames, UserRegistered, UserSignedIn, seal_user, user_key_id, user_stream
from octopus_events.application import Octopus
from octopus_events.config import Config, NotificationsConfig, StorageConfig
from octopus_events.eventstore import EventStore, Meta, Transaction
from octopus_events.notifications import DeliveryPolicy, Notifier, NotificationsProjector, record_import_finished
from octopus_events.photos import (
    PhotoDate, PhotoDetails, PhotoTrashed, PhotoUploaded, key_prefix, photo_stream, seal_for,
)

SECRET = "test-webhook-secret-123"
# The production timings, taken before the `fast` fixture swaps in short ones for the threaded tests.
REAL_POLICY = notifications.DEFAULT_POLICY
REAL_QUIET = NotificationsProjector.batch_quiet_seconds


# -- a real HTTP receiver -------------------------------------------------------------------------


class Received(msgspec.Struct):
    path: str
    headers: dict[str, str]
    body: bytes
    answer: str  # ok | 500 | close | hang


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers from a script:
    `script` is consumed one answer per request, then `then` is used for every later one."""

    def __init__(self, script: list[str] | None = None, then: str = "ok") -> None:
        self.script = list(script or [])
        self.then = then
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.hanging = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    answer = receiver.script.pop(0) if receiver.script else receiver.then
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, answer))
                if answer == "hang":
                    receiver.hanging.set()
                    receiver.release.wait(10)
                    self.close_connection = True
                    return
                if answer == "close":
                    self.close_connection = True  # no status line at all: the client sees a dropped connection
                    return
                status = 200 if answer == "ok" else int(answer)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=abc"

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.answer == "ok"]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/never"


# -- fixtures and event helpers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> DeliveryPolicy:
    policy = DeliveryPolicy(backoff=(0.2, 0.4), jitter=0.0, poll=0.05, timeout=1.0, trash_scan_every=0.1)
    monkeypatch.setattr(notifications, "DEFAULT_POLICY", policy)
    monkeypatch.setattr(NotificationsProjector, "batch_quiet_seconds", 0.3)
    return policy


def config(tmp: Path, **notify: Any) -> Config:
    return Config(storage=StorageConfig(data_dir=str(tmp)), notifications=NotificationsConfig(**notify))


@pytest.fixture
def opened() -> Iterator[Callable[[Config], Octopus]]:
    libraries: list[Octopus] = []

    def open_(cfg: Config) -> Octopus:
        octopus = Octopus(cfg).open(background_rebuilds=False)
        libraries.append(octopus)
        return octopus

    yield open_
    for octopus in libraries:
        if octopus.store._open:
            octopus.close()


def add_user(store: EventStore, user_id: str) -> None:
    def command(tx: Transaction) -> None:
        key = sealing.new_data_key()
        keystore.put(tx.conn, user_key_id(user_id), "user", user_id, key)
        tx.append(user_stream(user_id), 0, [UserRegistered(
            user_id=user_id, key_id=user_key_id(user_id), admin=False, quota_bytes=0,
            sealed=seal_user(key, user_id, "UserRegistered", UserNames(user_id, user_id)),
        )], meta=Meta(actor=user_id, owner=user_id))

    store.transact(command)


def sign_in(store: EventStore, user_id: str, device: str, *, new_device: bool = True) -> None:
    def command(tx: Transaction) -> None:
        key = keystore.get(tx.conn, user_key_id(user_id))
        assert key is not None
        tx.append(user_stream(user_id), None, [UserSignedIn(
            user_id=user_id, key_id=user_key_id(user_id), new_device=new_device,
            sealed=seal_user(key, user_id, "UserSignedIn", DeviceSeal(device)),
        )], meta=Meta(actor=user_id, owner=user_id))

    store.transact(command)


def upload(store: EventStore, owner: str, filename: str = "IMG_0001.JPG") -> str:
    photo_id = "p" + secrets.token_hex(10)

    def command(tx: Transaction) -> None:
        key_id = key_prefix(photo_id) + "1"
        key = sealing.new_data_key()
        keystore.put(tx.conn, key_id, "photo", owner, key)
        details = PhotoDetails(
            sha256=secrets.token_hex(32), filename=filename,
            date=PhotoDate(taken_at="2020-06-01T12:00:00+00:00", taken_local="2020-06-01T12:00:00", source="upload"),
        )
        tx.append(photo_stream(photo_id), 0, [PhotoUploaded(
            photo_id=photo_id, key_id=key_id, mime="image/jpeg", size=1000, width=40, height=30, orientation=1,
            sealed=seal_for(key, photo_id, "PhotoUploaded", details),
        )], meta=Meta(actor=owner, owner=owner))

    store.transact(command)
    return photo_id


def trash(store: EventStore, owner: str, photo_id: str, purge_in: timedelta) -> None:
    purge_at = (datetime.now(timezone.utc) + purge_in).isoformat(timespec="seconds")
    store.append(photo_stream(photo_id), 1, [PhotoTrashed(photo_id=photo_id, purge_at=purge_at)],
                 meta=Meta(actor=owner, owner=owner))


def import_finished(store: EventStore, user_id: str, imported: int = 10, skipped: int = 2, failed: int = 1) -> None:
    store.transact(lambda tx: record_import_finished(tx, user_id, imported, skipped, failed))


def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def deliveries(octopus: Octopus) -> list[dict[str, Any]]:
    cur = octopus.store.reader().execute(
        "SELECT o.kind, d.* FROM notification_delivery d JOIN notification_outbox o ON o.id = d.notification_id "
        "ORDER BY d.created_us"
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def outbox(octopus: Octopus) -> list[tuple[str, str, str]]:
    return octopus.store.reader().execute("SELECT kind, user_id, data FROM notification_outbox ORDER BY at_us").fetchall()


# -- tests ----------------------------------------------------------------------------------------


def test_webhook_body_is_minimal_and_signed(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver() as rx:
        octopus = opened(config(tmp_path, webhooks=[rx.url], webhook_secret=SECRET))
        add_user(octopus.store, "u1")
        sign_in(octopus.store, "u1", "old phone", new_device=False)
        sign_in(octopus.store, "u1", "Pixel 7")
        wait_for(rx.delivered)
        time.sleep(0.3)  # give a wrongly sent second notice the chance to arrive

        [got] = rx.requests
        assert got.path == "/hook?token=abc"
        expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
        assert got.headers["X-Octopus-Signature"] == expected
        assert got.headers["X-Octopus-Event"] == "login_new_device"
        assert got.headers["Content-Type"] == "application/json"
        body = json.loads(got.body)
        assert set(body) == {"id", "kind", "user_id", "at", "data"}
        assert body["id"] == got.headers["X-Octopus-Delivery"]
        assert (body["kind"], body["user_id"], body["data"]) == ("login_new_device", "u1", {"device": "Pixel 7"})
        assert datetime.fromisoformat(body["at"]).tzinfo is not None
        assert SECRET.encode() not in got.body and b"token" not in got.body
        # The receiver saw the request before the sender recorded its answer: wait for the record.
        [row] = wait_for(lambda: [d for d in deliveries(octopus) if d["state"] != "pending"])
        assert (row["state"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
        assert "127.0.0.1" not in row["target"]  # URLs may carry tokens; the database never stores them


def test_failing_receiver_is_retried_and_delivered_exactly_once(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver(script=["500", "close"]) as rx:
        octopus = opened(config(tmp_path, webhooks=[rx.url], webhook_secret=SECRET))
        started = time.monotonic()
        import_finished(octopus.store, "u1", imported=10, skipped=2, failed=1)
        wait_for(rx.delivered)
        elapsed = time.monotonic() - started
        time.sleep(0.3)

        assert [r.answer for r in rx.requests] == ["500", "close", "ok"]
        # One notification: the same delivery id and the same signed body on every attempt.
        assert len({r.headers["X-Octopus-Delivery"] for r in rx.requests}) == 1
        assert len({r.body for r in rx.requests}) == 1
        assert json.loads(rx.requests[0].body)["data"] == {"imported": 10, "skipped": 2, "failed": 1}
        [row] = wait_for(lambda: [d for d in deliveries(octopus) if d["state"] != "pending"])
        assert (row["kind"], row["state"], row["attempts"], row["last_error"]) == ("import_finished", "delivered", 3, None)
        assert elapsed >= 0.2 + 0.4  # the backoff was waited out, not skipped


def test_errors_are_recorded_without_the_url_and_delivery_gives_up(
    tmp_path: Path, opened: Callable[[Config], Octopus], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifications, "DEFAULT_POLICY",
                        DeliveryPolicy(backoff=(0.1,), jitter=0.0, poll=0.05, timeout=1.0, give_up_after=0.5))
    with Receiver(then="503") as rx:
        octopus = opened(config(tmp_path, webhooks=[rx.url]))
        import_finished(octopus.store, "u1")
        row = wait_for(lambda: [d for d in deliveries(octopus) if d["state"] == "failed"])[0]
        assert row["last_error"] == "HTTP 503"
        assert 3 <= row["attempts"] == len(rx.requests) <= 10
        assert "X-Octopus-Signature" not in rx.requests[0].headers  # no secret configured: unsigned
        count = len(rx.requests)
        time.sleep(0.3)
        assert len(rx.requests) == count  # failed for good: no more attempts


def test_restart_neither_repeats_nor_loses(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver() as rx:
        cfg = config(tmp_path, webhooks=[rx.url], webhook_secret=SECRET)
        octopus = opened(cfg)
        add_user(octopus.store, "u1")
        sign_in(octopus.store, "u1", "laptop")
        wait_for(rx.delivered)

        # The receiver goes down: the next notice is attempted, fails, and stays pending.
        rx.then = "500"
        import_finished(octopus.store, "u1", imported=5)
        wait_for(lambda: [d for d in deliveries(octopus) if d["kind"] == "import_finished" and d["attempts"] >= 1])
        octopus.close()

        # While the server is down, the CLI (or an import) appends without any projector running.
        with EventStore(tmp_path / "octopus.db") as store:
            import_finished(store, "u1", imported=7)

        rx.then = "ok"
        octopus = opened(cfg)
        wait_for(lambda: len(rx.delivered()) == 3)
        time.sleep(0.5)

        ids = [r.headers["X-Octopus-Delivery"] for r in rx.delivered()]
        assert len(ids) == len(set(ids)) == 3  # the first notice was not sent again after the restart
        kinds = sorted(json.loads(r.body)["kind"] + str(json.loads(r.body)["data"].get("imported", "")) for r in rx.delivered())
        assert kinds == ["import_finished5", "import_finished7", "login_new_device"]
        wait_for(lambda: all(d["state"] == "delivered" for d in deliveries(octopus)))
        [failed_first] = [d for d in deliveries(octopus) if d["attempts"] > 1]
        assert failed_first["kind"] == "import_finished"


def test_rebuilding_the_outbox_sends_nothing_again(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver() as rx:
        octopus = opened(config(tmp_path, webhooks=[rx.url], webhook_secret=SECRET))
        add_user(octopus.store, "u1")
        sign_in(octopus.store, "u1", "laptop")
        upload(octopus.store, "u1")
        wait_for(lambda: len(rx.delivered()) == 2)
        octopus.engine.rebuild("notifications", wait=True)
        octopus.engine.wait_idle()
        time.sleep(0.6)  # several planner rounds, and longer than the upload quiet time
        assert len(rx.requests) == 2
        assert len(outbox(octopus)) == 2


def test_a_hanging_receiver_does_not_slow_appends(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    def time_appends(store: EventStore) -> float:
        started = time.perf_counter()
        for _ in range(30):
            upload(store, "u1")
            import_finished(store, "u1")
        return time.perf_counter() - started

    with EventStore(tmp_path / "baseline" / "octopus.db") as bare:
        baseline = time_appends(bare)

    with Receiver(then="hang") as rx:
        octopus = opened(config(tmp_path / "lib", webhooks=[rx.url], webhook_secret=SECRET))
        import_finished(octopus.store, "u1")
        assert rx.hanging.wait(5)  # a delivery is now stuck inside a request
        during = time_appends(octopus.store)
        assert len(rx.requests) == 1  # the appends ran while that one request hung
    # The library also runs its inline projectors on every append, hence the generous factor;
    # a blocked append would take the full socket timeout (1 s here, 5 s by default).
    assert during < max(0.8, 4 * baseline), (during, baseline)


def test_ntfy_gets_text_while_a_dead_webhook_keeps_failing(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver() as ntfy:
        topic = f"http://127.0.0.1:{ntfy.server.server_address[1]}/octopus-family"
        octopus = opened(config(tmp_path, webhooks=[closed_port_url()], ntfy_url=topic))
        for n in range(3):
            upload(octopus.store, "u1", filename=f"secret-holiday-{n}.jpg")
        [got] = wait_for(ntfy.delivered)
        assert got.path == "/octopus-family"
        assert got.body.decode() == "3 photos uploaded."
        assert got.headers["Title"] == "Upload finished"
        assert "X-Octopus-Signature" not in got.headers
        # The webhook's sender runs on its own thread: ntfy being served says nothing about how
        # far it got, so wait for its first failed attempt to be recorded.
        [webhook] = wait_for(lambda: [d for d in deliveries(octopus)
                                      if d["target"].startswith("webhook:") and d["attempts"] >= 1])
        assert webhook["state"] == "pending"
        assert webhook["last_error"].startswith("ConnectionRefusedError")
        [(kind, user, data)] = outbox(octopus)
        assert kind == "upload_batch_finished" and json.loads(data)["photos"] == 3
        assert "secret-holiday" not in data


def test_only_configured_kinds_are_sent(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver() as rx:
        octopus = opened(config(tmp_path, webhooks=[rx.url], events=["import_finished"]))
        add_user(octopus.store, "u1")
        sign_in(octopus.store, "u1", "tablet")
        upload(octopus.store, "u1")
        import_finished(octopus.store, "u1")
        wait_for(rx.delivered)
        time.sleep(0.6)
        assert [r.headers["X-Octopus-Event"] for r in rx.requests] == ["import_finished"]
        assert {d["kind"] for d in deliveries(octopus)} == {"import_finished"}
        # The outbox records every kind; the choice is made when sending.
        assert {k for k, _, _ in outbox(octopus)} == {"login_new_device", "upload_batch_finished", "import_finished"}


def test_trash_purge_soon_once_per_user_and_day(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver() as rx:
        octopus = opened(config(tmp_path, webhooks=[rx.url], events=["trash_purge_soon"]))
        for owner, due in [("u1", [2, 5, 24 * 10]), ("u2", [20])]:
            for hours in due:
                trash(octopus.store, owner, upload(octopus.store, owner), timedelta(hours=hours))
        wait_for(lambda: len(rx.delivered()) == 2)
        time.sleep(0.5)  # several more scans (every 0.1 s here) find the same photos
        assert len(rx.requests) == 2
        assert octopus.notifier is not None
        octopus.notifier.plan_once()
        bodies = sorted((json.loads(r.body) for r in rx.requests), key=lambda b: b["user_id"])
        assert [(b["user_id"], b["data"]["photos"]) for b in bodies] == [("u1", 2), ("u2", 1)]
        assert len(outbox(octopus)) == 2 + 2  # plus the two users' upload runs, which are not sent


def test_upload_runs_split_by_quiet_time_the_same_in_replay(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    octopus = opened(config(tmp_path))  # no target: the outbox still fills, nothing is sent
    assert octopus.notifier is None
    upload(octopus.store, "u1")
    upload(octopus.store, "u1")
    upload(octopus.store, "u2")
    time.sleep(0.4)
    upload(octopus.store, "u1")
    octopus.engine.wait_idle()

    def state() -> tuple[list[Any], list[Any]]:
        conn = octopus.store.reader()
        return (
            sorted(conn.execute("SELECT id, kind, user_id, at_us, data FROM notification_outbox").fetchall()),
            sorted(conn.execute("SELECT user_id, photos FROM notification_upload_run").fetchall()),
        )

    incremental = state()
    assert [json.loads(r[4])["photos"] for r in incremental[0]] == [2]
    assert incremental[1] == [("u1", 1), ("u2", 1)]
    octopus.engine.rebuild("notifications", wait=True)
    assert state() == incremental


# -- the real schedule, on an injected clock --------------------------------------------------------
# The library's own Notifier is not started (no target in its config); the test drives one over
# the same store with the production policy and a clock it moves itself, so a day of retries
# takes a moment and every decision is taken against the documented constants.


class Clock:
    """Seconds since the epoch that move only when the test says so. It starts at the real time
    because events (and so outbox rows) carry real times."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def clocked_notifier(octopus: Octopus, clock: Clock, **notify: Any) -> Notifier:
    assert octopus.notifier is None  # nothing else delivers from this store
    return Notifier(octopus.store, NotificationsConfig(**notify), REAL_POLICY, clock=clock).prepare()


def test_the_real_schedule_backs_off_with_jitter_and_gives_up_after_a_day(
    tmp_path: Path, opened: Callable[[Config], Octopus]
) -> None:
    with Receiver(then="503") as rx:
        octopus = opened(config(tmp_path))
        import_finished(octopus.store, "u1")
        octopus.engine.wait_idle()
        clock = Clock()
        notifier = clocked_notifier(octopus, clock, webhooks=[rx.url])
        [target] = notifier.targets
        queued_at = clock.now
        assert notifier.plan_once()

        attempted_at = []
        while (due_at := notifier.next_attempt(target)) is not None:
            assert len(attempted_at) < 100, "never gave up"
            clock.now = due_at - 0.5
            assert notifier.send_due(target) == 0  # not a moment early
            clock.now = due_at + 0.0005
            assert notifier.send_due(target) == 1
            attempted_at.append(clock.now)

    assert len(rx.requests) == len(attempted_at)
    assert abs(attempted_at[0] - queued_at) < 0.01  # the first attempt is made at once
    # docs/notifications.md: "the next one waits 5 s, 30 s, 2 min, 10 min, then every hour, each ±20 %".
    documented = [5.0, 30.0, 120.0, 600.0] + [3600.0] * (len(attempted_at) - 5)
    waits = [b - a for a, b in zip(attempted_at, attempted_at[1:])]
    assert len(waits) == len(documented)
    for n, (wait, base) in enumerate(zip(waits, documented), 2):
        assert 0.8 * base - 0.001 <= wait <= 1.2 * base + 0.001, (n, wait, base)
    hourly = waits[4:]
    assert max(hourly) - min(hourly) > 0.1 * 3600, hourly  # jittered, not in lockstep
    assert len({round(w, 3) for w in waits}) == len(waits)
    # "A notification still undelivered 24 hours after it was queued is marked failed".
    assert attempted_at[-2] - queued_at < 86_400 <= attempted_at[-1] - queued_at
    [row] = deliveries(octopus)
    assert (row["state"], row["attempts"], row["last_error"]) == ("failed", len(attempted_at), "HTTP 503")

    # ... "and not tried again", whatever happens later.
    clock.now += 2 * 86_400
    notifier.plan_once()
    assert notifier.send_due(target) == 0 and notifier.next_attempt(target) is None
    assert len(rx.requests) == len(attempted_at)


def test_a_success_ends_the_schedule(tmp_path: Path, opened: Callable[[Config], Octopus]) -> None:
    with Receiver(script=["503", "503"], then="ok") as rx:
        octopus = opened(config(tmp_path))
        import_finished(octopus.store, "u1")
        octopus.engine.wait_idle()
        clock = Clock()
        notifier = clocked_notifier(octopus, clock, webhooks=[rx.url])
        [target] = notifier.targets
        notifier.plan_once()
        while (due_at := notifier.next_attempt(target)) is not None:
            clock.now = due_at + 0.0005
            notifier.send_due(target)
        assert [r.answer for r in rx.requests] == ["503", "503", "ok"]
        [row] = deliveries(octopus)
        assert (row["state"], row["attempts"], row["last_error"]) == ("delivered", 3, None)


# -- the documented cut-offs, with the production constants --------------------------------------


def test_an_upload_run_is_closed_after_exactly_60_quiet_seconds(
    tmp_path: Path, opened: Callable[[Config], Octopus], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NotificationsProjector, "batch_quiet_seconds", REAL_QUIET)
    octopus = opened(config(tmp_path))
    for _ in range(3):
        upload(octopus.store, "u1")
    octopus.engine.wait_idle()
    [(last_us,)] = octopus.store.reader().execute("SELECT last_us FROM notification_upload_run").fetchall()
    clock = Clock()
    notifier = clocked_notifier(octopus, clock, webhooks=[closed_port_url()])

    clock.now = last_us / 1_000_000 + 59.9  # "a user uploaded photos and then none for 60 s"
    notifier.plan_once()
    assert outbox(octopus) == []
    clock.now = last_us / 1_000_000 + 60.0
    notifier.plan_once()
    [(kind, user, data)] = outbox(octopus)
    assert (kind, user, json.loads(data)["photos"]) == ("upload_batch_finished", "u1", 3)


def test_trash_purge_soon_means_within_24_hours_once_per_utc_day(
    tmp_path: Path, opened: Callable[[Config], Octopus]
) -> None:
    octopus = opened(config(tmp_path))
    clock = Clock()
    # 01:00 UTC of today: the test's days are whole UTC days whatever the real time is.
    day = datetime.fromtimestamp(clock.now, timezone.utc).replace(hour=1, minute=0, second=0, microsecond=0)
    clock.now = day.timestamp()

    def trash_until(owner: str, purge_at: datetime) -> None:
        photo_id = upload(octopus.store, owner)
        octopus.store.append(photo_stream(photo_id), 1, [PhotoTrashed(photo_id=photo_id, purge_at=purge_at.isoformat())],
                             meta=Meta(actor=owner, owner=owner))

    trash_until("u1", day + timedelta(hours=23, minutes=59))  # within 24 h
    trash_until("u1", day + timedelta(hours=24, minutes=1))  # not yet
    trash_until("u2", day + timedelta(hours=24, minutes=1))  # not yet
    octopus.engine.wait_idle()
    notifier = clocked_notifier(octopus, clock, webhooks=[closed_port_url()], events=["trash_purge_soon"])

    def notices() -> list[tuple[str, int]]:
        return [(user, json.loads(data)["photos"]) for kind, user, data in outbox(octopus) if kind == "trash_purge_soon"]

    notifier.plan_once()
    assert notices() == [("u1", 1)]
    # Ten minutes on (the scan interval) all three are within 24 h: u2 hears of its photo now,
    # u1 not again, since it is the same UTC day.
    clock.now += REAL_POLICY.trash_scan_every
    assert REAL_POLICY.trash_scan_every == 600
    notifier.plan_once()
    assert sorted(notices()) == [("u1", 1), ("u2", 1)]
    # The next UTC day brings one more notice per user.
    clock.now = (day + timedelta(days=1)).timestamp()
    notifier.plan_once()
    assert sorted(notices()) == [("u1", 1), ("u1", 2), ("u2", 1), ("u2", 1)]


def test_notices_older_than_24_hours_are_never_sent_and_sent_ones_are_forgotten_after_30_days(
    tmp_path: Path, opened: Callable[[Config], Octopus]
) -> None:
    with Receiver() as rx:
        octopus = opened(config(tmp_path))
        import_finished(octopus.store, "u1")
        octopus.engine.wait_idle()
        [(at_us,)] = octopus.store.reader().execute("SELECT at_us FROM notification_outbox").fetchall()
        at = at_us / 1_000_000
        clock = Clock()
        notifier = clocked_notifier(octopus, clock, webhooks=[rx.url])
        [target] = notifier.targets

        clock.now = at + 86_400 + 1  # a day and a second later (a first start, a new target): too old
        assert not notifier.plan_once()
        assert deliveries(octopus) == []
        clock.now = at + 86_400 - 1  # a second inside the day: queued and sent
        assert notifier.plan_once()
        assert notifier.send_due(target) == 1
        assert [d["state"] for d in deliveries(octopus)] == ["delivered"]
        assert len(rx.requests) == 1

    def kept() -> int:
        return octopus.store.reader().execute("SELECT count(*) FROM notification_delivery").fetchone()[0]

    sent = clock.now
    clock.now = sent + 30 * 86_400 - 3600  # the delivered row is kept for 30 days ...
    notifier.plan_once()
    assert kept() == 1
    clock.now = sent + 30 * 86_400 + 1  # ... then forgotten, and the notice with it
    notifier.plan_once()
    assert kept() == 0
    assert outbox(octopus) == []


def _album(store: EventStore, owner: str, album_id: str, *events: Any, actor: str | None = None) -> None:
    from octopus_events.albums import album_stream

    store.transact(lambda tx: tx.append(album_stream(album_id), None, list(events), meta=Meta(actor=actor or owner, owner=owner)))


def test_new_items_in_a_shared_album_are_batched_per_member_and_sent(tmp_path: Path,
                                                                       opened: Callable[[Config], Octopus]) -> None:
    """docs/notifications.md shared_album_new_items: everyone who sees the album but the adder
    gets one notice per quiet run; not-shared albums and former members get none; a rebuild
    lands on the same rows."""
    from octopus_events.albums import AlbumCreated, AlbumPhotosAdded
    from octopus_events.members import AlbumMemberAdded, AlbumMemberRemoved

    with Receiver() as rx:
        octopus = opened(config(tmp_path, webhooks=[rx.url], webhook_secret=SECRET, events=["shared_album_new_items"]))
        store = octopus.store
        for user in ("u1", "u2", "u3", "u4"):
            add_user(store, user)
        _album(store, "u1", "a1", AlbumCreated(album_id="a1", key_id=user_key_id("u1"), sealed=b"x"))
        mine = [upload(store, "u1") for _ in range(2)]
        theirs = [upload(store, "u3") for _ in range(2)]
        _album(store, "u1", "a1", AlbumPhotosAdded(album_id="a1", photo_ids=[mine[0]]))  # not shared yet: nobody told
        _album(store, "u1", "a1", AlbumMemberAdded(album_id="a1", user_id="u2", role="viewer"),
               AlbumMemberAdded(album_id="a1", user_id="u3", role="contributor"),
               AlbumMemberAdded(album_id="a1", user_id="u4", role="viewer"))
        _album(store, "u1", "a1", AlbumPhotosAdded(album_id="a1", photo_ids=theirs, by="u3"), actor="u3")
        _album(store, "u1", "a1", AlbumPhotosAdded(album_id="a1", photo_ids=[mine[1]]))
        _album(store, "u1", "a1", AlbumMemberRemoved(album_id="a1", user_id="u4", left=True))  # leaves: told nothing
        got = wait_for(lambda: len(rx.requests) >= 3 and rx.requests, timeout=10)
        time.sleep(0.5)  # a wrongly sent extra notice would arrive now
        bodies = sorted((json.loads(r.body) for r in rx.requests), key=lambda b: b["user_id"])
        assert [(b["user_id"], b["data"]["album_id"], b["data"]["photos"]) for b in bodies] == [
            ("u1", "a1", 2), ("u2", "a1", 3), ("u3", "a1", 1)]
        assert all(b["kind"] == "shared_album_new_items" and set(b["data"]) == {"album_id", "photos", "started_at", "finished_at"}
                   for b in bodies)
        assert got[0].headers["X-Octopus-Event"] == "shared_album_new_items"
        rows = sorted(store.reader().execute("SELECT id, user_id, data FROM notification_outbox").fetchall())
        octopus.engine.rebuild("notifications", wait=True)
        # The runs come back open and are closed again, into the same rows (same ids): nothing resent.
        wait_for(lambda: sorted(store.reader().execute("SELECT id, user_id, data FROM notification_outbox").fetchall()) == rows)
        time.sleep(0.3)
        assert len(rx.requests) == 3
