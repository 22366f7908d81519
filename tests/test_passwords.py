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


# Made by Octopus Photos 0.6.1's own code (passlib's CryptContext(schemes=["bcrypt"]) on bcrypt
# 3.1.7): the admin of tests/fixtures/octopus-0.6.1, a long password and a non-ASCII one.
BCRYPT_061 = "$2b$12$N4AkZnLU71.nPYPQ7zYPcOPTwTRAbj6Y3O761etrbQ5.a7wnjxCEK"  # ana-old-password
BCRYPT_061_LONG = "$2b$12$TldLd9pCVZZQssp8T2xZAOjA3QzbQFg9TFu.zFY7FQiS3.MttXzvy"  # "long " * 16, 80 bytes
BCRYPT_061_UNICODE = "$2b$12$eT6aUhz97NhiFxslXYQRkeM5t79MoOkNMeisyZfiwcdkHhvXy8KRK"  # pässwörd-🐙


def test_bcrypt_hashes_from_0_6_1_verify_and_are_due_a_rehash() -> None:
    assert verify_password(BCRYPT_061, "ana-old-password") is True
    assert verify_password(BCRYPT_061, "ana-old-passwore") is False
    assert verify_password(BCRYPT_061_UNICODE, "pässwörd-🐙") is True
    assert verify_password(BCRYPT_061_UNICODE, "passwörd-🐙") is False
    assert needs_rehash(BCRYPT_061) is True
    # $2a$ / $2y$ spell the same algorithm for these passwords (other bcrypt libraries write them).
    assert verify_password("$2y$" + BCRYPT_061[4:], "ana-old-password") is True


def test_bcrypt_looks_at_72_bytes_as_0_6_1_did() -> None:
    # passlib on bcrypt 3 cut passwords at 72 bytes; bcrypt 5 would refuse them: we cut as it did.
    password = "long " * 16
    assert verify_password(BCRYPT_061_LONG, password) is True
    assert verify_password(BCRYPT_061_LONG, password[:72] + "anything after byte 72") is True
    assert verify_password(BCRYPT_061_LONG, "long " * 14) is False


def test_a_malformed_bcrypt_hash_raises_without_leaking_anything() -> None:
    for broken in ("$2b$12$short", BCRYPT_061[:-1] + "!", "$2b$1$" + BCRYPT_061[7:]):
        with pytest.raises(ValueError, match="not a valid bcrypt hash") as info:
            verify_password(broken, "ana-old-password")
        assert "ana-old-password" not in str(info.value) and broken not in str(info.value)
    with pytest.raises(ValueError, match="no known scheme"):
        verify_password("$1$md5crypt$whatever", "pw")
