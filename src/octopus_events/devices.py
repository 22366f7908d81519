"""Devices and app passwords: credentials a phone's backup app (WebDAV, tus, the API) signs in with.

An app password is `oct_<device_id>_<secret>`: the device id (`d` + 16 hex) names the record so
lookup is one dictionary hit, the secret is 160 random bits in lower-case base32. Only an
HMAC-SHA256 of it, under a server key kept in the keystore, is stored (in the keystore too, never
in the log): a secret with 160 random bits needs no argon2 to resist guessing, and WebDAV clients
send it on every request, so verifying it must cost microseconds. The digest is cached in memory
after the first lookup; revoking drops it from the cache at once.

The log records that a device was added (its name sealed under the owner's key, so deleting the
account shreds it) and revoked. Activity (last seen, last upload, uploads) changes on every
request, so it is kept in memory and written into the device's keystore record at most once a
`FLUSH_SECONDS` and when the library closes: never an event per request.

An app password acts only as its device: the web layer (web/auth.py) lets it reach only the
routes that declare `opt={"device": True}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import msgspec

from . import keystore
from .accounts import User, seal_user, user_key_id
from .errors import Invalid, NotFound
from .events import Event
from .eventstore import Meta, Transaction
from .signin_limits import LoginLimiter

if TYPE_CHECKING:
    from .application import Octopus

PREFIX = "oct_"
KEY_ID = "app-passwords"  # the HMAC key's keystore id
PURPOSE = "app-password"
FLUSH_SECONDS = 60.0
MAX_NAME = 100
# oct_ + device id + _ + 32 base32 characters: 54 characters, never the length of a session token
# (43), so the guard can tell them apart without a lookup.
_FORM = re.compile(r"^oct_(d[0-9a-f]{16})_([a-z2-7]{32})$")


# -- events -------------------------------------------------------------------------------------


class DeviceNameSeal(msgspec.Struct):
    name: str


class DeviceAdded(Event):
    """A device got an app password. The secret is nowhere in the log; its name is sealed."""

    device_id: str
    user_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = DeviceNameSeal


class DeviceRevoked(Event):
    device_id: str
    user_id: str


def device_stream(device_id: str) -> str:
    return f"device-{device_id}"


# -- what is stored and returned ------------------------------------------------------------------


class AppPasswordRecord(msgspec.Struct):
    """The keystore row of one device (`app-password:<device_id>`, owner the user)."""

    user_id: str
    digest: bytes
    last_seen_us: int = 0
    last_upload_us: int = 0
    uploads: int = 0


class Device(msgspec.Struct):
    id: str
    name: str
    kind: str
    created_at: str
    last_seen: str | None
    last_upload: str | None
    uploads: int


class NewDevice(msgspec.Struct):
    id: str
    name: str
    created_at: str
    app_password: str


class DeviceCaller(msgspec.Struct, frozen=True):
    """Who an app password signs in as: the user, acting only as this device."""

    device_id: str
    user: User


class _Activity:
    __slots__ = ("last_seen_us", "last_upload_us", "uploads")

    def __init__(self) -> None:
        self.last_seen_us = 0
        self.last_upload_us = 0
        self.uploads = 0  # not yet flushed


_record_codec = msgspec.msgpack.Decoder(AppPasswordRecord)
_encode = msgspec.msgpack.encode


def record_key(device_id: str) -> str:
    return f"{PURPOSE}:{device_id}"


def check_name(name: object) -> str:
    if not isinstance(name, str):
        raise Invalid("name: a text is required")
    text = "".join(ch for ch in " ".join(name.split()) if ch.isprintable())
    if not 1 <= len(text) <= MAX_NAME:
        raise Invalid(f"A device name must have 1 to {MAX_NAME} characters.", code="device_name_length",
                      params={"min": 1, "max": MAX_NAME})
    return text


def parse(app_password: str) -> tuple[str, str] | None:
    """(device id, secret) of a well-formed app password, else None."""
    if not isinstance(app_password, str) or len(app_password) != 54:
        return None
    m = _FORM.match(app_password)
    return (m.group(1), m.group(2)) if m else None


def looks_like_app_password(token: str) -> bool:
    return parse(token) is not None


def rfc3339(us: int) -> str | None:
    from .readmodels.library import rfc3339_us

    return rfc3339_us(us) if us else None


class Devices:
    """Add, list, revoke and verify app passwords."""

    def __init__(self, octopus: Octopus) -> None:
        self.octopus = octopus
        self.store = octopus.store
        auth = octopus.config.auth
        # Failed app passwords are counted like failed sign-ins (same budget and window), per
        # client address and per device id named in the attempt.
        self.failures = LoginLimiter(auth.login_max_failures, auth.login_window_seconds)
        self.clock: Callable[[], float] = time.time
        self._key: bytes | None = None
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, bytes]] = {}  # device id -> (user id, digest)
        # Bumped on every revocation: a lookup that started before one must not re-fill the cache
        # with a row the revocation has just deleted.
        self._epoch = 0
        self._activity: dict[str, _Activity] = {}
        self._session_seen: dict[str, int] = {}  # session digest -> last seen (µs)
        self._last_flush = time.monotonic()

    # -- the key ------------------------------------------------------------------------------
    def _secret(self) -> bytes:
        if self._key is None:
            found = keystore.get(self.store.reader(), KEY_ID)
            self._key = bytes(found) if found is not None else self.store.writer.call(_load_or_make_key)
        return self._key

    def _digest(self, device_id: str, secret: str) -> bytes:
        return hmac.new(self._secret(), f"{device_id}|{secret}".encode(), hashlib.sha256).digest()

    # -- commands -------------------------------------------------------------------------------
    async def add(self, user_id: str, name: object, meta: Meta) -> NewDevice:
        """A new device with its app password (returned only here, never stored in clear)."""
        clean = check_name(name)
        await self.octopus.read(self._secret)  # loaded off the event loop before the write
        device_id = "d" + secrets.token_hex(8)
        secret = base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()
        password = f"{PREFIX}{device_id}_{secret}"
        record = AppPasswordRecord(user_id=user_id, digest=self._digest(device_id, secret))

        def command(tx: Transaction) -> str:
            from .readmodels import devices as model

            key = keystore.get(tx.conn, user_key_id(user_id))
            if key is None:
                raise NotFound("no such user")
            keystore.put(tx.conn, record_key(device_id), PURPOSE, user_id, _encode(record))
            tx.append(device_stream(device_id), 0, [DeviceAdded(
                device_id=device_id, user_id=user_id, key_id=user_key_id(user_id),
                sealed=seal_user(key, user_id, "DeviceAdded", DeviceNameSeal(clean)),
            )], meta=Meta(actor=meta.actor or user_id, owner=user_id, correlation_id=meta.correlation_id))
            row = model.get(tx.conn, user_id, device_id)
            assert row is not None
            return row.created_at

        created_at = await self.store.transact_async(command)
        return NewDevice(device_id, clean, created_at, password)

    async def revoke(self, user_id: str, device_id: str, meta: Meta) -> None:
        """Revoke now: the next request with its password is refused. 404 for others' ids."""

        def command(tx: Transaction) -> None:
            from .readmodels import devices as model

            if model.get(tx.conn, user_id, device_id) is None:
                raise NotFound("no such device")
            keystore.delete(tx.conn, record_key(device_id))
            tx.append(device_stream(device_id), None, [DeviceRevoked(device_id=device_id, user_id=user_id)],
                      meta=Meta(actor=meta.actor or user_id, owner=user_id, correlation_id=meta.correlation_id))

        try:
            await self.store.transact_async(command)
        finally:
            self._forget(device_id)

    def _forget(self, device_id: str) -> None:
        with self._lock:
            self._epoch += 1
            self._cache.pop(device_id, None)
            self._activity.pop(device_id, None)

    def forget_user(self, user_id: str, _session: str | None = None) -> None:
        """Drop the cached digests of a user's devices (an `on_sessions_ended` listener: after an
        account deletion their rows are gone; after a password change the cache simply refills)."""
        with self._lock:
            self._epoch += 1
            for device_id in [d for d, (u, _) in self._cache.items() if u == user_id]:
                self._cache.pop(device_id, None)
                self._activity.pop(device_id, None)

    # -- verification ---------------------------------------------------------------------------
    def verify(self, app_password: str) -> DeviceCaller | None:
        """The device an app password belongs to, or None (unknown, revoked, wrong secret).

        Runs on a reader thread (a cache miss reads the keystore; the user is read every time so
        a deleted account ends at once). No rate limiting here: `authenticate` adds it."""
        from .readmodels import users

        parsed = parse(app_password)
        if parsed is None:
            return None
        device_id, secret = parsed
        conn = self.store.reader()
        entry = self._cache.get(device_id)
        if entry is None:
            epoch = self._epoch
            material = keystore.get(conn, record_key(device_id))
            if material is None:
                return None
            record = _record_codec.decode(material)
            entry = (record.user_id, record.digest)
            with self._lock:
                if epoch == self._epoch:
                    self._cache[device_id] = entry
        if not hmac.compare_digest(entry[1], self._digest(device_id, secret)):
            return None
        user = users.get(conn, entry[0])
        return DeviceCaller(device_id, user) if user is not None else None

    def check_limits(self, app_password: str, client: str | None) -> tuple[str, ...]:
        """The failure counters an attempt is checked against; RateLimited when one is spent."""
        parsed = parse(app_password)
        keys = tuple(k for k in (f"addr:{client}" if client else None,
                                 f"device:{parsed[0]}" if parsed else None) if k)
        self.failures.check(*keys)
        return keys

    def authenticate(self, app_password: str, client: str | None = None) -> DeviceCaller | None:
        """`verify` with the sign-in rate limits (raises RateLimited) and activity tracking."""
        keys = self.check_limits(app_password, client)
        found = self.verify(app_password)
        if found is None:
            self.failures.failed(*keys)
            return None
        self.seen(found.device_id)
        return found

    def authenticate_basic(self, username: str, secret: str, client: str | None = None) -> DeviceCaller | None:
        """HTTP Basic credentials (WebDAV): the account's username and an app password of one of
        its devices. None when wrong; RateLimited after too many failures. Call on a thread that
        may read SQLite (not the event loop)."""
        keys = self.check_limits(secret, client)
        found = self.verify(secret)
        if found is None or not isinstance(username, str) or username.casefold() != found.user.username.casefold():
            self.failures.failed(*keys)
            return None
        self.seen(found.device_id)
        return found

    # -- activity -------------------------------------------------------------------------------
    def seen(self, device_id: str) -> None:
        now = int(self.clock() * 1_000_000)
        with self._lock:
            self._activity.setdefault(device_id, _Activity()).last_seen_us = now

    def uploaded(self, device_id: str) -> None:
        """A file from this device was accepted (upload routes, tus, WebDAV call this)."""
        now = int(self.clock() * 1_000_000)
        with self._lock:
            activity = self._activity.setdefault(device_id, _Activity())
            activity.last_seen_us = activity.last_upload_us = now
            activity.uploads += 1

    def session_seen(self, digest: str) -> None:
        with self._lock:
            self._session_seen[digest] = int(self.clock() * 1_000_000)

    def session_last_seen(self, digest: str) -> int:
        return self._session_seen.get(digest, 0)

    def flush_due(self) -> bool:
        return time.monotonic() - self._last_flush >= FLUSH_SECONDS and bool(self._activity or self._session_seen)

    def _take(self) -> tuple[dict[str, _Activity], dict[str, int]]:
        with self._lock:
            activity, self._activity = self._activity, {}
            sessions, self._session_seen = self._session_seen, {}
            self._last_flush = time.monotonic()
        return activity, sessions

    def _write(self, conn: Any, activity: dict[str, _Activity], sessions: dict[str, int]) -> None:
        from .accounts import Session, _session_codec

        for device_id, act in activity.items():
            material = keystore.get(conn, record_key(device_id))
            if material is None:
                continue  # revoked meanwhile
            record = _record_codec.decode(material)
            record.last_seen_us = max(record.last_seen_us, act.last_seen_us)
            record.last_upload_us = max(record.last_upload_us, act.last_upload_us)
            record.uploads += act.uploads
            conn.execute("UPDATE keystore SET material = ? WHERE key_id = ?", (_encode(record), record_key(device_id)))
        for digest, seen_us in sessions.items():
            material = keystore.get(conn, f"session:{digest}")
            if material is None:
                continue
            session: Session = _session_codec.decode(material)
            session.last_seen_us = max(session.last_seen_us, seen_us)
            conn.execute("UPDATE keystore SET material = ? WHERE key_id = ?", (_encode(session), f"session:{digest}"))

    async def flush_async(self) -> None:
        activity, sessions = self._take()
        if activity or sessions:
            await self.store.writer.call_async(lambda conn: self._write(conn, activity, sessions))

    def flush(self) -> None:
        """Write the activity kept in memory (on close; `flush_async` while serving)."""
        activity, sessions = self._take()
        if activity or sessions:
            self.store.writer.call(lambda conn: self._write(conn, activity, sessions))

    # -- listing ---------------------------------------------------------------------------------
    def list(self, user_id: str) -> list[Device]:
        """The user's devices, newest first, with activity not yet flushed merged in (reader)."""
        from .readmodels import devices as model

        conn = self.store.reader()
        rows = model.of_owner(conn, user_id)
        records = keystore.get_many(conn, [record_key(r.id) for r in rows])
        out = []
        for row in rows:
            material = records.get(record_key(row.id))
            if material is None:
                continue
            record = _record_codec.decode(material)
            act = self._activity.get(row.id)
            seen, upload, uploads = record.last_seen_us, record.last_upload_us, record.uploads
            if act is not None:
                seen, upload, uploads = max(seen, act.last_seen_us), max(upload, act.last_upload_us), uploads + act.uploads
            out.append(Device(row.id, row.name, "app_password", row.created_at, rfc3339(seen), rfc3339(upload), uploads))
        return out


def _load_or_make_key(conn: Any) -> bytes:
    found = keystore.get(conn, KEY_ID)
    if found is None:
        found = secrets.token_bytes(32)
        keystore.put(conn, KEY_ID, "app-passwords", None, found)
    return bytes(found)
