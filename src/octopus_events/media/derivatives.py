"""Upright JPEG derivatives (thumb, thumb2x, preview, large), decoded at reduced scale wherever the codec allows.

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
from typing import IO, Any, Literal

import msgspec
from PIL import Image

from octopus_events.media.budget import PROCESS_BUDGET, DecodeBudget
from octopus_events.media.errors import BrokenImage, ImageTooLarge, MediaError
from octopus_events.media.sniff import HEIF_MIMES, VIDEO_MIMES
from octopus_events.media.video import render_poster

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


def allow_pixels(max_pixels: int) -> None:
    """Let Pillow open images as large as ``max_pixels`` (our ``media.max_megapixels``).

    Pillow's own decompression-bomb guard defaults to ~89 MP (a warning) and ~179 MP (an
    error), below the 200 MP phones now take. Ours (:func:`check_pixels`, then the decode
    budget) runs before any pixel is decoded, so Pillow's is set to warn above our limit and
    refuse above twice it: a backstop, and no warning for a size we accept. Only ever raised,
    never lowered, since it is process-wide and another caller may accept more.
    """
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and current < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


_tiff_orients: bool | None = None


def decoder_orients(mime: str) -> bool:
    """Whether the decoder itself turns ``mime`` images upright, so EXIF orientation must not
    be applied again: libheif applies the HEIF transform, and Pillow's TIFF plugin (since
    Pillow 10-11) reports the upright size and transposes the pixels on load."""
    global _tiff_orients
    if mime in HEIF_MIMES:
        return True
    if mime != "image/tiff":
        return False
    if _tiff_orients is None:
        # Ask the installed Pillow once: a 2×1 TIFF tagged orientation 6 opens as 1×2 when
        # the plugin applies orientation (pillow>=10.4 is allowed; the behaviour changed).
        out = io.BytesIO()
        Image.new("L", (2, 1)).save(out, "TIFF", tiffinfo={_TIFF_ORIENTATION: 6})
        with Image.open(out) as probe:
            _tiff_orients = probe.size == (1, 2)
    return _tiff_orients


_TIFF_ORIENTATION = 0x0112

THUMB_PX = 256
# Grid tiles are up to ~290 CSS px tall (about 440 px wide): on a 2x screen the 256 px thumb is
# stretched, so srcset offers this one to hi-DPI screens (made on first request, docs/ui.md).
THUMB2X_PX = 512
PREVIEW_PX = 1440
# The viewer asks for the screen's device pixels: above the preview, this (capped: a 5K screen
# gets 2560, zoom loads the original).
LARGE_PX = 2560
SIZES: dict[str, int] = {"thumb": THUMB_PX, "thumb2x": THUMB2X_PX, "preview": PREVIEW_PX, "large": LARGE_PX}
JPEG_QUALITY = 82
_MAX_ICC_BYTES = 16 * 1024

DerivativeKind = Literal["thumb", "thumb2x", "preview", "large"]

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


def decode_reduced(img: Image.Image, long_side: int, budget: DecodeBudget | None = None) -> Image.Image:
    """Decode ``img`` to an RGB or L image whose long side is at most ``long_side``.

    Not oriented: apply :func:`apply_orientation` to the result. Before any pixel is decoded the
    decode's peak memory is estimated (:func:`decode_cost`) and reserved from ``budget`` (the
    process-wide one by default): an image that can never fit raises :class:`ImageTooLarge`, one
    that fits waits for its turn. ``img`` is closed afterwards, so its pixels are freed before
    the reservation is returned; read anything else from it (metadata) first. The decode reads
    the whole image stream, so truncated or corrupt data raises :class:`BrokenImage` here.
    """
    what = f"{img.width}×{img.height} {img.mode}"
    need = reduced_decode_cost(img, long_side)
    tiled = _by_tiles(img, long_side, need, budget)
    if tiled is not None:
        return tiled
    return _decode_planned(img, long_side, need, what, budget)


def _by_tiles(img: Image.Image, long_side: int, need: int, budget: DecodeBudget | None) -> Image.Image | None:
    """A tiled HEIF whose whole decode cannot fit the budget, decoded a tile at a time
    (media/heif_tiles.py); ``None`` when that does not apply. Closes ``img`` when it does."""
    budget = budget or PROCESS_BUDGET
    if img.format != "HEIF" or need <= budget.limit_bytes:
        return None
    from octopus_events.media import heif_tiles

    tiles = heif_tiles.plan(img, long_side)
    path = getattr(getattr(img, "fp", None), "name", None)
    if tiles is None or tiles.cost > budget.limit_bytes or not isinstance(path, str):
        return None
    icc = img.info.get("icc_profile")
    with budget.reserve(tiles.cost, f"{img.width}×{img.height} HEIF tiles"):
        try:
            return heif_tiles.decode(path, tiles, long_side, icc if isinstance(icc, bytes) else None)
        except MemoryError:
            raise ImageTooLarge("decoding the image needs more memory than is available") from None
        finally:
            img.close()


def _decode_planned(img: Image.Image, long_side: int, need: int, what: str, budget: DecodeBudget | None) -> Image.Image:
    with (budget or PROCESS_BUDGET).reserve(need, what):
        try:
            img.load()
            return _reduce(img, long_side)
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge(str(exc)) from None
        except MemoryError:
            raise ImageTooLarge("decoding the image needs more memory than is available") from None
        except _DECODE_ERRORS as exc:
            raise BrokenImage(f"cannot decode the image: {exc}") from None
        finally:
            img.close()


def reduced_decode_cost(img: Image.Image, long_side: int) -> int:
    """Set ``img`` up for the smallest decode that still covers ``long_side`` and return the
    peak bytes that decoding and reducing it will hold (see :func:`decode_cost`).

    JPEG decodes at 1/2, 1/4 or 1/8 scale; HEIF answers with an embedded thumbnail when one is
    large enough; other formats decode whole. Nothing is decoded here.
    """
    full_size = img.size
    width, height = full_size
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
    return decode_cost(img, long_side, full_size)


def decode_cost(img: Image.Image, long_side: int, full_size: tuple[int, int] | None = None) -> int:
    """Estimate, from the header alone, the peak bytes :func:`decode_reduced` holds for ``img``.

    Call it after ``draft()`` (``img.size`` is then what the decoder will produce) and pass the
    size before drafting as ``full_size``. It counts the decoded image at Pillow's bytes per
    pixel of its mode, the codec's own buffers, the strips converted to RGB/L and the reduced
    and resampled copies. Measured peaks stay below it (tests/test_media_memory.py).
    """
    width, height = img.size
    pixels = width * height
    mode = img.mode
    cost = _BASE_COST + pixels * (_stored_bytes(mode) + _CODEC_BYTES_PER_PIXEL.get(img.format or "", 0))
    if img.format == "TIFF" and _tiff_transposes(img):
        cost += pixels * _stored_bytes(mode)  # the transposed copy Pillow makes on load
    if img.format in ("JPEG", "MPO") and img.info.get("progressive"):
        cost += _jpeg_coefficients(img, full_size or img.size)
    size, (fx, fy) = _reduction(width, height, long_side)
    reduced = math.ceil(width / fx) * math.ceil(height / fy)
    if mode not in ("RGB", "L"):
        # Strips converted one at a time (up to ~14 bytes a pixel on the way, for RGBA with a
        # palette), then the reduced RGB image they are pasted into.
        cost += min(pixels, _strip_rows(width, fy) * width) * _STRIP_BYTES_PER_PIXEL + reduced * 4
    elif (fx, fy) != (1, 1):
        cost += reduced * 4
    if size != (width, height):
        # Pillow resamples in two passes: across (new width × reduced height), then down.
        cost += (size[0] * math.ceil(height / fy) + size[0] * size[1]) * 4
    return cost


# Fixed cost of a decoder and its Python objects, so even a tiny image reserves something.
_BASE_COST = 2 * 1024 * 1024
# Bytes a pixel beyond Pillow's own image, measured with VmHWM: libwebp's animation decoder
# keeps two RGBA canvases and hands Pillow a copy; libheif holds its planes and an RGB buffer;
# libtiff may read a whole-image strip before unpacking it.
_CODEC_BYTES_PER_PIXEL: dict[str, int] = {"WEBP": 12, "HEIF": 6, "TIFF": 4}
_STRIP_BYTES_PER_PIXEL = 14
# A strip of about a million pixels bounds the conversion copies to ~14 MB whatever the size.
_STRIP_PIXELS = 1 << 20


def _tiff_transposes(img: Image.Image) -> bool:
    tags = getattr(img, "tag_v2", None)
    return tags is not None and tags.get(_TIFF_ORIENTATION, 1) in range(2, 9) and decoder_orients("image/tiff")


def _stored_bytes(mode: str) -> int:
    """Bytes a pixel in Pillow's memory: one for 1/L/P, two for 16-bit, four for the rest."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16") or mode.startswith("BGR;1"):
        return 2
    return 4


def _jpeg_coefficients(img: Image.Image, full_size: tuple[int, int]) -> int:
    """A progressive JPEG keeps every DCT coefficient (2 bytes) of the full image whatever the
    draft scale: per component its share of the samples, by its sampling factors."""
    layers = getattr(img, "layer", None) or [("", 1, 1, 0)] * 3
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    share = sum(layer[1] * layer[2] for layer in layers) / (h_max * v_max)
    # Whole 8×8 blocks of the largest MCU, as libjpeg allocates them.
    mcu_w, mcu_h = 8 * h_max, 8 * v_max
    padded = math.ceil(full_size[0] / mcu_w) * mcu_w * math.ceil(full_size[1] / mcu_h) * mcu_h
    return math.ceil(padded * share * 2)


def _reduction(width: int, height: int, long_side: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The final size, and the box-reduce factors applied before resampling to it.

    The factors are Pillow's own for ``resize(reducing_gap=2.0)``: reduce to at least twice the
    target, then resample, which looks the same as resampling the whole image.
    """
    if max(width, height) <= long_side:
        return (width, height), (1, 1)
    ratio = long_side / max(width, height)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    return size, (int(width / size[0] / _REDUCING_GAP) or 1, int(height / size[1] / _REDUCING_GAP) or 1)


_REDUCING_GAP = 2.0


def _strip_rows(width: int, fy: int) -> int:
    # A whole number of reduce blocks, so strips reduce exactly as the whole image would.
    return max(fy, _STRIP_PIXELS // max(1, width) // fy * fy)


def _reduce(img: Image.Image, long_side: int) -> Image.Image:
    """Turn a loaded image into a new RGB or L image of at most ``long_side``, holding at most a
    strip of extra copies beside the decoded pixels."""
    width, height = img.size
    size, (fx, fy) = _reduction(width, height, long_side)
    if img.mode in ("RGB", "L"):
        reduced = img if (fx, fy) == (1, 1) else img.reduce((fx, fy))
    else:
        reduced = _normalised_strips(img, fx, fy)
    if size != (width, height):
        # Bicubic, not Lanczos: on a 2-core box the 2000→1440 px preview resize costs as
        # much as the decode, and Lanczos adds ~15% for no visible gain at these ratios.
        return reduced.resize(size, Image.Resampling.BICUBIC, box=(0, 0, width / fx, height / fy))
    # A new image, so the caller may close the file-backed one.
    return reduced.copy() if reduced is img else reduced


def _normalised_strips(img: Image.Image, fx: int, fy: int) -> Image.Image:
    """Convert ``img`` to RGB or L a strip at a time, box-reducing each strip by (fx, fy).

    Converting a large RGBA or palette image whole would hold three or four full-size copies;
    a strip at a time holds the reduced result and one strip. Flattening onto white before
    averaging gives what premultiplied averaging followed by flattening would.
    """
    width, height = img.size
    extrema = img.getextrema() if img.mode in ("I", "F") else None
    rows = _strip_rows(width, fy)
    out: Image.Image | None = None
    for top in range(0, height, rows):
        strip = _normalise_mode(img.crop((0, top, width, min(height, top + rows))), extrema)
        if (fx, fy) != (1, 1):
            strip = strip.reduce((fx, fy))
        if out is None:
            out = Image.new(strip.mode, (math.ceil(width / fx), math.ceil(height / fy)))
            if "icc_profile" in strip.info:
                out.info["icc_profile"] = strip.info["icc_profile"]
        out.paste(strip, (0, top // fy))
    assert out is not None  # an image has at least one row (check_pixels)
    return out


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


def render(
    src_path: Path | str, kind: DerivativeKind, orientation: int, mime: str, *, budget: DecodeBudget | None = None
) -> RenderedImage:
    """Render the ``kind`` derivative (a key of ``SIZES``) of an original as an upright JPEG.

    ``orientation`` is the EXIF orientation from :func:`read_metadata` (or ``Analysis``). HEIF
    and TIFF images come out of their decoders already upright (:func:`decoder_orients`), so it
    is ignored for them (TIFFs stored before this was known carry their tag's orientation). The decode
    reserves its memory from ``budget`` (see :func:`decode_reduced`); a preview whose decode
    cannot fit it comes out smaller, down to thumbnail size, rather than not at all, since the
    photo was stored because its thumbnail fits.
    """
    long_side = SIZES.get(kind)
    if long_side is None:
        raise ValueError(f"unknown derivative kind {kind!r}")
    if mime in VIDEO_MIMES:
        # A video's derivatives are its upright poster frame (media/video.py).
        return render_poster(src_path, long_side, budget=budget)
    limit = (budget or PROCESS_BUDGET).limit_bytes
    with open(src_path, "rb") as fp:
        img = open_image(fp, mime)
        what = f"{img.width}×{img.height} {img.mode}"
        need = reduced_decode_cost(img, long_side)
        tiled = _by_tiles(img, long_side, need, budget)
        if tiled is not None:
            return render_from(tiled, 1)
        embedded = _largest_thumbnail(img) if need > limit else 0
        if embedded:
            # A HEIF that is not a grid (or a libheif without tile decoding) and cannot fit
            # whole gets the largest thumbnail the camera embedded, not the smallest that fits.
            long_side = min(long_side, embedded)
            fp.seek(0)
            img = open_image(fp, mime)
            need = reduced_decode_cost(img, long_side)
        while need > limit and long_side > THUMB_PX:
            # Drafting is one-shot: plan the smaller decode on a fresh header (no pixels read;
            # closing the old one would close fp too).
            long_side = max(THUMB_PX, long_side // 2)
            fp.seek(0)
            img = open_image(fp, mime)
            need = reduced_decode_cost(img, long_side)
        small = _decode_planned(img, long_side, need, what, budget)
    return render_from(small, 1 if decoder_orients(mime) else orientation)


def _largest_thumbnail(img: Image.Image) -> int:
    """The long side of the largest thumbnail embedded in a HEIF image (0 if none or not HEIF)."""
    if img.format != "HEIF":
        return 0
    sizes = [size for size in img.info.get("thumbnails", ()) if isinstance(size, int)]
    return max(sizes, default=0)


def render_from(small: Image.Image, orientation: int) -> RenderedImage:
    """Orient an already reduced image and encode it (shared by :func:`render` and ingest)."""
    upright = apply_orientation(small, orientation)
    try:
        data = encode_jpeg(upright)
    except _DECODE_ERRORS as exc:
        raise MediaError(f"cannot encode the derivative: {exc}") from None
    return RenderedImage(data=data, width=upright.width, height=upright.height)


def _normalise_mode(img: Image.Image, extrema: Any = None) -> Image.Image:
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
        # Strips share the whole image's range, or each would be stretched on its own.
        low, high = extrema if extrema is not None else img.getextrema()
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
