"""Sealing personal fields under per-photo data keys (crypto-shredding)."""

from __future__ import annotations

import msgspec
import pytest

from octopus_events.sealing import (
    SealError,
    new_data_key,
    seal,
    seal_struct,
    unseal,
    unseal_struct,
)

CTX = b"photo-123|PhotoDescribed"


class Described(msgspec.Struct):
    filename: str
    description: str
    gps: tuple[float, float] | None = None


def test_round_trip() -> None:
    key = new_data_key()
    sealed = seal(key, b"IMG_0001.jpg", context=CTX)
    assert unseal(key, sealed, context=CTX) == b"IMG_0001.jpg"


def test_empty_plaintext_round_trip() -> None:
    key = new_data_key()
    assert unseal(key, seal(key, b"", context=CTX), context=CTX) == b""


def test_format_version_prefix_and_no_plaintext() -> None:
    key = new_data_key()
    sealed = seal(key, b"secret-marker-42", context=CTX)
    assert sealed[0] == 1
    assert len(sealed) == 1 + 24 + len(b"secret-marker-42") + 16
    assert b"secret-marker-42" not in sealed
    # Random nonce: sealing the same value twice gives unrelated bytes.
    assert seal(key, b"secret-marker-42", context=CTX) != sealed


def test_data_keys_are_random_32_bytes() -> None:
    a, b = new_data_key(), new_data_key()
    assert len(a) == 32 and a != b


def test_wrong_key() -> None:
    sealed = seal(new_data_key(), b"x", context=CTX)
    with pytest.raises(SealError, match="wrong key"):
        unseal(new_data_key(), sealed, context=CTX)


def test_context_binding() -> None:
    key = new_data_key()
    sealed = seal(key, b"x", context=CTX)
    for other in (b"photo-124|PhotoDescribed", b"photo-123|PhotoTagged", CTX + b"\x00"):
        with pytest.raises(SealError, match="wrong context"):
            unseal(key, sealed, context=other)


@pytest.mark.parametrize("position", [0, 1, 24, 25, -1])
def test_every_flipped_byte_is_detected(position: int) -> None:
    key = new_data_key()
    sealed = bytearray(seal(key, b"hello world", context=CTX))
    sealed[position] ^= 0x01
    with pytest.raises(SealError):
        unseal(key, bytes(sealed), context=CTX)


def test_all_flips_detected_exhaustively() -> None:
    key = new_data_key()
    sealed = seal(key, b"abc", context=CTX)
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x80
        with pytest.raises(SealError):
            unseal(key, bytes(bad), context=CTX)


def test_truncated_and_extended() -> None:
    key = new_data_key()
    sealed = seal(key, b"hello world", context=CTX)
    for bad in (sealed[:-1], sealed[:10], b"", sealed + b"\x00"):
        with pytest.raises(SealError):
            unseal(key, bad, context=CTX)


def test_unknown_version() -> None:
    key = new_data_key()
    sealed = seal(key, b"x", context=CTX)
    with pytest.raises(SealError, match="version 2"):
        unseal(key, b"\x02" + sealed[1:], context=CTX)


def test_programming_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(b"short", b"x", context=CTX)
    with pytest.raises(ValueError, match="context"):
        seal(new_data_key(), b"x", context=b"")


def test_struct_round_trip() -> None:
    key = new_data_key()
    value = Described(filename="beach.jpg", description="Grandma at the beach", gps=(1.5, 2.5))
    sealed = seal_struct(key, value, context=CTX)
    assert b"Grandma" not in sealed
    assert unseal_struct(key, sealed, Described, context=CTX) == value


def test_struct_wrong_type_is_seal_error() -> None:
    key = new_data_key()
    sealed = seal_struct(key, {"unexpected": 1}, context=CTX)
    with pytest.raises(SealError, match="does not decode"):
        unseal_struct(key, sealed, Described, context=CTX)


def test_shredded_key_means_unrecoverable() -> None:
    # What deletion relies on: once the only copy of the key is gone, a fresh key cannot help.
    key = new_data_key()
    sealed = seal_struct(key, Described(filename="a.jpg", description="d"), context=CTX)
    del key
    with pytest.raises(SealError):
        unseal_struct(new_data_key(), sealed, Described, context=CTX)
