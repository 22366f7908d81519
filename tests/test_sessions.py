"""Sessions end after `auth.session_days`, and a sign-in upgrades an outdated password hash.

A real library in a temp dir; time moves through the accounts' injectable clock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Iterator

import pytest
from argon2 import PasswordHasher, extract_parameters

from octopus_events import keystore, passwords
from octopus_events.application import Octopus
from octopus_events.config import AuthConfig, Config, StorageConfig
from octopus_events.errors import Forbidden, Unauthorized
from octopus_events.eventstore import Meta

PASSWORD = "correct horse battery"
DAY = 86_400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_library(data: Path, session_days: int = 30) -> Octopus:
    """Not opened yet: `with` opens and closes it."""
    return Octopus(Config(storage=StorageConfig(data_dir=str(data)), auth=AuthConfig(session_days=session_days)))


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Octopus]:
    octopus = open_library(tmp_path / "data").open(background_rebuilds=False)
    try:
        yield octopus
    finally:
        octopus.close()


def sign_in(octopus: Octopus, name: str, password: str = PASSWORD) -> str:
    token, _ = asyncio.run(octopus.accounts.login(name, password, device="t", client="192.0.2.1", meta=Meta()))
    return token


def test_a_session_older_than_session_days_is_refused(library: Octopus) -> None:
    accounts = library.accounts
    clock = Clock(1_700_000_000.0)
    accounts.clock = clock
    asyncio.run(accounts.register("owner", PASSWORD, meta=Meta()))
    token = sign_in(library, "owner")
    clock.now += 30 * DAY - 60
    assert accounts.authenticate(token).user.username == "owner"
    clock.now += 61
    with pytest.raises(Unauthorized, match="expired"):
        accounts.authenticate(token)
    # A fresh sign-in starts a fresh session.
    assert accounts.authenticate(sign_in(library, "owner")).user.username == "owner"


def test_shortening_session_days_ends_older_sessions(tmp_path: Path) -> None:
    with open_library(tmp_path / "data", session_days=30) as octopus:
        asyncio.run(octopus.accounts.register("owner", PASSWORD, meta=Meta()))
        token = sign_in(octopus, "owner")
    with open_library(tmp_path / "data", session_days=2) as octopus:
        # Still young: accepted under the new limit, though it was issued for 30 days.
        assert octopus.accounts.authenticate(token).user.username == "owner"
        octopus.accounts.clock = Clock(time.time() + 2 * DAY + 1)
        with pytest.raises(Unauthorized, match="expired"):
            octopus.accounts.authenticate(token)


def weak_hash(password: str) -> str:
    # What an older release (or weaker settings) stored: argon2id, but cheaper than today.
    return PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(password)


def stored_hash(octopus: Octopus, user_id: str) -> str:
    material = keystore.get(octopus.store.reader(), f"password:{user_id}")
    assert material is not None
    return material.decode()


def test_signing_in_with_an_outdated_hash_stores_a_current_one(library: Octopus) -> None:
    accounts = library.accounts
    user = asyncio.run(accounts.register("old-timer", PASSWORD, meta=Meta()))
    library.store.writer.call(
        lambda conn: keystore.put(conn, f"password:{user.id}", "password", user.id, weak_hash(PASSWORD).encode())
    )
    before = stored_hash(library, user.id)
    assert passwords.needs_rehash(before)
    log_before = library.store.writer.call(lambda conn: conn.execute("SELECT count(*) FROM events").fetchone()[0])

    with pytest.raises(Unauthorized):
        sign_in(library, "old-timer", "not the password")
    assert stored_hash(library, user.id) == before  # a failure changes nothing

    sign_in(library, "old-timer")
    after = stored_hash(library, user.id)
    assert after != before and not passwords.needs_rehash(after)
    params = extract_parameters(after)
    assert (params.memory_cost, params.time_cost, params.parallelism) == (
        passwords.PASSWORD_MEMORY_COST_KIB, passwords.PASSWORD_TIME_COST, passwords.PASSWORD_PARALLELISM)
    # The log gained the sign-in only: hashes never enter it, and no password change is claimed.
    types = library.store.writer.call(
        lambda conn: [r[0] for r in conn.execute("SELECT type FROM events ORDER BY position").fetchall()][log_before:]
    )
    assert types == ["UserSignedIn"]

    # The same password still works, a wrong one still does not, and nothing else changes it.
    sign_in(library, "old-timer")
    assert stored_hash(library, user.id) == after
    with pytest.raises(Unauthorized):
        sign_in(library, "old-timer", "not the password")
    # A password change afterwards: the old password is refused, the new one signs in.
    who = accounts.authenticate(sign_in(library, "old-timer"))
    asyncio.run(accounts.change_password(who, PASSWORD, "a brand new password", Meta()))
    with pytest.raises(Unauthorized):
        sign_in(library, "old-timer", PASSWORD)
    sign_in(library, "old-timer", "a brand new password")
    with pytest.raises(Forbidden):
        asyncio.run(accounts.change_password(who, PASSWORD, "yet another password", Meta()))
