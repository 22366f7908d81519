"""The event log: appends, reads, idempotency, optimistic concurrency, metadata, upcasting, hashes."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

from eventlog_support import ProbeNoted, ProbeTagged, flip_byte_of_marker
from octopus_events import events as event_registry
from octopus_events.errors import ConcurrencyConflict, Conflict, Invalid
from octopus_events.events import Event, UnknownEventType, decode_event
from octopus_events.eventstore import ANY, NO_STREAM, EventStore, Meta, chain_hash, new_event_id


@pytest.fixture
def store(tmp_path: Path):
    with EventStore(tmp_path / "octopus.db") as s:
        yield s


def notes(*texts: str) -> list[ProbeNoted]:
    return [ProbeNoted(text=t) for t in texts]


def test_append_assigns_gap_free_positions_across_streams(store: EventStore) -> None:
    a = store.append("photo-a", NO_STREAM, notes("a1", "a2"))
    b = store.append("photo-b", NO_STREAM, notes("b1"))
    c = store.append("photo-a", 2, notes("a3"))
    assert (a.positions, a.stream_version) == ([1, 2], 2)
    assert (b.positions, b.stream_version) == ([3], 1)
    assert (c.positions, c.stream_version) == ([4], 3)
    assert store.head() == 4
    everything = store.read_all()
    assert [r.position for r in everything] == [1, 2, 3, 4]
    assert [r.event.text for r in everything] == ["a1", "a2", "b1", "a3"]
    assert [(r.stream, r.stream_version) for r in everything] == [
        ("photo-a", 1), ("photo-a", 2), ("photo-b", 1), ("photo-a", 3)
    ]


def test_read_all_pages_and_read_stream_filters(store: EventStore) -> None:
    for i in range(7):
        store.append(f"s{i % 2}", ANY, notes(f"e{i}"))
    assert [r.position for r in store.read_all(after=2, limit=3)] == [3, 4, 5]
    assert store.read_all(after=7) == []
    assert [r.event.text for r in store.read_stream("s1")] == ["e1", "e3", "e5"]
    assert [r.stream_version for r in store.read_stream("s0", after_version=2)] == [3, 4]
    assert store.stream_version("s0") == 4
    assert store.stream_version("nobody") == 0
    chunks = list(store.iter_all(after=1, chunk=2))
    assert [[r.position for r in c] for c in chunks] == [[2, 3], [4, 5], [6, 7]]
    assert [r.position for c in store.iter_all(upto=3, chunk=2) for r in c] == [1, 2, 3]


def test_metadata_is_recorded_and_owner_defaults_to_actor(store: EventStore) -> None:
    store.append("photo-1", NO_STREAM, notes("x"), meta=Meta(actor="alice", correlation_id="req-1", causation_id="cmd-1"))
    store.append("photo-2", NO_STREAM, notes("y"), meta=Meta(actor="admin", owner="bob"))
    store.append("photo-3", NO_STREAM, notes("z"))
    first, second, third = store.read_all()
    assert (first.actor, first.owner, first.correlation_id, first.causation_id) == ("alice", "alice", "req-1", "cmd-1")
    assert (second.actor, second.owner) == ("admin", "bob")
    assert (third.actor, third.owner, third.correlation_id) == (None, None, None)
    assert first.type == "ProbeNoted"
    assert len(first.event_id) == 32 and first.event_id != second.event_id
    assert first.recorded_us > 1_600_000_000 * 1_000_000
    assert [r.position for r in store.read_all(owner="bob")] == [2]
    assert [r.position for r in store.read_all(owner="alice")] == [1]


def test_stale_expected_version_raises_conflict_and_writes_nothing(store: EventStore) -> None:
    store.append("album-1", NO_STREAM, notes("created"))
    with pytest.raises(ConcurrencyConflict) as caught:
        store.append("album-1", NO_STREAM, notes("created again"))
    assert (caught.value.stream, caught.value.expected, caught.value.actual) == ("album-1", 0, 1)
    with pytest.raises(ConcurrencyConflict):
        store.append("album-1", 5, notes("from the future"))
    assert store.head() == 1
    assert store.append("album-1", 1, notes("renamed")).positions == [2]
    assert store.append("album-1", ANY, notes("whatever")).stream_version == 3


def test_retried_append_with_same_ids_records_nothing_twice(store: EventStore) -> None:
    ids = [new_event_id(), new_event_id()]
    first = store.append("photo-9", NO_STREAM, notes("up", "tag"), ids=ids)
    store.append("photo-8", NO_STREAM, notes("other"))
    # The retry carries a now-stale expected version: the ids win, it is the same request.
    again = store.append("photo-9", NO_STREAM, notes("up", "tag"), ids=ids)
    assert not first.duplicate and again.duplicate
    assert again.positions == first.positions == [1, 2]
    assert store.head() == 3
    with pytest.raises(Conflict):
        store.append("photo-9", ANY, notes("a", "b"), ids=[ids[0], new_event_id()])
    with pytest.raises(Invalid):
        store.append("photo-9", ANY, notes("a", "b"), ids=[ids[0]])
    assert store.head() == 3


def test_invalid_appends_are_refused(store: EventStore) -> None:
    with pytest.raises(Invalid):
        store.append("s", ANY, [])
    with pytest.raises(Invalid):
        store.append("", ANY, notes("x"))
    with pytest.raises(Invalid):
        store.append("s", ANY, [ProbeNoted(text="x" * 300_000)])
    assert store.head() == 0


def test_transaction_appends_to_several_streams_atomically(store: EventStore) -> None:
    store.append("user-1", NO_STREAM, notes("u"))

    def both(tx: Any) -> None:
        tx.append("photo-1", NO_STREAM, notes("p"))
        tx.append("user-1", NO_STREAM, notes("stale"))  # conflicts: the photo append must vanish too

    with pytest.raises(ConcurrencyConflict):
        store.transact(both)
    assert store.head() == 1 and store.stream_version("photo-1") == 0
    store.transact(lambda tx: [tx.append("photo-1", NO_STREAM, notes("p")), tx.append("user-1", 1, notes("u2"))])
    assert [r.stream for r in store.read_all()] == ["user-1", "photo-1", "user-1"]


async def test_append_async_runs_on_the_writer_thread(store: EventStore) -> None:
    result = await store.append_async("photo-1", NO_STREAM, [ProbeTagged(tags=["sea", "sun"])])
    assert result.positions == [1]
    assert store.read_stream("photo-1")[0].event == ProbeTagged(tags=["sea", "sun"])


def test_events_table_is_append_only(store: EventStore) -> None:
    store.append("s", ANY, notes("x"))
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE events SET data = x'00' WHERE position = 1")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("DELETE FROM events")
    conn.close()


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "octopus.db"
    with EventStore(path) as s:
        s.append("s", ANY, notes("one", "two"))
    with EventStore(path) as s:
        assert s.head() == 2
        s.append("s", 2, notes("three"))
        report = s.verify()
    assert report.ok and report.checked == 3 and report.head == 3


def test_hash_chain_matches_stored_rows(store: EventStore) -> None:
    store.append("s", ANY, notes("a", "b", "c"))
    rows = store.reader().execute(
        "SELECT position, event_id, stream, stream_version, type, type_version, data, recorded_us, actor, owner, "
        "correlation_id, causation_id, hash FROM events ORDER BY position"
    ).fetchall()
    prev = bytes(32)
    for row in rows:
        prev = chain_hash(prev, row[:12])
        assert prev == row[12]


def test_one_flipped_byte_is_found_and_named(tmp_path: Path) -> None:
    path = tmp_path / "octopus.db"
    with EventStore(path) as s:
        s.append("a", ANY, notes("plain 1", "plain 2"))
        s.append("b", ANY, notes("TAMPER-ME-8d41c"))  # position 3
        s.append("a", ANY, notes("plain 4"))
        assert s.verify().ok
    flip_byte_of_marker(path, b"TAMPER-ME-8d41c")
    with EventStore(path) as s:
        report = s.verify()
    assert not report.ok
    assert report.first_bad_position == 3 and report.checked == 2 and report.head == 4
    assert "position 3" in (report.problem or "")


# -- upcasting ----------------------------------------------------------------------------------
# The registry is global, so each test uses its own type name. `_probe_class` returns the class
# that one version of the code would define: the same module and qualified name every time, as a
# newer server's module would, so registering it replaces the older class.
def _probe_class(tag: str, version: int) -> type[Event]:
    if version == 1:
        class Probe(Event, tag=tag, frozen=True):
            title: str
    elif version == 2:
        class Probe(Event, tag=tag, frozen=True):  # type: ignore[no-redef]
            version: ClassVar[int] = 2
            name: str
            rating: int

            @staticmethod
            def upcast_v1(data: dict[str, Any]) -> dict[str, Any]:
                return {"name": data["title"], "rating": 0}
    else:
        class Probe(Event, tag=tag, frozen=True):  # type: ignore[no-redef]
            version: ClassVar[int] = 3
            name: str
            stars: int

            @staticmethod
            def upcast_v1(data: dict[str, Any]) -> dict[str, Any]:
                return {"name": data["title"], "rating": 0}

            @staticmethod
            def upcast_v2(data: dict[str, Any]) -> dict[str, Any]:
                return {"name": data["name"], "stars": data["rating"] + 1}
    return Probe


def _install(cls: type[Event]) -> type[Event]:
    """What starting a newer server does: its class is the one registered under the tag."""
    gc.collect()  # drop the older class object, so the lazy registry cannot pick it up again
    event_registry.register(cls)
    return cls


def test_v1_event_is_read_back_as_v2(tmp_path: Path) -> None:
    tag = "UpcastProbeTwo"
    path = tmp_path / "octopus.db"
    v1 = _install(_probe_class(tag, 1))
    with EventStore(path) as s:
        s.append("photo-1", NO_STREAM, [v1(title="beach")])
        assert s.read_stream("photo-1")[0].event == v1(title="beach")
    del v1
    v2 = _install(_probe_class(tag, 2))
    with EventStore(path) as s:
        s.append("photo-1", 1, [v2(name="dune", rating=4)])
        old, new = s.read_stream("photo-1")
        assert type(old.event) is v2 and old.event == v2(name="beach", rating=0)
        assert new.event == v2(name="dune", rating=4)
        # Upcasting happens on read only: the stored row is still version 1 and still verifies.
        stored = s.reader().execute("SELECT type_version, data FROM events ORDER BY position").fetchall()
        assert stored == [(1, b'{"type":"UpcastProbeTwo","title":"beach"}'), (2, msgspec.json.encode(new.event))]
        assert s.verify().ok


def test_upcasters_chain_from_any_older_version(tmp_path: Path) -> None:
    tag = "UpcastProbeThree"
    v3 = _install(_probe_class(tag, 3))
    assert decode_event(tag, 1, b'{"type":"UpcastProbeThree","title":"t"}') == v3(name="t", stars=1)
    assert decode_event(tag, 2, b'{"type":"UpcastProbeThree","name":"n","rating":4}') == v3(name="n", stars=5)
    assert decode_event(tag, 3, b'{"type":"UpcastProbeThree","name":"n","stars":2}') == v3(name="n", stars=2)
    with pytest.raises(UnknownEventType, match="newer server"):
        decode_event(tag, 4, b'{"type":"UpcastProbeThree"}')
    with pytest.raises(UnknownEventType):
        decode_event("NoSuchEventEver", 1, b"{}")


def test_a_version_without_its_upcaster_is_refused() -> None:
    class Broken(Event, tag="UpcastProbeBroken", frozen=True):
        version: ClassVar[int] = 2
        x: int

    with pytest.raises(TypeError, match="upcast_v1"):
        event_registry.register(Broken)
    del Broken
    gc.collect()
    # A leftover invalid class would break every later lazy registration in this process.
    assert "UpcastProbeBroken" not in {c.__struct_config__.tag for c in Event.__subclasses__()}
