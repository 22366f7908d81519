"""Sign-in limits in-process: an attacker cannot lock the owner out of a device they signed in on,
the untrusted budget still holds, and the queue in front of argon2 is bounded and lets trusted
sign-ins go first. A real library in a temp dir; time moves through injectable clocks."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Iterator

import pytest

from octopus_events.application import Octopus
from octopus_events.config import AuthConfig, Config, StorageConfig
from octopus_events.errors import RateLimited, Unauthorized
from octopus_events.eventstore import Meta
from octopus_events.signin_limits import DeviceTokens, HashingQueue, SigninLimits

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Octopus]:
    config = Config(storage=StorageConfig(data_dir=str(tmp_path / "data")),
                    auth=AuthConfig(registration="open", login_max_failures=3, login_window_seconds=300))
    octopus = Octopus(config).open(background_rebuilds=False)
    try:
        yield octopus
    finally:
        octopus.close()


def login(octopus: Octopus, name: str, password: str, client: str, device_token: str | None = None) -> str:
    token, _ = asyncio.run(octopus.accounts.login(name, password, device="test", client=client, meta=Meta(),
                                                  device_token=device_token))
    return token


def test_failures_from_many_addresses_do_not_lock_the_owner_out_of_a_known_device(library: Octopus) -> None:
    clock = Clock()
    accounts = library.accounts
    accounts.limits = SigninLimits(3, 300, clock=clock)
    owner = asyncio.run(accounts.register("owner", PASSWORD, meta=Meta()))
    login(library, "owner", PASSWORD, "192.0.2.1")
    device = accounts.issue_device_token(owner.id)  # what the web layer hands out on that success

    # An attacker from six addresses: each wrong guess costs a hash until the username's
    # untrusted budget is spent, then every untrusted attempt is refused before hashing.
    outcomes = []
    for n in range(6):
        try:
            login(library, "owner", f"guess number {n}", f"198.51.100.{n}")
        except Unauthorized:
            outcomes.append(401)
        except RateLimited as exc:
            outcomes.append(429)
            assert exc.retry_after >= 1
    assert outcomes == [401, 401, 401, 429, 429, 429]

    # The owner on their usual device, even from one of the attacker's addresses, gets in.
    assert login(library, "owner", PASSWORD, "198.51.100.0", device_token=device)
    assert login(library, "owner", PASSWORD, "192.0.2.1", device_token=device)
    # Without the device token the limit holds, even with the right password (a new device is
    # slowed while an attack runs: docs/security.md).
    with pytest.raises(RateLimited):
        login(library, "owner", PASSWORD, "192.0.2.1")
    # A token of another user, or a forged one, earns nothing.
    other = asyncio.run(accounts.register("other", PASSWORD, meta=Meta()))
    with pytest.raises(RateLimited):
        login(library, "owner", PASSWORD, "192.0.2.1", device_token=accounts.issue_device_token(other.id))
    forged = device.rsplit(".", 1)[0] + ".AAAA"
    with pytest.raises(RateLimited):
        login(library, "owner", PASSWORD, "192.0.2.1", device_token=forged)
    # The window passes: a new device may try again.
    clock.now += 301
    assert login(library, "owner", PASSWORD, "192.0.2.1")


def test_a_blocked_address_lets_a_known_device_in_but_no_one_else(library: Octopus) -> None:
    clock = Clock()
    accounts = library.accounts
    accounts.limits = SigninLimits(3, 300, clock=clock)
    for name in ("alice", "bob"):
        asyncio.run(accounts.register(name, PASSWORD, meta=Meta()))
    alice = asyncio.run(accounts.login("alice", PASSWORD, device="phone", client="203.0.113.9", meta=Meta()))[1]
    device = accounts.issue_device_token(alice.id)
    # One address sprays usernames (a shared NAT: the attacker and the family look alike).
    for n in range(3):
        with pytest.raises(Unauthorized):
            login(library, f"nobody{n}", "not a password", "203.0.113.9")
    with pytest.raises(RateLimited):
        login(library, "bob", PASSWORD, "203.0.113.9")  # untrusted at a blocked address
    assert login(library, "alice", PASSWORD, "203.0.113.9", device_token=device)


def test_a_known_device_has_a_budget_of_its_own(library: Octopus) -> None:
    clock = Clock()
    accounts = library.accounts
    accounts.limits = SigninLimits(3, 300, clock=clock)
    owner = asyncio.run(accounts.register("owner", PASSWORD, meta=Meta()))
    stolen, kept = accounts.issue_device_token(owner.id), accounts.issue_device_token(owner.id)
    # Whoever guesses with a device token exhausts that token, not the owner's other devices.
    for n in range(3):
        with pytest.raises(Unauthorized):
            login(library, "owner", f"guess {n}", "198.51.100.7", device_token=stolen)
    with pytest.raises(RateLimited):
        login(library, "owner", PASSWORD, "198.51.100.7", device_token=stolen)
    assert login(library, "owner", PASSWORD, "198.51.100.7", device_token=kept)
    assert login(library, "owner", PASSWORD, "192.0.2.1")  # the untrusted budget was not touched


def test_device_tokens_are_bound_to_their_user_and_signed() -> None:
    tokens = DeviceTokens(lambda: b"k" * 32)
    token = tokens.issue("u1")
    assert tokens.device_of(token, "u1")
    assert tokens.device_of(token, "u2") is None
    assert DeviceTokens(lambda: b"x" * 32).device_of(token, "u1") is None  # another library's key
    for bad in (None, "", "garbage", token + "x", token.replace("d1.", "d2.", 1), "d1.u1." + "a" * 300):
        assert tokens.device_of(bad, "u1") is None


def test_the_device_key_survives_a_restart(tmp_path: Path) -> None:
    config = Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))
    with Octopus(config) as octopus:
        token = octopus.accounts.issue_device_token("u1")
    with Octopus(config) as octopus:
        assert octopus.accounts.devices.device_of(token, "u1")


# -- the queue in front of argon2 -----------------------------------------------------------------


class Blocker:
    """A stand-in for a slow hash: runs until the test lets it go, and records overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.order: list[str] = []
        self.started = threading.Semaphore(0)
        self.go = threading.Event()

    def job(self, name: str):
        def run() -> str:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.order.append(name)
            self.started.release()
            self.go.wait(10)
            with self.lock:
                self.running -= 1
            return name

        return run


def test_hashing_queue_is_bounded_and_serves_trusted_sign_ins_first() -> None:
    queue = HashingQueue(running=1, waiting=2, priority_waiting=2)
    blocker = Blocker()

    async def scenario() -> tuple[list[object], list[str]]:
        first = asyncio.create_task(queue.run(blocker.job("running"), priority=False))
        await asyncio.to_thread(blocker.started.acquire)  # the slot is taken
        waiting = [asyncio.create_task(queue.run(blocker.job(f"anon{n}"))) for n in range(2)]
        await asyncio.sleep(0)  # let them queue (no time passes: one turn of the loop)
        # The ordinary lane is full: the next anonymous attempt is refused at once, no thread.
        with pytest.raises(RateLimited) as refused:
            await queue.run(blocker.job("refused"))
        assert refused.value.retry_after >= 1
        trusted = asyncio.create_task(queue.run(blocker.job("trusted"), priority=True))
        await asyncio.sleep(0)
        blocker.go.set()
        results = await asyncio.gather(first, *waiting, trusted)
        return list(results), blocker.order

    results, order = asyncio.run(scenario())
    assert results == ["running", "anon0", "anon1", "trusted"]
    assert order == ["running", "trusted", "anon0", "anon1"]  # the trusted one overtook the queue
    assert blocker.most == 1
    queue.close()


def test_hashing_queue_gives_the_slot_back_when_a_waiter_goes_away() -> None:
    queue = HashingQueue(running=1, waiting=1, priority_waiting=1)
    blocker = Blocker()

    async def scenario() -> str:
        first = asyncio.create_task(queue.run(blocker.job("first")))
        await asyncio.to_thread(blocker.started.acquire)
        gone = asyncio.create_task(queue.run(blocker.job("gone")))
        await asyncio.sleep(0)
        gone.cancel()  # the client hung up while waiting
        with pytest.raises(asyncio.CancelledError):
            await gone
        blocker.go.set()
        await first
        return await queue.run(blocker.job("after"))

    assert asyncio.run(scenario()) == "after"
    assert "gone" not in blocker.order
    queue.close()
