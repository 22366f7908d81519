"""The vault file writer as it was before the chunked format (file format version 1), frozen here
so tests can make old-format vault files and prove they keep opening.

Copied from `vaultcrypto.py` at commit f24395428e4e (libsodium secretstream, one chained stream:
reading byte N means decrypting from byte 0). tests/fixtures/vault_v1/ holds files written by
that commit's own code; `test_vaultcrypto.py` checks this copy writes the same format.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)

FIXTURES = Path(__file__).parent / "fixtures" / "vault_v1"
# How the fixtures were made: key, plaintext seed, chunk size and context of each.
FIXTURE_KEY = bytes(range(32))
FIXTURE_FILES = {
    "chunked.octv": (1, 5000, 1024, b"fixture|v1|original"),
    "small.octv": (2, 100, 64 * 1024, b"fixture|v1|thumb"),
}

_PREFIX = struct.Struct(">4sBI")


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    while 0 < len(data) < n:
        more = f.read(n - len(data))
        if not more:
            break
        data += more
    return data


def encrypt_stream_v1(src: BinaryIO, out: BinaryIO, key: bytes, chunk_size: int = 64 * 1024,
                      context: bytes = b"") -> None:
    prefix = _PREFIX.pack(b"OCTV", 1, chunk_size)
    ad = prefix + context
    state = crypto_secretstream_xchacha20poly1305_state()
    out.write(prefix + crypto_secretstream_xchacha20poly1305_init_push(state, key))
    current = _read_exact(src, chunk_size)
    while True:
        following = _read_exact(src, chunk_size) if len(current) == chunk_size else b""
        final = not following
        tag = crypto_secretstream_xchacha20poly1305_TAG_FINAL if final else crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        out.write(crypto_secretstream_xchacha20poly1305_push(state, current, ad, tag))
        if final:
            return
        current = following


def encrypt_bytes_v1(data: bytes, key: bytes, *, chunk_size: int = 64 * 1024, context: bytes = b"") -> bytes:
    out = io.BytesIO()
    encrypt_stream_v1(io.BytesIO(data), out, key, chunk_size, context)
    return out.getvalue()


def encrypt_file_v1(src: Path, dst: Path, key: bytes, *, context: bytes = b"") -> None:
    fd, tmp = tempfile.mkstemp(dir=dst.parent)
    with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
        encrypt_stream_v1(inp, out, key, context=context)
    os.replace(tmp, dst)
