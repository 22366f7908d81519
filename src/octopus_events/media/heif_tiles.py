"""Decode a tiled HEIC a tile at a time, reducing as it goes, so a 48 or 200 MP phone photo
gets a full-size preview within the decode budget.

Phones store large HEICs as a grid of 512 px HEVC tiles. libheif has no reduced-resolution
decode, and a whole decode holds ~10 bytes a pixel (2 GB for 200 MP). Since 1.18 it decodes
one tile of the grid on request (``heif_image_handle_decode_image_tile``, with the image's
rotation and mirroring applied), which pillow-heif does not expose; this module calls it
through ctypes in the libheif pillow-heif already loaded. Each tile is box-reduced by a power
of two and pasted into a canvas a few times the target size: the peak is the canvas and one
tile. Where that libheif is not found or too old, :func:`plan` returns ``None`` and the caller
falls back to the embedded thumbnail.
"""

from __future__ import annotations

import ctypes
import glob
import math
import os
import threading
from typing import Any

import msgspec
from PIL import Image

from octopus_events.media.errors import BrokenImage


class TilePlan(msgspec.Struct, frozen=True):
    """How a grid image will be decoded: its tiling (upright), the reduction and the peak bytes."""

    columns: int
    rows: int
    tile_width: int
    tile_height: int
    width: int
    height: int
    factor: int
    cost: int


# Bytes a tile pixel costs while it is decoded: libheif's YCbCr planes and RGB image, our copy
# of its plane, Pillow's tile, its crop and reduction; plus the HEVC decoder's own frames.
_TILE_BYTES_PER_PIXEL = 20
_DECODER_COST = 16 * 1024 * 1024
_REDUCING_GAP = 2


def plan(img: Image.Image, long_side: int) -> TilePlan | None:
    """A plan for decoding the opened HEIF ``img`` by tiles at ``long_side``, or ``None`` when it
    is not a grid or this libheif cannot decode single tiles."""
    tiling = img.info.get("tiling")
    if not isinstance(tiling, dict) or _lib() is None:
        return None
    try:
        columns, rows = int(tiling["num_columns"]), int(tiling["num_rows"])
        tile_w, tile_h = int(tiling["tile_width"]), int(tiling["tile_height"])
    except (KeyError, TypeError, ValueError):
        return None
    width, height = img.size  # upright, as libheif reports the tiles
    if min(columns, rows, tile_w, tile_h, width, height) <= 0:
        return None
    # The largest power of two that divides the tiles and keeps twice the target: the final
    # resample then looks as if the whole image had been resampled.
    factor = 1
    while (
        max(width, height) // (factor * 2) >= _REDUCING_GAP * long_side
        and tile_w % (factor * 2) == 0
        and tile_h % (factor * 2) == 0
    ):
        factor *= 2
    canvas = math.ceil(width / factor) * math.ceil(height / factor)
    ratio = min(1.0, long_side / max(width, height))
    final = round(width * ratio) * round(height * ratio)
    cost = canvas * 4 + final * 8 + tile_w * tile_h * _TILE_BYTES_PER_PIXEL + _DECODER_COST
    return TilePlan(columns, rows, tile_w, tile_h, width, height, factor, cost)


def decode(path: str | os.PathLike[str], tiles: TilePlan, long_side: int, icc: bytes | None = None) -> Image.Image:
    """Decode the primary image of the HEIF file at ``path`` by ``tiles`` into an upright RGB
    image whose long side is at most ``long_side``. Raises :class:`BrokenImage` when a tile
    does not decode."""
    lib = _lib()
    assert lib is not None  # plan() said so
    ctx = lib.heif_context_alloc()
    handle = ctypes.c_void_p()
    try:
        _check(lib.heif_context_read_from_file(ctx, os.fsencode(path), None))
        _check(lib.heif_context_get_primary_image_handle(ctx, ctypes.byref(handle)))
        tiling = _Tiling(version=1)
        _check(lib.heif_image_handle_get_image_tiling(handle, 1, ctypes.byref(tiling)))
        if (tiling.num_columns, tiling.num_rows, tiling.image_width, tiling.image_height) != (
            tiles.columns,
            tiles.rows,
            tiles.width,
            tiles.height,
        ):
            raise BrokenImage("the HEIF grid is not the one its header declared")
        f = tiles.factor
        canvas = Image.new("RGB", (math.ceil(tiles.width / f), math.ceil(tiles.height / f)))
        # With a rotation or mirror applied, the grid's padding can fall before the image: the
        # first column (row) then shows only its last part.
        shift_x = (tiles.tile_width - tiling.left_offset) % tiles.tile_width
        shift_y = (tiles.tile_height - tiling.top_offset) % tiles.tile_height
        for ty in range(tiles.rows):
            for tx in range(tiles.columns):
                tile = _decode_tile(lib, handle, tx, ty)
                x0, y0 = tx * tiles.tile_width - shift_x, ty * tiles.tile_height - shift_y
                left, top = max(0, -x0), max(0, -y0)
                right, bottom = min(tile.width, tiles.width - x0), min(tile.height, tiles.height - y0)
                if right <= left or bottom <= top:
                    continue
                part = tile.crop((left, top, right, bottom))
                canvas.paste(part.reduce(f) if f > 1 else part, ((x0 + left) // f, (y0 + top) // f))
    finally:
        if handle:
            lib.heif_image_handle_release(handle)
        lib.heif_context_free(ctx)
    ratio = min(1.0, long_side / max(tiles.width, tiles.height))
    size = (max(1, round(tiles.width * ratio)), max(1, round(tiles.height * ratio)))
    out = canvas if size == canvas.size else canvas.resize(size, Image.Resampling.BICUBIC, box=(0, 0, tiles.width / f, tiles.height / f))
    if icc:
        out.info["icc_profile"] = icc
    return out


_RGB, _INTERLEAVED_RGB = 1, 10  # heif_colorspace_RGB, heif_chroma_interleaved_RGB


def _decode_tile(lib: Any, handle: ctypes.c_void_p, tx: int, ty: int) -> Image.Image:
    image = ctypes.c_void_p()
    _check(lib.heif_image_handle_decode_image_tile(handle, ctypes.byref(image), _RGB, _INTERLEAVED_RGB, None, tx, ty))
    try:
        stride = ctypes.c_int()
        plane = lib.heif_image_get_plane_readonly(image, _INTERLEAVED_RGB, ctypes.byref(stride))
        width = lib.heif_image_get_width(image, _INTERLEAVED_RGB)
        height = lib.heif_image_get_height(image, _INTERLEAVED_RGB)
        if not plane or width <= 0 or height <= 0 or stride.value < width * 3:
            raise BrokenImage(f"tile {tx},{ty} of the HEIF grid has no pixels")
        data = ctypes.string_at(plane, stride.value * height)
    finally:
        lib.heif_image_release(image)
    return Image.frombuffer("RGB", (width, height), data, "raw", "RGB", stride.value, 1)


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("subcode", ctypes.c_int), ("message", ctypes.c_char_p)]


class _Tiling(ctypes.Structure):
    # struct heif_image_tiling (libheif >= 1.18, version 1)
    _fields_ = [
        ("version", ctypes.c_int),
        ("num_columns", ctypes.c_uint32),
        ("num_rows", ctypes.c_uint32),
        ("tile_width", ctypes.c_uint32),
        ("tile_height", ctypes.c_uint32),
        ("image_width", ctypes.c_uint32),
        ("image_height", ctypes.c_uint32),
        ("top_offset", ctypes.c_uint32),
        ("left_offset", ctypes.c_uint32),
        ("number_of_extra_dimensions", ctypes.c_uint8),
        ("extra_dimensions", ctypes.c_uint32 * 8),
    ]


def _check(error: _Error) -> None:
    if error.code != 0:
        message = (error.message or b"").decode("utf-8", "replace")
        raise BrokenImage(f"cannot decode the HEIF image: {message}")


_lock = threading.Lock()
_loaded: list[Any] = []  # [lib or None], once


def _lib() -> Any:
    with _lock:
        if not _loaded:
            _loaded.append(_load())
        return _loaded[0]


def _load() -> Any:
    """The libheif that pillow-heif bundles (already in the process), if it has the tile API."""
    import pillow_heif

    here = os.path.dirname(os.path.dirname(os.path.abspath(pillow_heif.__file__)))
    candidates = sorted(glob.glob(os.path.join(here, "pillow_heif.libs", "libheif*.so*")))
    candidates += sorted(glob.glob(os.path.join(here, "pillow_heif", ".dylibs", "libheif*.dylib")))
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, "heif_image_handle_decode_image_tile") and hasattr(lib, "heif_image_handle_get_image_tiling"):
            return _declare(lib)
    return None


def _declare(lib: Any) -> Any:
    p = ctypes.c_void_p
    lib.heif_context_alloc.restype = p
    lib.heif_context_alloc.argtypes = []
    lib.heif_context_free.argtypes = [p]
    lib.heif_context_read_from_file.restype = _Error
    lib.heif_context_read_from_file.argtypes = [p, ctypes.c_char_p, p]
    lib.heif_context_get_primary_image_handle.restype = _Error
    lib.heif_context_get_primary_image_handle.argtypes = [p, ctypes.POINTER(p)]
    lib.heif_image_handle_release.argtypes = [p]
    lib.heif_image_handle_get_image_tiling.restype = _Error
    lib.heif_image_handle_get_image_tiling.argtypes = [p, ctypes.c_int, ctypes.POINTER(_Tiling)]
    lib.heif_image_handle_decode_image_tile.restype = _Error
    lib.heif_image_handle_decode_image_tile.argtypes = [
        p,
        ctypes.POINTER(p),
        ctypes.c_int,
        ctypes.c_int,
        p,
        ctypes.c_uint32,
        ctypes.c_uint32,
    ]
    lib.heif_image_get_plane_readonly.restype = ctypes.POINTER(ctypes.c_uint8)
    lib.heif_image_get_plane_readonly.argtypes = [p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.heif_image_get_width.argtypes = [p, ctypes.c_int]
    lib.heif_image_get_height.argtypes = [p, ctypes.c_int]
    lib.heif_image_release.argtypes = [p]
    return lib
