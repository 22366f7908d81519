"""The domain's error hierarchy.

Core code raises these; the HTTP layer maps each class to one problem+json status in one place
(`web/problems.py`) and the CLI prints `str(error)` as one line. Nothing here knows about HTTP.
"""

from __future__ import annotations


class OctopusError(Exception):
    """Base of every error the product reports to a user or client on purpose.

    `code` is the stable machine name clients translate (problem+json `code`, docs/errors.md):
    each class has a generic one, a raise site names a more precise one when a user would want
    different words (`Invalid(..., code="password_length", params={"min": 8, "max": 1024})`).
    `params` are the values the client's text needs; they must never hold secrets.
    """

    title = "Error"
    code = "error"

    def __init__(self, detail: str, *, code: str | None = None, params: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.params = params


class BadRequest(OctopusError):
    title = "Malformed request"
    code = "bad_request"


class Invalid(OctopusError):
    """A field has a value the domain does not accept (HTTP 422)."""

    title = "Invalid field"
    code = "invalid"


class Unauthorized(OctopusError):
    title = "Not signed in"
    code = "not_signed_in"


class Forbidden(OctopusError):
    title = "Not allowed"
    code = "forbidden"


class NotFound(OctopusError):
    """Unknown id, or an id that belongs to somebody else: the two are indistinguishable."""

    title = "Not found"
    code = "not_found"


class Conflict(OctopusError):
    """The request contradicts the current state (wrong state, already exists)."""

    title = "Conflict"
    code = "conflict"


class ConcurrencyConflict(Conflict):
    """An append's expected stream version is stale: somebody else wrote first."""

    title = "Stale version"
    code = "stale_version"

    def __init__(self, detail: str, *, stream: str = "", expected: int | None = None, actual: int = 0,
                 code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.stream = stream
        self.expected = expected
        self.actual = actual


class Gone(OctopusError):
    title = "Gone"
    code = "gone"


class TooLarge(OctopusError):
    title = "Too large"
    code = "too_large"


class UnsupportedMedia(OctopusError):
    title = "Unsupported media type"
    code = "unsupported_media"


class RateLimited(OctopusError):
    title = "Too many requests"
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, params={"seconds": retry_after})
        self.retry_after = retry_after


class InsufficientStorage(OctopusError):
    title = "Insufficient storage"
    code = "insufficient_storage"


class Unavailable(OctopusError):
    """A read model is being rebuilt into a new shape and cannot answer yet (HTTP 503)."""

    title = "Temporarily unavailable"
    code = "unavailable"


class ConfigError(OctopusError):
    title = "Configuration error"
    code = "internal"


class IntegrityError(OctopusError):
    """The log, the read models or the blobs disagree (found by `octopus verify`)."""

    title = "Integrity check failed"
    code = "internal"
