"""Password hashing and token helpers, with the production argon2id parameters."""

from __future__ import annotations

import hashlib
import time

import pytest
from argon2 import PasswordHasher, extract_parameters

from octopus_events import passwords
from octopus_events.passwords import (
    dummy_verify,
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("correct horse battery staple")


def test_round_trip(stored: str) -> None:
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse battery staple") is True


def test_wrong_password_returns_false(stored: str) -> None:
    assert verify_password(stored, "correct horse battery stapler") is False
    assert verify_password(stored, "") is False


def test_same_password_hashes_differently() -> None:
    # Random salt per hash: equal passwords are not visible as equal hashes in the database.
    assert hash_password("pw") != hash_password("pw")


def test_unicode_password() -> None:
    h = hash_password("pässwörd-🐙")
    assert verify_password(h, "pässwörd-🐙")
    assert not verify_password(h, "passwörd-🐙")


def test_malformed_hash_raises_without_leaking_password() -> None:
    with pytest.raises(ValueError) as info:
        verify_password("not-a-hash", "s3cret-value")
    assert "s3cret-value" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ is True


def test_production_parameters_are_strong_and_in_the_hash(stored: str) -> None:
    assert passwords.PASSWORD_MEMORY_COST_KIB >= 19 * 1024
    assert passwords.PASSWORD_TIME_COST >= 2
    assert passwords.PASSWORD_PARALLELISM == 1
    assert f"m={passwords.PASSWORD_MEMORY_COST_KIB},t={passwords.PASSWORD_TIME_COST},p=1" in stored


def test_needs_rehash(stored: str) -> None:
    assert needs_rehash(stored) is False
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("pw")
    assert needs_rehash(weaker) is True
    # A weaker legacy hash still verifies, so the login path can upgrade it.
    assert verify_password(weaker, "pw") is True
    with pytest.raises(ValueError):
        needs_rehash("garbage")


def test_dummy_hash_matches_current_parameters() -> None:
    # If the parameters change, the dummy hash must be regenerated, or unknown-user logins
    # become measurably faster than real ones.
    assert needs_rehash(passwords._DUMMY_HASH) is False
    params = extract_parameters(passwords._DUMMY_HASH)
    assert params.memory_cost == passwords.PASSWORD_MEMORY_COST_KIB
    assert params.time_cost == passwords.PASSWORD_TIME_COST


def test_dummy_verify_costs_about_as_much_as_a_real_verify(stored: str) -> None:
    def best_of(fn, n: int = 3) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    real = best_of(lambda: verify_password(stored, "wrong password"))
    dummy = best_of(dummy_verify)
    assert dummy_verify() is None
    # Loose bounds: the point is "same order of work", not a micro-benchmark.
    assert 0.3 * real < dummy < 3.0 * real


def test_tokens() -> None:
    a, b = new_token(), new_token()
    assert a != b
    assert len(a) >= 43  # 32 random bytes, base64url without padding
    assert set(a) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    d = token_digest(a)
    assert d == hashlib.sha256(a.encode()).hexdigest()
    assert len(d) == 64 and a not in d
    assert token_digest(a) == d
    assert token_digest(b) != d


def test_the_scheme_is_chosen_by_the_hash_prefix() -> None:
    # Another argon2 variant (argon2i, as some older apps stored) verifies and is due a rehash.
    from argon2 import Type

    legacy = PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1, type=Type.I).hash("pw")
    assert legacy.startswith("$argon2i$")
    assert verify_password(legacy, "pw") is True and verify_password(legacy, "wrong") is False
    assert needs_rehash(legacy) is True
    # bcrypt (0.6.1) is not registered yet: refused as an unknown scheme, never as a mismatch.
    bcrypt = "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2O" + "PST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
    for check in (lambda: verify_password(bcrypt, "pw"), lambda: needs_rehash(bcrypt)):
        with pytest.raises(ValueError, match="no known scheme") as info:
            check()
        assert "pw" not in str(info.value)
