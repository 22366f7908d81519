"""The one place where errors become `application/problem+json` (RFC 9457).

Domain errors map to statuses by class; validation errors from msgspec/Litestar become 400/422
with the path of the bad field; anything else is a bug: logged with its traceback, answered as
a plain 500 problem that reveals nothing.

Every problem carries a stable machine `code` (docs/errors.md) that clients translate: the
error's own (`errors.Invalid(..., code="password_length")`, else its class's), or the generic
code of its status (`CODES`) when nothing more precise is known. A 5xx other than 503/507 is
always `internal`: a bug's code must not tell more than its detail does. `params` (optional)
carries the values a client's text needs ({"min": 8, "max": 1024}).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, ValidationException

from .. import errors
from ..media import errors as media_errors
from .. import uploads

log = logging.getLogger(__name__)
# A share link's token is its credential and sits in the path: a log line names the route only.
_SHARE_TOKEN = re.compile(r"^(/api)?/s/[^/]+")


def logged_path(request: Request[Any, Any, Any]) -> str:
    return _SHARE_TOKEN.sub(lambda m: f"{m.group(1) or ''}/s/…", request.url.path)

PROBLEM = "application/problem+json"

STATUS: dict[type[Exception], int] = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.ConcurrencyConflict: 409,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.TooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.Invalid: 422,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
    errors.InsufficientStorage: 507,
    errors.ConfigError: 500,
    errors.IntegrityError: 500,
    media_errors.UnsupportedMediaType: 415,
    media_errors.BrokenImage: 422,
    media_errors.BrokenVideo: 422,
    media_errors.ImageTooLarge: 422,
    uploads.ChecksumMismatch: 460,  # tus checksum extension
    uploads.UnsupportedVersion: 412,  # tus: Tus-Resumable names another version
}

TITLES = {
    400: "Malformed request", 401: "Not signed in", 403: "Not allowed", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 410: "Gone", 413: "Too large",
    415: "Unsupported media type", 421: "Misdirected request", 422: "Invalid field", 429: "Too many requests",
    500: "Internal error", 503: "Temporarily unavailable", 507: "Insufficient storage",
    408: "Request timeout", 431: "Request headers too large", 412: "Precondition failed",
    460: "Checksum mismatch",
}


# The generic code of each status: what a problem says when its raise site names nothing finer.
CODES = {
    400: "bad_request", 401: "not_signed_in", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout", 409: "conflict", 410: "gone", 412: "precondition_failed", 413: "too_large",
    415: "unsupported_media", 416: "range_not_satisfiable", 421: "misdirected_request", 422: "invalid",
    429: "rate_limited", 431: "headers_too_large", 460: "checksum_mismatch", 500: "internal",
    503: "unavailable", 507: "insufficient_storage",
}


def code_for(status: int, code: str | None = None) -> str:
    """The code a problem of `status` is sent with: `code` when given and allowed, else generic."""
    if status >= 500 and status not in (503, 507):
        return "internal"
    if code and code != "error":
        return code
    return CODES.get(status, "internal" if status >= 500 else "bad_request")


def openapi_components() -> Any:
    """The problem+json shape for the OpenAPI document (/schema): every error answer has it."""
    from litestar.openapi.spec import Components, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema

    # Under responses, not schemas: Litestar replaces components.schemas with the generated ones.
    text = Schema(type=OpenAPIType.STRING)
    return Components(responses={"Problem": OpenAPIResponse(description="An error (every 4xx and 5xx)", content={
        PROBLEM: OpenAPIMediaType(schema=Schema(
        type=OpenAPIType.OBJECT, required=["type", "title", "status", "detail", "code"],
        description="RFC 9457 problem details. Clients translate `code` (docs/errors.md lists them), never `detail`.",
        properties={
            "type": text, "title": text, "status": Schema(type=OpenAPIType.INTEGER),
            "detail": Schema(type=OpenAPIType.STRING, description="English, for people and logs; wording may change"),
            "code": Schema(type=OpenAPIType.STRING, description="stable machine code: a precise one (password_length, "
                           "stale_version, ...) or the status's generic one: " + ", ".join(sorted(set(CODES.values()))),
                           examples=["stale_version"]),
            "params": Schema(type=OpenAPIType.OBJECT, description="values the client's text needs ({min, max}, {seconds})"),
        }))})})


def problem_body(status: int, detail: str, *, title: str | None = None, code: str | None = None,
                 **extra: Any) -> bytes:
    """The JSON body of a problem; the HTTP protocol layer (`web/server.py`) sends it raw too."""
    body = {"type": "about:blank", "title": title or TITLES.get(status, "Error"), "status": status, "detail": detail,
            "code": code_for(status, code)}
    body.update({k: v for k, v in extra.items() if v is not None})
    return msgspec.json.encode(body)


def problem(status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None,
            code: str | None = None, **extra: Any) -> Response[bytes]:
    return Response(problem_body(status, detail, title=title, code=code, **extra), status_code=status,
                    media_type=PROBLEM, headers=headers)


def _status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def handle_domain(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    status = _status_for(exc)
    detail = getattr(exc, "detail", None) or str(exc)
    headers = None
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    if status >= 500 and status != 503 and status != 507:
        log.error("%s on %s %s", type(exc).__name__, request.method, logged_path(request), exc_info=exc)
    title = getattr(exc, "title", None) if status < 500 else None
    code = getattr(exc, "code", None)
    params = getattr(exc, "params", None) if status < 500 else None
    return problem(status, detail, title=title, headers=headers, code=code, params=params or None)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    detail = exc.detail or TITLES.get(status, "Error")
    if isinstance(exc, ValidationException):
        # Litestar reports body/parameter decoding failures here; keep its field path.
        extra = exc.extra
        if isinstance(extra, list) and extra:
            parts = []
            for item in extra:
                if isinstance(item, dict):
                    key = item.get("key") or item.get("source") or ""
                    parts.append(f"{key}: {item.get('message', '')}".strip(": "))
            if parts:
                detail = f"{detail}: " + "; ".join(parts)
        # A body or parameter that does not decode into its type: the client's bug, not the user's.
        return problem(400, detail, code="malformed_field")
    if isinstance(exc, NotAuthorizedException):
        return problem(401, exc.detail or "sign in first")
    if isinstance(exc, NotFoundException):
        return problem(404, "no such resource")
    return problem(status, detail, headers=exc.headers)


def handle_bug(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, logged_path(request), exc_info=exc)
    return problem(500, "the server hit a bug; it has been logged")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    errors.OctopusError: handle_domain,
    media_errors.MediaError: handle_domain,
    HTTPException: handle_http,
    Exception: handle_bug,
}
