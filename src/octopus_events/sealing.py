"""Crypto-shredding of personal fields in the immutable event log.

The event log is never rewritten, yet a permanent deletion must leave no filename, description,
tag, EXIF or GPS value recoverable. So such fields are never written to the log in clear: each
photo has a random 32-byte data key, kept by the caller in a keystore table *outside* the log,
and the fields are sealed under it. Deleting the key row shreds every copy of those fields in the
log, in read-model rebuilds and in backups of the log made at any time.

Sealed format (version 1)::

    0x01 | nonce (24 bytes, random) | XChaCha20-Poly1305 ciphertext + 16-byte tag

The associated data is the version byte followed by the caller's ``context`` (for example
``b"<photo id>|PhotoDescribed"``), so a sealed value cannot be replayed into another photo's or
another event type's stream, and the version byte cannot be altered without detection.
"""

from __future__ import annotations

import secrets
from typing import Any, TypeVar

import msgspec
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_ABYTES,
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
)
from nacl.exceptions import CryptoError

__all__ = [
    "DATA_KEY_BYTES",
    "SealError",
    "new_data_key",
    "seal",
    "seal_struct",
    "unseal",
    "unseal_struct",
]

T = TypeVar("T")

DATA_KEY_BYTES = crypto_aead_xchacha20poly1305_ietf_KEYBYTES  # 32
_NONCE_BYTES = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
_TAG_BYTES = crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16

# One byte in front of every sealed value, so the scheme can change (other cipher, key wrapping)
# while values sealed with older versions stay readable.
_VERSION_1 = b"\x01"


class SealError(Exception):
    """A sealed value could not be opened: wrong key, wrong context, or altered bytes."""


def _check_key(key: bytes) -> None:
    # A key of the wrong size is a programming error (e.g. a keystore column mixed up), not an
    # authentication failure, so it is a ValueError rather than a SealError.
    if not isinstance(key, bytes) or len(key) != DATA_KEY_BYTES:
        raise ValueError(f"data key must be {DATA_KEY_BYTES} bytes")


def _check_context(context: bytes) -> None:
    # An empty context would silently drop the binding to a photo and event type, which is the
    # whole point of the associated data, so it is refused.
    if not isinstance(context, bytes) or not context:
        raise ValueError("context must be non-empty bytes (e.g. photo id and event type)")


def new_data_key() -> bytes:
    """Return a fresh random 32-byte data key for one photo."""
    return secrets.token_bytes(DATA_KEY_BYTES)


def seal(key: bytes, plaintext: bytes, *, context: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key``, bound to ``context``.

    Returns ``version | nonce | ciphertext``. The same ``context`` must be given to ``unseal``.
    """
    _check_key(key)
    _check_context(context)
    # A random 192-bit nonce per value: with XChaCha20 collisions are negligible even for
    # billions of values under one key, so no counter has to be stored anywhere.
    nonce = secrets.token_bytes(_NONCE_BYTES)
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, _VERSION_1 + context, nonce, key
    )
    return _VERSION_1 + nonce + ciphertext


def unseal(key: bytes, sealed: bytes, *, context: bytes) -> bytes:
    """Decrypt a value made by ``seal`` with the same ``key`` and ``context``.

    Raises ``SealError`` if the key or context is wrong, the bytes were altered or truncated, or
    the format version is unknown. Never returns unauthenticated bytes.
    """
    _check_key(key)
    _check_context(context)
    if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES:
        raise SealError("sealed value is too short to be valid (truncated?)")
    version = sealed[:1]
    if version != _VERSION_1:
        raise SealError(f"unknown sealed format version {version[0]}")
    nonce = sealed[1 : 1 + _NONCE_BYTES]
    ciphertext = sealed[1 + _NONCE_BYTES :]
    try:
        return _decrypt(ciphertext, version + context, nonce, key)
    except CryptoError:
        # libsodium cannot tell these apart, and neither should an attacker.
        raise SealError(
            "cannot unseal: wrong key, wrong context, or the sealed bytes were altered"
        ) from None


def _decrypt_via_cffi(ciphertext: bytes, aad: bytes, nonce: bytes, key: bytes) -> bytes:
    """libsodium's decrypt called straight through PyNaCl's cffi handle.

    Replays unseal every photo of the log; PyNaCl's checked wrapper spends ~20 µs of Python per
    call around a 2 µs C function, which made rebuilds half as fast. Inputs were checked above
    (key and nonce lengths, minimum size), which is what the wrapper's checks are for.
    """
    size = len(ciphertext) - _TAG_BYTES
    out = _ffi.new("unsigned char[]", max(size, 1))
    out_len = _ffi.new("unsigned long long *")
    rc = _lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, out_len, _ffi.NULL, ciphertext, len(ciphertext), aad, len(aad), nonce, key
    )
    if rc != 0:
        raise CryptoError("decryption failed")
    return _ffi.buffer(out, out_len[0])[:]


try:
    from nacl._sodium import ffi as _ffi, lib as _lib  # type: ignore[import-not-found]

    _decrypt = _decrypt_via_cffi
except ImportError:  # a PyNaCl without its cffi module layout: use the public, slower wrapper
    _decrypt = crypto_aead_xchacha20poly1305_ietf_decrypt


def seal_struct(key: bytes, obj: Any, *, context: bytes) -> bytes:
    """Encode ``obj`` (a msgspec Struct or any msgpack-encodable value) and ``seal`` it."""
    return seal(key, msgspec.msgpack.encode(obj), context=context)


def unseal_struct(key: bytes, sealed: bytes, type: type[T], *, context: bytes) -> T:  # noqa: A002
    """``unseal`` then decode the payload as ``type`` with msgspec.msgpack.

    Raises ``SealError`` if unsealing fails, or if the authentic payload does not decode as
    ``type`` (a schema mismatch the caller must upcast for).
    """
    payload = unseal(key, sealed, context=context)
    try:
        return msgspec.msgpack.decode(payload, type=type)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SealError(f"sealed payload does not decode as {type!r}: {exc}") from None
