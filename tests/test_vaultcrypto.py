"""Vault key wrapping and streamed file encryption, with real crypto and real temp files."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import msgspec
import pytest

from octopus_events import vaultcrypto
from octopus_events.passwords import token_digest
from octopus_events.vaultcrypto import (
    VaultTampered,
    WrappedVaultKey,
    WrongPassphrase,
    create_vault,
    decrypt_bytes,
    encrypt_bytes,
    encrypt_file,
    iter_decrypt_file,
    new_vault_token,
    rewrap_vault_key,
    unwrap_vault_key,
    vault_token_digest,
    verify_file,
)

PREFIX = 9 + 24  # magic/version/chunk size + secretstream header
ABYTES = 17


@pytest.fixture(scope="module")
def vault() -> tuple[WrappedVaultKey, bytes]:
    return create_vault("correct horse battery staple")


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


# --------------------------------------------------------------------------- vault key


def test_create_and_unwrap(vault: tuple[WrappedVaultKey, bytes]) -> None:
    wrapped, vault_key = vault
    assert len(vault_key) == 32
    assert vault_key not in wrapped.wrapped
    assert wrapped.version == 1
    assert wrapped.opslimit == vaultcrypto.VAULT_OPSLIMIT
    assert wrapped.memlimit == vaultcrypto.VAULT_MEMLIMIT
    assert unwrap_vault_key(wrapped, "correct horse battery staple") == vault_key


def test_production_kdf_parameters_are_strong() -> None:
    assert vaultcrypto.VAULT_MEMLIMIT >= 64 * 1024 * 1024
    assert vaultcrypto.VAULT_OPSLIMIT >= 2


def test_wrong_passphrase(vault: tuple[WrappedVaultKey, bytes]) -> None:
    wrapped, _ = vault
    with pytest.raises(WrongPassphrase):
        unwrap_vault_key(wrapped, "correct horse battery stapler")


def test_wrapped_key_survives_msgspec_round_trip(vault: tuple[WrappedVaultKey, bytes]) -> None:
    wrapped, vault_key = vault
    for codec in (msgspec.msgpack, msgspec.json):
        again = codec.decode(codec.encode(wrapped), type=WrappedVaultKey)
        assert again == wrapped
        assert unwrap_vault_key(again, "correct horse battery staple") == vault_key


def test_tampered_wrapped_key_does_not_unwrap(vault: tuple[WrappedVaultKey, bytes]) -> None:
    wrapped, _ = vault
    flipped = bytearray(wrapped.wrapped)
    flipped[-1] ^= 1
    with pytest.raises(WrongPassphrase):
        unwrap_vault_key(
            msgspec.structs.replace(wrapped, wrapped=bytes(flipped)), "correct horse battery staple"
        )
    # Lowering the stored cost changes the KEK, so it cannot be used to weaken an existing vault.
    with pytest.raises(WrongPassphrase):
        unwrap_vault_key(
            msgspec.structs.replace(wrapped, opslimit=2), "correct horse battery staple"
        )


def test_absurd_stored_parameters_are_refused_before_the_kdf(
    vault: tuple[WrappedVaultKey, bytes],
) -> None:
    wrapped, _ = vault
    for bad in (
        msgspec.structs.replace(wrapped, memlimit=8 * 1024**3),
        msgspec.structs.replace(wrapped, opslimit=1000),
        msgspec.structs.replace(wrapped, version=2),
        msgspec.structs.replace(wrapped, salt=b"short"),
    ):
        with pytest.raises(ValueError):
            unwrap_vault_key(bad, "correct horse battery staple")


def test_rewrap_keeps_key_and_retires_old_passphrase(
    vault: tuple[WrappedVaultKey, bytes],
) -> None:
    wrapped, vault_key = vault
    rewrapped = rewrap_vault_key(wrapped, "correct horse battery staple", "new passphrase")
    assert rewrapped.salt != wrapped.salt
    assert rewrapped.wrapped != wrapped.wrapped
    assert unwrap_vault_key(rewrapped, "new passphrase") == vault_key
    with pytest.raises(WrongPassphrase):
        unwrap_vault_key(rewrapped, "correct horse battery staple")
    # Data encrypted before the change still decrypts after it: nothing is re-encrypted.
    blob = encrypt_bytes(b"old photo", vault_key)
    assert decrypt_bytes(blob, unwrap_vault_key(rewrapped, "new passphrase")) == b"old photo"


def test_rewrap_with_wrong_old_passphrase(vault: tuple[WrappedVaultKey, bytes]) -> None:
    wrapped, _ = vault
    with pytest.raises(WrongPassphrase):
        rewrap_vault_key(wrapped, "nope", "new passphrase")


def test_empty_passphrase_refused() -> None:
    with pytest.raises(ValueError):
        create_vault("")


def test_vault_tokens_use_the_session_token_scheme() -> None:
    t = new_vault_token()
    assert t != new_vault_token() and len(t) >= 43
    assert vault_token_digest(t) == token_digest(t)


# --------------------------------------------------------------------------- bytes


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 64, 1000])
def test_bytes_round_trip_at_chunk_boundaries(key: bytes, size: int) -> None:
    data = os.urandom(size)
    blob = encrypt_bytes(data, key, chunk_size=16)
    assert decrypt_bytes(blob, key) == data
    chunks = max(1, -(-size // 16))
    if size and size % 16 == 0:
        assert len(blob) == PREFIX + size + chunks * ABYTES
    assert decrypt_bytes(encrypt_bytes(data, key), key) == data


def test_bytes_wrong_key(key: bytes) -> None:
    blob = encrypt_bytes(b"hello", key)
    with pytest.raises(VaultTampered, match="wrong key"):
        decrypt_bytes(blob, os.urandom(32))


def test_bytes_context_binding(key: bytes) -> None:
    blob = encrypt_bytes(b"hello", key, context=b"photo-1")
    assert decrypt_bytes(blob, key, context=b"photo-1") == b"hello"
    with pytest.raises(VaultTampered):
        decrypt_bytes(blob, key, context=b"photo-2")
    with pytest.raises(VaultTampered):
        decrypt_bytes(blob, key)


def test_every_byte_flip_detected(key: bytes) -> None:
    blob = encrypt_bytes(b"abcdefghij" * 5, key, chunk_size=16)
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(VaultTampered):
            decrypt_bytes(bytes(bad), key)


def test_every_truncation_detected(key: bytes) -> None:
    blob = encrypt_bytes(os.urandom(64), key, chunk_size=16)  # exactly 4 full chunks
    for cut in range(len(blob)):
        with pytest.raises(VaultTampered):
            decrypt_bytes(blob[:cut], key)


def test_dropping_final_chunk_at_boundary_detected(key: bytes) -> None:
    blob = encrypt_bytes(os.urandom(64), key, chunk_size=16)
    with pytest.raises(VaultTampered, match="truncated"):
        decrypt_bytes(blob[: -(16 + ABYTES)], key)


def test_appended_data_detected(key: bytes) -> None:
    # A short final chunk absorbs the extra byte and fails authentication...
    blob = encrypt_bytes(b"hello", key)
    with pytest.raises(VaultTampered):
        decrypt_bytes(blob + b"\x00", key)
    # ...after a full-size final chunk the extra bytes are seen as trailing data.
    blob = encrypt_bytes(os.urandom(32), key, chunk_size=16)
    with pytest.raises(VaultTampered, match="after the final chunk"):
        decrypt_bytes(blob + b"\x00", key)


def _chunks(blob: bytes, chunk_size: int) -> tuple[bytes, list[bytes]]:
    head, body = blob[:PREFIX], blob[PREFIX:]
    step = chunk_size + ABYTES
    return head, [body[i : i + step] for i in range(0, len(body), step)]


def test_reordered_chunks_detected(key: bytes) -> None:
    blob = encrypt_bytes(os.urandom(16 * 4 + 5), key, chunk_size=16)
    head, chunks = _chunks(blob, 16)
    assert len(chunks) == 5
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    with pytest.raises(VaultTampered, match="chunk 0"):
        decrypt_bytes(head + b"".join(swapped), key)
    swapped = [*chunks[:2], chunks[3], chunks[2], chunks[4]]
    with pytest.raises(VaultTampered, match="chunk 2"):
        decrypt_bytes(head + b"".join(swapped), key)


def test_duplicated_and_dropped_chunks_detected(key: bytes) -> None:
    blob = encrypt_bytes(os.urandom(16 * 4 + 5), key, chunk_size=16)
    head, chunks = _chunks(blob, 16)
    with pytest.raises(VaultTampered):
        decrypt_bytes(head + b"".join([chunks[0], *chunks]), key)
    with pytest.raises(VaultTampered):
        decrypt_bytes(head + b"".join([chunks[0], *chunks[2:]]), key)


def test_chunks_from_another_file_detected(key: bytes) -> None:
    a = encrypt_bytes(os.urandom(48), key, chunk_size=16)
    b = encrypt_bytes(os.urandom(48), key, chunk_size=16)
    head_a, chunks_a = _chunks(a, 16)
    _, chunks_b = _chunks(b, 16)
    with pytest.raises(VaultTampered):
        decrypt_bytes(head_a + chunks_a[0] + chunks_b[1] + chunks_a[2], key)


def test_header_fields_checked(key: bytes) -> None:
    blob = encrypt_bytes(b"hello", key)
    with pytest.raises(VaultTampered, match="magic"):
        decrypt_bytes(b"XXXX" + blob[4:], key)
    with pytest.raises(VaultTampered, match="version"):
        decrypt_bytes(blob[:4] + b"\x02" + blob[5:], key)
    with pytest.raises(VaultTampered, match="chunk size"):
        decrypt_bytes(blob[:5] + b"\xff\xff\xff\xff" + blob[9:], key)
    # A plausible but different chunk size is caught by authentication.
    with pytest.raises(VaultTampered):
        decrypt_bytes(blob[:5] + (1024).to_bytes(4, "big") + blob[9:], key)


def test_bad_key_size_is_value_error() -> None:
    with pytest.raises(ValueError):
        encrypt_bytes(b"x", b"short")
    with pytest.raises(ValueError):
        decrypt_bytes(b"x" * 100, b"short")


# --------------------------------------------------------------------------- files


def _write_big_file(path: Path, size: int, marker: bytes) -> None:
    # Pseudo-random filler with a plaintext marker sprinkled in, written in pieces so the test
    # itself never holds the file in memory.
    piece = os.urandom(1024 * 1024 - len(marker)) + marker
    with path.open("wb") as f:
        written = 0
        while written < size:
            f.write(piece[: size - written])
            written += len(piece)


def test_file_round_trip_and_no_plaintext(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "photo.jpg"
    marker = b"PLAINTEXT-MARKER-\xff\xd8\xff"
    src.write_bytes((b"\xff\xd8\xff\xe0 jpeg-ish " + marker) * 10_000)
    dst = tmp_path / "blob.enc"
    encrypt_file(src, dst, key, context=b"photo-1")
    raw = dst.read_bytes()
    assert marker not in raw and b"jpeg-ish" not in raw
    assert b"".join(iter_decrypt_file(dst, key, context=b"photo-1")) == src.read_bytes()
    assert verify_file(dst, key, context=b"photo-1") == src.stat().st_size
    assert {p.name for p in tmp_path.iterdir()} == {"photo.jpg", "blob.enc"}


def test_encrypt_file_replaces_atomically_and_leaves_no_temp(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "in"
    src.write_bytes(b"new contents")
    dst = tmp_path / "out"
    dst.write_bytes(b"previous")
    encrypt_file(src, dst, key)
    assert decrypt_bytes(dst.read_bytes(), key) == b"new contents"
    assert {p.name for p in tmp_path.iterdir()} == {"in", "out"}


def test_encrypt_file_failure_leaves_no_temp(tmp_path: Path, key: bytes) -> None:
    dst = tmp_path / "out"
    with pytest.raises(FileNotFoundError):
        encrypt_file(tmp_path / "missing", dst, key)
    (tmp_path / "in").write_bytes(b"x")
    with pytest.raises(ValueError):
        encrypt_file(tmp_path / "in", dst, b"short key")
    assert {p.name for p in tmp_path.iterdir()} == {"in"}


def test_empty_file(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    dst = tmp_path / "empty.enc"
    encrypt_file(src, dst, key)
    assert list(iter_decrypt_file(dst, key)) == [b""]
    assert verify_file(dst, key) == 0


def test_truncated_file_detected_after_yielding_authentic_chunks(
    tmp_path: Path, key: bytes
) -> None:
    src = tmp_path / "in"
    data = os.urandom(10 * 1024)
    src.write_bytes(data)
    dst = tmp_path / "out"
    encrypt_file(src, dst, key, chunk_size=1024)
    full = dst.read_bytes()
    dst.write_bytes(full[: PREFIX + 5 * (1024 + ABYTES)])  # cut at a chunk boundary
    received = []
    with pytest.raises(VaultTampered, match="truncated"):
        for chunk in iter_decrypt_file(dst, key):
            received.append(chunk)
    # What was yielded before the error is genuine plaintext, in order; verify_file catches the
    # problem up front for callers that must not send a partial response.
    assert b"".join(received) == data[: 5 * 1024]
    with pytest.raises(VaultTampered):
        verify_file(dst, key)


def test_flipped_byte_in_file_detected(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "in"
    src.write_bytes(os.urandom(200_000))
    dst = tmp_path / "out"
    encrypt_file(src, dst, key)
    raw = bytearray(dst.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    dst.write_bytes(bytes(raw))
    with pytest.raises(VaultTampered, match="chunk 1"):
        verify_file(dst, key)


def test_wrong_key_file(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "in"
    src.write_bytes(b"x" * 1000)
    dst = tmp_path / "out"
    encrypt_file(src, dst, key)
    with pytest.raises(VaultTampered, match="wrong key"):
        next(iter_decrypt_file(dst, os.urandom(32)))


def test_50mb_file_with_bounded_memory(tmp_path: Path, key: bytes) -> None:
    size = 50 * 1024 * 1024 + 12_345  # not a multiple of the chunk size
    marker = b"OCTOPUS-PLAINTEXT-MARKER"
    src = tmp_path / "big.raw"
    _write_big_file(src, size, marker)
    dst = tmp_path / "big.enc"
    limit = 2 * 1024 * 1024  # the whole file would be 25x this

    tracemalloc.start()
    try:
        encrypt_file(src, dst, key)
        _, peak_encrypt = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()

        total = 0
        for chunk in iter_decrypt_file(dst, key):
            total += len(chunk)
        _, peak_decrypt = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == size
    assert peak_encrypt < limit, f"encrypt peak {peak_encrypt} bytes"
    assert peak_decrypt < limit, f"decrypt peak {peak_decrypt} bytes"
    assert dst.stat().st_size == PREFIX + size + -(-size // (64 * 1024)) * ABYTES

    # Same content, compared piecewise; and the marker never appears in the ciphertext.
    with src.open("rb") as plain:
        for chunk in iter_decrypt_file(dst, key):
            assert chunk == plain.read(len(chunk))
        assert plain.read(1) == b""
    with dst.open("rb") as enc:
        tail = b""
        while block := enc.read(1024 * 1024):
            assert marker not in tail + block
            tail = block[-len(marker) :]
