"""PROPFIND Depth 0/1 on the read-only views, answered with strings.

A month folder can hold 10,000 items; WsgiDAV builds an ElementTree of the whole multistatus
(and a property list per item) before serializing it, which cost ~3.5x a bare sqlite3 + strings
floor (docs/benchmarks.md, WebDAV). A view has no dead properties and no locks, so every
answer is a fixed set of live properties of rows the view already read in one query: this
middleware writes the RFC 4918 multistatus directly, in chunks. It sits after WsgiDAV's
authenticator (the caller is known) and hands everything else (Uploads, the root, PROPPATCH,
LOCK, bad requests, missing paths) on to WsgiDAV unchanged. It also forgets an owner's
remembered device file bytes around each write (store.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import quote, unquote, urlparse

from wsgidav import util
from wsgidav.dav_error import DAVError
from wsgidav.mw.base_mw import BaseMiddleware

from . import views
from .auth import ENVIRON_KEY

_DAV = "{DAV:}"
_HREF_SAFE = "/!*'(),$-_|."  # as WsgiDAV's get_href (Nautilus chokes on %28)
_MAX_BODY = 64 * 1024  # a propfind body names a few properties; bigger ones go to WsgiDAV
_CHUNK = 256  # responses per yielded chunk
_OK = "<D:status>HTTP/1.1 200 OK</D:status>"
_WRITES = frozenset({"PUT", "DELETE", "COPY", "MOVE", "MKCOL"})
_MISSING = "<D:status>HTTP/1.1 404 Not Found</D:status>"

# The properties that exist on a view's file / folder, in allprop and propname order.
FILE_PROPS = ("creationdate", "displayname", "getcontentlength", "getcontenttype", "getetag",
              "getlastmodified", "resourcetype", "supportedlock", "lockdiscovery")
FOLDER_PROPS = ("displayname", "resourcetype", "supportedlock", "lockdiscovery")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ViewPropfind(BaseMiddleware):
    """WsgiDAV middleware: the string path for PROPFIND Depth 0/1 below Library/, Albums/,
    Favourites/."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD")
        if (method in ("MOVE", "LOCK") and _in_views(environ.get("PATH_INFO", ""))) or (
                method in ("COPY", "MOVE") and _in_views(_destination(environ))):
            # A view is read-only: no locks (docs/webdav.md), and moving an item out of it is no
            # way to change the library (WsgiDAV's generic path answered MOVE with a 500 and LOCK
            # with a 409 on the read-only resources). A COPY onto a view's file must not even
            # start: WsgiDAV deletes an existing destination first, and a view's DELETE trashes.
            return util.send_status_response(environ, start_response, DAVError(403))
        if method in _WRITES and ENVIRON_KEY in environ:
            # Device file bytes (storage, quota) are a running total: PUT, DELETE and MOVE
            # re-count their own files (provider.py, store.py); a COPY has no such hook, so it
            # makes the next count walk the owner's folders again.
            store = environ["wsgidav.provider"].store
            owner = environ[ENVIRON_KEY].owner
            if method == "COPY":
                store.usage_changed(owner)

            def with_photo_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                # A media PUT says which library item it became (provider.DeviceFile.end_write).
                photo_id = environ.get("octopus.dav.photo_id")
                if photo_id:
                    headers = [*headers, ("Octopus-Photo-Id", photo_id)]
                return start_response(status, headers, exc_info)

            try:
                return self.next_app(environ, with_photo_id)
            finally:
                if method == "COPY":
                    store.usage_changed(owner)
        if method != "PROPFIND":
            return self.next_app(environ, start_response)
        depth = environ.get("HTTP_DEPTH", "infinity").strip()
        path = environ.get("PATH_INFO", "")
        parts = [p for p in path.strip("/").split("/") if p]
        if depth not in ("0", "1") or not parts or parts[0] not in views.VIEWS:
            return self.next_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.next_app(environ, start_response)
        if length > _MAX_BODY or ENVIRON_KEY not in environ:
            return self.next_app(environ, start_response)
        provider = environ["wsgidav.provider"]
        try:
            res = views.resource(provider, parts, path, environ)
            if res is None:
                return self.next_app(environ, start_response)  # WsgiDAV's 404
            mode, names = _request(environ)
        except DAVError as exc:
            return util.send_status_response(environ, start_response, exc)
        start_response("207 Multi-Status", [("Content-Type", "application/xml; charset=utf-8"),
                                            ("Cache-Control", "no-store")])
        base = provider.mount_path + provider.share_path.rstrip("/")
        return _multistatus(res, depth == "1", base, mode, names)


def _destination(environ: dict[str, Any]) -> str:
    """The Destination header's path below the mount ("" if none)."""
    dest = unquote(urlparse(environ.get("HTTP_DESTINATION", "")).path)
    mount = environ["wsgidav.provider"].mount_path.rstrip("/")
    return dest[len(mount):] if mount and dest.startswith(mount + "/") else dest


def _in_views(path: str) -> bool:
    parts = [p for p in path.strip("/").split("/") if p]
    return bool(parts) and parts[0] in views.VIEWS


def _request(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """(mode, [(namespace, local name)]): allprop, propname, or the named properties."""
    body = util.parse_xml_body(environ, allow_empty=True)
    if body is None:
        return "allprop", []
    if body.tag != "{DAV:}propfind":
        raise DAVError(400)
    mode, names = "", []
    for node in body:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in ("{DAV:}allprop", "{DAV:}propname"):
            if mode:
                raise DAVError(400)  # RFC 4918 14.20: one of allprop, propname, prop
            mode = tag[6:]
        elif tag == "{DAV:}prop":
            if mode not in ("", "prop"):
                raise DAVError(400)
            mode = "prop"
            for prop in node:
                if isinstance(prop.tag, str):
                    ns, _, local = prop.tag[1:].partition("}") if prop.tag.startswith("{") else ("", "", prop.tag)
                    names.append((ns, local))
        # include (RFC 4918 14.8) names extra properties for allprop: every one is returned anyway
    return mode or "allprop", names


def _multistatus(res: Any, children: bool, base: str, mode: str, names: list[tuple[str, str]]) -> Iterator[bytes]:
    out = ['<?xml version="1.0" encoding="utf-8" ?>\n<D:multistatus xmlns:D="DAV:">']
    folder_path = res.path.rstrip("/") + "/"
    if isinstance(res, views.PhotoFile):
        out.append(_file(base + res.path, res.name, res.item, mode, names))
    else:
        out.append(_folder(base + folder_path, res.name, mode, names))
    if children and not isinstance(res, views.PhotoFile):
        prefix = base + folder_path
        if isinstance(res, views.Photos):
            for name, item in res.by_name.items():
                out.append(_file(prefix + name, name, item, mode, names))
                if len(out) >= _CHUNK:
                    yield "".join(out).encode()
                    out = []
        else:
            for name in res.get_member_names():
                out.append(_folder(prefix + name + "/", name, mode, names))
    out.append("</D:multistatus>")
    yield "".join(out).encode()


def _file(href: str, name: str, item: views.Item, mode: str, names: list[tuple[str, str]]) -> str:
    head = f"<D:response><D:href>{_text(quote(href, safe=_HREF_SAFE))}</D:href>"
    if mode == "allprop":
        when = _when(item.uploaded_at)
        return (f"{head}<D:propstat><D:prop><D:creationdate>{when[0]}</D:creationdate>"
                f"<D:displayname>{_text(name)}</D:displayname>"
                f"<D:getcontentlength>{item.size}</D:getcontentlength>"
                f"<D:getcontenttype>{_text(str(item.mime))}</D:getcontenttype>"
                f"<D:getetag>\"{item.sha256}\"</D:getetag><D:getlastmodified>{when[1]}</D:getlastmodified>"
                f"<D:resourcetype/><D:supportedlock/><D:lockdiscovery/></D:prop>{_OK}</D:propstat></D:response>")
    if mode == "propname":
        return f"{head}<D:propstat><D:prop>{''.join(f'<D:{p}/>' for p in FILE_PROPS)}</D:prop>{_OK}</D:propstat></D:response>"
    found, missing = [], []
    for ns, local in names:
        value = _file_value(local, name, item) if ns == "DAV:" else None
        if value is None:
            missing.append(_empty(ns, local))
        else:
            found.append(f"<D:{local}>{value}</D:{local}>" if value else f"<D:{local}/>")
    return head + _propstats(found, missing) + "</D:response>"


def _file_value(local: str, name: str, item: views.Item) -> str | None:
    """A named DAV: property's XML content ("" = empty element), None = not on this file."""
    if local == "getcontentlength":
        return str(item.size)
    if local == "getetag":
        return f'"{item.sha256}"'
    if local == "getcontenttype":
        return _text(str(item.mime))
    if local == "getlastmodified":
        return _when(item.uploaded_at)[1]
    if local == "creationdate":
        return _when(item.uploaded_at)[0]
    if local == "displayname":
        return _text(name)
    if local in ("resourcetype", "supportedlock", "lockdiscovery"):
        return ""  # a file; no locks in a read-only view
    return None


def _folder(href: str, name: str, mode: str, names: list[tuple[str, str]]) -> str:
    head = f"<D:response><D:href>{_text(quote(href, safe=_HREF_SAFE))}</D:href>"
    if mode == "allprop":
        return (f"{head}<D:propstat><D:prop><D:displayname>{_text(name)}</D:displayname>"
                f"<D:resourcetype><D:collection/></D:resourcetype><D:supportedlock/><D:lockdiscovery/>"
                f"</D:prop>{_OK}</D:propstat></D:response>")
    if mode == "propname":
        return f"{head}<D:propstat><D:prop>{''.join(f'<D:{p}/>' for p in FOLDER_PROPS)}</D:prop>{_OK}</D:propstat></D:response>"
    found, missing = [], []
    for ns, local in names:
        if ns == "DAV:" and local == "displayname":
            found.append(f"<D:displayname>{_text(name)}</D:displayname>")
        elif ns == "DAV:" and local == "resourcetype":
            found.append("<D:resourcetype><D:collection/></D:resourcetype>")
        elif ns == "DAV:" and local in ("supportedlock", "lockdiscovery"):
            found.append(f"<D:{local}/>")
        else:
            missing.append(_empty(ns, local))
    return head + _propstats(found, missing) + "</D:response>"


def _empty(ns: str, local: str) -> str:
    if ns == "DAV:":
        return f"<D:{local}/>"
    if not ns:
        return f'<{local} xmlns=""/>'
    return f'<X:{local} xmlns:X="{_text(ns).replace(chr(34), "&quot;")}"/>'


def _propstats(found: list[str], missing: list[str]) -> str:
    out = ""
    if found or not missing:
        out += f"<D:propstat><D:prop>{''.join(found)}</D:prop>{_OK}</D:propstat>"
    if missing:
        out += f"<D:propstat><D:prop>{''.join(missing)}</D:prop>{_MISSING}</D:propstat>"
    return out


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _when(stamp: str) -> tuple[str, str]:
    """(RFC 3339 creationdate, RFC 1123 getlastmodified) of an upload time, in UTC."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        moment = _EPOCH
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    m = moment
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z",
            f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month]} {m.year:04d} {m.hour:02d}:{m.minute:02d}:{m.second:02d} GMT")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
