"""Devices and app passwords, in process: a real library in a temp dir, no HTTP.

Covers the password's form and storage (never in clear, never in the log), verification and its
cost, revocation at once, rate limiting, activity flushed without an event per request, the
read model's rebuild, and account deletion."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Iterator

import pytest

from octopus_events import devices as devmod
from octopus_events import keystore
from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.errors import Invalid, NotFound, RateLimited
from octopus_events.eventstore import Meta

PASSWORD = "correct horse battery"


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Octopus]:
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open(background_rebuilds=False)
    try:
        yield octopus
    finally:
        octopus.close()


def user(octopus: Octopus, name: str) -> str:
    hashed = asyncio.run(octopus.accounts.hash_password(PASSWORD))
    return octopus.store.transact(lambda tx: octopus.accounts.create_in(
        tx, name, hashed, admin=None, quota_bytes=None, meta=Meta())).id


def add(octopus: Octopus, owner: str, name: str = "Pixel 8") -> devmod.NewDevice:
    return asyncio.run(octopus.devices.add(owner, name, Meta(actor=owner, owner=owner)))


def log_bytes(octopus: Octopus) -> bytes:
    rows = octopus.store.reader().execute("SELECT data FROM events").fetchall()
    return b"".join(bytes(r[0]) for r in rows)


def test_app_password_form_storage_and_verification(library: Octopus) -> None:
    alice = user(library, "alice")
    new = add(library, alice)
    assert new.app_password.startswith(f"oct_{new.id}_") and len(new.app_password) == 54
    secret = new.app_password.rsplit("_", 1)[1]
    assert len(secret) * 5 >= 128  # base32: 5 bits a character
    found = library.devices.verify(new.app_password)
    assert found is not None and found.device_id == new.id and found.user.id == alice
    # Neither the password nor the secret is anywhere in the database file's tables.
    conn = library.store.reader()
    dump = b"".join(bytes(str(row), "utf-8") for t in ("events", "keystore", "device")
                    for row in conn.execute(f"SELECT * FROM {t}"))
    assert secret.encode() not in dump and new.app_password.encode() not in dump
    assert b"Pixel 8" not in log_bytes(library)  # the name is sealed under the owner's key
    # A wrong secret for the right device, a malformed one and a made-up device all fail.
    wrong = new.app_password[:-1] + ("a" if new.app_password[-1] != "a" else "b")
    assert library.devices.verify(wrong) is None
    assert library.devices.verify("oct_nope") is None
    assert library.devices.verify(f"oct_d{'0' * 16}_{secret}") is None
    # Basic: the account's username (any case) with the app password.
    assert library.devices.authenticate_basic("ALICE", new.app_password) is not None
    assert library.devices.authenticate_basic("bob", new.app_password) is None


def test_list_names_and_revoke_at_once(library: Octopus) -> None:
    alice, bob = user(library, "alice"), user(library, "bob")
    phone, tablet = add(library, alice, "  Phone\n"), add(library, alice, "Tablet")
    listed = library.devices.list(alice)
    assert [d.name for d in listed] == ["Tablet", "Phone"] and all(d.kind == "app_password" for d in listed)
    assert all(d.last_seen is None and d.uploads == 0 for d in listed)
    assert library.devices.list(bob) == []
    assert library.devices.verify(phone.app_password) is not None  # cached now
    with pytest.raises(NotFound):  # someone else's device: as unknown
        asyncio.run(library.devices.revoke(bob, phone.id, Meta()))
    asyncio.run(library.devices.revoke(alice, phone.id, Meta(actor=alice, owner=alice)))
    assert library.devices.verify(phone.app_password) is None
    assert [d.id for d in library.devices.list(alice)] == [tablet.id]
    with pytest.raises(Invalid):
        add(library, alice, "   ")


def test_activity_is_kept_in_memory_and_flushed_without_events(tmp_path: Path) -> None:
    config = Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))
    with Octopus(config) as octopus:
        alice = user(octopus, "alice")
        new = add(octopus, alice)
        position = octopus.store.reader().execute("SELECT max(position) FROM events").fetchone()[0]
        for _ in range(50):
            assert octopus.devices.authenticate(new.app_password, "192.0.2.1") is not None
        octopus.devices.uploaded(new.id)
        octopus.devices.uploaded(new.id)
        listed = octopus.devices.list(alice)[0]
        assert listed.uploads == 2 and listed.last_seen and listed.last_upload
        assert octopus.store.reader().execute("SELECT max(position) FROM events").fetchone()[0] == position
    # Closing flushed it into the keystore record: a restart still knows.
    with Octopus(config) as octopus:
        again = octopus.devices.list(alice)[0]
        assert again.uploads == 2 and again.last_upload == listed.last_upload


def test_failures_are_rate_limited_like_sign_ins(library: Octopus) -> None:
    alice = user(library, "alice")
    new = add(library, alice)
    wrong = new.app_password[:-4] + "aaaa"
    for _ in range(library.config.auth.login_max_failures):
        assert library.devices.authenticate(wrong, "198.51.100.7") is None
    with pytest.raises(RateLimited):
        library.devices.authenticate(wrong, "198.51.100.7")
    with pytest.raises(RateLimited):  # the address is spent, whatever it sends now
        library.devices.authenticate_basic("alice", new.app_password, "198.51.100.7")


def test_read_model_rebuilds_and_account_deletion_removes_devices(library: Octopus) -> None:
    alice, bob = user(library, "alice"), user(library, "bob")
    a1, _a2, b1 = add(library, alice, "A1"), add(library, alice, "A2"), add(library, bob, "B1")
    asyncio.run(library.devices.revoke(alice, a1.id, Meta()))
    before = library.devices.list(alice)
    library.engine.rebuild("devices", wait=True)
    assert library.devices.list(alice) == before
    assert library.devices.verify(b1.app_password) is not None
    asyncio.run(library.accounts.delete_user(bob, Meta()))
    assert library.devices.verify(b1.app_password) is None
    conn = library.store.reader()
    assert conn.execute("SELECT count(*) FROM device WHERE owner = ?", (bob,)).fetchone()[0] == 0
    assert keystore.rows_for(conn, bob, devmod.PURPOSE) == []
    library.engine.rebuild("devices", wait=True)  # the shredded key leaves nothing to rebuild from
    assert library.devices.list(bob) == []


def test_verification_costs_microseconds(library: Octopus) -> None:
    alice = user(library, "alice")
    new = add(library, alice)
    verify = library.devices.verify
    assert verify(new.app_password) is not None  # warm: the key and the digest are cached
    n = 10_000
    started = time.perf_counter()
    for _ in range(n):
        verify(new.app_password)
    each_us = (time.perf_counter() - started) / n * 1e6
    print(f"app password verification: {each_us:.1f} µs each ({n} runs)")
    assert each_us < 50
