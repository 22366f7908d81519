"""Vault key handling and streamed, authenticated file encryption.

Keys:

- The *vault key* is 32 random bytes. Everything in a user's vault (originals, derivatives,
  metadata) is encrypted under it. It is never stored in clear.
- The *key-encryption key* (KEK) is derived from the user's passphrase with argon2id and a random
  salt. It wraps the vault key with SecretBox (XSalsa20-Poly1305). Only the resulting
  ``WrappedVaultKey`` is stored. Changing the passphrase re-wraps the same vault key, so no
  photo has to be re-encrypted. A forgotten passphrase means the vault key, and so the vault's
  photos, are gone.

Encrypted file format (version 2, written since chunked sealing), used both for files and for
``encrypt_bytes``::

    b"OCTV" | 0x02 | chunk_size (u32 BE) | plaintext length (u64 BE) | nonce prefix (16 random bytes)
    | chunk 0 | chunk 1 | ... | final chunk

Each chunk is sealed on its own with XChaCha20-Poly1305 (libsodium's IETF AEAD): ``chunk_size``
plaintext bytes (the last chunk fewer; an empty file has one empty chunk) plus a 16-byte tag. The
nonce is the file's random prefix followed by the chunk index (u64 BE); the associated data is
the whole 33-byte header, the chunk index, a final-chunk flag and the caller's ``context``. So
any byte range can be read by opening only the chunks that hold it, while flipping, dropping,
reordering or duplicating chunks, moving chunks between files, cutting the file short (even at
a chunk boundary), appending to it, changing the header, or using the wrong key or context is
detected and raises ``VaultTampered``; a decryptor never returns unauthenticated bytes.

Version 1 (before chunked sealing) was one libsodium secretstream: ``"OCTV" | 0x01 | chunk_size
| secretstream header (24 bytes) | chunks of chunk_size + 17 bytes``, chained, so readable only
from its first byte. Such files keep opening (``SealedFile`` tells them apart by the version
byte); nothing writes them any more.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec
import nacl.pwhash.argon2id as argon2id
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_ABYTES,
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
    crypto_secretstream_xchacha20poly1305_ABYTES,
    crypto_secretstream_xchacha20poly1305_HEADERBYTES,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_KEYBYTES,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from .durable import fsync_dir
from .passwords import kdf_slot, new_token, token_digest

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "SealedFile",
    "VAULT_KEY_BYTES",
    "VAULT_MEMLIMIT",
    "VAULT_OPSLIMIT",
    "VaultCryptoError",
    "VaultTampered",
    "WrappedVaultKey",
    "WrongPassphrase",
    "create_vault",
    "decrypt_bytes",
    "encrypt_bytes",
    "encrypt_file",
    "iter_decrypt_file",
    "new_vault_token",
    "read_range",
    "rewrap_vault_key",
    "unwrap_vault_key",
    "vault_token_digest",
    "verify_file",
]

VAULT_KEY_BYTES = crypto_secretstream_xchacha20poly1305_KEYBYTES  # 32

# Why these KDF parameters: unlocking the vault is rare (once per session), so it can afford to
# be slower than a login, but memory is what a 1-2 GB machine lacks. 64 MiB (libsodium's
# MEMLIMIT_INTERACTIVE) with 3 passes (between OPSLIMIT_INTERACTIVE=2 and MODERATE=3's time
# budget, without MODERATE's 256 MiB) takes ~0.1 s on a modern core and well under a second on
# an old laptop. Two concurrent derivations (kdf_slot) stay at 128 MiB.
# The parameters are stored in each WrappedVaultKey, so raising them later only affects vaults
# created or re-wrapped afterwards.
VAULT_OPSLIMIT = 3
VAULT_MEMLIMIT = 64 * 1024 * 1024

# Upper bounds accepted when *reading* a WrappedVaultKey: a stored value asking for gigabytes of
# memory would take the server down on a weak machine, whether it comes from corruption or from
# someone who can write the database.
_MAX_OPSLIMIT = argon2id.OPSLIMIT_SENSITIVE
_MAX_MEMLIMIT = argon2id.MEMLIMIT_MODERATE  # 256 MiB

_WRAP_VERSION = 1

DEFAULT_CHUNK_SIZE = 64 * 1024
# A hostile or corrupt header must not make the decryptor allocate an arbitrary buffer.
_MAX_CHUNK_SIZE = 16 * 1024 * 1024

_MAGIC = b"OCTV"
_PREFIX = struct.Struct(">4sBI")  # magic, version, chunk size: the 9 bytes both versions start with

_FILE_V1 = 1
_V1_HEADER_BYTES = crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
_V1_HEADER_END = _PREFIX.size + _V1_HEADER_BYTES
_V1_ABYTES = crypto_secretstream_xchacha20poly1305_ABYTES  # 17
_V1_TAG_MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_V1_TAG_FINAL = crypto_secretstream_xchacha20poly1305_TAG_FINAL

_FILE_V2 = 2
_NONCE_PREFIX_BYTES = 16
# magic, version, chunk size, plaintext length, nonce prefix: 33 bytes
_V2_HEADER = struct.Struct(f">4sBIQ{_NONCE_PREFIX_BYTES}s")
_INDEX = struct.Struct(">Q")
# 16 random bytes + an 8-byte index make the 24-byte XChaCha20 nonce: unique per chunk, and the
# chance that two sealings under one vault key share a prefix is about n^2 / 2^129.
assert _NONCE_PREFIX_BYTES + _INDEX.size == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_V2_ABYTES = crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16


class VaultCryptoError(Exception):
    """Base class for vault key and vault file errors."""


class WrongPassphrase(VaultCryptoError):
    """The passphrase does not unwrap the vault key (or the stored wrapped key was altered)."""


class VaultTampered(VaultCryptoError):
    """Encrypted vault data failed authentication: altered, truncated, reordered or wrong key."""


class WrappedVaultKey(msgspec.Struct, frozen=True, kw_only=True):
    """The vault key encrypted under a passphrase-derived key: the only thing stored.

    ``wrapped`` is SecretBox output (24-byte nonce + ciphertext + 16-byte tag). ``salt``,
    ``opslimit`` and ``memlimit`` are the argon2id inputs needed to re-derive the KEK.
    """

    salt: bytes
    opslimit: int
    memlimit: int
    wrapped: bytes
    version: int = _WRAP_VERSION


# --------------------------------------------------------------------------- vault key


def _derive_kek(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    with kdf_slot():
        return argon2id.kdf(
            SecretBox.KEY_SIZE,
            passphrase.encode("utf-8"),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )


def _wrap(vault_key: bytes, passphrase: str) -> WrappedVaultKey:
    if not isinstance(passphrase, str) or not passphrase:
        raise ValueError("passphrase must be a non-empty string")
    salt = secrets.token_bytes(argon2id.SALTBYTES)
    kek = _derive_kek(passphrase, salt, VAULT_OPSLIMIT, VAULT_MEMLIMIT)
    wrapped = bytes(SecretBox(kek).encrypt(vault_key))
    return WrappedVaultKey(
        salt=salt, opslimit=VAULT_OPSLIMIT, memlimit=VAULT_MEMLIMIT, wrapped=wrapped
    )


def create_vault(passphrase: str) -> tuple[WrappedVaultKey, bytes]:
    """Create a new random vault key and wrap it under ``passphrase``.

    Returns ``(wrapped, vault_key)``: store ``wrapped``; use ``vault_key`` in memory only.
    """
    vault_key = secrets.token_bytes(VAULT_KEY_BYTES)
    return _wrap(vault_key, passphrase), vault_key


def unwrap_vault_key(wrapped: WrappedVaultKey, passphrase: str) -> bytes:
    """Return the raw vault key, or raise ``WrongPassphrase``.

    A stored record with an unknown version or KDF parameters outside safe bounds raises
    ``ValueError`` without running the KDF.
    """
    if wrapped.version != _WRAP_VERSION:
        raise ValueError(f"unknown wrapped vault key version {wrapped.version}")
    if len(wrapped.salt) != argon2id.SALTBYTES:
        raise ValueError("wrapped vault key has a salt of the wrong size")
    if not (argon2id.OPSLIMIT_MIN <= wrapped.opslimit <= _MAX_OPSLIMIT) or not (
        argon2id.MEMLIMIT_MIN <= wrapped.memlimit <= _MAX_MEMLIMIT
    ):
        raise ValueError("wrapped vault key asks for KDF parameters outside the allowed range")
    kek = _derive_kek(passphrase, wrapped.salt, wrapped.opslimit, wrapped.memlimit)
    try:
        vault_key = SecretBox(kek).decrypt(wrapped.wrapped)
    except CryptoError:
        raise WrongPassphrase("wrong vault passphrase") from None
    if len(vault_key) != VAULT_KEY_BYTES:
        # Only reachable if someone wrapped something else under this passphrase.
        raise ValueError("unwrapped vault key has the wrong size")
    return vault_key


def rewrap_vault_key(wrapped: WrappedVaultKey, old: str, new: str) -> WrappedVaultKey:
    """Wrap the same vault key under passphrase ``new`` (fresh salt, current KDF parameters).

    Raises ``WrongPassphrase`` if ``old`` is wrong. Nothing encrypted under the vault key changes;
    once the caller replaces the stored record, ``old`` no longer opens the vault.
    """
    return _wrap(unwrap_vault_key(wrapped, old), new)


def new_vault_token() -> str:
    """Return a new opaque vault-unlock token (same scheme as session tokens)."""
    return new_token()


def vault_token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a vault token is stored."""
    return token_digest(token)


# --------------------------------------------------------------------------- files


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != VAULT_KEY_BYTES:
        raise ValueError(f"vault key must be {VAULT_KEY_BYTES} bytes")


def _read_exact(f: BinaryIO, n: int) -> bytes:
    """Read ``n`` bytes, or fewer only at end of file (raw streams may return short reads)."""
    data = f.read(n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = f.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _chunk_count(size: int, chunk_size: int) -> int:
    # An empty plaintext still has one (empty, final) chunk: its tag authenticates the header.
    return max(1, -(-size // chunk_size))


def _v2_nonce(prefix: bytes, index: int) -> bytes:
    return prefix + _INDEX.pack(index)


def _v2_ad(header: bytes, index: int, final: bool, context: bytes) -> bytes:
    # The whole header (so the length and chunk size), the chunk's position and whether it is
    # the last: a chunk moved, dropped, duplicated, or a file cut or extended, fails to open.
    return header + _INDEX.pack(index) + (b"\x01" if final else b"\x00") + context


def _encrypt_stream(
    src: BinaryIO, size: int, write: Callable[[bytes], object], key: bytes, chunk_size: int, context: bytes
) -> None:
    _check_key(key)
    if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {_MAX_CHUNK_SIZE}")
    header = _V2_HEADER.pack(_MAGIC, _FILE_V2, chunk_size, size, secrets.token_bytes(_NONCE_PREFIX_BYTES))
    prefix = header[-_NONCE_PREFIX_BYTES:]
    write(header)
    count = _chunk_count(size, chunk_size)
    for index in range(count):
        want = min(chunk_size, size - index * chunk_size)
        plain = _read_exact(src, want)
        if len(plain) != want:
            raise VaultCryptoError("the file got shorter while it was being encrypted")
        final = index == count - 1
        write(crypto_aead_xchacha20poly1305_ietf_encrypt(
            plain, _v2_ad(header, index, final, context), _v2_nonce(prefix, index), key))
    if src.read(1):
        raise VaultCryptoError("the file grew while it was being encrypted")


def _decrypt_v1(src: BinaryIO, prefix: bytes, chunk_size: int, key: bytes, context: bytes) -> Iterator[bytes]:
    """Version 1 (secretstream, one chained stream): readable only from its first byte."""
    header = _read_exact(src, _V1_HEADER_BYTES)
    if len(header) != _V1_HEADER_BYTES:
        raise VaultTampered("encrypted data is too short to hold a header (truncated?)")
    ad = prefix + context
    state = crypto_secretstream_xchacha20poly1305_state()
    try:
        crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    except CryptoError:
        raise VaultTampered("vault file header is invalid") from None
    index = 0
    while True:
        chunk = _read_exact(src, chunk_size + _V1_ABYTES)
        if not chunk:
            raise VaultTampered(
                f"encrypted data ends after {index} chunk(s) without the final one (truncated)"
            )
        try:
            plaintext, tag = crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad)
        except CryptoError:
            raise VaultTampered(
                f"chunk {index} failed authentication: wrong key, or the data was altered, "
                "reordered, duplicated or cut"
            ) from None
        if tag == _V1_TAG_FINAL:
            if src.read(1):
                raise VaultTampered("unexpected data after the final chunk")
            yield plaintext
            return
        if tag != _V1_TAG_MESSAGE:
            # We never wrote PUSH or REKEY; seeing one means this is not our format.
            raise VaultTampered(f"chunk {index} has an unexpected tag {tag}")
        yield plaintext
        index += 1


class SealedFile:
    """An encrypted vault file opened for reading: authenticated reads of any byte range.

    ``src`` is any seekable binary file object positioned anywhere; it is not closed here. In
    version 2 files a range read seeks to the chunks that cover it and decrypts only those.
    Version 1 files (written before chunked sealing) still open: their ranges are read by
    decrypting from the start and skipping, as that format allows nothing else.

    Nothing returned has escaped authentication: every chunk is checked before any of its bytes
    are yielded. ``size`` comes from the header, which every chunk authenticates; call
    ``authenticate`` before trusting it (e.g. as a Content-Length).
    """

    def __init__(self, src: BinaryIO, key: bytes, *, context: bytes = b"") -> None:
        _check_key(key)
        self._src = src
        self._key = key
        self._context = context
        src.seek(0)
        head = _read_exact(src, _V2_HEADER.size)
        if len(head) < _PREFIX.size:
            raise VaultTampered("encrypted data is too short to hold a header (truncated?)")
        magic, version, chunk_size = _PREFIX.unpack(head[: _PREFIX.size])
        if magic != _MAGIC:
            raise VaultTampered("not an Octopus vault file (bad magic bytes)")
        if version not in (_FILE_V1, _FILE_V2):
            raise VaultTampered(f"unknown vault file format version {version}")
        if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
            raise VaultTampered("vault file header has an impossible chunk size")
        self.version = version
        self.chunk_size = chunk_size
        self._stored = src.seek(0, os.SEEK_END)
        # An opaque name for this encrypted file (an ETag): its header holds fresh random bytes
        # from each sealing, so it names this ciphertext without saying anything of the plaintext.
        self.tag = hashlib.blake2b(head[: _V2_HEADER.size if version == _FILE_V2 else _V1_HEADER_END],
                                   digest_size=16).hexdigest()
        self.size: int | None = None
        if version == _FILE_V1:
            return
        if len(head) != _V2_HEADER.size:
            raise VaultTampered("encrypted data is too short to hold a header (truncated?)")
        self._header = head
        self._prefix = head[-_NONCE_PREFIX_BYTES:]
        size = _V2_HEADER.unpack(head)[3]
        self._count = _chunk_count(size, chunk_size)
        expected = _V2_HEADER.size + size + self._count * _V2_ABYTES
        # Checked before any decryption, so a cut or extended file is refused up front, never
        # after some of it was already handed out.
        if self._stored < expected:
            raise VaultTampered(
                f"encrypted data ends {expected - self._stored} bytes early, in chunk "
                f"{max(0, self._stored - _V2_HEADER.size) // (chunk_size + _V2_ABYTES)} (truncated)"
            )
        if self._stored > expected:
            raise VaultTampered(f"unexpected data after the final chunk ({self._stored - expected} bytes)")
        self.size = size

    def _chunk(self, index: int) -> bytes:
        """Read and authenticate chunk ``index`` of a version 2 file."""
        stride = self.chunk_size + _V2_ABYTES
        self._src.seek(_V2_HEADER.size + index * stride)
        final = index == self._count - 1
        assert self.size is not None
        want = (self.size - index * self.chunk_size if final else self.chunk_size) + _V2_ABYTES
        sealed = _read_exact(self._src, want)
        if len(sealed) != want:
            raise VaultTampered(f"chunk {index} is cut short (the file changed while being read?)")
        try:
            return crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed, _v2_ad(self._header, index, final, self._context), _v2_nonce(self._prefix, index), self._key)
        except CryptoError:
            raise VaultTampered(
                f"chunk {index} failed authentication: wrong key, or the data was altered, "
                "reordered, duplicated or cut"
            ) from None

    def authenticate(self) -> int:
        """Authenticate the header and return the plaintext size.

        Version 2: opens the final chunk (at most one chunk of work). Version 1 cannot tell its
        size without reading it all: one full decryption pass.
        """
        if self.version == _FILE_V1:
            self.size = sum(len(chunk) for chunk in self.read())
        else:
            self._chunk(self._count - 1)
        assert self.size is not None
        return self.size

    def read(self, first: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Yield the authenticated plaintext of bytes ``first .. first+length-1`` (to the end when
        ``length`` is None), chunk by chunk. Raises ``VaultTampered`` on the first chunk that
        fails authentication, before yielding any of its bytes."""
        if first < 0 or (length is not None and length < 0):
            raise ValueError("a range starts at 0 or later and has a length of 0 or more")
        if self.version == _FILE_V1:
            yield from self._read_v1(first, length)
            return
        assert self.size is not None
        end = self.size if length is None else min(self.size, first + length)
        if first >= end:
            if self.size == 0 and first == 0:
                self._chunk(0)  # an empty file: still prove it is genuine before saying so
                yield b""
            return
        for index in range(first // self.chunk_size, (end - 1) // self.chunk_size + 1):
            plain = self._chunk(index)
            base = index * self.chunk_size
            yield plain[max(0, first - base): end - base]

    def _read_v1(self, first: int, length: int | None) -> Iterator[bytes]:
        self._src.seek(_PREFIX.size)
        prefix = _PREFIX.pack(_MAGIC, _FILE_V1, self.chunk_size)
        whole = first == 0 and length is None
        end = None if length is None else first + length
        position = 0
        for plain in _decrypt_v1(self._src, prefix, self.chunk_size, self._key, self._context):
            start, position = position, position + len(plain)
            if whole:
                yield plain
            elif end is not None and start >= end:
                return  # past the range; this format cannot be read any faster than this
            elif position > first:
                yield plain[max(0, first - start): None if end is None else end - start]
        self.size = position


def encrypt_file(
    src: Path,
    dst: Path,
    key: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    context: bytes = b"",
) -> None:
    """Encrypt file ``src`` into ``dst`` under ``key`` with bounded memory (one chunk at a time).

    Writes to a temporary file beside ``dst``, fsyncs it, then renames it into place, so ``dst``
    is either absent/unchanged or complete; the temporary file is removed on failure. ``context``
    (e.g. the photo id) is authenticated with every chunk and must be given again to decrypt,
    which stops one photo's encrypted file from being swapped in for another's.
    """
    src = Path(src)
    dst = Path(dst)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    done = False
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            _encrypt_stream(inp, os.fstat(inp.fileno()).st_size, out.write, key, chunk_size, context)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dst)
        done = True
    finally:
        if not done:
            tmp.unlink(missing_ok=True)
    fsync_dir(dst.parent)


def encrypt_bytes(
    data: bytes, key: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE, context: bytes = b""
) -> bytes:
    """Encrypt small in-memory data (derivatives, metadata) in the same format as files.

    The result can be read back with ``decrypt_bytes`` or, once written to disk, with
    ``iter_decrypt_file``.
    """
    out = io.BytesIO()
    _encrypt_stream(io.BytesIO(data), len(data), out.write, key, chunk_size, context)
    return out.getvalue()


def iter_decrypt_file(src: Path, key: bytes, *, context: bytes = b"") -> Iterator[bytes]:
    """Yield the plaintext of encrypted file ``src`` chunk by chunk, with bounded memory.

    Every yielded chunk has been authenticated and is in its original position, so this never
    yields garbage. A version 2 file that was cut or extended is refused before the first chunk;
    any other damage surfaces at the chunk it is in, so ``VaultTampered`` may come after earlier
    chunks were yielded (and, when streaming to an HTTP client, sent). Call ``verify_file`` first
    if a response must be all-or-nothing.
    """
    with Path(src).open("rb") as f:
        yield from SealedFile(f, key, context=context).read()


def read_range(src: Path, key: bytes, first: int, length: int, *, context: bytes = b"") -> Iterator[bytes]:
    """Yield the authenticated plaintext bytes ``first .. first+length-1`` of file ``src``,
    decrypting only the chunks that hold them (version 1 files: from the start)."""
    with Path(src).open("rb") as f:
        yield from SealedFile(f, key, context=context).read(first, length)


def decrypt_bytes(blob: bytes, key: bytes, *, context: bytes = b"") -> bytes:
    """Decrypt data made by ``encrypt_bytes`` (or a small encrypted file read whole).

    Raises ``VaultTampered`` on any authentication failure; nothing is returned in that case.
    """
    return b"".join(SealedFile(io.BytesIO(blob), key, context=context).read())


def verify_file(src: Path, key: bytes, *, context: bytes = b"") -> int:
    """Authenticate the whole encrypted file ``src`` without keeping its plaintext.

    Returns the plaintext size in bytes (handy as a Content-Length), or raises ``VaultTampered``.
    Costs one full decryption pass; memory stays bounded.
    """
    size = 0
    for chunk in iter_decrypt_file(src, key, context=context):
        size += len(chunk)
    return size
