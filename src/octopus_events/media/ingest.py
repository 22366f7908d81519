"""The single media step of an upload: identify, guard, read metadata, make the thumb."""

from __future__ import annotations

from pathlib import Path

import msgspec

from octopus_events.media.budget import DecodeBudget
from octopus_events.media.derivatives import (
    THUMB_PX,
    allow_pixels,
    apply_orientation,
    check_pixels,
    decode_reduced,
    decoder_orients,
    open_image,
    render_from,
)
from octopus_events.media.errors import UnsupportedMediaType
from octopus_events.media.integrity import check_whole
from octopus_events.media.metadata import PhotoMetadata, read_metadata
from octopus_events.media.phash import dhash64
from octopus_events.media.sniff import ACCEPTED_MIMES, SNIFF_BYTES, VIDEO_MIMES, sniff
from octopus_events.media.video import VideoInfo, analyse_video


class Analysis(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the upload pipeline learns from an original in one pass.

    ``width``/``height`` are upright (swapped for orientations 5–8). ``orientation`` is what
    :func:`~octopus_events.media.derivatives.render` needs to turn derivatives upright.
    """

    mime: str
    width: int
    height: int
    orientation: int
    metadata: PhotoMetadata
    thumb: bytes
    thumb_width: int
    thumb_height: int
    phash: int
    #: "photo" or "video"; the defaults describe a photo so photo code need not set them.
    kind: str = "photo"
    #: Seconds, for videos only.
    duration: float | None = None
    video: VideoInfo | None = None


def analyse(path: Path | str, *, max_pixels: int, budget: DecodeBudget | None = None) -> Analysis:
    """Analyse the uploaded file at ``path``: type, size, metadata, upright thumb and dhash.

    Videos go to :func:`~octopus_events.media.video.analyse_video` (their thumb is the upright
    poster frame; it raises :class:`BrokenVideo` for a cut or undecodable file). Raises
    :class:`UnsupportedMediaType` for anything that is not an accepted image or video,
    :class:`ImageTooLarge` when the declared size exceeds ``max_pixels`` (checked before any
    pixel is decoded) or when decoding it would not fit the memory ``budget`` (the process-wide
    one by default), and :class:`BrokenImage` when the data does not decode. Blocking and
    CPU-bound: call it from a worker thread.
    """
    with open(path, "rb") as fp:
        head = fp.read(SNIFF_BYTES)
        if not head:
            raise UnsupportedMediaType("an empty file (0 bytes)")
        mime = sniff(head)
        if mime not in ACCEPTED_MIMES:
            raise UnsupportedMediaType(mime)
        if mime in VIDEO_MIMES:
            return analyse_video(path, budget=budget, max_pixels=max_pixels, mime=mime)
        check_whole(fp, mime)  # the decode below may not read every byte (integrity.py)
        allow_pixels(max_pixels)
        fp.seek(0)
        img = open_image(fp, mime)
        check_pixels(img, max_pixels)
        width, height = img.size
        # Metadata comes from the header, before the decode closes the image.
        metadata = read_metadata(img)
        # libheif has already applied the HEIF transform, Pillow's TIFF plugin the TIFF tag
        # (and reports the upright size): applying EXIF orientation again would turn it twice.
        if decoder_orients(mime):
            metadata = msgspec.structs.replace(metadata, orientation=1)
        orientation = metadata.orientation
        small = decode_reduced(img, THUMB_PX, budget)
    upright = apply_orientation(small, orientation)
    thumb = render_from(upright, 1)
    if orientation >= 5:
        width, height = height, width
    return Analysis(
        mime=mime,
        width=width,
        height=height,
        orientation=orientation,
        metadata=metadata,
        thumb=thumb.data,
        thumb_width=thumb.width,
        thumb_height=thumb.height,
        phash=dhash64(upright),
    )
