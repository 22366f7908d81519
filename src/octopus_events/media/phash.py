"""Perceptual difference hash for finding near-identical photos."""

from __future__ import annotations

from PIL import Image

_MASK64 = (1 << 64) - 1


def dhash64(img: Image.Image) -> int:
    """Return the 64-bit difference hash of an upright, already small image.

    The image is reduced to 9×8 grey pixels and each bit says whether a pixel is brighter than
    its right-hand neighbour. The result is a *signed* 64-bit integer so it fits an SQLite
    INTEGER column; compare hashes with :func:`hamming`.
    """
    grey = img.convert("L").resize((9, 8), Image.Resampling.BOX)
    pixels = grey.tobytes()
    value = 0
    for row in range(8):
        base = row * 9
        for col in range(8):
            value = (value << 1) | (pixels[base + col] > pixels[base + col + 1])
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or unsigned)."""
    return ((a ^ b) & _MASK64).bit_count()
