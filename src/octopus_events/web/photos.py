"""Photo routes: the streaming upload, "already backed up?", one photo, its bytes and derivatives,
and the commands on it (describe, re-date, tags, favourite, trash, restore, delete)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import msgspec
import multipart
from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from ..application import Octopus
from ..errors import BadRequest, Invalid, TooLarge
from ..motion import HeldClip
from ..library import PhotoLibrary
from ..media import VIDEO_MIMES, IncomingBlob, sniff
from ..media.sniff import SNIFF_BYTES
from ..readmodels import library as lib
from ..readmodels.library import PhotoView
from .auth import Caller
from .members import as_viewer, shared_view_of
from .problems import problem
from .vault import vault_access

TAGS = ["photos"]

# Text fields of an upload are small; the whole form around the file may add this much.
MAX_TEXT_FIELD = 64 * 1024
MAX_FORM_OVERHEAD = 256 * 1024
MAX_PARTS = 64
# After a body turns out too large we keep reading (and dropping) up to this much more, so a
# client that cannot stop mid-send still reads our 413 instead of a reset connection.
DRAIN_LIMIT = 32 * 1024 * 1024
CHUNK = 64 * 1024
# An upload's bytes are handed to its writer thread this many at a time (_UploadWriter).
WRITE_BATCH = 1024 * 1024
IMMUTABLE = "private, max-age=31536000, immutable"


class CheckBody(msgspec.Struct):
    sha256: list[str]


class CheckResult(msgspec.Struct):
    existing: dict[str, str]


class EditBody(msgspec.Struct):
    description: str | None = None
    taken_at: str | None = None
    version: int | None = None


class TagsBody(msgspec.Struct):
    tags: list[str]


# -- upload ----------------------------------------------------------------------------------------


class _Form:
    """What the multipart body carried besides the file."""

    def __init__(self) -> None:
        self.filename: str | None = None
        self.taken_at: str | None = None
        self.description: str | None = None
        self.tags: list[str] = []
        self.text_bytes = 0


def _boundary(request: Request[Any, Any, Any]) -> str:
    kind, options = multipart.parse_options_header(request.headers.get("content-type", ""))
    if kind != "multipart/form-data" or not options.get("boundary"):
        raise BadRequest("send the photo as multipart/form-data with a field named 'file'")
    return options["boundary"]


async def _drain(chunks: AsyncIterator[bytes], limit: int) -> None:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            return


async def _receive_upload(request: Request[Any, Any, Any], octopus: Octopus) -> tuple[IncomingBlob, _Form]:
    """Stream the multipart body: the `file` part into a temp file (hashed as it is written),
    the small text fields into memory. On any failure nothing is left behind.

    Photos and videos have different size limits, and the type comes from the file's first
    bytes, never its name: until those bytes have arrived the larger limit holds, then the
    limit of the sniffed type (a JPEG stops at `max_upload_mb` however large videos may be)."""
    photos = octopus.photos
    ceiling = max(photos.max_upload_bytes, photos.max_video_bytes)
    limit = ceiling
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit():
        if int(announced) > ceiling + MAX_FORM_OVERHEAD:
            # Refused before reading a byte: a client that sent `Expect: 100-continue` never
            # sends the body at all.
            raise TooLarge(f"the upload is larger than the limit of {ceiling // (1024 * 1024)} MB", code="file_too_large",
                           params={"mb": ceiling // (1024 * 1024)})
        photos.check_disk(int(announced))
    parser = multipart.PushMultipartParser(_boundary(request), max_segment_count=MAX_PARTS)
    form = _Form()
    incoming: _UploadWriter | None = None
    segment: multipart.MultipartSegment | None = None
    text = bytearray()
    head = bytearray()  # the file's first bytes, until they tell its type
    what = "upload"
    chunks = request.stream()
    try:
        async for chunk in chunks:
            for event in parser.parse(chunk):
                if isinstance(event, multipart.MultipartSegment):
                    segment, text = event, bytearray()
                    if segment.name == "file":
                        if incoming is not None:
                            raise BadRequest("file: send one photo per request")
                        form.filename = segment.filename
                        incoming = _UploadWriter(photos.new_upload())
                elif event is None:
                    if segment is not None and segment.name != "file":
                        _text_field(form, segment.name or "", bytes(text))
                    segment = None
                elif segment is not None and segment.name == "file":
                    assert incoming is not None
                    if len(head) < SNIFF_BYTES:
                        head += event[:SNIFF_BYTES - len(head)]
                        if len(head) >= SNIFF_BYTES:
                            limit, what = _limit_for(photos, bytes(head))
                    if incoming.size + len(event) > limit:
                        incoming.discard()
                        await _drain(chunks, DRAIN_LIMIT)
                        raise TooLarge(f"the {what} is larger than the limit of {limit // (1024 * 1024)} MB",
                                       code="file_too_large", params={"mb": limit // (1024 * 1024)})
                    await incoming.write(event)
                else:
                    form.text_bytes += len(event)
                    if len(text) + len(event) > MAX_TEXT_FIELD or form.text_bytes > MAX_FORM_OVERHEAD:
                        raise TooLarge(f"form field {segment.name if segment else ''!r} is too long")
                    text += event
            if parser.closed:
                break
        parser.close()  # raises when the body ended before the closing boundary
        if incoming is not None:
            await incoming.finish()
    except multipart.MultipartError as exc:
        if incoming is not None:
            incoming.discard()
        raise BadRequest(f"the multipart body is malformed: {exc}") from None
    except InternalServerException:
        # Litestar's stream reports a client that went away mid-upload this way.
        if incoming is not None:
            incoming.discard()
        raise BadRequest("the upload was interrupted before it finished") from None
    except BaseException:
        if incoming is not None:
            incoming.discard()
        raise
    if incoming is None:
        raise Invalid("file: the form has no field named 'file'")
    if incoming.size == 0:
        incoming.discard()
        raise Invalid("file: the file is empty", code="empty_file")
    return incoming.blob, form


class _UploadWriter:
    """Writes and hashes the file part on a worker thread while the event loop reads the next
    bytes. SHA-256 costs about as much CPU as receiving the bytes: done on the loop it halved a
    video upload's speed; beside it, the two overlap. Bytes go in batches of WRITE_BATCH with
    at most one batch in flight, so memory stays at two batches per upload and the blob sees
    its bytes in order (hashlib and file writes release the GIL). The parser's chunks are
    immutable bytes, so a batch is a list of them, never copied."""

    def __init__(self, blob: IncomingBlob) -> None:
        self.blob = blob
        self.size = 0  # bytes accepted so far (written or waiting in the batch)
        self._batch: list[bytes] = []
        self._batched = 0
        self._pending: asyncio.Future[None] | None = None

    async def write(self, data: bytes) -> None:
        self._batch.append(data)
        self._batched += len(data)
        self.size += len(data)
        if self._batched >= WRITE_BATCH:
            await self._hand_over()

    async def finish(self) -> None:
        """Wait until every byte is written; then the blob may be closed and hashed."""
        await self._hand_over()
        await self._settled()

    async def _settled(self) -> None:
        if self._pending is not None:
            # Shielded: a cancelled request must not abandon a write half done on its thread.
            await asyncio.shield(self._pending)
            self._pending = None

    async def _hand_over(self) -> None:
        await self._settled()
        if self._batch:
            batch, self._batch, self._batched = self._batch, [], 0
            self._pending = asyncio.ensure_future(asyncio.to_thread(_write_all, self.blob, batch))

    def discard(self) -> None:
        """Throw the upload away, once no write for it is running any more."""
        self._batch = []
        pending = self._pending
        if pending is None or pending.done():
            self.blob.discard()
        else:
            pending.add_done_callback(lambda done: (done.cancelled() or done.exception(), self.blob.discard()))


def _write_all(blob: IncomingBlob, chunks: list[bytes]) -> None:
    for chunk in chunks:
        blob.write(chunk)


def _limit_for(photos: PhotoLibrary, head: bytes) -> tuple[int, str]:
    """The size limit for a file starting with `head`, and what to call it in a 413."""
    mime = sniff(head)
    return photos.upload_limit(mime), "video" if mime in VIDEO_MIMES else "photo"


def _text_field(form: _Form, name: str, raw: bytes) -> None:
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"{name}: not UTF-8 text") from None
    if name == "taken_at":
        form.taken_at = value.strip() or None
    elif name == "description":
        form.description = value
    elif name in ("tags", "tags[]"):
        # Repeated fields or one comma-separated field; both shapes may be mixed.
        form.tags.extend(part for part in value.split(","))
    # Other fields are ignored, like unknown JSON fields.


@post("/api/photos", opt={"device": True}, tags=TAGS, request_max_body_size=None, summary="Upload one photo (multipart field `file`; streamed to disk)")
async def upload(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                 caller: NamedDependency[Caller]) -> Response[PhotoView]:
    incoming, form = await _receive_upload(request, octopus)
    view, created = await octopus.photos.upload(
        caller.owner, incoming, filename=form.filename, taken_at=form.taken_at, tags=form.tags,
        description=form.description, meta=caller.meta(),
    )
    if caller.device_id is not None:
        octopus.devices.uploaded(caller.device_id)  # Settings → Devices: last upload, uploads
    if isinstance(view, HeldClip):
        # A Live Photo's MOV whose still has not arrived: kept, not an item (docs/motion.md).
        return Response(view, status_code=202)  # type: ignore[arg-type]
    if created:
        return Response(view, status_code=201, headers={"Location": f"/api/photos/{view.id}"})
    return Response(view, status_code=200)


@post("/api/photos/check", opt={"device": True}, tags=TAGS, status_code=200, summary="Which of these SHA-256 hashes are already stored")
async def check(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                data: JSONBody[CheckBody]) -> CheckResult:
    return CheckResult(await octopus.photos.check(caller.owner, data.sha256))


# -- one photo -----------------------------------------------------------------------------------------


@get("/api/photos/{photo_id:str}", opt={"device": True}, tags=TAGS, summary="One photo")
async def get_photo(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                    photo_id: FromPath[str]) -> PhotoView:
    def one(owner: str) -> PhotoView:
        view = lib.get_photo(octopus.store.reader(), owner, photo_id)
        if owner != caller.owner:  # shared with the caller (docs/sharing.md): read-only, with its owner
            view = shared_view_of(octopus.store.reader(), view, owner)
        view.playable = octopus.photos.has_playable(view)
        return view

    return await as_viewer(octopus, caller, photo_id, lambda owner: octopus.read(one, owner))


@patch("/api/photos/{photo_id:str}", tags=TAGS, summary="Describe or re-date; a stale version answers 409")
async def edit_photo(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], photo_id: FromPath[str],
                     data: JSONBody[EditBody]) -> PhotoView:
    return await octopus.photos.edit(
        caller.owner, photo_id, description=data.description, taken_at=data.taken_at, version=data.version,
        meta=caller.meta(),
    )


@put("/api/photos/{photo_id:str}/tags", tags=TAGS, summary="Replace the photo's tags")
async def set_tags(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller], photo_id: FromPath[str],
                   data: JSONBody[TagsBody]) -> PhotoView:
    return await octopus.photos.set_tags(caller.owner, photo_id, data.tags, caller.meta())


@put("/api/photos/{photo_id:str}/favourite", tags=TAGS, summary="Mark as favourite")
async def favourite(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                    photo_id: FromPath[str]) -> PhotoView:
    return await octopus.photos.favourite(caller.owner, photo_id, True, caller.meta())


@delete("/api/photos/{photo_id:str}/favourite", tags=TAGS, status_code=200, summary="Unmark as favourite")
async def unfavourite(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                      photo_id: FromPath[str]) -> PhotoView:
    return await octopus.photos.favourite(caller.owner, photo_id, False, caller.meta())


@post("/api/photos/{photo_id:str}/trash", opt={"device": True}, tags=TAGS, status_code=200, summary="Move into the trash")
async def trash(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                photo_id: FromPath[str]) -> PhotoView:
    return await octopus.photos.trash(caller.owner, photo_id, caller.meta())


@post("/api/photos/{photo_id:str}/restore", opt={"device": True}, tags=TAGS, status_code=200, summary="Back from the trash")
async def restore(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                  photo_id: FromPath[str]) -> PhotoView:
    return await octopus.photos.restore(caller.owner, photo_id, caller.meta())


@delete("/api/photos/{photo_id:str}", tags=TAGS, status_code=204,
        summary="Delete for good (bytes, metadata, keys); a vault photo needs X-Vault-Token")
async def purge(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                photo_id: FromPath[str]) -> None:
    access = vault_access(request, caller)
    if octopus.vault.unlocked(caller.owner, access):
        await octopus.vault.purge(caller.owner, photo_id, access, caller.meta())
    else:
        # Without the vault unlocked a vault photo is as unknown as any other id.
        await octopus.photos.purge(caller.owner, photo_id, caller.meta())


# -- bytes -------------------------------------------------------------------------------------------


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Any byte position past this is past the end of every file.
_BEYOND = 2**63


def _position(digits: str) -> int:
    # int() of thousands of digits raises (Python's int digit limit); such a number is simply
    # beyond the file, so no more than 19 significant digits are ever converted.
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) < 19 else _BEYOND


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a single `bytes=` range; None to send everything.

    Raises `_Unsatisfiable` for a range that cannot be served (416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # several ranges or another unit: the whole file is a correct answer
    start, end = match.groups()
    if not start and not end:
        return None
    if not start:
        suffix = _position(end)
        if suffix == 0 or size == 0:
            raise _Unsatisfiable
        return max(0, size - suffix), size - 1
    first = _position(start)
    last = min(_position(end), size - 1) if end else size - 1
    if first >= size or (end and _position(end) < first):
        raise _Unsatisfiable
    return first, last


class _Unsatisfiable(Exception):
    """The requested range lies outside the file (mapped to 416 right where it is raised)."""


async def _file_chunks(path: Path, first: int, length: int) -> AsyncIterator[bytes]:
    # anyio runs each read on a worker thread, so a slow disk never stalls the event loop.
    async with await anyio.open_file(path, "rb") as fh:
        await fh.seek(first)
        left = length
        while left > 0:
            chunk = await fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def _serve_file(request: Request[Any, Any, Any], path: Path, *, etag: str, media_type: str,
                cache: str, filename: str | None = None, ranges: bool = False,
                span: tuple[int, int] | None = None) -> Response[Any]:
    """Serve `path`, or with `span` (offset, length) only those bytes of it, as if a file."""
    headers = {"ETag": etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if filename:
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename, safe='')}"
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    base, size = span if span is not None else (0, os.stat(path).st_size)
    span = None
    if ranges:
        headers["Accept-Ranges"] = "bytes"
        if_range = request.headers.get("if-range")
        if if_range is None or if_range.strip() == etag:
            try:
                span = _byte_range(request.headers.get("range"), size)
            except _Unsatisfiable:
                return problem(416, f"the photo has {size} bytes; that range is outside it",
                               title="Range not satisfiable", headers={"Content-Range": f"bytes */{size}", **headers})
    first, last = span if span is not None else (0, size - 1)
    length = max(0, last - first + 1)
    headers["Content-Length"] = str(length)
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Stream(_file_chunks(path, base + first, length), status_code=status, media_type=media_type, headers=headers)


@get("/api/photos/{photo_id:str}/original", opt={"device": True}, tags=TAGS, summary="The bytes as uploaded (ETag, Range)")
async def original(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                   caller: NamedDependency[Caller], photo_id: FromPath[str]) -> Response[Any]:
    path, view = await as_viewer(octopus, caller, photo_id, lambda owner: octopus.photos.original(owner, photo_id))
    assert view.sha256 is not None
    return _serve_file(request, path, etag=f'"{view.sha256}"', media_type=view.mime,
                       cache="private, no-cache", filename=view.filename, ranges=True)


@get("/api/photos/{photo_id:str}/thumbnail", opt={"device": True}, tags=TAGS, summary="Upright derivative: size=thumb (~256 px), thumb2x (~512 px), preview (~1440 px) or large (~2560 px)",
     description="thumb is made at upload; thumb2x (hi-DPI grids, srcset 2x), preview and large (the viewer on a "
                 "screen with more device pixels) on first request, then cached under storage.preview_cache_mb. "
                 "Never larger than the original.")
async def thumbnail(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                    caller: NamedDependency[Caller], photo_id: FromPath[str],
                    size: FromQuery[str] = "thumb") -> Response[Any]:
    path, sha = await as_viewer(octopus, caller, photo_id, lambda owner: octopus.photos.derivative(owner, photo_id, size))
    # A photo's bytes never change, so neither do its derivatives: the browser may keep them.
    return _serve_file(request, path, etag=f'"{sha}.{size}"', media_type="image/jpeg", cache=IMMUTABLE)


@get("/api/photos/{photo_id:str}/motion", opt={"device": True}, tags=TAGS,
     summary="The clip of a motion or Live Photo (ETag, Range); 404 when the photo has none")
async def motion_clip(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                      caller: NamedDependency[Caller], photo_id: FromPath[str]) -> Response[Any]:
    path, clip, etag = await as_viewer(octopus, caller, photo_id, lambda owner: octopus.photos.motion_clip(owner, photo_id))
    span = (clip.offset, clip.length) if clip.sha256 is None else None
    return _serve_file(request, path, etag=f'"{etag}.motion"', media_type=clip.mime,
                       cache="private, no-cache", ranges=True, span=span)


@get("/api/photos/{photo_id:str}/playable", opt={"device": True}, tags=TAGS,
     summary="A video's playable H.264 copy (ETag, Range); 404 until one exists (media.transcode)")
async def playable(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                   caller: NamedDependency[Caller], photo_id: FromPath[str]) -> Response[Any]:
    path, view = await as_viewer(octopus, caller, photo_id, lambda owner: octopus.photos.playable(owner, photo_id))
    # Not immutable: a copy is a cache the admin may delete and the queue make again (new bytes).
    etag = f'"{view.sha256}.playable.{os.stat(path).st_mtime_ns:x}"'
    return _serve_file(request, path, etag=etag, media_type="video/mp4", cache="private, no-cache", ranges=True)


ROUTES = [upload, check, get_photo, edit_photo, set_tags, favourite, unfavourite, trash, restore, purge, original, thumbnail,
          motion_clip, playable]
