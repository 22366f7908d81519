"""Vault key handling and streamed, authenticated file encryption.

Keys:

- The *vault key* is 32 random bytes. Everything in a user's vault (originals, derivatives,
  metadata) is encrypted under it. It is never stored in clear.
- The *key-encryption key* (KEK) is derived from the user's passphrase with argon2id and a random
  salt. It wraps the vault key with SecretBox (XSalsa20-Poly1305). Only the resulting
  ``WrappedVaultKey`` is stored. Changing the passphrase re-wraps the same vault key, so no
  photo has to be re-encrypted. A forgotten passphrase means the vault key, and so the vault's
  photos, are gone.

Encrypted file format (version 1), used both for files and for ``encrypt_bytes``::

    b"OCTV" | 0x01 | chunk_size (u32 big-endian) | secretstream header (24 bytes)
    | chunk 0 | chunk 1 | ... | final chunk

Each chunk is one libsodium ``crypto_secretstream_xchacha20poly1305`` message: ``chunk_size``
plaintext bytes plus 17 bytes of overhead (every chunk except the last is full-size). The last
chunk carries TAG_FINAL, every other one TAG_MESSAGE. Each chunk is authenticated with the first
9 bytes (magic, version, chunk size) plus the caller's optional ``context`` as associated data.
secretstream chains its state from chunk to chunk, so flipping, dropping, reordering or
duplicating chunks, cutting the file short, appending to it, or using the wrong key is detected
and raises ``VaultTampered``; a decryptor never returns unauthenticated bytes.
"""

from __future__ import annotations

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
    crypto_secretstream_xchacha20poly1305_ABYTES,
    crypto_secretstream_xchacha20poly1305_HEADERBYTES,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_KEYBYTES,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
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
_FILE_VERSION = 1
_PREFIX = struct.Struct(">4sBI")  # magic, version, chunk size: 9 bytes
_HEADER_BYTES = crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
_ABYTES = crypto_secretstream_xchacha20poly1305_ABYTES  # 17
_TAG_MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = crypto_secretstream_xchacha20poly1305_TAG_FINAL


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


# --------------------------------------------------------------------------- streams


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


def _encrypt_stream(
    src: BinaryIO, write: Callable[[bytes], object], key: bytes, chunk_size: int, context: bytes
) -> None:
    _check_key(key)
    if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {_MAX_CHUNK_SIZE}")
    prefix = _PREFIX.pack(_MAGIC, _FILE_VERSION, chunk_size)
    ad = prefix + context
    state = crypto_secretstream_xchacha20poly1305_state()
    header = crypto_secretstream_xchacha20poly1305_init_push(state, key)
    write(prefix + header)
    current = _read_exact(src, chunk_size)
    while True:
        # Read one chunk ahead: the chunk that is followed by nothing gets TAG_FINAL, including
        # when the plaintext is empty or an exact multiple of chunk_size. At most two chunks are
        # in memory at once.
        following = _read_exact(src, chunk_size) if len(current) == chunk_size else b""
        tag = _TAG_MESSAGE if following else _TAG_FINAL
        write(crypto_secretstream_xchacha20poly1305_push(state, current, ad, tag))
        if tag == _TAG_FINAL:
            return
        current = following


def _decrypt_stream(src: BinaryIO, key: bytes, context: bytes) -> Iterator[bytes]:
    _check_key(key)
    prefix = _read_exact(src, _PREFIX.size)
    if len(prefix) != _PREFIX.size:
        raise VaultTampered("encrypted data is too short to hold a header (truncated?)")
    magic, version, chunk_size = _PREFIX.unpack(prefix)
    if magic != _MAGIC:
        raise VaultTampered("not an Octopus vault file (bad magic bytes)")
    if version != _FILE_VERSION:
        raise VaultTampered(f"unknown vault file format version {version}")
    if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
        raise VaultTampered("vault file header has an impossible chunk size")
    header = _read_exact(src, _HEADER_BYTES)
    if len(header) != _HEADER_BYTES:
        raise VaultTampered("encrypted data is too short to hold a header (truncated?)")
    ad = prefix + context
    state = crypto_secretstream_xchacha20poly1305_state()
    try:
        crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    except CryptoError:
        raise VaultTampered("vault file header is invalid") from None
    index = 0
    while True:
        chunk = _read_exact(src, chunk_size + _ABYTES)
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
        if tag == _TAG_FINAL:
            if src.read(1):
                raise VaultTampered("unexpected data after the final chunk")
            yield plaintext
            return
        if tag != _TAG_MESSAGE:
            # We never write PUSH or REKEY; seeing one means this is not our format.
            raise VaultTampered(f"chunk {index} has an unexpected tag {tag}")
        yield plaintext
        index += 1


def encrypt_file(
    src: Path,
    dst: Path,
    key: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    context: bytes = b"",
) -> None:
    """Encrypt file ``src`` into ``dst`` under ``key`` with bounded memory.

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
            _encrypt_stream(inp, out.write, key, chunk_size, context)
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
    _encrypt_stream(io.BytesIO(data), out.write, key, chunk_size, context)
    return out.getvalue()


def iter_decrypt_file(src: Path, key: bytes, *, context: bytes = b"") -> Iterator[bytes]:
    """Yield the plaintext of encrypted file ``src`` chunk by chunk, with bounded memory.

    Every yielded chunk has been authenticated and is in its original position, so this never
    yields garbage. But whether the file is *complete* (not truncated, nothing appended) is only
    known at the end: ``VaultTampered`` may be raised after earlier chunks were already yielded.
    When streaming to an HTTP client, those chunks may already be on the wire; call
    ``verify_file`` first if a response must be all-or-nothing.
    """
    with Path(src).open("rb") as f:
        yield from _decrypt_stream(f, key, context)


def decrypt_bytes(blob: bytes, key: bytes, *, context: bytes = b"") -> bytes:
    """Decrypt data made by ``encrypt_bytes`` (or a small encrypted file read whole).

    Raises ``VaultTampered`` on any authentication failure; nothing is returned in that case.
    """
    return b"".join(_decrypt_stream(io.BytesIO(blob), key, context))


def verify_file(src: Path, key: bytes, *, context: bytes = b"") -> int:
    """Authenticate the whole encrypted file ``src`` without keeping its plaintext.

    Returns the plaintext size in bytes (handy as a Content-Length), or raises ``VaultTampered``.
    Costs one full decryption pass; memory stays bounded.
    """
    size = 0
    for chunk in iter_decrypt_file(src, key, context=context):
        size += len(chunk)
    return size
