"""The sync feed in the core: snapshot + deltas equals the library, whatever happened in between;
shredded photos leak nothing; cursors; long-poll waiters. The HTTP side is test_http_sync.py."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as f
from octopus_events import sync
from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.errors import BadRequest, Gone
from octopus_events.readmodels import sync as sync_index
from test_crypto_shredding import opened, photo_keys, sealed_in_log
from test_replay_property import op, run

# -- a client: what a phone does with the wire shapes (docs/sync.md, "Applying events") ----------


class Mirror:
    """A client's local copy, built only from the wire JSON."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.photos: dict[str, dict[str, Any]] = {p["id"]: p for p in snapshot["photos"]}
        self.albums: dict[str, dict[str, Any]] = {a["id"]: a for a in snapshot["albums"]}
        self.cursor: str = snapshot["cursor"]

    def apply(self, event: dict[str, Any]) -> None:
        kind, data = event["type"], event["data"]
        if kind.startswith("photo."):
            pid = event["photo_id"]
            photo = self.photos.get(pid)
            if kind == "photo.added":
                album_ids = data.pop("album_ids")
                self.photos[pid] = data
                for album_id in album_ids:
                    if album_id in self.albums and pid not in self.albums[album_id]["photo_ids"]:
                        self.albums[album_id]["photo_ids"].append(pid)
            elif kind in ("photo.removed", "photo.left_library"):
                self.photos.pop(pid, None)
                for album in self.albums.values():
                    if pid in album["photo_ids"]:
                        album["photo_ids"].remove(pid)
            elif photo is None or data["version"] <= photo["version"]:
                pass  # already reflected (or a photo this client never had)
            elif kind == "photo.updated":
                photo.update(data)
            elif kind == "photo.trashed":
                photo.update(data, state="trash")
            elif kind == "photo.restored":
                photo.update(data, state="library", purge_at=None)
            else:
                raise AssertionError(f"unknown photo event {kind}")
        elif kind.startswith("album."):
            aid = event["album_id"]
            if kind == "album.created":
                self.albums[aid] = {"id": aid, "photo_ids": [], **data}
            elif kind == "album.deleted":
                self.albums.pop(aid, None)
            elif aid not in self.albums or data["version"] <= self.albums[aid]["version"]:
                pass
            elif kind == "album.renamed":
                self.albums[aid].update(data)
            elif kind == "album.photos_added":
                members = self.albums[aid]["photo_ids"]
                members.extend(p for p in data["photo_ids"] if p not in members and p in self.photos)
                self.albums[aid]["version"] = data["version"]
            elif kind == "album.photos_removed":
                members = self.albums[aid]["photo_ids"]
                members[:] = [p for p in members if p not in data["photo_ids"]]
                self.albums[aid]["version"] = data["version"]
        self.cursor = event["cursor"]

    def state(self) -> dict[str, Any]:
        return comparable({"photos": list(self.photos.values()), "albums": list(self.albums.values())})


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    # Album member order is the order of addition, except that a photo back from the vault takes
    # its old place on the server; a client cannot know that place, so members compare as sets.
    return {
        "photos": {p["id"]: p for p in snapshot["photos"]},
        "albums": {a["id"]: {**a, "photo_ids": sorted(a["photo_ids"])} for a in snapshot["albums"]},
    }


def wire(obj: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(obj))


def check_shape(event: dict[str, Any]) -> None:
    """Every event has the documented envelope and a `data` of exactly its type's shape."""
    assert set(event) - {"photo_id", "album_id"} == {"type", "cursor", "at", "data"}, event
    assert ("photo_id" in event) == event["type"].startswith("photo."), event
    assert ("album_id" in event) == event["type"].startswith("album."), event
    data_type = sync_index.WIRE_DATA[event["type"]]
    decoded = msgspec.convert(event["data"], data_type)
    assert wire(decoded) == event["data"], event


def snapshot_of(octopus: Octopus, owner: str) -> dict[str, Any]:
    return wire(sync.read_snapshot(octopus.store.reader(), owner))


def pull_all(octopus: Octopus, owner: str, cursor: str | None, limit: int = 1000) -> tuple[list[dict[str, Any]], str]:
    events: list[dict[str, Any]] = []
    after = sync.decode_cursor(cursor)
    while True:
        page = wire(sync.read_feed(octopus.store.reader(), owner, after, limit).page)
        for event in page["events"]:
            check_shape(event)
        events.extend(page["events"])
        after = sync.decode_cursor(page["cursor"])
        if not page["more"]:
            return events, page["cursor"]


@pytest.fixture
def octopus(tmp_path: Path) -> Iterator[Octopus]:
    app = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open()
    app.store.transact(lambda tx: (f.add_user(tx, "u1", "one"), f.add_user(tx, "u2", "two")))
    try:
        yield app
    finally:
        app.close()


# -- the law: snapshot at any point + the deltas after it == the library now ------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=40), split=st.integers(0, 40), limit=st.sampled_from([1, 3, 1000]))
def test_snapshot_plus_deltas_equals_the_library(ops: list[tuple], split: int, limit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        octopus = Octopus(Config(storage=StorageConfig(data_dir=str(Path(tmp) / "data")))).open()
        try:
            octopus.store.transact(lambda tx: (f.add_user(tx, "u1", "one"), f.add_user(tx, "u2", "two")))
            middle: dict[str, dict[str, Any]] = {}
            commits = [0]

            def take_middle(head: int, owners: Any) -> None:
                # Right after the split-th commit of the history (on the committing thread).
                commits[0] += 1
                if commits[0] == split:
                    middle.update({u: snapshot_of(octopus, u) for u in ("u1", "u2")})

            octopus.store.add_commit_listener(take_middle)
            run(octopus, ops)
            if not middle:
                middle.update({u: snapshot_of(octopus, u) for u in ("u1", "u2")})
            for user in ("u1", "u2"):
                final = snapshot_of(octopus, user)
                for start in (middle[user], {"photos": [], "albums": [], "cursor": None}):
                    mirror = Mirror(start)
                    events, cursor = pull_all(octopus, user, start["cursor"], limit)
                    for event in events:
                        mirror.apply(event)
                    assert mirror.state() == comparable(final)
                    # The cursor a client ends with is the one just after the last event it got (or
                    # where it started, when nothing was new), and never beyond the snapshot's.
                    expected = events[-1]["cursor"] if events else sync.encode_cursor(sync.decode_cursor(start["cursor"]))
                    assert cursor == expected
                    assert sync.decode_cursor(cursor) <= sync.decode_cursor(final["cursor"])
                    other = "u2" if user == "u1" else "u1"
                    assert not set(snapshot_ids(octopus, other)) & {e.get("photo_id") for e in events}
        finally:
            octopus.close()


def snapshot_ids(octopus: Octopus, owner: str) -> list[str]:
    return [p["id"] for p in snapshot_of(octopus, owner)["photos"]]


def test_a_live_history_mirrors_step_by_step(octopus: Octopus) -> None:
    store = octopus.store
    mirror = Mirror(snapshot_of(octopus, "u1"))
    steps = [
        lambda tx: f.upload(tx, "u1", "pa", f.details(filename="a.jpg", tags=["x"], gps=(1.0, 2.0))),
        lambda tx: f.upload(tx, "u1", "pb", f.details(filename="b.jpg")),
        lambda tx: f.photo_event(tx, "u1", "pa", "tags", ["beach", "sea"]),
        lambda tx: f.photo_event(tx, "u1", "pa", "favourite"),
        lambda tx: f.photo_event(tx, "u1", "pa", "describe", "at the sea"),
        lambda tx: f.photo_event(tx, "u1", "pa", "redate", "2001-02-03T04:05:06"),
        lambda tx: f.album_event(tx, "u1", "al", "create", "Holidays"),
        lambda tx: f.album_event(tx, "u1", "al", "add", ["pa", "pb"]),
        lambda tx: f.album_event(tx, "u1", "al", "rename", "Summer"),
        lambda tx: f.photo_event(tx, "u1", "pb", "trash", "2031-01-01T00:00:00+00:00"),
        lambda tx: f.photo_event(tx, "u1", "pb", "restore"),
        lambda tx: f.photo_event(tx, "u1", "pb", "trash"),
        lambda tx: f.photo_event(tx, "u1", "pb", "purge"),
        lambda tx: f.album_event(tx, "u1", "al", "remove", ["pa"]),
        lambda tx: f.photo_event(tx, "u1", "pa", "unfavourite"),
        lambda tx: f.album_event(tx, "u1", "al", "delete"),
    ]
    for step in steps:
        store.transact(step)
        events, _ = pull_all(octopus, "u1", mirror.cursor)
        assert events, "every step is news for the client"
        for event in events:
            mirror.apply(event)
        assert mirror.state() == comparable(snapshot_of(octopus, "u1"))


# -- what must not leak ----------------------------------------------------------------------------


def test_a_purged_photo_leaves_only_its_tombstone(octopus: Octopus) -> None:
    secret = f.details(filename="SECRET_NAME.jpg", description="SECRET_WORDS", tags=["SECRET_TAG"], gps=(12.345, 67.891))
    octopus.store.transact(lambda tx: f.upload(tx, "u1", "pgone", secret))
    octopus.store.transact(lambda tx: f.photo_event(tx, "u1", "pgone", "describe", "SECRET_TOO"))
    octopus.store.transact(lambda tx: f.photo_event(tx, "u1", "pgone", "favourite"))
    assert opened(octopus.paths.db, sealed_in_log(octopus.paths.db, stream="photo-pgone"))
    octopus.store.transact(lambda tx: f.photo_event(tx, "u1", "pgone", "purge"))
    # The factory purges through the product's purge: the key went, the sealed log opens no more.
    assert photo_keys(octopus.paths.db, "pgone") == []
    assert opened(octopus.paths.db, sealed_in_log(octopus.paths.db, stream="photo-pgone")) == []
    events, _ = pull_all(octopus, "u1", None)
    raw = msgspec.json.encode(events).decode()
    for needle in ("SECRET", "12.345", "67.891"):
        assert needle not in raw
    assert events == [{"type": "photo.removed", "cursor": events[0]["cursor"], "at": events[0]["at"],
                       "photo_id": "pgone", "data": {}}]


def test_a_vault_move_says_only_that_the_photo_left(octopus: Octopus) -> None:
    octopus.store.transact(lambda tx: f.upload(tx, "u1", "pv", f.details(filename="PRIVATE.jpg", tags=["PRIVATE"])))
    octopus.store.transact(lambda tx: f.album_event(tx, "u1", "al", "create", "Family"))
    octopus.store.transact(lambda tx: f.album_event(tx, "u1", "al", "add", ["pv"]))
    mirror = Mirror(snapshot_of(octopus, "u1"))
    octopus.store.transact(lambda tx: f.photo_event(tx, "u1", "pv", "vault"))
    assert photo_keys(octopus.paths.db, "pv") == []  # the product's vault move shredded the library key
    events, _ = pull_all(octopus, "u1", None)
    assert "PRIVATE" not in msgspec.json.encode(events).decode()
    assert [e["type"] for e in events] == ["album.created", "photo.left_library"]  # the add named a vault photo
    assert events[-1]["data"] == {} and set(events[-1]) == {"type", "cursor", "at", "photo_id", "data"}
    later, _ = pull_all(octopus, "u1", mirror.cursor)
    for event in later:
        mirror.apply(event)
    assert mirror.state() == comparable(snapshot_of(octopus, "u1"))
    assert mirror.albums["al"]["photo_ids"] == []
    # Back from the vault: a fresh photo.added with the re-sealed fields, back in its album.
    octopus.store.transact(lambda tx: f.photo_event(tx, "u1", "pv", "unvault", f.details(filename="back.jpg", tags=["home"])))
    later, _ = pull_all(octopus, "u1", mirror.cursor)
    assert [e["type"] for e in later] == ["photo.added"]
    assert later[0]["data"]["filename"] == "back.jpg" and later[0]["data"]["album_ids"] == ["al"]
    for event in later:
        mirror.apply(event)
    assert mirror.state() == comparable(snapshot_of(octopus, "u1"))


def test_another_users_events_never_appear(octopus: Octopus) -> None:
    octopus.store.transact(lambda tx: f.upload(tx, "u2", "ptheirs", f.details(filename="theirs.jpg")))
    octopus.store.transact(lambda tx: f.album_event(tx, "u2", "atheirs", "create", "Theirs"))
    octopus.store.transact(lambda tx: f.upload(tx, "u1", "pmine", f.details(filename="mine.jpg")))
    events, _ = pull_all(octopus, "u1", None)
    assert [(e["type"], e.get("photo_id")) for e in events] == [("photo.added", "pmine")]
    snap = snapshot_of(octopus, "u1")
    assert [p["id"] for p in snap["photos"]] == ["pmine"] and snap["albums"] == []


def test_the_feed_query_filters_by_owner_in_sql(octopus: Octopus) -> None:
    plan = octopus.store.reader().execute("EXPLAIN QUERY PLAN " + sync_index.FEED_SQL, ("u1", 0, 10)).fetchall()
    assert any("PRIMARY KEY (owner=? AND position>?)" in str(row) for row in plan), plan


# -- cursors and paging ----------------------------------------------------------------------------


def test_each_event_has_its_own_cursor_and_resuming_from_it_continues(octopus: Octopus) -> None:
    for i in range(5):
        octopus.store.transact(lambda tx, i=i: f.upload(tx, "u1", f"p{i}", f.details()))
    events, last = pull_all(octopus, "u1", None)
    positions = [sync.decode_cursor(e["cursor"]) for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 5
    assert last == events[-1]["cursor"]
    rest, _ = pull_all(octopus, "u1", events[1]["cursor"])
    assert rest == events[2:]
    page = wire(sync.read_feed(octopus.store.reader(), "u1", 0, 2).page)
    assert len(page["events"]) == 2 and page["more"] is True and page["cursor"] == events[1]["cursor"]
    end = wire(sync.read_feed(octopus.store.reader(), "u1", positions[-1], 2).page)
    assert end == {"events": [], "cursor": last, "more": False}


@pytest.mark.parametrize("bad", ["%%%", "bm90IGEgY3Vyc29y", sync.encode_cursor(5)[:-2] + "!!", "djE6LTE", "djE6"])
def test_a_malformed_cursor_is_a_bad_request(bad: str) -> None:
    with pytest.raises(BadRequest):
        sync.decode_cursor(bad)


def test_a_cursor_from_the_future_or_a_retired_version_is_gone(octopus: Octopus) -> None:
    head = octopus.store.head()
    with pytest.raises(Gone):
        sync.read_feed(octopus.store.reader(), "u1", head + 1, 10)
    sync.read_feed(octopus.store.reader(), "u1", head, 10)  # the head itself is fine
    import base64
    with pytest.raises(Gone):
        sync.decode_cursor(base64.urlsafe_b64encode(b"v0:3").decode().rstrip("="))


def test_limits_are_checked() -> None:
    for bad in (0, 1001, -1):
        with pytest.raises(BadRequest):
            sync.check_limit(bad)
    with pytest.raises(BadRequest):
        sync.check_wait(61)
    assert sync.check_limit(None) == 500 and sync.check_wait(None) == 0


def test_a_snapshot_taken_during_writes_is_consistent_with_its_cursor(octopus: Octopus) -> None:
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            octopus.store.transact(lambda tx, i=i: (f.upload(tx, "u1", f"pw{i}", f.details()),
                                                    f.photo_event(tx, "u1", f"pw{i}", "favourite")))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        snapshots = []
        for _ in range(20):
            snapshots.append(snapshot_of(octopus, "u1"))
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join()
    final = comparable(snapshot_of(octopus, "u1"))
    for snap in snapshots:
        # Every photo in a snapshot arrived with its favourite in the same commit: a torn read
        # would show an unfavourited one, and replaying from the cursor must end where we are.
        assert all(p["favourite"] for p in snap["photos"])
        mirror = Mirror(snap)
        for event in pull_all(octopus, "u1", snap["cursor"])[0]:
            mirror.apply(event)
        assert mirror.state() == final


# -- long-poll -------------------------------------------------------------------------------------


async def test_a_waiting_pull_returns_as_soon_as_an_event_commits(octopus: Octopus) -> None:
    cursor = snapshot_of(octopus, "u1")["cursor"]
    timer = threading.Timer(0.3, lambda: octopus.store.transact(lambda tx: f.upload(tx, "u1", "pnew", f.details())))
    started = time.perf_counter()
    timer.start()
    page = await sync.pull(octopus, "u1", cursor, wait=10)
    elapsed = time.perf_counter() - started
    assert [e.photo_id for e in page.events] == ["pnew"]  # type: ignore[attr-defined]
    assert 0.25 < elapsed < 0.3 + 0.1, elapsed
    assert len(octopus.sync_waiters) == 0


async def test_a_waiting_pull_ignores_other_users_and_times_out_empty(octopus: Octopus) -> None:
    cursor = snapshot_of(octopus, "u1")["cursor"]
    timer = threading.Timer(0.1, lambda: octopus.store.transact(lambda tx: f.upload(tx, "u2", "pother", f.details())))
    timer.start()
    started = time.perf_counter()
    page = await sync.pull(octopus, "u1", cursor, wait=0.6)
    assert page.events == [] and page.more is False and page.cursor == cursor
    assert 0.55 < time.perf_counter() - started < 1.0
    assert len(octopus.sync_waiters) == 0


async def test_waiters_resolve_for_commits_that_raced_the_read_and_clean_up() -> None:
    waiters = sync.Waiters()
    waiters.committed(10, {"u1"})
    assert await waiters.wait("u1", 9, 5) is True  # committed before the wait began: no sleep
    tasks = [asyncio.create_task(waiters.wait("u1" if i % 2 else "u2", 10, 5)) for i in range(200)]
    await asyncio.sleep(0.01)
    assert len(waiters) == 200
    await asyncio.to_thread(waiters.committed, 11, frozenset({"u1"}))
    done, pending = await asyncio.wait(tasks, timeout=1)
    assert len(done) == 100 and all(t.result() is True for t in done)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    assert len(waiters) == 0
