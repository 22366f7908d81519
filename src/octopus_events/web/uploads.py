"""tus 1.0.0 at /api/uploads (docs/uploads.md): the HTTP side of `uploads.Uploads`.

Every answer, errors included, carries `Tus-Resumable: 1.0.0`: the routes share a router whose
exception handlers are the app's (web/problems.py) plus that header. Device app passwords may
use every route here (`opt["device"]`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

from litestar import Request, Response, Router, delete, head, patch, post, route
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.params import FromPath

from ..application import Octopus
from ..errors import BadRequest, UnsupportedMedia
from ..uploads import (
    CHECKSUMS, Finished, UnsupportedVersion, UploadState, parse_checksum, parse_metadata, uploads_of,
)
from .auth import Caller
from .problems import EXCEPTION_HANDLERS

TAGS = ["uploads"]
VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
OFFSET_STREAM = "application/offset+octet-stream"
BASE = "/api/uploads"
DEVICE_OK = {"device": True}  # P1's scope: an app password may use these routes


def _tus(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, **(headers or {})}


def _check_version(request: Request[Any, Any, Any]) -> None:
    if request.headers.get("tus-resumable") != VERSION:
        raise UnsupportedVersion(f"send Tus-Resumable: {VERSION} (the only version served here)")


def _number(request: Request[Any, Any, Any], name: str, *, required: bool = True) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        if required:
            raise BadRequest(f"{name}: the header is required")
        return None
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 19:
        raise BadRequest(f"{name}: not a non-negative integer")
    return int(raw)


def _state_headers(state: UploadState) -> dict[str, str]:
    return {"Upload-Offset": str(state.offset), "Upload-Length": str(state.length),
            "Upload-Expires": formatdate(state.expires_at, usegmt=True)}


def _finished_headers(done: Finished | None) -> dict[str, str]:
    if done is None:
        return {}
    headers = {"Octopus-Photo-Id": done.photo_id}
    if done.duplicate:
        headers["Octopus-Duplicate"] = "true"
    if done.held_clip:
        headers["Octopus-Held-Clip"] = "true"  # a Live Photo MOV waiting for its still
    return headers


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The request body; a client that goes away mid-body just ends it (the core keeps what came)."""
    try:
        async for chunk in request.stream():
            yield chunk
    except InternalServerException:
        # Litestar's stream reports a client that went away mid-body this way.
        return


async def _append(request: Request[Any, Any, Any], octopus: Octopus, caller: Caller, upload_id: str,
                  offset: int) -> tuple[UploadState, Finished | None]:
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind != OFFSET_STREAM:
        raise UnsupportedMedia(f"Content-Type: send the bytes as {OFFSET_STREAM}")
    checksum = parse_checksum(request.headers.get("upload-checksum"))
    declared = _number(request, "content-length", required=False)
    state, done = await uploads_of(octopus).append(caller.owner, upload_id, offset, _body(request),
                                                   declared=declared, checksum=checksum, meta=caller.meta())
    if done is not None and caller.device_id is not None:
        octopus.devices.uploaded(caller.device_id)  # Settings → Devices: last upload, uploads
    return state, done


@route("/", http_method=["OPTIONS"], status_code=204, opt={"auth": "public"}, include_in_schema=False)
async def options(octopus: NamedDependency[Octopus]) -> Response[None]:
    return Response(None, status_code=204, headers=_tus({
        "Tus-Version": VERSION, "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(uploads_of(octopus).max_size), "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
    }))


@post("/", request_max_body_size=None, opt=DEVICE_OK,
      summary="Create a resumable upload (tus creation; a known sha256 in Upload-Metadata answers at once)")
async def create(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                 caller: NamedDependency[Caller]) -> Response[None]:
    _check_version(request)
    if request.headers.get("upload-defer-length") is not None:
        raise BadRequest("Upload-Defer-Length is not supported; send Upload-Length")
    length = _number(request, "upload-length")
    assert length is not None
    metadata = parse_metadata(request.headers.get("upload-metadata"))
    uploads = uploads_of(octopus)
    made = await uploads.create(caller.owner, length, metadata)
    if isinstance(made, Finished):
        # Already in the library: no upload, no bytes to send.
        return Response(None, status_code=200, headers=_tus({**_finished_headers(made), "Upload-Offset": str(length),
                                                               "Upload-Length": str(length)}))
    location = f"{BASE}/{made.id}"
    done = None
    if request.headers.get("content-type") is not None:
        # creation-with-upload: the first bytes ride along with the creation.
        made, done = await _append(request, octopus, caller, made.id, 0)
    return Response(None, status_code=201,
                    headers=_tus({"Location": location, **_state_headers(made), **_finished_headers(done)}))


@head("/{upload_id:str}", opt=DEVICE_OK, summary="Where a resumable upload stands (Upload-Offset)")
async def status(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                 upload_id: FromPath[str]) -> Response[None]:
    _check_version(request)
    state = await uploads_of(octopus).get(caller.owner, upload_id)
    return Response(None, status_code=200, headers=_tus({**_state_headers(state), "Cache-Control": "no-store"}))


@patch("/{upload_id:str}", request_max_body_size=None, opt=DEVICE_OK, status_code=204,
       summary="Append bytes at Upload-Offset (tus; Upload-Checksum sha1/sha256 verified)")
async def append(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                 upload_id: FromPath[str]) -> Response[None]:
    _check_version(request)
    offset = _number(request, "upload-offset")
    assert offset is not None
    state, done = await _append(request, octopus, caller, upload_id, offset)
    headers = {"Upload-Offset": str(state.offset), **_finished_headers(done)}
    if done is None:
        headers["Upload-Expires"] = formatdate(state.expires_at, usegmt=True)
    return Response(None, status_code=204, headers=_tus(headers))


@delete("/{upload_id:str}", opt=DEVICE_OK, status_code=204, summary="Abandon a resumable upload (tus termination)")
async def terminate(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                    caller: NamedDependency[Caller], upload_id: FromPath[str]) -> Response[None]:
    _check_version(request)
    await uploads_of(octopus).terminate(caller.owner, upload_id)
    return Response(None, status_code=204, headers=_tus())


def _with_tus_header(handler: Any) -> Any:
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response: Response[Any] = handler(request, exc)
        response.headers["Tus-Resumable"] = VERSION
        if isinstance(exc, UnsupportedVersion):
            response.headers["Tus-Version"] = VERSION
        return response

    return handle


ROUTES = [Router(path=BASE, route_handlers=[options, create, status, append, terminate], tags=TAGS,
                 exception_handlers={kind: _with_tus_header(h) for kind, h in EXCEPTION_HANDLERS.items()})]
