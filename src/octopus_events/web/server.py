"""How the app is served over HTTP: uvicorn's settings and the limits on each connection.

uvicorn with httptools bounds neither the size of a request head nor how long a client may take
to send it or its body, so one unauthenticated client could hold memory (a 100 MB header) or
every connection (a head that never ends, a body sent a byte at a time). `LimitedHttpProtocol`
keeps httptools' C parser (chosen for upload throughput) and adds, per connection:

- a cap on the request line plus headers (431, then close);
- a deadline for the head, from the connection opening or the head's first byte (408, close);
- a minimum body rate: every `body_timeout_seconds` window must bring
  `body_min_bytes_per_second` × window bytes, unless the server itself stopped reading;
- a bound on open connections: one over it is answered 503 at once and closed;
- a deadline for a client that stops reading a response: while the transport's write buffer stays
  full for `send_timeout_seconds`, the connection is dropped. Otherwise a phone that stalls in the
  middle of a streamed snapshot would hold its read transaction (and so the WAL) open for good.

Refusals are problem+json like every other error, sent straight on the transport because the
app never sees these requests. The common case costs no timer: a head that arrives whole in one
read arms nothing, and the body check is a counter read once a window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httptools
import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import Config
from .problems import PROBLEM, problem_body
from .security_headers import HEADERS as SECURITY_HEADERS

log = logging.getLogger(__name__)

# How long a refused connection keeps reading (and dropping) what the client still sends, so the
# client gets to read the answer instead of a reset from closing over unread data.
LINGER_SECONDS = 2.0


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    max_head_bytes: int
    head_timeout: float
    body_window: float
    body_min_bytes_per_second: int
    max_connections: int
    send_timeout: float

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        s = config.server
        return cls(max_head_bytes=s.max_header_kb * 1024, head_timeout=float(s.head_timeout_seconds),
                   body_window=float(s.body_timeout_seconds), body_min_bytes_per_second=s.body_min_bytes_per_second,
                   max_connections=s.max_connections, send_timeout=float(s.send_timeout_seconds))


class _HeadTooLarge(Exception):
    """Raised inside the parser's callback to stop parsing a head over the limit."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; `protocol_class` binds the numbers."""

    limits: Limits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False  # a request head has begun and is not yet complete
        self._head_began_now = False
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_body = False  # a request's head is complete and its body is not
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_bytes = 0
        self._send_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            # Not counted while it lingers: the bound is on connections being served.
            self.connections.discard(self)
            _warn_refused(self.limits.max_connections)
            self._refuse(503, "the server has too many open connections; try again shortly",
                         extra_headers=b"retry-after: 5\r\n")
            return
        # A client that connects and sends nothing is held to the head deadline too.
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        self._cancel_send_timer()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        # The client is not reading what we send: give it send_timeout to start again.
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        self._cancel_send_timer()
        super().resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: drop what the client still sends
        self._unset_keepalive_if_required()
        self._head_began_now = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse_head()
            elif self.cycle is not None and not self.cycle.response_complete:
                self.transport.close()  # mid-request (a broken chunked body): the app is answering
            else:
                self.logger.warning("Invalid HTTP request received.")
                self._refuse(400, "the request is not valid HTTP/1.1")
            return
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
            return
        if self._in_head:
            # The chunk a head starts in is at most one read; counting from the next one keeps a
            # pipelined request after a large body from being charged for that body's tail. The
            # exact size is checked when the head completes.
            if not self._head_began_now:
                self._head_bytes += len(data)
                if self._head_bytes > self.limits.max_head_bytes:
                    self._refuse_head()
                    return
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)
        elif self._in_body:
            # Armed only when a body is still to come after this read: a request that arrives
            # whole costs no timer.
            if self._body_timer is None:
                self._body_bytes = 0
                self._body_timer = self.loop.call_later(self.limits.body_window, self._body_window_ended)
            else:
                self._body_bytes += len(data)

    # -- parser callbacks ------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_began_now = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_head_bytes:
            raise _HeadTooLarge
        self._in_head = False
        self._in_body = True
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._cancel_body_timer()
        super().on_message_complete()

    # -- deadlines -------------------------------------------------------------------------------

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._in_head:
            self._refuse(408, f"the request headers did not arrive within {self.limits.head_timeout:g} s")
        elif self.cycle is None:
            self.transport.close()  # connected and never said a word

    def _body_window_ended(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        # Not the client's fault when the server stopped reading (the app is behind) or has not
        # yet asked for a body sent only after `100 Continue`.
        excused = self.flow.read_paused or self.cycle.waiting_for_100_continue
        needed = self.limits.body_min_bytes_per_second * self.limits.body_window
        if not excused and self._body_bytes < needed:
            log.warning("closed the connection from %s: its request body came at %.0f bytes/s",
                        self.client[0] if self.client else "?", self._body_bytes / self.limits.body_window)
            # The app is mid-request; closing makes its next receive() an http.disconnect.
            self.transport.close()
            return
        self._body_bytes = 0
        self._body_timer = self.loop.call_later(self.limits.body_window, self._body_window_ended)

    def _send_timed_out(self) -> None:
        self._send_timer = None
        if self.transport.is_closing():
            return
        log.warning("closed the connection to %s: it read nothing of its response for %g s",
                    self.client[0] if self.client else "?", self.limits.send_timeout)
        # abort, not close: close would wait to flush a buffer the client is not reading. The app's
        # next send() then finds the connection gone and its response (and any read it holds) ends.
        self.transport.abort()

    def _cancel_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    # -- refusing --------------------------------------------------------------------------------

    def _refuse_head(self) -> None:
        self._refuse(431, f"the request line and headers exceed {self.limits.max_head_bytes // 1024} KiB")

    def _refuse(self, status: int, detail: str, *, extra_headers: bytes = b"") -> None:
        """Answer a request the app never saw with a problem, then close the connection."""
        self._refused = True
        self._in_head = self._in_body = False
        self._cancel_head_timer()
        self._cancel_body_timer()
        if self.transport.is_closing():
            return
        body = problem_body(status, detail)
        head = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *SECURITY_HEADERS]:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: ", PROBLEM.encode(), b"\r\ncontent-length: ", str(len(body)).encode(),
                 b"\r\nconnection: close\r\n", extra_headers, b"\r\n", body]
        self.transport.write(b"".join(head))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


_refusals = {"since": 0.0, "count": 0}


def _warn_refused(limit: int) -> None:
    # A flood of connections must not become a flood of log lines: one line per 10 s at most.
    _refusals["count"] += 1
    now = time.monotonic()
    if now - _refusals["since"] >= 10:
        log.warning("refused %d connection(s): %d open is the limit (server.max_connections)",
                    _refusals["count"], limit)
        _refusals["since"], _refusals["count"] = now, 0


def protocol_class(limits: Limits) -> type[LimitedHttpProtocol]:
    """A protocol class with `limits` bound, for `uvicorn.Config(http=...)`."""
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})


def uvicorn_config(app: Any, config: Config) -> uvicorn.Config:
    """The uvicorn settings `octopus serve` runs with (logging is configured by `logs.py`)."""
    level = config.log.level
    return uvicorn.Config(
        app, lifespan="on", server_header=False, log_config=None, log_level=level, access_log=level == "debug",
        # httptools parses HTTP in C (wheels for Windows, macOS, Linux); h11's pure-Python
        # parsing of multi-megabyte upload bodies cost more CPU than hashing them.
        http=protocol_class(Limits.from_config(config)), ws="none",
        **_proxy_settings(config),
    )


def _proxy_settings(config: Config) -> dict[str, Any]:
    """uvicorn's forwarded-header settings: believed only from `server.trusted_proxies`.

    uvicorn's default believes them from 127.0.0.1, which lets any local process, or anyone when
    nothing rewrites them on the way, choose the address the rate limits count it as.
    """
    proxies = config.server.trusted_proxies
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(proxies)}

