"""systemd's readiness protocol (`Type=notify`), in the few lines it takes: no dependency.

When systemd starts a `Type=notify` service it sets `$NOTIFY_SOCKET` to a unix datagram socket
(a path, or an abstract name starting with '@'); the service sends `READY=1` there once it
accepts connections, so `systemctl start` returns only then and units ordered after it start
against a server that answers. `STOPPING=1` says a stop is under way. Without `$NOTIFY_SOCKET`
(not under systemd, or on Windows) every call is a no-op. See sd_notify(3).
"""

from __future__ import annotations

import os
import socket


def notify(state: str, environ: dict[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1") to systemd; True when it was sent. Never raises: a service
    must not fail because its supervisor's socket is gone."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address or not hasattr(socket, "AF_UNIX"):
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket (Linux)
    elif not address.startswith("/"):
        return False  # only unix sockets are defined (vsock addresses are left alone)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | getattr(socket, "SOCK_CLOEXEC", 0)) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
        return True
    except OSError:
        return False


def ready(status: str = "") -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping() -> bool:
    return notify("STOPPING=1")
