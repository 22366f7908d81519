"""Basic credentials on /dav/ → an owner and a device.

WebDAV clients send Basic credentials on every request, so verifying them must be cheap: an app
password (devices.py, a keyed hash) is checked on each request; the account password (only with
`dav.allow_account_password`) costs an argon2 verify, so a success is remembered for a few
minutes under a keyed hash of the credentials (never the password itself), in memory only.
Failures count against the sign-in limits like a failed login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec
from wsgidav.dc.base_dc import BaseDomainController

from .. import keystore, passwords
from ..errors import OctopusError

if TYPE_CHECKING:
    from .store import DavStore

REALM = "Octopus Photos"
ACCOUNT_DEVICE = "account"  # the Uploads folder of whoever signs in with the account password
_REMEMBER_S = 300.0
ENVIRON_KEY = "octopus.dav.identity"


class DavIdentity(msgspec.Struct, frozen=True):
    """Who a DAV request acts as: the owner's library and one device's Uploads folder."""

    owner: str
    device: str
    username: str


class AccountPasswordCache:
    """Successful account-password checks, for `_REMEMBER_S`, keyed by an HMAC under a key
    that lives only in this process."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: dict[bytes, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def _mac(self, username: str, password: str) -> bytes:
        return hmac.new(self._key, f"{username}\0{password}".encode(), hashlib.sha256).digest()

    def get(self, username: str, password: str) -> str | None:
        mac = self._mac(username, password)
        with self._lock:
            found = self._seen.get(mac)
            if found is None or found[0] < time.monotonic():
                self._seen.pop(mac, None)
                return None
            return found[1]

    def put(self, username: str, password: str, user_id: str) -> None:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[self._mac(username, password)] = (time.monotonic() + _REMEMBER_S, user_id)


def verify_account_password(store: DavStore, username: str, password: str, client: str) -> DavIdentity | None:
    """The account password as a DAV credential (argon2, rate limited; cached on success)."""
    from ..readmodels import users

    octopus = store.octopus
    accounts = octopus.accounts
    cached = store.account_cache.get(username, password)
    conn = octopus.store.reader()
    if cached is not None:
        user = users.get(conn, cached)
        # The password may have changed since: the stored hash is checked again then.
        if user is not None and cached_still_valid(store, cached):
            return DavIdentity(user.id, ACCOUNT_DEVICE, username)
    found = users.find_by_name(conn, username)
    keys = accounts.limits.keys(username, client, found.id if found else None, None)
    accounts.limits.check(keys)
    stored = keystore.get(conn, f"password:{found.id}") if found is not None else None

    def verify() -> bool:
        if stored is None:
            passwords.dummy_verify()
            return False
        return passwords.verify_password(stored.decode(), password)

    ok = store.run(accounts.hashing.run(verify))
    if not ok or found is None:
        accounts.limits.failed(keys)
        return None
    accounts.limits.succeeded(keys)
    store.account_cache.put(username, password, found.id)
    store.password_seen[found.id] = stored or b""
    return DavIdentity(found.id, ACCOUNT_DEVICE, username)


def cached_still_valid(store: DavStore, user_id: str) -> bool:
    """A remembered success holds only while the stored password hash is the one it was checked
    against (a password change ends it at once)."""
    current = keystore.get(store.octopus.store.reader(), f"password:{user_id}")
    return current is not None and hmac.compare_digest(current, store.password_seen.get(user_id, b""))


def verify_basic(store: DavStore, username: str, password: str, client: str) -> DavIdentity | None:
    """An app password first (cheap), then the account password where allowed."""
    if not username or not password or len(password) > 1024 or len(username) > 200:
        return None
    devices = getattr(store.octopus, "devices", None)  # devices.py: app passwords
    if devices is not None and _looks_like_app_password(password):
        found = devices.authenticate_basic(username, password, client)
        return DavIdentity(found.user.id, found.device_id, username) if found is not None else None
    if store.octopus.config.dav.allow_account_password:
        return verify_account_password(store, username, password, client)
    return None


def _looks_like_app_password(password: str) -> bool:
    from .. import devices

    return devices.looks_like_app_password(password)


class OctopusDomainController(BaseDomainController):
    """WsgiDAV's hook for Basic auth: every request authenticates, nobody is anonymous."""

    def __init__(self, wsgidav_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, config)
        self.store: DavStore = config["octopus_store"]

    def get_domain_realm(self, path_info: str, environ: dict[str, Any]) -> str:
        return REALM

    def require_authentication(self, realm: str, environ: dict[str, Any]) -> bool:
        return True

    def supports_http_digest_auth(self) -> bool:
        return False

    def basic_auth_user(self, realm: str, user_name: str, password: str, environ: dict[str, Any]) -> bool:
        client = environ.get("REMOTE_ADDR", "")
        try:
            identity = verify_basic(self.store, user_name, password, client)
        except OctopusError:
            return False  # rate limited: the same 401 as a wrong password, and no hash was run
        if identity is None:
            return False
        environ[ENVIRON_KEY] = identity
        return True

    def digest_auth_user(self, realm: str, user_name: str, environ: dict[str, Any]) -> bool:
        return False
