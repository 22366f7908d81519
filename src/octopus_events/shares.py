"""Share links: an album or a set of items shown to anyone who holds the link (docs/sharing.md).

A link is a stream `share-<id>` of three events: created, changed (its settings), revoked. The
token in the link has 192 random bits; the log and the read model hold only its SHA-256, so
neither the log (exported, shipped off-box, never erasable) nor a read model hands out a usable
link. So that the owner can copy the link again later, the token itself is kept sealed under the
owner's user key in the keystore (`share-token:<id>`), which revoking the link or deleting the
account destroys. A password is kept only as an argon2id hash, also in the keystore
(`share-password:<id>`), checked through the sign-in hashing queue and rate limited like
sign-ins. After the right password the visitor holds a *grant*: an HMAC over (share id, the
link's version, expiry) under a server key, valid for `GRANT_SECONDS`, for that link only; any
change to the link (a new password) makes old grants invalid.

Views are counted in memory and written to the small `share_views` table at most once a
`FLUSH_SECONDS` (and when the library closes): a page view is the hot path and must not cost an
event or a disk flush.

What a link shows is decided when it is asked, from the read models: an album link shows the
album's current items, a selection its items; only items in the library (not trashed,
archived, vaulted or purged) appear, so a change to an item reaches every link at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from . import keystore, passwords, sealing
from .accounts import ACCOUNT_DELETE_HOOKS, user_key_id
from .errors import Gone, Invalid, NotFound, Unauthorized
from .events import Event
from .eventstore import EventStore, Meta, Transaction
from .signin_limits import HashingQueue, LoginLimiter

if TYPE_CHECKING:
    from .readmodels.shares import ShareRow

T = TypeVar("T")

MAX_ITEMS = 1000  # photo_ids in one selection link
MAX_PASSWORD = 1024
GRANT_SECONDS = 2 * 3600
FLUSH_SECONDS = 30.0
GRANT_KEY_ID = "share-grants"  # the server's HMAC key for grants; belongs to no user
TOKEN_PURPOSE = "share-token"
PASSWORD_PURPOSE = "share-password"


# -- events -------------------------------------------------------------------------------------


class ShareLinkCreated(Event):
    """A link to an album (`album_id`) or to a set of items (`photo_ids`). Only the token's
    SHA-256 is recorded; the token itself never enters the log."""

    share_id: str
    token_digest: str
    album_id: str | None = None
    photo_ids: list[str] = []
    expires_at: str | None = None
    allow_download: bool = True
    show_location: bool = False
    has_password: bool = False


class ShareLinkChanged(Event):
    """The link's settings after a change (all of them, so a replay needs no earlier state)."""

    share_id: str
    expires_at: str | None
    allow_download: bool
    show_location: bool
    has_password: bool


class ShareLinkRevoked(Event):
    share_id: str


def share_stream(share_id: str) -> str:
    return f"share-{share_id}"


# -- what comes in and goes out -------------------------------------------------------------------


class NewShare(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    album_id: str | None = None
    photo_ids: list[str] | None = None
    expires_at: str | None = None
    password: str | None = None
    allow_download: bool = True
    show_location: bool = False


class ShareChange(msgspec.Struct, kw_only=True):
    """PATCH: only the fields given change. `password: null` (or "") removes the password."""

    expires_at: str | None | UnsetType = UNSET
    password: str | None | UnsetType = UNSET
    allow_download: bool | UnsetType = UNSET
    show_location: bool | UnsetType = UNSET
    version: int | UnsetType = UNSET


class Share(msgspec.Struct, kw_only=True):
    """A link as its owner sees it (GET /api/shares)."""

    id: str
    token: str | None  # null only if the keystore lost it (then revoke and share again)
    album_id: str | None
    photo_ids: list[str]
    count: int  # items the visitor sees now
    created_at: str
    expires_at: str | None
    expired: bool
    allow_download: bool
    show_location: bool
    has_password: bool
    views: int
    last_view: str | None
    version: int


class Grant(msgspec.Struct):
    grant: str
    expires_at: str


class _TokenSeal(msgspec.Struct):
    token: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_expiry(value: str | None, now: float) -> str | None:
    """RFC 3339 with offset, in the future; stored normalised to UTC seconds."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise Invalid("expires_at: an RFC 3339 time with offset, or null for never")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid("expires_at: an RFC 3339 time with offset, or null for never") from None
    if when.tzinfo is None:
        raise Invalid("expires_at: the time needs an offset (such as Z or +01:00)")
    if when.timestamp() <= now:
        raise Invalid("The expiry time must be in the future.", code="expiry_in_past")
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _check_password(password: object) -> str | None:
    if password is None or password == "":
        return None
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        raise Invalid(f"A link password may have at most {MAX_PASSWORD} characters.", code="share_password_length",
                      params={"max": MAX_PASSWORD})
    return password


def _rfc3339(us: int) -> str | None:
    from .readmodels.library import rfc3339_us

    return rfc3339_us(us) if us else None


class _Views:
    __slots__ = ("count", "last_us")

    def __init__(self) -> None:
        self.count = 0
        self.last_us = 0


VIEWS_TABLE = """CREATE TABLE IF NOT EXISTS share_views (
    share_id TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    views    INTEGER NOT NULL,
    last_us  INTEGER NOT NULL
)"""


class Shares:
    """Create, list, change and revoke links; open them for visitors."""

    def __init__(self, store: EventStore, hashing: HashingQueue, read: Callable[..., Awaitable[Any]], *,
                 max_failures: int, window_s: int) -> None:
        self.store = store
        self.hashing = hashing
        self.read = read
        # Wrong passwords: per link and client address at the sign-in budget, and per link at ten
        # times that, so a spread of addresses still cannot guess for long.
        self.failures = LoginLimiter(max_failures, window_s)
        self.link_failures = LoginLimiter(max_failures * 10, window_s)
        self.clock: Callable[[], float] = time.time
        self._grant_key: bytes | None = None
        self._lock = threading.Lock()
        self._views: dict[str, _Views] = {}
        self._view_owner: dict[str, str] = {}
        self._last_flush = time.monotonic()
        store.writer.call(lambda conn: conn.execute(VIEWS_TABLE), transaction=False)

    # -- commands (the owner) -------------------------------------------------------------------
    async def create(self, owner: str, new: NewShare, meta: Meta) -> Share:
        from .readmodels import albums
        from .readmodels import shares as model

        if (new.album_id is None) == (new.photo_ids is None):
            raise Invalid("album_id: give either album_id or photo_ids")
        ids: list[str] = []
        if new.photo_ids is not None:
            ids = list(dict.fromkeys(new.photo_ids))
            if not ids:
                raise Invalid("photo_ids: give at least one item")
            if len(ids) > MAX_ITEMS:
                raise Invalid(f"A link may hold at most {MAX_ITEMS} items.", code="too_many_items", params={"max": MAX_ITEMS})
        expires_at = parse_expiry(new.expires_at, self.clock())
        password = _check_password(new.password)
        hashed = await self.hashing.run(lambda: passwords.hash_password(password), priority=True) if password else None
        share_id = "s" + secrets.token_hex(8)
        token = secrets.token_urlsafe(24)  # 192 bits

        def command(tx: Transaction) -> None:
            key = keystore.get(tx.conn, user_key_id(owner))
            if key is None:
                raise NotFound("no such user")
            if new.album_id is not None and not albums.owned(tx.conn, owner, new.album_id):
                raise NotFound(f"no album {new.album_id}")
            if ids:
                visible = model.shareable(tx.conn, owner, ids)
                missing = [p for p in ids if p not in visible]
                if missing:
                    raise NotFound(f"no photo {missing[0]}")
            keystore.put(tx.conn, f"{TOKEN_PURPOSE}:{share_id}", TOKEN_PURPOSE, owner,
                         sealing.seal_struct(key, _TokenSeal(token), context=f"{share_id}|token".encode()))
            if hashed is not None:
                keystore.put(tx.conn, f"{PASSWORD_PURPOSE}:{share_id}", PASSWORD_PURPOSE, owner, hashed.encode())
            tx.append(share_stream(share_id), 0, [ShareLinkCreated(
                share_id=share_id, token_digest=token_digest(token), album_id=new.album_id, photo_ids=ids,
                expires_at=expires_at, allow_download=bool(new.allow_download), show_location=bool(new.show_location),
                has_password=hashed is not None,
            )], meta=Meta(actor=meta.actor or owner, owner=owner, correlation_id=meta.correlation_id))

        await self.store.transact_async(command)
        return await self.read(self.get, owner, share_id)

    async def change(self, owner: str, share_id: str, change: ShareChange, meta: Meta) -> Share:
        from .errors import ConcurrencyConflict
        from .readmodels import shares as model

        expires = change.expires_at
        expires_at = UNSET if isinstance(expires, UnsetType) else parse_expiry(expires, self.clock())
        hashed: str | None | UnsetType = UNSET
        if not isinstance(change.password, UnsetType):
            password = _check_password(change.password)
            hashed = await self.hashing.run(lambda: passwords.hash_password(password), priority=True) if password else None

        def command(tx: Transaction) -> None:
            row = model.get_row(tx.conn, share_id)
            if row is None or row.owner != owner or row.revoked:
                raise NotFound(f"no share {share_id}")
            if not isinstance(change.version, UnsetType) and change.version != row.version:
                raise ConcurrencyConflict(f"share {share_id} is at version {row.version}, not {change.version}")
            has_password = row.has_password
            if not isinstance(hashed, UnsetType):
                keystore.delete(tx.conn, f"{PASSWORD_PURPOSE}:{share_id}")
                if hashed is not None:
                    keystore.put(tx.conn, f"{PASSWORD_PURPOSE}:{share_id}", PASSWORD_PURPOSE, owner, hashed.encode())
                has_password = hashed is not None
            tx.append(share_stream(share_id), row.version, [ShareLinkChanged(
                share_id=share_id,
                expires_at=row.expires_at if isinstance(expires_at, UnsetType) else expires_at,
                allow_download=row.allow_download if isinstance(change.allow_download, UnsetType) else bool(change.allow_download),
                show_location=row.show_location if isinstance(change.show_location, UnsetType) else bool(change.show_location),
                has_password=has_password,
            )], meta=Meta(actor=meta.actor or owner, owner=owner, correlation_id=meta.correlation_id))

        await self.store.transact_async(command)
        return await self.read(self.get, owner, share_id)

    async def revoke(self, owner: str, share_id: str, meta: Meta) -> None:
        """Revoke now: the next request through the link answers 410. 404 for others' links."""
        from .readmodels import shares as model

        def command(tx: Transaction) -> None:
            row = model.get_row(tx.conn, share_id)
            if row is None or row.owner != owner or row.revoked:
                raise NotFound(f"no share {share_id}")
            _forget_secrets(tx, share_id)
            tx.append(share_stream(share_id), row.version, [ShareLinkRevoked(share_id=share_id)],
                      meta=Meta(actor=meta.actor or owner, owner=owner, correlation_id=meta.correlation_id))

        await self.store.transact_async(command)

    # -- the owner's view ------------------------------------------------------------------------
    def _token_of(self, conn: Any, owner: str, share_id: str) -> str | None:
        material = keystore.get(conn, f"{TOKEN_PURPOSE}:{share_id}")
        key = keystore.get(conn, user_key_id(owner))
        if material is None or key is None:
            return None
        try:
            return sealing.unseal_struct(key, material, _TokenSeal, context=f"{share_id}|token".encode()).token
        except sealing.SealError:
            return None

    def _share(self, conn: Any, row: ShareRow, views: dict[str, tuple[int, int]]) -> Share:
        from .readmodels import shares as model

        count, last_us = views.get(row.id, (0, 0))
        pending = self._views.get(row.id)
        if pending is not None:
            count, last_us = count + pending.count, max(last_us, pending.last_us)
        return Share(
            id=row.id, token=self._token_of(conn, row.owner, row.id), album_id=row.album_id,
            photo_ids=model.selection(conn, row.id) if row.album_id is None else [],
            count=model.count(conn, row), created_at=row.created_at, expires_at=row.expires_at,
            expired=row.expired(self.clock()), allow_download=row.allow_download, show_location=row.show_location,
            has_password=row.has_password, views=count, last_view=_rfc3339(last_us), version=row.version,
        )

    def get(self, owner: str, share_id: str) -> Share:
        """One of the owner's links (reader thread); NotFound for others' and revoked ones."""
        from .readmodels import shares as model

        conn = self.store.reader()
        row = model.get_row(conn, share_id)
        if row is None or row.owner != owner or row.revoked:
            raise NotFound(f"no share {share_id}")
        return self._share(conn, row, _stored_views(conn, [share_id]))

    def list(self, owner: str) -> list[Share]:
        """The owner's live links (expired ones too, until revoked), newest first (reader)."""
        from .readmodels import shares as model

        conn = self.store.reader()
        rows = model.of_owner(conn, owner)
        views = _stored_views(conn, [r.id for r in rows])
        return [self._share(conn, r, views) for r in rows]

    # -- visitors --------------------------------------------------------------------------------
    def open(self, token: str, grant: str | None) -> ShareRow:
        """The live link a token names (reader thread). NotFound when unknown, Gone when revoked
        or expired, Unauthorized when it has a password and `grant` is not a valid grant for it."""
        from .readmodels import shares as model

        row = self.lookup(token)
        if row.has_password and not self._grant_ok(row, grant):
            raise PasswordRequired("this link is protected by a password")
        return row

    def lookup(self, token: str) -> ShareRow:
        from .readmodels import shares as model

        if not isinstance(token, str) or not 20 <= len(token) <= 64:
            raise NotFound("no such link")
        row = model.by_digest(self.store.reader(), token_digest(token))
        if row is None:
            raise NotFound("no such link")
        if row.revoked:
            raise Gone("this link has been revoked", code="link_revoked")
        if row.expired(self.clock()):
            raise Gone("this link has expired", code="link_expired")
        return row

    async def unlock(self, token: str, password: object, client: str | None) -> Grant:
        """The right password gives a grant; a wrong one Unauthorized; too many RateLimited."""
        row = await self.read(self.lookup, token)
        keys = (f"share:{row.id}:addr:{client or '-'}",)
        self.failures.check(*keys)
        self.link_failures.check(f"share:{row.id}")
        stored = await self.read(lambda: keystore.get(self.store.reader(), f"{PASSWORD_PURPOSE}:{row.id}"))
        if not row.has_password or stored is None:
            return self._grant(row)
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            password = ""
        material = bytes(stored).decode()
        ok = await self.hashing.run(lambda: passwords.verify_password(material, password))
        if not ok:
            self.failures.failed(*keys)
            self.link_failures.failed(f"share:{row.id}")
            raise Unauthorized("the password is wrong", code="wrong_password")
        self.failures.succeeded(keys[0])
        return await self.read(self._grant, row)

    def _key(self) -> bytes:
        if self._grant_key is None:
            found = keystore.get(self.store.reader(), GRANT_KEY_ID)
            self._grant_key = bytes(found) if found is not None else self.store.writer.call(_load_or_make_key)
        return self._grant_key

    def _sign(self, share_id: str, version: int, expires: int) -> str:
        mac = hmac.new(self._key(), f"{share_id}|{version}|{expires}".encode(), hashlib.sha256).digest()[:20]
        return f"{expires}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def _grant(self, row: ShareRow) -> Grant:
        expires = int(self.clock()) + GRANT_SECONDS
        return Grant(self._sign(row.id, row.version, expires), _rfc3339(expires * 1_000_000) or "")

    def _grant_ok(self, row: ShareRow, grant: str | None) -> bool:
        if not grant or len(grant) > 100 or "." not in grant:
            return False
        head = grant.split(".", 1)[0]
        if not head.isdigit() or int(head) < self.clock():
            return False
        return hmac.compare_digest(grant, self._sign(row.id, row.version, int(head)))

    # -- view counts -----------------------------------------------------------------------------
    def viewed(self, row: ShareRow) -> None:
        now = int(self.clock() * 1_000_000)
        with self._lock:
            views = self._views.setdefault(row.id, _Views())
            views.count += 1
            views.last_us = now
            self._view_owner[row.id] = row.owner

    def flush_due(self) -> bool:
        return bool(self._views) and time.monotonic() - self._last_flush >= FLUSH_SECONDS

    def _take(self) -> tuple[dict[str, _Views], dict[str, str]]:
        with self._lock:
            views, self._views = self._views, {}
            owners, self._view_owner = self._view_owner, {}
            self._last_flush = time.monotonic()
        return views, owners

    @staticmethod
    def _write(conn: Any, views: dict[str, _Views], owners: dict[str, str]) -> None:
        from .readmodels import shares as model

        for share_id, v in views.items():
            if model.get_row(conn, share_id) is None:
                continue  # the account went meanwhile: nothing of it may come back
            conn.execute(
                "INSERT INTO share_views (share_id, owner, views, last_us) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (share_id) DO UPDATE SET views = views + excluded.views, "
                "last_us = max(last_us, excluded.last_us)",
                (share_id, owners[share_id], v.count, v.last_us),
            )

    async def flush_async(self) -> None:
        views, owners = self._take()
        if views:
            await self.store.writer.call_async(lambda conn: self._write(conn, views, owners))

    def flush(self) -> None:
        views, owners = self._take()
        if views:
            self.store.writer.call(lambda conn: self._write(conn, views, owners))


class PasswordRequired(Unauthorized):
    """A protected link asked for without a valid grant (HTTP 401, code `share_password`)."""


def _stored_views(conn: Any, share_ids: list[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for start in range(0, len(share_ids), 500):
        part = share_ids[start:start + 500]
        marks = ",".join("?" * len(part))
        for share_id, views, last_us in conn.execute(
                f"SELECT share_id, views, last_us FROM share_views WHERE share_id IN ({marks})", part):
            out[share_id] = (views, last_us)
    return out


def _forget_secrets(tx: Transaction, share_id: str) -> None:
    keystore.delete(tx.conn, f"{TOKEN_PURPOSE}:{share_id}")
    keystore.delete(tx.conn, f"{PASSWORD_PURPOSE}:{share_id}")


def _load_or_make_key(conn: Any) -> bytes:
    found = keystore.get(conn, GRANT_KEY_ID)
    if found is None:
        found = secrets.token_bytes(32)
        keystore.put(conn, GRANT_KEY_ID, GRANT_KEY_ID, None, found)
    return bytes(found)


def _on_account_deleted(tx: Transaction, user_id: str, meta: Meta) -> None:
    # The read model drops the user's links on UserDeleted; their secrets go with the user's
    # keystore rows; the view counts are no event, so they are deleted here.
    tx.conn.execute("DELETE FROM share_views WHERE owner = ?", (user_id,))


if _on_account_deleted not in ACCOUNT_DELETE_HOOKS:
    ACCOUNT_DELETE_HOOKS.append(_on_account_deleted)
