"""Vault key wrapping and streamed file encryption, with real crypto and real temp files."""

from __future__ import annotations

import io
import os
import random
import tracemalloc
from pathlib import Path

import msgspec
import pytest

from octopus_events import vaultcrypto
from octopus_events.passwords import token_digest
from vault_v1 import FIXTURE_FILES, FIXTURE_KEY, FIXTURES, encrypt_bytes_v1, encrypt_file_v1
from octopus_events.vaultcrypto import (
    VaultTampered,
    SealedFile,
    WrappedVaultKey,
    WrongPassphrase,
    create_vault,
    decrypt_bytes,
    encrypt_bytes,
    encrypt_file,
    iter_decrypt_file,
    new_vault_token,
    read_range,
    rewrap_vault_key,
    unwrap_vault_key,
    vault_token_digest,
    verify_file,
)

HEADER = 33  # magic, version, chunk size, plaintext length, nonce prefix
ABYTES = 16  # the Poly1305 tag of each chunk


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
        assert len(blob) == HEADER + size + chunks * ABYTES
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
    head, body = blob[:HEADER], blob[HEADER:]
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
        decrypt_bytes(blob[:4] + b"\x03" + blob[5:], key)
    with pytest.raises(VaultTampered, match="chunk size"):
        decrypt_bytes(blob[:5] + b"\xff\xff\xff\xff" + blob[9:], key)
    # A plausible but different chunk size, or nonce prefix, is caught by authentication.
    with pytest.raises(VaultTampered, match="failed authentication"):
        decrypt_bytes(blob[:5] + (1024).to_bytes(4, "big") + blob[9:], key)
    with pytest.raises(VaultTampered, match="failed authentication"):
        decrypt_bytes(blob[:20] + bytes([blob[20] ^ 1]) + blob[21:], key)


def test_a_length_field_that_disagrees_with_the_file_is_refused(key: bytes) -> None:
    blob = encrypt_bytes(os.urandom(40), key, chunk_size=16)
    assert int.from_bytes(blob[9:17], "big") == 40
    longer = blob[:9] + (41).to_bytes(8, "big") + blob[17:]
    with pytest.raises(VaultTampered, match="truncated"):
        decrypt_bytes(longer, key)
    # Shortened so the layout fits again (the last chunk cut by one byte): the header is bound
    # into every chunk, so the lie is still caught.
    shorter = blob[:9] + (39).to_bytes(8, "big") + blob[17:-1]
    with pytest.raises(VaultTampered, match="failed authentication"):
        decrypt_bytes(shorter, key)


def test_sealing_the_same_bytes_twice_shares_nothing(key: bytes) -> None:
    data = os.urandom(100)
    a, b = encrypt_bytes(data, key, chunk_size=16), encrypt_bytes(data, key, chunk_size=16)
    assert a[:17] == b[:17] and a[17:HEADER] != b[17:HEADER]  # fresh random nonce prefix
    assert a[HEADER:HEADER + 16] != b[HEADER:HEADER + 16]
    assert SealedFile(io.BytesIO(a), key).tag != SealedFile(io.BytesIO(b), key).tag


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


def test_a_cut_file_is_refused_before_any_chunk(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "in"
    data = os.urandom(10 * 1024)
    src.write_bytes(data)
    dst = tmp_path / "out"
    encrypt_file(src, dst, key, chunk_size=1024)
    full = dst.read_bytes()
    for cut in (HEADER + 5 * (1024 + ABYTES), len(full) - 1, HEADER + 1):  # at a chunk boundary, in the last, in the first
        dst.write_bytes(full[:cut])
        received = []
        with pytest.raises(VaultTampered, match="truncated"):
            for chunk in iter_decrypt_file(dst, key):
                received.append(chunk)
        # The header says how long the file must be, so nothing was yielded at all.
        assert received == []
        with pytest.raises(VaultTampered, match="truncated"):
            verify_file(dst, key)
        with pytest.raises(VaultTampered, match="truncated"):
            next(read_range(dst, key, 0, 10))


def test_flipped_byte_in_file_detected(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "in"
    src.write_bytes(os.urandom(200_000))
    dst = tmp_path / "out"
    encrypt_file(src, dst, key)
    raw = bytearray(dst.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    dst.write_bytes(bytes(raw))
    with pytest.raises(VaultTampered, match="chunk 1 failed"):
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
    assert dst.stat().st_size == HEADER + size + -(-size // (64 * 1024)) * ABYTES

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


# --------------------------------------------------------------------------- ranges (format 2)

CHUNK = 64 * 1024


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 7 * CHUNK + 123])
def test_round_trip_at_the_default_chunk_size(key: bytes, size: int) -> None:
    data = random.Random(size).randbytes(size)
    blob = encrypt_bytes(data, key, context=b"p|original")
    assert blob[4] == 2 and int.from_bytes(blob[5:9], "big") == CHUNK
    assert len(blob) == HEADER + size + max(1, -(-size // CHUNK)) * ABYTES
    assert decrypt_bytes(blob, key, context=b"p|original") == data
    sealed = SealedFile(io.BytesIO(blob), key, context=b"p|original")
    assert sealed.authenticate() == size
    for first, length in [(0, size), (size // 2, CHUNK), (max(0, size - 1), 5), (CHUNK - 1, 2), (size, 10)]:
        assert b"".join(sealed.read(first, length)) == data[first:first + length], (first, length)


def test_every_range_of_a_small_chunked_file(key: bytes) -> None:
    data = os.urandom(100)
    sealed = SealedFile(io.BytesIO(encrypt_bytes(data, key, chunk_size=16)), key)
    assert sealed.authenticate() == 100
    for first in range(0, 102):
        for length in (0, 1, 15, 16, 17, 40, 200):
            assert b"".join(sealed.read(first, length)) == data[first:first + length]
        assert b"".join(sealed.read(first)) == data[first:]


class CountingFile(io.FileIO):
    """A real file that counts the bytes read from it."""

    bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_a_range_read_opens_only_the_chunks_it_covers(tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "video.mp4"
    size = 200 * CHUNK + 777  # 12.5 MB
    _write_big_file(src, size, b"marker")
    dst = tmp_path / "original"
    encrypt_file(src, dst, key, context=b"ctx")
    first, length = size // 2 + 1000, 1024 * 1024  # 1 MiB from the middle, not chunk-aligned
    needed = (first + length - 1) // CHUNK - first // CHUNK + 1
    assert needed == 17
    with CountingFile(dst, "rb") as f:
        sealed = SealedFile(f, key, context=b"ctx")
        assert sealed.authenticate() == size  # the header, through the final chunk's tag
        opened = f.bytes_read
        assert opened <= HEADER + (size % CHUNK) + ABYTES
        got = b"".join(sealed.read(first, length))
        assert f.bytes_read - opened == needed * (CHUNK + ABYTES)
    with src.open("rb") as plain:
        plain.seek(first)
        assert got == plain.read(length)


def test_swapped_chunks_are_refused_even_in_a_range(key: bytes) -> None:
    data = os.urandom(16 * 6)
    head, chunks = _chunks(encrypt_bytes(data, key, chunk_size=16), 16)
    swapped = head + b"".join([*chunks[:2], chunks[3], chunks[2], *chunks[4:]])
    sealed = SealedFile(io.BytesIO(swapped), key)
    assert b"".join(sealed.read(0, 32)) == data[:32]  # untouched chunks still read
    with pytest.raises(VaultTampered, match="chunk 2 failed authentication"):
        b"".join(sealed.read(40, 8))
    with pytest.raises(VaultTampered, match="chunk 2"):
        decrypt_bytes(swapped, key)


def test_truncated_last_chunk_and_appended_chunk_are_refused(key: bytes) -> None:
    blob = encrypt_bytes(os.urandom(16 * 3 + 5), key, chunk_size=16)
    head, chunks = _chunks(blob, 16)
    with pytest.raises(VaultTampered, match="truncated"):
        decrypt_bytes(blob[:-3], key)  # the short final chunk cut
    with pytest.raises(VaultTampered, match="truncated"):
        decrypt_bytes(head + b"".join(chunks[:-1]), key)  # the final chunk dropped whole
    with pytest.raises(VaultTampered, match="after the final chunk"):
        decrypt_bytes(blob + chunks[1], key)  # a genuine chunk appended
    # Full chunks dropped from the end and the header's length cannot be made to agree without
    # the key: the last remaining chunk was not sealed as the final one.
    exact = encrypt_bytes(os.urandom(16 * 3), key, chunk_size=16)
    head, chunks = _chunks(exact, 16)
    with pytest.raises(VaultTampered):
        decrypt_bytes(head[:9] + (32).to_bytes(8, "big") + head[17:] + b"".join(chunks[:2]), key)


def test_a_chunk_moved_within_the_file_fails_in_every_position(key: bytes) -> None:
    head, chunks = _chunks(encrypt_bytes(os.urandom(16 * 4), key, chunk_size=16), 16)
    for i in range(4):
        for j in range(4):
            if i != j:
                moved = list(chunks)
                moved[j] = chunks[i]
                with pytest.raises(VaultTampered, match=f"chunk {j} failed"):
                    b"".join(SealedFile(io.BytesIO(head + b"".join(moved)), key).read(j * 16, 16))


def test_range_arguments_are_checked(key: bytes) -> None:
    sealed = SealedFile(io.BytesIO(encrypt_bytes(b"hello", key)), key)
    with pytest.raises(ValueError):
        next(sealed.read(-1, 2))
    with pytest.raises(ValueError):
        next(sealed.read(0, -2))


# --------------------------------------------------------------------------- format 1 keeps opening


@pytest.mark.parametrize("name", sorted(FIXTURE_FILES))
def test_files_written_before_chunked_sealing_keep_opening(name: str) -> None:
    seed, size, chunk_size, context = FIXTURE_FILES[name]
    blob = (FIXTURES / name).read_bytes()
    plain = random.Random(seed).randbytes(size)
    assert blob[4] == 1 and int.from_bytes(blob[5:9], "big") == chunk_size
    assert decrypt_bytes(blob, FIXTURE_KEY, context=context) == plain
    sealed = SealedFile(io.BytesIO(blob), FIXTURE_KEY, context=context)
    assert sealed.version == 1 and sealed.authenticate() == size
    for first, length in [(0, 1), (size // 2, 1500), (size - 3, 10), (size, 5)]:
        assert b"".join(sealed.read(first, length)) == plain[first:first + length]
    with pytest.raises(VaultTampered):
        decrypt_bytes(blob, FIXTURE_KEY, context=b"another context")
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 1
    with pytest.raises(VaultTampered, match="failed authentication"):
        decrypt_bytes(bytes(bad), FIXTURE_KEY, context=context)
    with pytest.raises(VaultTampered, match="truncated"):
        decrypt_bytes(blob[: 33 + (chunk_size + 17) * (size // chunk_size)], FIXTURE_KEY, context=context)


def test_the_frozen_format_1_writer_matches_the_fixtures(tmp_path: Path, key: bytes) -> None:
    # What test_vault.py uses to make old vault photos writes what the old code wrote.
    seed, size, chunk_size, context = FIXTURE_FILES["chunked.octv"]
    plain = random.Random(seed).randbytes(size)
    again = encrypt_bytes_v1(plain, FIXTURE_KEY, chunk_size=chunk_size, context=context)
    fixture = (FIXTURES / "chunked.octv").read_bytes()
    assert len(again) == len(fixture) and again[:9] == fixture[:9]
    assert decrypt_bytes(again, FIXTURE_KEY, context=context) == plain
    src, dst = tmp_path / "in", tmp_path / "out"
    src.write_bytes(plain * 30)
    encrypt_file_v1(src, dst, key, context=b"c")
    assert verify_file(dst, key, context=b"c") == size * 30
    assert b"".join(read_range(dst, key, 70_000, 1000, context=b"c")) == (plain * 30)[70_000:71_000]
