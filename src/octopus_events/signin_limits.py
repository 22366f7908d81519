"""Sign-in limits: failure counters, device tokens, and the queue in front of password hashing.

The design (OWASP's "device cookies" against slow brute force) is told in docs/security.md. In
short: a client that once signed in successfully holds a signed *device token*. Failed sign-ins
are counted per (user, device token) when the attempt carries a valid token for that user, and
per username and per client address when it does not. An attacker without the owner's token can
exhaust only the untrusted budget; the owner on a known device keeps their own budget and still
signs in, whatever the attacker does and from whichever addresses.

Every argon2 run a client can trigger (sign-in, registration) goes through `HashingQueue`: a few
run at once, a few more wait, the rest are refused at once with 429 and Retry-After, so a flood
neither piles up threads nor makes a real sign-in wait behind it; trusted sign-ins go first.

Nothing here knows about HTTP; the clocks are injectable so tests can move time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .errors import RateLimited

T = TypeVar("T")

# Bound the counters' memory under a spray of usernames or addresses. Keys whose newest failure
# has left the window go first; only if that is not enough do the oldest keys go.
_MAX_KEYS = 100_000


class LoginLimiter:
    """Failures per key in a sliding window, in memory: `check` raises RateLimited once a key has
    `max_failures` inside the last `window_s` seconds."""

    def __init__(self, max_failures: int, window_s: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max = max_failures
        self.window = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when it may now."""
        now = self.clock()
        with self._lock:
            q = self._failures.get(key)
            if not q:
                return 0
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) < self.max:
                return 0
            return max(1, int(q[0] + self.window - now) + 1)

    def check(self, *keys: str) -> None:
        for key in keys:
            retry = self.retry_after(key)
            if retry:
                raise RateLimited("too many failed sign-ins; wait and try again", retry_after=retry,
                                  code="signin_rate_limited")

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                # maxlen: only the newest `max` failures decide when a key is free again.
                self._failures.setdefault(key, deque(maxlen=self.max)).append(now)
            if len(self._failures) > _MAX_KEYS:
                self._prune(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        stale = [k for k, q in self._failures.items() if not q or q[-1] <= now - self.window]
        for key in stale:
            del self._failures[key]
        excess = len(self._failures) - _MAX_KEYS // 2
        if excess > 0:
            for key in list(self._failures)[:excess]:
                del self._failures[key]


# -- device tokens -------------------------------------------------------------------------------

_DEVICE_VERSION = "d1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DeviceTokens:
    """Signed tokens naming a user and a random device id: `d1.<user_id>.<nonce>.<mac>`.

    They are not credentials (a token alone signs nobody in); they only say "this client has
    signed in as this user before", which earns it a failure budget of its own. The HMAC key is
    one server-wide secret, so tokens need no storage and survive restarts.
    """

    def __init__(self, secret: Callable[[], bytes]) -> None:
        # A callable, so the secret is read (or made) on first use, not when the library opens.
        self._secret = secret

    def _mac(self, user_id: str, nonce: str) -> str:
        message = f"{_DEVICE_VERSION}|{user_id}|{nonce}".encode()
        return _b64(hmac.new(self._secret(), message, hashlib.sha256).digest())

    def issue(self, user_id: str) -> str:
        nonce = _b64(secrets.token_bytes(16))
        return f"{_DEVICE_VERSION}.{user_id}.{nonce}.{self._mac(user_id, nonce)}"

    def device_of(self, token: str | None, user_id: str) -> str | None:
        """The device id in `token` if it is a genuine token for `user_id`, else None."""
        if not token or len(token) > 200:
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != _DEVICE_VERSION or parts[1] != user_id:
            return None
        if not hmac.compare_digest(parts[3], self._mac(user_id, parts[2])):
            return None
        return parts[2]


class SigninLimits:
    """Which failure counters a sign-in attempt is checked against and charged to."""

    def __init__(self, max_failures: int, window_s: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.counter = LoginLimiter(max_failures, window_s, clock=clock)

    @staticmethod
    def keys(username: str, client: str, user_id: str | None, device: str | None) -> tuple[str, ...]:
        """A trusted device (a valid token for this user) has its own budget and nothing else:
        neither the attacker's failures against the username nor those from its address count.
        Everyone else shares the username's and the address's budgets."""
        if user_id is not None and device is not None:
            return (f"device:{user_id}:{device}",)
        return (f"user:{username.casefold()}", f"addr:{client}")

    def check(self, keys: tuple[str, ...]) -> None:
        self.counter.check(*keys)

    def failed(self, keys: tuple[str, ...]) -> None:
        self.counter.failed(*keys)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        # Only the username's (or the device's) budget is reset: a success proves the password,
        # not that the address is innocent (an attacker may hold an account of their own).
        self.counter.succeeded(keys[0])


# -- the queue in front of argon2 -----------------------------------------------------------------


class HashingQueue:
    """At most `running` password hashes at once for client-triggered work; up to `waiting` more
    wait per lane; beyond that a request is refused at once (RateLimited, retry in a second).

    Two lanes: `priority` (a trusted device, or a signed-in user confirming their password) is
    served before the ordinary lane (unknown clients, registration), so a flood of anonymous
    attempts delays a real sign-in by at most the hashes already running. Waiting happens on the
    event loop, not in threads, so a flood costs no threads and no argon2 memory.
    """

    def __init__(self, running: int, waiting: int, priority_waiting: int) -> None:
        self.running = running
        self._limits = {True: priority_waiting, False: waiting}
        self._active = 0
        self._lanes: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}
        self._pool = ThreadPoolExecutor(max_workers=running, thread_name_prefix="octopus-kdf")

    async def run(self, fn: Callable[[], T], *, priority: bool = False) -> T:
        """Run `fn` (an argon2 call) on a hashing thread once admitted."""
        await self._enter(priority)
        loop = asyncio.get_running_loop()
        try:
            job: Future[T] = self._pool.submit(fn)
        except BaseException:
            self._leave()
            raise
        # The slot is given back when the hash has really finished, even if the request that
        # asked for it went away meanwhile, so no more than `running` hashes ever overlap.
        job.add_done_callback(lambda _: self._leave_from_thread(loop))
        return await asyncio.wrap_future(job)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _leave_from_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._leave)
        except RuntimeError:
            self._leave()  # the loop has closed: nobody else can be touching the lanes

    async def _enter(self, priority: bool) -> None:
        if self._active < self.running and not self._lanes[True] and (priority or not self._lanes[False]):
            self._active += 1
            return
        lane = self._lanes[priority]
        if len(lane) >= self._limits[priority]:
            raise RateLimited("the server is busy checking other sign-ins; try again in a moment", retry_after=1)
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.append(ticket)
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self._leave()  # the slot was handed to us as we were cancelled: pass it on
            else:
                lane.remove(ticket)
            raise

    def _leave(self) -> None:
        # Hand the slot straight to the next waiter (priority lane first), so a newcomer cannot
        # overtake the queue between release and wake-up.
        for lane in (self._lanes[True], self._lanes[False]):
            while lane:
                ticket = lane.popleft()
                if not ticket.done():
                    ticket.set_result(None)
                    return
        self._active -= 1
