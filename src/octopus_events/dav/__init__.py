"""WebDAV at /dav/ (docs/webdav.md): WsgiDAV over our own providers.

`Uploads/` is a real folder per device on disk (`uploads.py`); `Library/`, `Albums/` and
`Favourites/` are read-only views of the read model (`views.py`); `auth.py` turns Basic
credentials into an owner and a device. Nothing here knows of Litestar: `web/dav.py` mounts
the WSGI app this builds.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..application import Octopus


def build_app(octopus: Octopus, loop: asyncio.AbstractEventLoop, mount_path: str = "/dav") -> Any:
    """The WsgiDAV app for this library; `loop` runs the library's async commands."""
    from wsgidav.lock_man.lock_storage import LockStorageDict
    from wsgidav.wsgidav_app import WsgiDAVApp

    from .auth import OctopusDomainController
    from wsgidav.error_printer import ErrorPrinter
    from wsgidav.http_authenticator import HTTPAuthenticator
    from wsgidav.request_resolver import RequestResolver

    from .properties import SqlitePropertyManager
    from .propfind import ViewPropfind
    from .provider import OctopusProvider
    from .store import DavStore

    store = DavStore(octopus, loop)
    locks = LockStorageDict()
    store.on_removed.append(lambda url: drop_locks(locks, url))
    config = {
        "provider_mapping": {"/": OctopusProvider(store)},
        # PROPFIND of a view folder is answered with strings once the caller is known
        # (propfind.py); everything else goes on to WsgiDAV's resolver.
        "middleware_stack": [ErrorPrinter, HTTPAuthenticator, ViewPropfind, RequestResolver],
        "mount_path": mount_path,
        "http_authenticator": {
            "domain_controller": OctopusDomainController,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "octopus_store": store,
        # Class 2. Dead properties persist in index.db, where a purge can delete them for good
        # (a shelve keeps deleted keys readable); locks, minutes long, live in memory only.
        "lock_storage": locks,
        "property_manager": SqlitePropertyManager(store),
        # Modification times are kept, so a sync app that compares them uploads nothing twice.
        "hotfixes": {"emulate_win32_lastmod": True},
        "honor_mtime_header": True,
        # Big blocks: a photo streams to disk in a few writes (a2wsgi reads no further ahead).
        "block_size": 1024 * 1024,
        "dir_browser": {"enable": False},
        "verbose": 1,
        "logging": {"enable": False},
        "suppress_version_info": True,
        "add_header_MS_Author_Via": False,
        "cors": {"allow_origin": None},
    }
    return finite_depth(WsgiDAVApp(config))


def drop_locks(locks: Any, url: str) -> None:
    """Forget the locks on a file that was removed for good (their root holds its name)."""
    for token in locks.get_lock_list(url, include_root=True, include_children=True, token_only=True):
        locks.delete(token)


_FINITE_DEPTH = (b'<?xml version="1.0" encoding="utf-8"?>\n'
                 b'<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>')


def finite_depth(app: Any) -> Any:
    """403 with the RFC 4918 9.1 precondition for PROPFIND `Depth: infinity`: a listing of
    everything below a folder is unbounded work for one request. (WsgiDAV has the check but
    no setting to turn it on.)"""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") == "PROPFIND" and environ.get("HTTP_DEPTH", "infinity").strip().lower() == "infinity":
            start_response("403 Forbidden", [("Content-Type", "application/xml; charset=utf-8"),
                                             ("Content-Length", str(len(_FINITE_DEPTH)))])
            return [_FINITE_DEPTH]
        return app(environ, start_response)

    return wrapped
