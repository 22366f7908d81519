"""Accounts: registration, sign-in sessions, passwords, profiles, account deletion.

Secrets never enter the log: password hashes and session token digests live in the keystore.
User names, display names and device names are sealed under the user's own key, so deleting
the account shreds them in the log too.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any, Callable, ClassVar, TYPE_CHECKING

import msgspec

from . import keystore, passwords, sealing
from .errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from .events import Event
from .eventstore import Meta, Transaction
# LoginLimiter is also what the vault counts wrong passphrases with.
from .signin_limits import DeviceTokens, HashingQueue, LoginLimiter, SigninLimits

if TYPE_CHECKING:
    from .application import Octopus

# -- events -------------------------------------------------------------------------------------


class UserNames(msgspec.Struct):
    username: str
    display_name: str


class DisplayNameSeal(msgspec.Struct):
    display_name: str


class DeviceSeal(msgspec.Struct):
    device: str


class UserRegistered(Event):
    user_id: str
    key_id: str
    admin: bool
    quota_bytes: int
    sealed: bytes
    sealed_struct: ClassVar[type] = UserNames


class UserProfileChanged(Event):
    user_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = DisplayNameSeal


class UserPasswordChanged(Event):
    user_id: str


class UserSignedIn(Event):
    user_id: str
    key_id: str
    new_device: bool
    sealed: bytes
    sealed_struct: ClassVar[type] = DeviceSeal


class EmailSeal(msgspec.Struct):
    email: str


class UserEmailSet(Event):
    """The user's e-mail address, profile data only (nothing is sent to it): kept when an account
    moves in from Octopus Photos 0.6, which signed in by e-mail. Sealed under the user's key."""

    user_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = EmailSeal


class UserDeleted(Event):
    user_id: str


def user_stream(user_id: str) -> str:
    return f"user-{user_id}"


def user_key_id(user_id: str) -> str:
    return f"user:{user_id}"


def seal_user(key: bytes, user_id: str, event_type: str, obj: msgspec.Struct) -> bytes:
    return sealing.seal_struct(key, obj, context=f"{user_id}|{event_type}".encode())


def unseal_user(conn: Any, event: Any, type_: type[msgspec.Struct]) -> Any:
    key = keystore.get(conn, event.key_id)
    if key is None:
        return None
    tag = type(event).__struct_config__.tag
    try:
        return sealing.unseal_struct(key, event.sealed, type_, context=f"{event.user_id}|{tag}".encode())
    except sealing.SealError:
        return None


# -- sessions ----------------------------------------------------------------------------------


class Session(msgspec.Struct):
    user_id: str
    expires_us: int
    device: str
    created_us: int
    # Written from memory now and then by devices.Devices (not on every request); 0 = not yet.
    last_seen_us: int = 0


class SessionInfo(msgspec.Struct):
    """One of a user's sessions as Settings → Devices lists it (never the token or its digest)."""

    id: str
    device: str
    created_us: int
    last_seen_us: int
    digest: str


def session_id(digest: str) -> str:
    """A session's public id: derived from the digest, so it names the session without being
    the key it is looked up by."""
    return "s" + hashlib.sha256(f"session-id|{digest}".encode()).hexdigest()[:20]


class User(msgspec.Struct):
    id: str
    username: str
    display_name: str
    admin: bool
    quota_bytes: int
    created_at: str
    email: str = ""  # profile data; "" when none was given (see UserEmailSet)


class SignUpStatus(msgspec.Struct):
    """What the sign-in screen must know before a form is filled (GET /api/auth/status): whether
    this is a new server (the first account becomes its admin) and whether anyone may register."""

    first_run: bool
    registration: str  # auth.registration: "open" | "closed"
    can_register: bool


class SignedIn(msgspec.Struct):
    """Who is making a request (resolved from a bearer token or the session cookie)."""

    user: User
    token_digest: str


DEVICE_KEY_ID = "device-tokens"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_session_codec = msgspec.msgpack.Decoder(Session)


def check_username(name: str) -> str:
    if not isinstance(name, str) or not _USERNAME.match(name):
        raise Invalid("The username must have 1 to 64 letters, digits or . _ @ -, starting with a letter or digit.",
                      code="username_format")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(f"The password must have {MIN_PASSWORD:,} to {MAX_PASSWORD:,} characters.", code="password_length",
                      params={"min": MIN_PASSWORD, "max": MAX_PASSWORD})
    return password


def check_device(device: str | None) -> str:
    text = " ".join((device or "browser").split())[:100]
    return "".join(ch for ch in text if ch.isprintable()) or "browser"


class Accounts:
    """Account commands and session checks."""

    def __init__(self, octopus: Octopus) -> None:
        self.octopus = octopus
        self.store = octopus.store
        self.config = octopus.config
        auth = octopus.config.auth
        # Wall clock for sessions (seconds); a test may replace it to move time.
        self.clock: Callable[[], float] = time.time
        self.limits = SigninLimits(auth.login_max_failures, auth.login_window_seconds)
        # Signed-in users confirming their password (change, deletion) are counted by user id.
        self.limiter = self.limits.counter
        self.registrations = LoginLimiter(auth.register_max_attempts, auth.login_window_seconds)
        self.devices = DeviceTokens(self._device_secret)
        self._device_key: bytes | None = None
        cores = passwords.KDF_SLOTS
        # One hash fewer than the memory slots when there are two: the other core keeps serving
        # pages (and a vault unlock) while anonymous sign-ins queue.
        self.hashing = HashingQueue(running=max(1, cores - 1), waiting=2 * cores, priority_waiting=8 * cores)
        # Told (user id, session digest, or None for all of the user's) when sessions end, so what
        # a session unlocked in memory (the vault) ends with it.
        self.on_sessions_ended: list[Callable[[str, str | None], None]] = []

    def _device_secret(self) -> bytes:
        """The HMAC key of device tokens: one per library, made on first use, kept in the keystore."""
        if self._device_key is None:
            self._device_key = self.store.writer.call(_load_or_make_device_key)
        return self._device_key

    async def _load_device_key(self) -> None:
        # Sign-in loads it off the event loop; later uses find it in memory.
        if self._device_key is None:
            found = await self.octopus.read(lambda: keystore.get(self.store.reader(), DEVICE_KEY_ID))
            self._device_key = found or await self.store.writer.call_async(_load_or_make_device_key)

    # -- creating users -------------------------------------------------------------------------
    def create_in(self, tx: Transaction, username: str, password_hash: str, *, admin: bool | None,
                  quota_bytes: int | None, meta: Meta | None = None, open_registration: bool = False) -> User:
        """Create a user inside a transaction. `admin=None` means: admin only if first user."""
        from .readmodels import users

        conn = tx.conn
        first = users.count(conn) == 0
        if not first and open_registration and self.config.auth.registration != "open":
            raise Forbidden("Registration is closed; an admin can create your account.", code="registration_closed")
        if users.find_by_name(conn, username) is not None:
            raise Conflict(f"The username {username!r} is taken.", code="username_taken")
        user_id = "u" + secrets.token_hex(8)
        key = sealing.new_data_key()
        key_id = user_key_id(user_id)
        keystore.put(conn, key_id, "user", user_id, key)
        keystore.put(conn, f"password:{user_id}", "password", user_id, password_hash.encode())
        quota = quota_bytes if quota_bytes is not None else self.config.storage.default_quota_mb * 1024 * 1024
        is_admin = first if admin is None else (admin or first)
        event = UserRegistered(
            user_id=user_id, key_id=key_id, admin=is_admin, quota_bytes=quota,
            sealed=seal_user(key, user_id, "UserRegistered", UserNames(username, username)),
        )
        meta = meta or Meta()
        tx.append(user_stream(user_id), 0, [event], meta=Meta(actor=meta.actor or user_id, owner=user_id,
                                                                 correlation_id=meta.correlation_id))
        found = users.get(conn, user_id)
        assert found is not None
        return found

    async def sign_up_status(self) -> SignUpStatus:
        """First run, and whether registration is open: the same rule `register` applies."""
        from .readmodels import users

        first = await self.octopus.read(lambda: users.count(self.store.reader()) == 0)
        mode = self.config.auth.registration
        return SignUpStatus(first_run=first, registration=mode, can_register=first or mode == "open")

    async def register(self, username: str, password: str, *, meta: Meta, client: str | None = None) -> User:
        """Self-service registration: the first user becomes admin; later ones need it open.

        Everything cheap is checked before the password is hashed, so a closed server answers
        a flood of registrations without spending argon2 on it. With `client` (the address, from
        the web layer) each address may start `auth.register_max_attempts` per window.
        """
        from .readmodels import users

        check_username(username)
        check_password(password)

        def precheck() -> None:
            conn = self.store.reader()
            if users.count(conn) > 0 and self.config.auth.registration != "open":
                raise Forbidden("Registration is closed; an admin can create your account.", code="registration_closed")
            if users.find_by_name(conn, username) is not None:
                raise Conflict(f"The username {username!r} is taken.", code="username_taken")

        await self.octopus.read(precheck)
        if client is not None:
            key = f"addr:{client}"
            retry = self.registrations.retry_after(key)
            if retry:
                raise RateLimited("Too many registrations from your address; wait and try again.", retry_after=retry,
                                      code="registration_rate_limited")
            self.registrations.failed(key)  # every attempt that reaches the hash counts
        hashed = await self._hash(password)
        return await self.store.transact_async(
            lambda tx: self.create_in(tx, username, hashed, admin=None, quota_bytes=None, meta=meta, open_registration=True)
        )

    async def admin_create(self, username: str, password: str, *, admin: bool, quota_bytes: int | None, meta: Meta) -> User:
        check_username(username)
        check_password(password)
        if quota_bytes is not None and quota_bytes < 0:
            raise Invalid("quota_bytes: must not be negative")
        hashed = await self._hash(password, priority=True)
        return await self.store.transact_async(
            lambda tx: self.create_in(tx, username, hashed, admin=admin, quota_bytes=quota_bytes, meta=meta)
        )

    async def hash_password(self, password: str) -> str:
        """argon2id on a hashing thread (it takes ~60 ms and 32 MiB; never on the event loop)."""
        return await self._hash(password, priority=True)

    async def _hash(self, password: str, *, priority: bool = False) -> str:
        return await self.hashing.run(lambda: passwords.hash_password(password), priority=priority)

    # -- sessions ---------------------------------------------------------------------------------
    async def login(self, username: str, password: str, *, device: str | None, client: str, meta: Meta,
                    device_token: str | None = None) -> tuple[str, User]:
        """Check the password; returns (token, user).

        Failures are rate limited as `signin_limits` describes: per device when `device_token`
        is a genuine token of this user (see `issue_device_token`), else per username and per
        client address. A hash made with older parameters is replaced on success.
        """
        from .readmodels import users

        if not isinstance(username, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            raise Invalid("Enter a username and a password.", code="credentials_required")
        await self._load_device_key()
        found = await self.octopus.read(lambda: users.find_by_name(self.store.reader(), username))
        trusted = None if found is None else self.devices.device_of(device_token, found.id)
        keys = self.limits.keys(username, client, found.id if found else None, trusted)
        self.limits.check(keys)
        stored = None
        if found is not None:
            stored = await self.octopus.read(lambda: keystore.get(self.store.reader(), f"password:{found.id}"))

        def verify() -> tuple[bool, str | None]:
            if stored is None:
                passwords.dummy_verify()  # same cost, so timing does not reveal usernames
                return False, None
            if not passwords.verify_password(stored.decode(), password):
                return False, None
            # Upgraded while the password is at hand: it is never available otherwise.
            return True, passwords.hash_password(password) if passwords.needs_rehash(stored.decode()) else None

        ok, new_hash = await self.hashing.run(verify, priority=trusted is not None)
        if not ok or found is None:
            self.limits.failed(keys)
            raise Unauthorized("Wrong username or password.", code="wrong_credentials")
        self.limits.succeeded(keys)
        token = passwords.new_token()
        digest = passwords.token_digest(token)
        device_name = check_device(device)
        now_us = int(self.clock() * 1_000_000)
        session = Session(found.id, now_us + self.config.auth.session_days * 86_400_000_000, device_name, now_us)

        def command(tx: Transaction) -> None:
            password_key = f"password:{found.id}"
            # Not over a password changed meanwhile. No event: hashes never enter the log, and
            # the password itself has not changed (UserPasswordChanged would end sessions).
            if new_hash is not None and keystore.get(tx.conn, password_key) == stored:
                keystore.put(tx.conn, password_key, "password", found.id, new_hash.encode())
            known = {s.device for s in _sessions(tx.conn, found.id)}
            keystore.put(tx.conn, f"session:{digest}", "session", found.id, msgspec.msgpack.encode(session))
            key = keystore.get(tx.conn, user_key_id(found.id))
            assert key is not None
            tx.append(user_stream(found.id), None, [UserSignedIn(
                user_id=found.id, key_id=user_key_id(found.id), new_device=device_name not in known,
                sealed=seal_user(key, found.id, "UserSignedIn", DeviceSeal(device_name)),
            )], meta=Meta(actor=found.id, owner=found.id, correlation_id=meta.correlation_id))

        await self.store.transact_async(command)
        return token, found

    def issue_device_token(self, user_id: str) -> str:
        """A new device token for a client that has just signed in as `user_id`."""
        return self.devices.issue(user_id)

    def authenticate(self, token: str) -> SignedIn:
        """The signed-in user for a token (on a reader thread); Unauthorized if unknown or expired."""
        from .readmodels import users

        if not token or len(token) > 200:
            raise Unauthorized("sign in first")
        digest = passwords.token_digest(token)
        conn = self.store.reader()
        material = keystore.get(conn, f"session:{digest}")
        if material is None:
            raise Unauthorized("your session has ended; sign in again", code="session_ended")
        session = _session_codec.decode(material)
        now_us = int(self.clock() * 1_000_000)
        # Also by age under today's auth.session_days, so shortening it ends older sessions.
        too_old = now_us - session.created_us >= self.config.auth.session_days * 86_400_000_000
        if session.expires_us <= now_us or too_old:
            raise Unauthorized("your session has expired; sign in again", code="session_ended")
        user = users.get(conn, session.user_id)
        if user is None:
            raise Unauthorized("your session has ended; sign in again", code="session_ended")
        return SignedIn(user, digest)

    async def logout(self, who: SignedIn) -> None:
        await self.store.writer.call_async(lambda conn: keystore.delete(conn, f"session:{who.token_digest}"))
        self._sessions_ended(who.user.id, who.token_digest)

    def sessions(self, user_id: str) -> list[SessionInfo]:
        """The user's live sessions, newest first (on a reader thread)."""
        now_us = int(self.clock() * 1_000_000)
        out = []
        for key_id, material in keystore.rows_for(self.store.reader(), user_id, "session"):
            session = _session_codec.decode(material)
            if session.expires_us <= now_us:
                continue
            digest = key_id.removeprefix("session:")
            out.append(SessionInfo(session_id(digest), session.device, session.created_us, session.last_seen_us, digest))
        out.sort(key=lambda s: s.created_us, reverse=True)
        return out

    async def revoke_session(self, user_id: str, public_id: str) -> str:
        """End one of the user's sessions by its public id; returns its digest. 404 for others'."""
        found = [s for s in await self.octopus.read(self.sessions, user_id) if s.id == public_id]
        if not found:
            raise NotFound("no such device")
        digest = found[0].digest
        await self.store.writer.call_async(lambda conn: keystore.delete(conn, f"session:{digest}"))
        self._sessions_ended(user_id, digest)
        return digest

    def _sessions_ended(self, user_id: str, session: str | None) -> None:
        for listener in self.on_sessions_ended:
            listener(user_id, session)

    # -- profile and password -------------------------------------------------------------------
    async def record_email(self, user_id: str, email: str, meta: Meta) -> User:
        """Keep `email` as the user's profile data (moving in from 0.6; nothing is sent to it)."""
        from .readmodels import users

        text = "".join(str(email).split())
        if len(text) > 254 or (text and "@" not in text):
            raise Invalid("email: not an e-mail address")

        def command(tx: Transaction) -> User:
            key = keystore.get(tx.conn, user_key_id(user_id))
            if key is None:
                raise NotFound("no such user")
            tx.append(user_stream(user_id), None, [UserEmailSet(
                user_id=user_id, key_id=user_key_id(user_id),
                sealed=seal_user(key, user_id, "UserEmailSet", EmailSeal(text)),
            )], meta=meta)
            found = users.get(tx.conn, user_id)
            assert found is not None
            return found

        return await self.store.transact_async(command)

    async def set_display_name(self, who: SignedIn, display_name: str, meta: Meta) -> User:
        from .readmodels import users

        name = " ".join(str(display_name).split())
        if not 1 <= len(name) <= 100:
            raise Invalid("The display name must have 1 to 100 characters.", code="display_name_length",
                              params={"min": 1, "max": 100})
        user_id = who.user.id

        def command(tx: Transaction) -> User:
            key = keystore.get(tx.conn, user_key_id(user_id))
            if key is None:
                raise NotFound("no such user")
            tx.append(user_stream(user_id), None, [UserProfileChanged(
                user_id=user_id, key_id=user_key_id(user_id),
                sealed=seal_user(key, user_id, "UserProfileChanged", DisplayNameSeal(name)),
            )], meta=meta)
            found = users.get(tx.conn, user_id)
            assert found is not None
            return found

        return await self.store.transact_async(command)

    async def change_password(self, who: SignedIn, old: str, new: str, meta: Meta) -> None:
        """Check the old password, store the new hash and end every other session."""
        await self._check_password(who.user.id, old)
        check_password(new)
        hashed = await self._hash(new, priority=True)
        await self.store.transact_async(lambda tx: self.set_password_in(tx, who.user.id, hashed, keep=who.token_digest, meta=meta))
        # The caller's own session stays signed in, but what it had unlocked is locked again.
        self._sessions_ended(who.user.id, None)

    def set_password_in(self, tx: Transaction, user_id: str, password_hash: str, *, keep: str | None, meta: Meta) -> None:
        keystore.put(tx.conn, f"password:{user_id}", "password", user_id, password_hash.encode())
        for key_id, _ in keystore.rows_for(tx.conn, user_id, "session"):
            if key_id != f"session:{keep}":
                keystore.delete(tx.conn, key_id)
        tx.append(user_stream(user_id), None, [UserPasswordChanged(user_id=user_id)], meta=meta)

    async def _check_password(self, user_id: str, password: str) -> None:
        stored = await self.octopus.read(lambda: keystore.get(self.store.reader(), f"password:{user_id}"))
        key = f"user-id:{user_id}"
        self.limiter.check(key)

        def verify() -> bool:
            return stored is not None and isinstance(password, str) and passwords.verify_password(stored.decode(), password)

        # Priority: the caller is signed in, and their own counter bounds their guesses.
        if not await self.hashing.run(verify, priority=True):
            self.limiter.failed(key)
            raise Forbidden("The password is wrong.", code="wrong_password")

    # -- deletion ----------------------------------------------------------------------------------
    async def delete_account(self, who: SignedIn, password: str, meta: Meta) -> None:
        await self._check_password(who.user.id, password)
        await self.delete_user(who.user.id, meta)

    async def delete_user(self, user_id: str, meta: Meta) -> None:
        """Purge every photo and album of the user, shred their keys, then the account itself."""
        from .readmodels import library as lib

        photos = self.octopus.photos

        def command(tx: Transaction) -> list[str]:
            hashes = []
            for photo_id, _sha, _state in lib.photos_of(tx.conn, user_id):
                sha = photos.purge_in(tx, user_id, photo_id, "account_deleted", Meta(actor=meta.actor, owner=user_id))
                if sha:
                    hashes.append(sha)
            for hook in ACCOUNT_DELETE_HOOKS:
                hook(tx, user_id, meta)
            tx.append(user_stream(user_id), None, [UserDeleted(user_id=user_id)],
                      meta=Meta(actor=meta.actor, owner=user_id, correlation_id=meta.correlation_id))
            keystore.delete_owner(tx.conn, user_id)
            return hashes

        hashes = await self.store.transact_async(command)
        self._sessions_ended(user_id, None)
        await photos.after_purge(hashes)


def _load_or_make_device_key(conn: Any) -> bytes:
    found = keystore.get(conn, DEVICE_KEY_ID)
    if found is None:
        found = secrets.token_bytes(32)
        keystore.put(conn, DEVICE_KEY_ID, "device-tokens", None, found)
    return bytes(found)


def _sessions(conn: Any, user_id: str) -> list[Session]:
    return [_session_codec.decode(m) for _, m in keystore.rows_for(conn, user_id, "session")]


# Other modules (albums, vault) say what deleting an account means for them: hook(tx, user_id, meta).
ACCOUNT_DELETE_HOOKS: list[Any] = []
