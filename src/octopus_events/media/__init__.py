"""The media pipeline: identify uploads, read EXIF, render upright derivatives, store blobs.

Pure library code with no HTTP in it; the web app and the CLI call :func:`analyse`,
:func:`render` and :class:`BlobStore` and map :class:`MediaError` subclasses to responses.
"""

from octopus_events.media.blobstore import BlobNotFound, BlobStore, IncomingBlob, PreviewCache
from octopus_events.media.derivatives import PREVIEW_PX, THUMB_PX, RenderedImage, render
from octopus_events.media.errors import BrokenImage, BrokenVideo, ImageTooLarge, MediaError, UnsupportedMediaType
from octopus_events.media.ingest import Analysis, analyse
from octopus_events.media.metadata import PhotoMetadata, read_metadata
from octopus_events.media.phash import dhash64, hamming
from octopus_events.media.sniff import ACCEPTED_MIMES, VIDEO_MIMES, sniff, sniff_file
from octopus_events.media.video import VideoInfo

__all__ = [
    "ACCEPTED_MIMES",
    "PREVIEW_PX",
    "THUMB_PX",
    "VIDEO_MIMES",
    "Analysis",
    "BlobNotFound",
    "BlobStore",
    "BrokenImage",
    "BrokenVideo",
    "ImageTooLarge",
    "IncomingBlob",
    "MediaError",
    "PhotoMetadata",
    "PreviewCache",
    "RenderedImage",
    "UnsupportedMediaType",
    "VideoInfo",
    "analyse",
    "dhash64",
    "hamming",
    "read_metadata",
    "render",
    "sniff",
    "sniff_file",
]
