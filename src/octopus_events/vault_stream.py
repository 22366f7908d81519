"""Stream URLs for vault videos: what lets a `<video src>` play a vaulted clip with Range.

A media element cannot send `X-Vault-Token`, so the viewer asks for a short-lived URL
(`POST /api/vault/photos/{id}/stream`) and hands that to the player. The URL names an opaque
random handle kept here, in memory: the photo id, the session (digest) and the vault token
(digest) it was issued to, and its expiry stay on the server, so the URL says nothing about the
photo and the token never appears in a URL or a log. The handle is signed with an HMAC under a
server key kept in the keystore (`vault-stream`, made on first use, like the device-token key in
signin_limits.py), so a guessed or altered URL is refused by a constant-time compare before the
table is even consulted, and the MAC covers everything the handle grants.

A grant does not itself open the vault: every request through it needs the same session and the
vault token still live (`Vault.open_stream`), so locking, signing out, a password change or the
token's expiry end the stream at once. The table dies with the process (a restart locks every
vault anyway) and is bounded per user and in total, so memory stays flat however often someone
asks. docs/vault.md, "Streaming a video".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from . import keystore

KEY_ID = "vault-stream"
_VERSION = "s1"
URL_PREFIX = "/api/vault/stream/"


class StreamGrant(msgspec.Struct, frozen=True, kw_only=True):
    """What one stream URL lets its session read, and until when (monotonic clock)."""

    user_id: str
    session: str  # digest of the session token it was issued to
    token_digest: str  # digest of the vault token it was issued under
    photo_id: str
    expires_mono: float


class StreamUrl(msgspec.Struct):
    url: str
    expires_at: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_or_make_key(conn: Any) -> bytes:
    """The HMAC key of stream URLs: one per library, made on first use, kept in the keystore."""
    found = keystore.get(conn, KEY_ID)
    if found is None:
        found = secrets.token_bytes(32)
        keystore.put(conn, KEY_ID, "vault-stream", None, found)
    return bytes(found)


class VaultStreams:
    """Stream grants by random handle, for at most `lifetime_s`, in this process only."""

    def __init__(self, secret: Callable[[], bytes], lifetime_s: int, *, per_user: int = 32, capacity: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # A callable, so the key is read (or made) off the event loop on first use.
        self._secret = secret
        self.lifetime = lifetime_s
        self.per_user = per_user
        self.capacity = capacity
        self.clock = clock
        self._grants: OrderedDict[str, StreamGrant] = OrderedDict()  # oldest first
        self._lock = threading.Lock()

    def _mac(self, handle: str, grant: StreamGrant) -> str:
        # Binds the handle to everything it grants, so a table entry could not be re-pointed.
        message = "|".join((_VERSION, handle, grant.user_id, grant.session, grant.token_digest, grant.photo_id,
                            repr(grant.expires_mono))).encode()
        return _b64(hmac.new(self._secret(), message, hashlib.sha256).digest()[:18])

    def _sweep(self, now: float) -> None:
        for handle in [h for h, g in self._grants.items() if g.expires_mono <= now]:
            del self._grants[handle]

    def issue(self, *, user_id: str, session: str, token_digest: str, photo_id: str,
              token_remaining_s: float) -> StreamUrl:
        """A URL for `photo_id`, valid for `lifetime_s` but never beyond the vault token's life."""
        now = self.clock()
        seconds = max(0.0, min(float(self.lifetime), token_remaining_s))
        grant = StreamGrant(user_id=user_id, session=session, token_digest=token_digest, photo_id=photo_id,
                            expires_mono=now + seconds)
        handle = _b64(secrets.token_bytes(16))
        sig = f"{_VERSION}.{handle}.{self._mac(handle, grant)}"
        with self._lock:
            self._sweep(now)
            mine = [h for h, g in self._grants.items() if g.user_id == user_id]
            for old in mine[: max(0, len(mine) - self.per_user + 1)]:
                del self._grants[old]
            while len(self._grants) >= self.capacity:
                self._grants.popitem(last=False)
            self._grants[handle] = grant
        expires = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        return StreamUrl(URL_PREFIX + sig, expires.isoformat(timespec="seconds"))

    def resolve(self, sig: str, session: str) -> StreamGrant | None:
        """The grant behind `sig` if it is genuine, unexpired and was issued to `session`."""
        if not sig or len(sig) > 100:
            return None
        parts = sig.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            return None
        with self._lock:
            self._sweep(self.clock())
            grant = self._grants.get(parts[1])
        # Unknown, forged, expired and someone else's are one answer: nothing to tell apart.
        if grant is None or not hmac.compare_digest(parts[2], self._mac(parts[1], grant)):
            return None
        if not hmac.compare_digest(grant.session, session):
            return None
        return grant

    def __len__(self) -> int:
        with self._lock:
            self._sweep(self.clock())
            return len(self._grants)
