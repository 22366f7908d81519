"""The media pipeline's error family.

Public functions of :mod:`octopus_events.media` raise only these (plus ``OSError`` for I/O on
paths the caller handed in, such as a missing file); the HTTP layer maps them to problem+json:
``UnsupportedMediaType`` → 415, ``BrokenImage``, ``BrokenVideo`` and ``ImageTooLarge`` → 422.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base class: something is wrong with the bytes a user gave us, not with the server."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsupportedMediaType(MediaError):
    """The bytes are not a photo or video format we accept (``detected`` names what they look like)."""

    def __init__(self, detected: str) -> None:
        super().__init__(f"not a supported photo or video: the file looks like {detected}")
        self.detected = detected


class BrokenImage(MediaError):
    """The bytes claim a supported format but are truncated or corrupt."""

    code = "broken_image"


class BrokenVideo(MediaError):
    """The bytes are a video container we accept but truncated, or its video stream does not
    decode: storing it would keep a file nobody can play."""

    title = "Broken video"
    code = "broken_video"


class ImageTooLarge(MediaError):
    """The image declares more pixels than we are willing to decode (decompression bomb guard),
    or decoding it would need more memory than the decode budget holds. Nothing is stored."""

    title = "Image too large"
    #: Stable machine code for clients (CONTRACT.md's problem ``code``).
    code = "image_too_large"
