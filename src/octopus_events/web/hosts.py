"""Which names this server answers to: the guard against DNS rebinding.

A page on `evil.example` can re-point its own DNS name at this machine (or at 127.0.0.1) once it
is loaded. The browser then sends that page's requests to us as same-origin `evil.example`
requests: it may read our answers, post our forms and receive our cookies, and from here every
one of them comes from a LAN or loopback address. What such a request cannot change is its
`Host: evil.example`, so a request is served only when its Host is a name we know is ours:

- `localhost` and `*.localhost` (browsers resolve them to loopback themselves, never via DNS);
- any loopback address, the address the server listens on, and the local address the request
  arrived on; when listening on every interface (0.0.0.0, ::), any IP literal: an IP is not a
  name an attacker's DNS can re-point;
- this machine's own host name and `<name>.local` (what mDNS announces on a home network);
- the names in `server.allowed_hosts` (`*.example.org` for subdomains, `*` turns the check off).

Anything else is refused before any route runs: 421 for a name that is not ours, 400 for a Host
that is not a host[:port] at all. The port is not compared: a reverse
proxy or a port forward may present another one, and rebinding needs a name, not a port.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable
from typing import Any

from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

MISDIRECTED = 421
_WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})
# Decisions are cached per raw Host value; with every IP literal allowed a client can make many
# distinct values, so the cache is emptied when full rather than left to grow.
_CACHE_LIMIT = 512
# Names already logged as refused, so a scanner cannot flood the log with one line a request.
_LOGGED_LIMIT = 64


def split_host(value: str) -> tuple[str, bool] | None:
    """(host, is_ip) from a Host header value, lower-cased and without port or trailing dot;
    None when the value is not a host[:port] at all."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1:] if end > 0 else ""
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        try:
            return str(ipaddress.IPv6Address(value[1:end])), True
        except ValueError:
            return None
    name, sep, port = value.partition(":")
    if sep and not port.isdigit():
        return None
    name = name.rstrip(".")
    if not name:
        return None
    try:
        return str(ipaddress.IPv4Address(name)), True
    except ValueError:
        pass
    if not all(c.isalnum() or c in "-._" for c in name):
        return None
    return name, False


def _loopback(host: str, is_ip: bool) -> bool:
    if is_ip:
        return ipaddress.ip_address(host).is_loopback
    return host == "localhost" or host.endswith(".localhost")


class HostPolicy:
    """The names and addresses one running server answers to (see the module docstring)."""

    def __init__(self, allowed_hosts: Iterable[str], listen_host: str, machine_name: str | None = None) -> None:
        self.any_host = False
        self.names: set[str] = set()
        self.suffixes: list[str] = []
        for entry in allowed_hosts:
            entry = entry.strip().lower().rstrip(".")
            if entry == "*":
                self.any_host = True
            elif entry.startswith("*."):
                self.suffixes.append(entry[1:])
            elif entry:
                self.names.add(str(ipaddress.ip_address(entry)) if _is_ip(entry) else entry)
        listen = listen_host.strip().lower().strip("[]").rstrip(".")
        self.any_ip = listen in _WILDCARD_ADDRESSES
        if not self.any_ip:
            self.names.add(str(ipaddress.ip_address(listen)) if _is_ip(listen) else listen)
        machine = (socket.gethostname() if machine_name is None else machine_name).strip().lower().rstrip(".")
        if machine:
            short = machine.split(".")[0]
            self.names.update({machine, short, f"{short}.local"})
        self._decisions: dict[str, bool] = {}

    def allows(self, host: str, local_address: str | None = None) -> bool:
        """Whether a request with this Host value, arriving on `local_address`, is ours."""
        if self.any_host:
            return True
        found = split_host(host)
        if found is None:
            return False
        name, is_ip = found
        if _loopback(name, is_ip) or name in self.names:
            return True
        if is_ip:
            return self.any_ip or (local_address is not None and _same_ip(name, local_address))
        return any(name.endswith(suffix) for suffix in self.suffixes)

    def allows_cached(self, host: str, local_address: str | None) -> bool:
        key = f"{host}\x00{local_address}"
        decision = self._decisions.get(key)
        if decision is None:
            decision = self.allows(host, local_address)
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _same_ip(name: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(address)
    except ValueError:
        return False


def host_header(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return value.decode("latin-1")
    return None


def names_loopback(scope: Scope) -> bool:
    """Whether the request's Host names this machine's loopback: a request that arrives from
    127.0.0.1 with a public name in its Host came through a proxy, not from a local tool."""
    host = host_header(scope)
    if host is None:
        return True
    found = split_host(host)
    return found is not None and _loopback(*found)


def guard(policy: HostPolicy) -> Any:
    """Litestar middleware factory: refuse (421 problem) any request whose Host is not ours."""
    logged: set[str] = set()

    def middleware(app: ASGIApp) -> ASGIApp:
        async def check_host(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                host = host_header(scope)
                # No Host at all is an HTTP/1.0 tool, never a browser, so never a rebound page.
                if host is not None:
                    server = scope.get("server")
                    if not policy.allows_cached(host, server[0] if server else None):
                        if split_host(host) is None:
                            raise HTTPException(status_code=400, detail="the Host header is not a host[:port]")
                        shown = host[:100]
                        if shown not in logged and len(logged) < _LOGGED_LIMIT:
                            logged.add(shown)
                            log.warning("refused a request for host %r (not in server.allowed_hosts)", shown)
                        raise HTTPException(
                            status_code=MISDIRECTED,
                            detail=f"this server does not answer to the name {shown!r}; "
                                   "an admin can add it to server.allowed_hosts",
                        )
            await app(scope, receive, send)

        return check_host

    return middleware
