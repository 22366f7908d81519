"""What a visitor with a share link reaches, without an account (docs/sharing.md).

- `GET /s/{token}`: the page (webroot/share.html; its script reads the API below). 200 for a
  live link, 404 for an unknown one, 410 once it is revoked or expired: the same page, which
  says which.
- `GET /api/s/{token}`: the link's items; 401 (`code: share_password`) for a protected link
  until `POST /api/s/{token}/unlock {password}` gave a grant (a cookie scoped to
  `/api/s/{token}`, or the `X-Share-Grant` header); a wrong password is 401, repeated ones 429.
- `GET /api/s/{token}/photos/{id}/thumbnail|original|video`: the bytes of an item of the link,
  404 for any other id. `original` only when the link allows downloads; `video` plays a video's
  playable copy or original either way. With `show_location = false` the original's bytes are
  served with every location removed (media/strip_location.py); a format that cannot be
  stripped is refused (403), its previews still shown.

Every route here is public to the guard: the token is the credential, checked by `Shares.open`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from ..application import Octopus
from ..errors import Forbidden, NotFound, OctopusError
from ..media.strip_location import CannotStrip, Patch, apply, location_patches
from ..readmodels import shares as model
from ..resources import data_path
from ..shares import GRANT_SECONDS, PasswordRequired
from .photos import CHUNK, _byte_range, _etag_matches, _serve_file, _Unsatisfiable
from .problems import problem

TAGS = ["sharing"]
PUBLIC = {"auth": "public"}
GRANT_COOKIE = "octopus_share"
GRANT_HEADER = "x-share-grant"
# Revalidated on every use (ETag, 304), so a revoked link stops showing even cached images.
REVALIDATE = "private, no-cache"
_FLUSHES: set[Any] = set()
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic",
               "image/heif": "heif", "image/tiff": "tif", "image/gif": "gif", "video/mp4": "mp4",
               "video/quicktime": "mov", "video/x-m4v": "m4v", "video/3gpp": "3gp", "video/webm": "webm",
               "video/x-matroska": "mkv"}


class SharedGps(msgspec.Struct):
    lat: float
    lon: float


class SharedItem(msgspec.Struct, omit_defaults=True):
    id: str
    kind: str
    mime: str
    width: int
    height: int
    taken_at: str | None = None  # local time of day as the camera had it, no offset
    duration: float | None = None
    description: str = ""
    gps: SharedGps | None = None  # only when the link shows locations
    motion: bool = False  # a motion or Live Photo: its clip at .../motion


class SharedAlbum(msgspec.Struct):
    title: str | None
    count: int
    allow_download: bool
    show_location: bool
    expires_at: str | None
    items: list[SharedItem]


class UnlockBody(msgspec.Struct):
    password: str = ""


def _grant_of(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get(GRANT_HEADER) or request.cookies.get(GRANT_COOKIE) or None


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _flush_views(octopus: Octopus) -> None:
    if octopus.shares.flush_due():
        task = asyncio.get_running_loop().create_task(octopus.shares.flush_async())
        _FLUSHES.add(task)
        task.add_done_callback(_FLUSHES.discard)


def _password_problem(exc: PasswordRequired) -> Response[bytes]:
    return problem(401, exc.detail, code="share_password")


# -- the page --------------------------------------------------------------------------------------

_PAGE: bytes | None = None


def _page() -> bytes:
    global _PAGE
    if _PAGE is None:
        _PAGE = (data_path("webroot") / "share.html").read_bytes()
    return _PAGE


@get("/s/{token:str}", opt=PUBLIC, include_in_schema=False)
async def share_page(octopus: NamedDependency[Octopus], token: FromPath[str]) -> Response[bytes]:
    status = 200
    try:
        await octopus.read(octopus.shares.lookup, token)
    except NotFound:
        status = 404
    except OctopusError:
        status = 410
    return Response(_page(), status_code=status, media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                             "X-Robots-Tag": "noindex, nofollow"})


# -- the API ------------------------------------------------------------------------------------------


def _album_title(conn: Any, row: model.ShareRow) -> str | None:
    if row.album_id is None:
        return None
    found = conn.execute("SELECT name FROM album WHERE id = ?", (row.album_id,)).fetchone()
    return found[0] if found else None


# The encoded answer per link, with the log position it was read at: nothing a link shows can
# change without an event, so while the log's head has not moved the bytes are still right (a
# link's expiry and revocation are checked on every request, before this is looked at).
_ITEMS: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
_ITEMS_CACHE = 32
_CACHES = threading.Lock()  # the caches here are filled from the reader and media threads
_encode = msgspec.json.Encoder().encode


@get("/api/s/{token:str}", opt=PUBLIC, tags=TAGS, summary="A share link's items (no account; 401 until unlocked)")
async def shared_items(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                       token: FromPath[str]) -> Response[Any]:
    grant = _grant_of(request)
    shares = octopus.shares

    def query() -> tuple[model.ShareRow, bytes]:
        row = shares.open(token, grant)
        conn = octopus.store.reader()
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        with _CACHES:
            cached = _ITEMS.get(row.id)
        if cached is not None and cached[0] == head:
            return row, cached[1]
        items = [SharedItem(id=r[0], kind=r[1], mime=r[2], width=r[3], height=r[4], taken_at=r[5], duration=r[6],
                            description=r[7] or "",
                            gps=SharedGps(r[8], r[9]) if row.show_location and r[8] is not None and r[9] is not None else None,
                            motion=bool(r[10]))
                 for r in model.items(conn, row)]
        body = _encode(SharedAlbum(_album_title(conn, row), len(items), row.allow_download, row.show_location,
                                   row.expires_at, items))
        with _CACHES:
            _ITEMS[row.id] = (head, body)
            _ITEMS.move_to_end(row.id)
            while len(_ITEMS) > _ITEMS_CACHE:
                _ITEMS.popitem(last=False)
        return row, body

    try:
        row, body = await octopus.read(query)
    except PasswordRequired as exc:
        return _password_problem(exc)
    shares.viewed(row)
    _flush_views(octopus)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@post("/api/s/{token:str}/unlock", opt=PUBLIC, tags=TAGS, status_code=200,
      summary="The link's password: a short-lived grant for this link (cookie and body); 401 wrong, 429 repeated")
async def unlock(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], token: FromPath[str],
                 data: JSONBody[UnlockBody]) -> Response[Any]:
    grant = await octopus.shares.unlock(token, data.password, _client(request))
    cookie = Cookie(key=GRANT_COOKIE, value=grant.grant, max_age=GRANT_SECONDS, path=f"/api/s/{token}",
                    httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return Response(grant, cookies=[cookie], headers={"Cache-Control": "no-store"})


async def _item(request: Request[Any, Any, Any], octopus: Octopus, token: str,
                photo_id: str) -> tuple[model.ShareRow, model.SharedPhoto]:
    grant = _grant_of(request)

    def find() -> tuple[model.ShareRow, model.SharedPhoto | None]:
        row = octopus.shares.open(token, grant)
        return row, model.shared_photo(octopus.store.reader(), row, photo_id)

    row, item = await octopus.read(find)
    if item is None:
        raise NotFound(f"no photo {photo_id}")
    return row, item


@get("/api/s/{token:str}/photos/{photo_id:str}/thumbnail", opt=PUBLIC, tags=TAGS,
     summary="An item's thumb or preview through the link (404 for an id outside it)")
async def shared_thumbnail(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], token: FromPath[str],
                           photo_id: FromPath[str], size: FromQuery[str] = "thumb") -> Response[Any]:
    try:
        _row, item = await _item(request, octopus, token, photo_id)
    except PasswordRequired as exc:
        return _password_problem(exc)
    # Derivatives never carry metadata (derivatives.encode_jpeg): nothing to strip.
    path = await octopus.photos.derivative_of(item.sha256, size, item.orientation, item.mime)
    return _serve_file(request, path, etag=f'"{item.sha256}.{size}"', media_type="image/jpeg", cache=REVALIDATE)


@get("/api/s/{token:str}/photos/{photo_id:str}/original", opt=PUBLIC, tags=TAGS,
     summary="An item's original through the link (only when it allows downloads; location removed unless shown)")
async def shared_original(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], token: FromPath[str],
                          photo_id: FromPath[str]) -> Response[Any]:
    try:
        row, item = await _item(request, octopus, token, photo_id)
    except PasswordRequired as exc:
        return _password_problem(exc)
    if not row.allow_download:
        raise NotFound("this link does not offer downloads")
    return await _serve_original(request, octopus, row, item, attachment=True)


@get("/api/s/{token:str}/photos/{photo_id:str}/video", opt=PUBLIC, tags=TAGS,
     summary="A video item to play (its playable copy, else the original; Range); 404 for photos")
async def shared_video(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], token: FromPath[str],
                       photo_id: FromPath[str]) -> Response[Any]:
    try:
        row, item = await _item(request, octopus, token, photo_id)
    except PasswordRequired as exc:
        return _password_problem(exc)
    if item.kind != "video":
        raise NotFound(f"photo {photo_id} is not a video")
    from ..transcode import PLAYABLE

    playable = octopus.photos.blobs.derivative_path(PLAYABLE, item.sha256)
    if playable.is_file():
        # Our own H.264 copy: made by PyAV from frames and sound only, no source metadata.
        return _serve_file(request, playable, etag=f'"{item.sha256}.playable"', media_type="video/mp4",
                           cache=REVALIDATE, ranges=True)
    return await _serve_original(request, octopus, row, item, attachment=False)


@get("/api/s/{token:str}/photos/{photo_id:str}/motion", opt=PUBLIC, tags=TAGS,
     summary="The clip of a motion or Live Photo through the link (Range; location removed unless shown)")
async def shared_motion(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], token: FromPath[str],
                        photo_id: FromPath[str]) -> Response[Any]:
    try:
        row, item = await _item(request, octopus, token, photo_id)
    except PasswordRequired as exc:
        return _password_problem(exc)
    path, clip, sha = await octopus.photos.motion_clip(item.owner, item.id)
    # A Live Photo's MOV is a file of its own; a motion photo's clip is a span of the original,
    # served with the original's patches (they are offsets in that file, the clip's included).
    span = (clip.offset, clip.length) if clip.sha256 is None else None
    if row.show_location:
        return _serve_file(request, path, etag=f'"{sha}.motion"', media_type=clip.mime, cache=REVALIDATE,
                           ranges=True, span=span)
    mime = item.mime if span is not None else clip.mime
    patches = await octopus.media(_patches_for, path, sha, mime, span)
    if patches is None:
        raise Forbidden("this clip cannot be served without its location")
    return _patched_response(request, path, patches, etag=f'"{sha}.motion.noloc"', mime=clip.mime,
                             disposition=None, span=span)


# Patches per original (sha): reading a file's metadata once serves every later request.
_PATCHES: OrderedDict[str, list[Patch] | None] = OrderedDict()
_PATCH_CACHE = 512


def _patches_for(path: Path, sha: str, mime: str, embedded: tuple[int, int] | None = None) -> list[Patch] | None:
    """The location patches of an original (and of the clip embedded in it); None when it
    cannot be stripped."""
    with _CACHES:
        if sha in _PATCHES:
            _PATCHES.move_to_end(sha)
            return _PATCHES[sha]
    try:
        found: list[Patch] | None = location_patches(path, mime, embedded=embedded)
    except CannotStrip:
        found = None
    with _CACHES:
        _PATCHES[sha] = found
        while len(_PATCHES) > _PATCH_CACHE:
            _PATCHES.popitem(last=False)
    return found


async def _serve_original(request: Request[Any, Any, Any], octopus: Octopus, row: model.ShareRow,
                          item: model.SharedPhoto, *, attachment: bool) -> Response[Any]:
    path, _view = await octopus.photos.original(item.owner, item.id)
    ext = _EXTENSIONS.get(item.mime, "bin")
    disposition = "attachment" if attachment else "inline"
    # The visitor gets a neutral name: the stored filename is the owner's, not the link's.
    headers_name = f"{item.id}.{ext}"
    if row.show_location:
        response = _serve_file(request, path, etag=f'"{item.sha256}"', media_type=item.mime, cache=REVALIDATE,
                               ranges=True)
        response.headers["Content-Disposition"] = f'{disposition}; filename="{headers_name}"'
        return response
    embedded = await octopus.read(_embedded_clip, octopus, item)
    patches = await octopus.media(_patches_for, path, item.sha256, item.mime, embedded)
    if patches is None:
        raise Forbidden("this file cannot be served without its location; the link shows its preview only")
    return _patched_response(request, path, patches, etag=f'"{item.sha256}.noloc"', mime=item.mime,
                             disposition=f'{disposition}; filename="{headers_name}"')


def _embedded_clip(octopus: Octopus, item: model.SharedPhoto) -> tuple[int, int] | None:
    """A motion photo's clip inside its original (offset, length): stripped with the original."""
    if not item.mime.startswith("image/"):
        return None
    from ..readmodels import motion as motion_read

    clip = motion_read.clip_of(octopus.store.reader(), item.owner, item.id)
    return (clip.offset, clip.length) if clip is not None and clip.sha256 is None else None


def _patched_response(request: Request[Any, Any, Any], path: Path, patches: list[Patch], *, etag: str, mime: str,
                      disposition: str | None, span: tuple[int, int] | None = None) -> Response[Any]:
    """The file (or the span (offset, length) of it) with `patches` applied: 200 or 206 (Range,
    If-Range, 416) like any other file; the patches are offsets in the whole file."""
    headers = {"ETag": etag, "Cache-Control": REVALIDATE, "X-Content-Type-Options": "nosniff", "Accept-Ranges": "bytes"}
    if disposition:
        headers["Content-Disposition"] = disposition
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    base, size = span if span is not None else (0, path.stat().st_size)
    span = None
    if_range = request.headers.get("if-range")
    if if_range is None or if_range.strip() == etag:
        try:
            span = _byte_range(request.headers.get("range"), size)
        except _Unsatisfiable:
            return problem(416, f"the file has {size} bytes; that range is outside it", title="Range not satisfiable",
                           headers={"Content-Range": f"bytes */{size}", **headers})
    first, last = span if span is not None else (0, size - 1)
    length = max(0, last - first + 1)
    headers["Content-Length"] = str(length)
    if span is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Stream(_patched_chunks(path, base + first, length, patches), status_code=206 if span is not None else 200,
                  media_type=mime, headers=headers)


async def _patched_chunks(path: Path, first: int, length: int, patches: list[Patch]) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as fh:
        await fh.seek(first)
        at, left = first, length
        while left > 0:
            chunk = await fh.read(min(CHUNK, left))
            if not chunk:
                break
            yield apply(chunk, at, patches)
            at += len(chunk)
            left -= len(chunk)


ROUTES = [share_page, shared_items, unlock, shared_thumbnail, shared_original, shared_video, shared_motion]
