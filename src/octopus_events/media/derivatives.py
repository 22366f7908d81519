"""Upright JPEG derivatives (thumb, preview), decoded at reduced scale wherever the codec allows.

Decoding dominates the cost on a weak machine, so the JPEG decoder is asked for a 1/2, 1/4 or
1/8 scale image before anything is loaded, and EXIF orientation is applied to the small result.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import zlib
from pathlib import Path
from typing import IO, Literal

import msgspec
from PIL import Image

from octopus_events.media.errors import BrokenImage, ImageTooLarge, MediaError
from octopus_events.media.sniff import HEIF_MIMES

_heif_ready = False
_heif_lock = threading.Lock()


def _register_heif() -> None:
    """Load libheif on the first HEIC/HEIF photo, not at start-up: it costs ~4 MB of RSS that
    a library of JPEGs never needs (idle memory is a feature on a 1 GB machine)."""
    global _heif_ready
    with _heif_lock:
        if not _heif_ready:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_ready = True


THUMB_PX = 256
PREVIEW_PX = 1440
SIZES: dict[str, int] = {"thumb": THUMB_PX, "preview": PREVIEW_PX}
JPEG_QUALITY = 82
_MAX_ICC_BYTES = 16 * 1024

DerivativeKind = Literal["thumb", "preview"]

# Pillow's format name for each accepted MIME type; opening with `formats=` stops Pillow from
# trying every other plugin on bytes we already identified.
_PIL_FORMATS: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
}

# What decoders throw on corrupt input. MemoryError is here because a crafted file can make a
# decoder ask for far more than its declared size suggests.
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    struct.error,
    zlib.error,
    RuntimeError,
)

# Same table as ImageOps.exif_transpose, applied to an orientation we already read once.
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class RenderedImage(msgspec.Struct, frozen=True):
    """An encoded derivative: JPEG bytes and their pixel size (upright)."""

    data: bytes
    width: int
    height: int


def open_image(fp: IO[bytes] | Path | str, mime: str) -> Image.Image:
    """Open (not decode) an image of an accepted ``mime``; only headers are read.

    Raises :class:`BrokenImage` when the codec cannot parse it and :class:`ImageTooLarge` when
    Pillow's own decompression-bomb limit trips.
    """
    pil_format = _PIL_FORMATS.get(mime)
    if pil_format is None:
        raise BrokenImage(f"no decoder for {mime}")
    if mime in HEIF_MIMES:
        _register_heif()
    try:
        img = Image.open(fp, formats=[pil_format])
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc)) from None
    except MemoryError:
        raise ImageTooLarge("the image header asks for more memory than is available") from None
    except _DECODE_ERRORS as exc:
        raise BrokenImage(f"cannot read the {mime} image: {exc}") from None
    return img


def check_pixels(img: Image.Image, max_pixels: int) -> None:
    """Refuse images whose declared size is empty or exceeds ``max_pixels``, before decoding."""
    width, height = img.size
    if width <= 0 or height <= 0:
        raise BrokenImage(f"the image declares an empty size {width}×{height}")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image declares {width}×{height} = {width * height} pixels; the limit is {max_pixels}"
        )


def decode_reduced(img: Image.Image, long_side: int) -> Image.Image:
    """Decode ``img`` to an RGB or L image whose long side is at most ``long_side``.

    Not oriented: apply :func:`apply_orientation` to the result. The decode reads the whole
    image stream, so truncated or corrupt data raises :class:`BrokenImage` here.
    """
    width, height = img.size
    scale = long_side / max(width, height)
    if scale < 1:
        # Ask by the long side with the aspect kept, so every dimension of the reduced decode
        # stays at or above the target (thumbnail()'s own draft request is 2× larger, which
        # makes libjpeg skip the 1/2 scale for previews).
        request = (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale)))
        try:
            img.draft("RGB", request)
        except _DECODE_ERRORS as exc:
            raise BrokenImage(f"cannot decode the image: {exc}") from None
    try:
        img.load()
        small = _normalise_mode(img)
        width, height = small.size
        if max(width, height) > long_side:
            ratio = long_side / max(width, height)
            size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
            # Bicubic, not Lanczos: on a 2-core box the 2000→1440 px preview resize costs as
            # much as the decode, and Lanczos adds ~15% for no visible gain at these ratios.
            return small.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc)) from None
    except MemoryError:
        raise ImageTooLarge("decoding the image needs more memory than is available") from None
    except _DECODE_ERRORS as exc:
        raise BrokenImage(f"cannot decode the image: {exc}") from None
    # A new image, so the caller may close the file-backed one.
    return small.copy() if small is img else small


def apply_orientation(img: Image.Image, orientation: int) -> Image.Image:
    """Return ``img`` turned upright for an EXIF ``orientation`` (1–8; others are ignored)."""
    method = _TRANSPOSE.get(orientation)
    return img if method is None else img.transpose(method)


def encode_jpeg(img: Image.Image) -> bytes:
    """Encode an RGB or L image as a baseline JPEG without metadata.

    Derivatives carry no EXIF (no GPS leaks through a thumbnail); the colour profile is kept so
    wide-gamut phone photos do not look washed out.
    """
    out = io.BytesIO()
    icc = img.info.get("icc_profile")
    # Prepress profiles can be far larger than a thumbnail; those photos lose a little colour.
    options = {"icc_profile": icc} if isinstance(icc, bytes) and 0 < len(icc) <= _MAX_ICC_BYTES else {}
    img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False, **options)
    return out.getvalue()


def render(src_path: Path | str, kind: DerivativeKind, orientation: int, mime: str) -> RenderedImage:
    """Render the ``kind`` derivative ("thumb" or "preview") of an original as an upright JPEG.

    ``orientation`` is the EXIF orientation from :func:`read_metadata` (or ``Analysis``). HEIF
    images come out of libheif already transformed, so it is ignored for them.
    """
    long_side = SIZES.get(kind)
    if long_side is None:
        raise ValueError(f"unknown derivative kind {kind!r}")
    with open(src_path, "rb") as fp:
        img = open_image(fp, mime)
        with img:
            small = decode_reduced(img, long_side)
    return render_from(small, 1 if mime in HEIF_MIMES else orientation)


def render_from(small: Image.Image, orientation: int) -> RenderedImage:
    """Orient an already reduced image and encode it (shared by :func:`render` and ingest)."""
    upright = apply_orientation(small, orientation)
    try:
        data = encode_jpeg(upright)
    except _DECODE_ERRORS as exc:
        raise MediaError(f"cannot encode the derivative: {exc}") from None
    return RenderedImage(data=data, width=upright.width, height=upright.height)


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Bring any decoded mode to RGB or L, flattening transparency onto white (JPEG has no alpha)."""
    mode = img.mode
    if mode in ("RGB", "L"):
        return img
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        if img.mode == "RGB":
            return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        # convert("L") would clip 16-bit values at 255; scale them down instead.
        return _without_profile(img.convert("I").point(lambda value: value * (1 / 256)).convert("L"))
    if mode in ("I", "F"):
        low, high = img.getextrema()
        factor = 255 / ((high - low) or 1)
        return _without_profile(img.point(lambda value: value * factor - low * factor).convert("L"))
    if img.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        if mode in ("RGBA", "RGBa", "P") and "icc_profile" in img.info:
            flat.info["icc_profile"] = img.info["icc_profile"]
        return flat
    # "1", CMYK, YCbCr, LAB, HSV...: a source profile (e.g. CMYK) would mislabel RGB pixels.
    return _without_profile(img.convert("L" if mode == "1" else "RGB"))


def _without_profile(img: Image.Image) -> Image.Image:
    img.info.pop("icc_profile", None)
    return img
