"""Shared by the end-to-end orientation tests (HTTP, ingest, browser): a scene whose orientation
is unambiguous, stored under each EXIF orientation 1–8, and checks on the pixels that come back.

Width and height alone cannot tell a mirrored or upside-down derivative from an upright one; the
corners can. The scene: red top-left, blue bottom-right, a green strip along the top right, the
rest light grey, so each of the eight transforms puts the colours somewhere else.
"""

from __future__ import annotations

import io
from typing import Sequence

from PIL import Image, ImageDraw

RED, BLUE, GREEN, GREY = (220, 20, 20), (20, 20, 220), (20, 200, 20), (240, 240, 240)

# The stored pixels for EXIF orientation o are the upright scene put through the inverse of the
# transform a viewer applies (the same table as tests/test_media_derivatives.py).
INVERSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

# Where to look, as fractions of the upright width and height, and what must be there.
PROBES: list[tuple[float, float, tuple[int, int, int]]] = [
    (1 / 8, 1 / 8, RED),
    (7 / 8, 7 / 8, BLUE),
    (7 / 8, 1 / 20, GREEN),
    (1 / 8, 7 / 8, GREY),
]


def upright_scene(size: tuple[int, int] = (800, 600)) -> Image.Image:
    img = Image.new("RGB", size, GREY)
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle((0, 0, w // 3, h // 3), fill=RED)
    draw.rectangle((2 * w // 3, 2 * h // 3, w, h), fill=BLUE)
    draw.rectangle((2 * w // 3, 0, w, h // 6), fill=GREEN)
    return img


def oriented_jpeg(orientation: int, size: tuple[int, int] = (800, 600), *, seed: int = 0) -> bytes:
    """The upright scene of `size`, stored turned for EXIF `orientation` and tagged with it.
    `seed` changes a few pixels in the grey, so the bytes differ (no duplicate) but not the probes."""
    method = INVERSE[orientation]
    img = upright_scene(size)
    for i in range(seed):
        img.putpixel((size[0] // 2 + i, size[1] // 2), (200, 200, 200))
    stored = img if method is None else img.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def near(pixel: Sequence[int], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def probe_points(width: int, height: int) -> list[tuple[int, int]]:
    return [(min(width - 1, int(fx * width)), min(height - 1, int(fy * height))) for fx, fy, _ in PROBES]


def wrong_probes(pixels: Sequence[Sequence[int]]) -> list[str]:
    """The probes (in PROBES order) whose pixel is not the colour the upright scene has there."""
    return [f"at ({fx:.2f}, {fy:.2f}) {tuple(p[:3])} is not {colour}"
            for (fx, fy, colour), p in zip(PROBES, pixels, strict=True) if not near(p, colour)]


def assert_upright(data: bytes, size: tuple[int, int], what: str = "") -> None:
    """`data` is an image of exactly `size` showing the scene upright: not turned, not mirrored."""
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == size, (what, img.size, size)
        rgb = img.convert("RGB")
    wrong = wrong_probes([rgb.getpixel(p) for p in probe_points(*rgb.size)])  # type: ignore[misc]
    assert wrong == [], (what, wrong)


def difference(a: Image.Image, b: Image.Image, grid: tuple[int, int] = (32, 32)) -> float:
    """Mean absolute difference (0–255) of two pictures of one shape, reduced to a small grey
    grid, leaving out the middle (the corpus's orientation samples print their number there):
    small for the same picture, large for it mirrored or turned."""
    small_a = a.convert("L").resize(grid, Image.Resampling.BOX)
    small_b = b.convert("L").resize(grid, Image.Resampling.BOX)
    w, h = grid
    cells = [(x, y) for y in range(h) for x in range(w)
             if not (w * 0.3 <= x < w * 0.7 and h * 0.25 <= y < h * 0.75)]
    return sum(abs(small_a.getpixel(c) - small_b.getpixel(c)) for c in cells) / len(cells)  # type: ignore[operator]


# The transforms that keep a picture's shape: what a wrong orientation of the right size looks like.
SAME_SHAPE = {
    "as it is": None,
    "mirrored": Image.Transpose.FLIP_LEFT_RIGHT,
    "upside down": Image.Transpose.FLIP_TOP_BOTTOM,
    "turned 180°": Image.Transpose.ROTATE_180,
}


def closest_turn(reference: Image.Image, img: Image.Image) -> str:
    """Which of SAME_SHAPE makes `img` look most like `reference`: "as it is" when `img` is the
    same picture the same way up. Relative, so no threshold to tune per picture."""
    scores = {name: difference(reference, img if method is None else img.transpose(method))
              for name, method in SAME_SHAPE.items()}
    return min(scores, key=scores.__getitem__)
