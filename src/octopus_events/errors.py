"""The domain's error hierarchy.

Core code raises these; the HTTP layer maps each class to one problem+json status in one place
(`web/problems.py`) and the CLI prints `str(error)` as one line. Nothing here knows about HTTP.
"""

from __future__ import annotations


class OctopusError(Exception):
    """Base of every error the product reports to a user or client on purpose."""

    title = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(OctopusError):
    title = "Malformed request"


class Invalid(OctopusError):
    """A field has a value the domain does not accept (HTTP 422)."""

    title = "Invalid field"


class Unauthorized(OctopusError):
    title = "Not signed in"


class Forbidden(OctopusError):
    title = "Not allowed"


class NotFound(OctopusError):
    """Unknown id, or an id that belongs to somebody else: the two are indistinguishable."""

    title = "Not found"


class Conflict(OctopusError):
    """The request contradicts the current state (wrong state, already exists)."""

    title = "Conflict"


class ConcurrencyConflict(Conflict):
    """An append's expected stream version is stale: somebody else wrote first."""

    title = "Stale version"

    def __init__(self, detail: str, *, stream: str = "", expected: int | None = None, actual: int = 0) -> None:
        super().__init__(detail)
        self.stream = stream
        self.expected = expected
        self.actual = actual


class Gone(OctopusError):
    title = "Gone"


class TooLarge(OctopusError):
    title = "Too large"


class UnsupportedMedia(OctopusError):
    title = "Unsupported media type"


class RateLimited(OctopusError):
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InsufficientStorage(OctopusError):
    title = "Insufficient storage"


class Unavailable(OctopusError):
    """A read model is being rebuilt into a new shape and cannot answer yet (HTTP 503)."""

    title = "Temporarily unavailable"


class ConfigError(OctopusError):
    title = "Configuration error"


class IntegrityError(OctopusError):
    """The log, the read models or the blobs disagree (found by `octopus verify`)."""

    title = "Integrity check failed"
