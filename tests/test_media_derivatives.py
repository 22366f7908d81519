"""Rendering, analysis and hashing on real images made by Pillow in a temp dir."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFile, ImageStat

from ci_support import requires
from octopus_events.media import (
    PREVIEW_PX,
    THUMB_PX,
    BrokenImage,
    ImageTooLarge,
    UnsupportedMediaType,
    analyse,
    dhash64,
    hamming,
    render,
)
from octopus_events.media.budget import DecodeBudget
from orientation_support import BLUE, GREEN, INVERSE, RED, upright_scene
from octopus_events.media.derivatives import allow_pixels, check_pixels, decode_reduced, open_image

MAX_PIXELS = 100_000_000

# The stored pixels for EXIF orientation o are the upright scene put through the inverse of
# the transform a viewer applies; the scene and the table are shared with the HTTP, ingest and
# browser tests (tests/orientation_support.py).
_INVERSE = INVERSE
_upright = upright_scene


def _stored(orientation: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    method = _INVERSE[orientation]
    img = _upright(size)
    return img if method is None else img.transpose(method)


def _save_jpeg(path: Path, img: Image.Image, orientation: int = 1) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, "JPEG", quality=90, exif=exif)
    return path


def _near(pixel: tuple, colour: tuple, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def _assert_upright(jpeg: bytes, size: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(jpeg)) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == size
        rgb = thumb.convert("RGB")
        w, h = rgb.size
        assert _near(rgb.getpixel((w // 8, h // 8)), RED)
        assert _near(rgb.getpixel((w - w // 8, h - h // 8)), BLUE)
        assert _near(rgb.getpixel((w - w // 8, h // 20)), GREEN)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_analyse_turns_every_orientation_upright(tmp_path: Path, orientation: int) -> None:
    path = _save_jpeg(tmp_path / f"o{orientation}.jpg", _stored(orientation), orientation)
    result = analyse(path, max_pixels=MAX_PIXELS)
    assert (result.mime, result.orientation) == ("image/jpeg", orientation)
    assert (result.width, result.height) == (800, 600)
    assert (result.thumb_width, result.thumb_height) == (THUMB_PX, 192)
    _assert_upright(result.thumb, (THUMB_PX, 192))


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_render_preview_upright(tmp_path: Path, orientation: int) -> None:
    path = _save_jpeg(tmp_path / "big.jpg", _stored(orientation, (2000, 1500)), orientation)
    preview = render(path, "preview", orientation, "image/jpeg")
    assert (preview.width, preview.height) == (PREVIEW_PX, 1080)
    _assert_upright(preview.data, (PREVIEW_PX, 1080))
    thumb = render(path, "thumb", orientation, "image/jpeg")
    _assert_upright(thumb.data, (THUMB_PX, 192))


@pytest.mark.parametrize(("long_side", "scale"), [(THUMB_PX, 8), (PREVIEW_PX, 2)])
def test_jpeg_decodes_at_reduced_scale(tmp_path: Path, long_side: int, scale: int) -> None:
    # 4000×3000 is a 12 MP camera frame: the thumb needs only 1/8, the preview 1/2.
    path = tmp_path / "12mp.jpg"
    Image.new("RGB", (4000, 3000), (90, 90, 90)).save(path, quality=50)
    with open_image(path, "image/jpeg") as img:
        small = decode_reduced(img, long_side)
        assert img.decoderconfig[0] == scale
        assert max(small.size) == long_side


def test_small_images_are_not_enlarged(tmp_path: Path) -> None:
    path = _save_jpeg(tmp_path / "tiny.jpg", _upright((120, 90)))
    assert (render(path, "preview", 1, "image/jpeg").width, analyse(path, max_pixels=MAX_PIXELS).thumb_width) == (
        120,
        120,
    )


def test_png_with_alpha_is_flattened_on_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((0, 0, 150, 200), fill=(200, 0, 0, 255))
    path = tmp_path / "alpha.png"
    img.save(path)
    result = analyse(path, max_pixels=MAX_PIXELS)
    assert result.mime == "image/png"
    with Image.open(io.BytesIO(result.thumb)) as thumb:
        assert thumb.mode == "RGB"
        assert _near(thumb.getpixel((10, 10)), (200, 0, 0))
        assert _near(thumb.getpixel((thumb.width - 10, 10)), (255, 255, 255), 8)


def test_16_bit_grey_png_keeps_its_brightness(tmp_path: Path) -> None:
    img = Image.new("I;16", (300, 200), 32768)
    path = tmp_path / "deep.png"
    img.save(path)
    with Image.open(io.BytesIO(analyse(path, max_pixels=MAX_PIXELS).thumb)) as thumb:
        assert abs(thumb.convert("L").getpixel((50, 50)) - 128) <= 3


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (400, 300), (0, 255, 255, 0)).save(path)  # pure red in CMYK
    with Image.open(io.BytesIO(analyse(path, max_pixels=MAX_PIXELS).thumb)) as thumb:
        assert thumb.mode == "RGB"
        assert _near(thumb.getpixel((20, 20)), (255, 0, 0))


def test_gif_first_frame_and_transparency(tmp_path: Path) -> None:
    frames = [Image.new("P", (100, 100), i) for i in range(3)]
    for frame in frames:
        frame.putpalette([255, 255, 0] + [0, 0, 255] + [0, 255, 0] + [0] * 759)
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    result = analyse(path, max_pixels=MAX_PIXELS)
    assert result.mime == "image/gif"
    with Image.open(io.BytesIO(result.thumb)) as thumb:
        assert _near(thumb.getpixel((50, 50)), (255, 255, 0))


def test_tiff_first_page(tmp_path: Path) -> None:
    path = tmp_path / "pages.tiff"
    Image.new("RGB", (200, 100), RED).save(path, save_all=True, append_images=[Image.new("RGB", (50, 50), BLUE)])
    result = analyse(path, max_pixels=MAX_PIXELS)
    assert (result.mime, result.width, result.height) == ("image/tiff", 200, 100)


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw", "jpeg"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_every_orientation_upright(tmp_path: Path, orientation: int, compression: str) -> None:
    # Pillow's TIFF plugin reports the upright size and transposes on load: turning it again
    # by the tag left 2-8 mirrored or turned and 5-8 with width and height swapped.
    path = tmp_path / f"o{orientation}.tiff"
    _stored(orientation, (400, 300)).save(path, "TIFF", tiffinfo={0x0112: orientation}, compression=compression)
    result = analyse(path, max_pixels=MAX_PIXELS)
    assert (result.mime, result.width, result.height) == ("image/tiff", 400, 300)
    _assert_upright(result.thumb, (THUMB_PX, 192))
    preview = render(path, "preview", orientation, "image/tiff")  # the tag a stored event may carry
    _assert_upright(preview.data, (400, 300))
    assert render(path, "preview", result.orientation, "image/tiff").data == preview.data


def test_webp(tmp_path: Path) -> None:
    path = tmp_path / "pic.webp"
    _upright().save(path, "WEBP", quality=90)
    result = analyse(path, max_pixels=MAX_PIXELS)
    assert result.mime == "image/webp"
    _assert_upright(result.thumb, (THUMB_PX, 192))


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_heic_is_not_rotated_twice(tmp_path: Path, orientation: int) -> None:
    # pillow-heif writes the EXIF orientation as a HEIF transform; libheif applies it on read.
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "pic.heic"
    _stored(orientation, (640, 480)).save(path, "HEIF", quality=80, exif=exif.tobytes())
    result = analyse(path, max_pixels=MAX_PIXELS)
    assert (result.mime, result.orientation, result.metadata.orientation) == ("image/heic", 1, 1)
    assert (result.width, result.height) == (640, 480)
    _assert_upright(result.thumb, (THUMB_PX, 192))
    preview = render(path, "preview", orientation, "image/heic")  # a stale orientation is ignored
    _assert_upright(preview.data, (640, 480))


@pytest.fixture(scope="module")
def grid_heic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiled HEIC like a phone's (512 px grid tiles) with two embedded thumbnails."""
    pillow_heif.register_heif_opener()
    path = tmp_path_factory.mktemp("heic") / "grid.heic"
    _upright((1536, 1152)).save(path, "HEIF", quality=30, tile_size=512, thumbnails=[320, 512])
    return path


def test_heic_whose_full_decode_cannot_fit_uses_its_largest_embedded_thumbnail(grid_heic: Path) -> None:
    # 1536×1152 decodes in ~20 MB; a 16 MB budget stands in for a 48-200 MP photo in 256 MB.
    small = DecodeBudget(limit_mb=16)
    result = analyse(grid_heic, max_pixels=MAX_PIXELS, budget=small)
    assert (result.width, result.height, result.thumb_width, result.thumb_height) == (1536, 1152, THUMB_PX, 192)
    _assert_upright(result.thumb, (THUMB_PX, 192))
    # Not shrunk to thumb size: the 512 px thumbnail, the largest the file holds.
    preview = render(grid_heic, "preview", 1, "image/heic", budget=small)
    _assert_upright(preview.data, (512, 384))
    assert small.in_use_bytes == 0
    # With room for the full decode, the preview is full size.
    _assert_upright(render(grid_heic, "preview", 1, "image/heic").data, (PREVIEW_PX, 1080))


_PEAK_SCRIPT = """
import sys
from octopus_events.media import render
from octopus_events.media.budget import DecodeBudget
from octopus_events.media.derivatives import allow_pixels, open_image
from octopus_events.media.heif_tiles import plan
def hwm():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
allow_pixels(200_000_000)
with open_image(sys.argv[1], "image/heic") as img:
    cost = plan(img, 1440).cost
render(sys.argv[1], "thumb", 1, "image/heic")  # libheif and the codecs loaded
before = hwm()
preview = render(sys.argv[1], "preview", 1, "image/heic", budget=DecodeBudget(256))
print(preview.width, hwm() - before, cost)
"""


@requires(Path("/proc/self/status").exists(), "VmHWM in /proc (Linux)", "run on Linux")
def test_200_megapixel_preview_by_tiles_stays_within_its_estimate(tmp_path: Path) -> None:
    path = tmp_path / "200mp.heic"
    path.write_bytes(_giant_heic())
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    width, grew, cost = map(int, out.stdout.split())
    assert width == PREVIEW_PX
    assert grew <= cost < 100 * 1024 * 1024, (grew, cost)  # ~85 MB, not the whole decode's 2 GB


@pytest.mark.parametrize("orientation", [1, 3, 6, 7])
def test_tiled_heic_too_large_to_decode_whole_is_decoded_by_tiles_upright(tmp_path: Path, orientation: int) -> None:
    # 2400×1800 in 256 px tiles, no embedded thumbnail: a whole decode needs ~45 MB, a
    # 24 MB budget leaves only the tile-by-tile decode. Rotations and mirrors move the grid's
    # padding before the image, so every tile's place is checked by the pixels.
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "tiled.heic"
    _stored(orientation, (2400, 1800)).save(path, "HEIF", quality=30, tile_size=256, exif=exif.tobytes())
    small = DecodeBudget(limit_mb=24)
    by_tiles = analyse(path, max_pixels=MAX_PIXELS, budget=small)
    assert (by_tiles.width, by_tiles.height) == (2400, 1800)
    _assert_upright(by_tiles.thumb, (THUMB_PX, 192))
    whole = analyse(path, max_pixels=MAX_PIXELS)  # decoded whole by pillow-heif
    with Image.open(io.BytesIO(by_tiles.thumb)) as a, Image.open(io.BytesIO(whole.thumb)) as b:
        assert max(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) < 2
    assert hamming(by_tiles.phash, whole.phash) <= 2
    assert small.in_use_bytes == 0


def test_pillow_opens_what_we_accept_without_a_bomb_warning(tmp_path: Path) -> None:
    # A 200 MP phone photo (16320×12240) is past Pillow's default bomb error (~179 MP).
    path = tmp_path / "200mp.png"
    path.write_bytes(_png_declaring(16320, 12240))
    allow_pixels(200_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning fails the test
        with open_image(path, "image/png") as img:
            check_pixels(img, 200_000_000)
            assert img.size == (16320, 12240)
    with pytest.raises(ImageTooLarge, match="limit is 199000000"):
        analyse(path, max_pixels=199_000_000)
    # Past both size guards (ours and Pillow's) to the decode, which finds the 1 px of data.
    with pytest.raises(BrokenImage, match="truncated"):
        analyse(path, max_pixels=200_000_000)


def _giant_heic(width: int = 16320, height: int = 12240, tile: int = 512) -> bytes:
    """A real HEIC declaring width×height, built in milliseconds: a small grid HEIC is encoded,
    then its grid item is made to cover width×height by referencing its tiles over and over."""
    pillow_heif.register_heif_opener()
    small = (tile * 2, tile * 3 // 2)  # 2×2 tiles: the last row is padded, as phones do
    assert width * 3 == height * 4  # the 4:3 of the embedded thumbnail
    scene = Image.linear_gradient("L").resize(small).convert("RGB")
    out = io.BytesIO()
    scene.save(out, "HEIF", quality=20, tile_size=tile, thumbnails=[320])
    data = bytearray(out.getvalue())

    def box(kind: bytes, start: int = 0) -> int:
        return data.index(kind, start) - 4

    meta = box(b"meta")
    # The grid payload (in idat): version, flags (16-bit sizes), rows-1, columns-1, width, height.
    idat = box(b"idat", meta)
    cols, rows = -(-width // tile), -(-height // tile)
    assert data[idat + 8 : idat + 10] == b"\x00\x00"
    data[idat + 8 : idat + 16] = struct.pack(">BBBBHH", 0, 0, rows - 1, cols - 1, width, height)
    # The grid's own size property.
    old_ispe = struct.pack(">II", *small)
    at = data.index(old_ispe, box(b"ipco", meta))
    data[at : at + 8] = struct.pack(">II", width, height)
    # The grid's tile references: rows × columns of the encoded tiles, cycled.
    iref = box(b"iref", meta)
    dimg = iref + 12
    assert data[dimg + 4 : dimg + 8] == b"dimg"
    size, _, grid_id, count = struct.unpack_from(">I4sHH", data, dimg)
    tiles = struct.unpack_from(f">{count}H", data, dimg + 12)
    refs = [tiles[i % count] for i in range(rows * cols)]
    entry = struct.pack(f">I4sHH{len(refs)}H", 12 + 2 * len(refs), b"dimg", grid_id, len(refs), *refs)
    delta = len(entry) - size
    data[dimg : dimg + size] = entry
    for at in (iref, meta):
        (length,) = struct.unpack_from(">I", data, at)
        struct.pack_into(">I", data, at, length + delta)
    # Everything after meta moved by delta: shift the file offsets of items stored in mdat.
    iloc = box(b"iloc", meta)
    version = data[iloc + 8]
    assert version == 1 and data[iloc + 12 : iloc + 14] == b"\x44\x40"
    (items,) = struct.unpack_from(">H", data, iloc + 14)
    pos = iloc + 16
    for _ in range(items):
        _, method, _, base, extents = struct.unpack_from(">HHHIH", data, pos)
        pos += 12
        for _ in range(extents):
            if method & 15 == 0:
                (offset,) = struct.unpack_from(">I", data, pos)
                struct.pack_into(">I", data, pos, offset + delta)
            pos += 8
    assert iref < box(b"mdat", meta)
    return bytes(data)

def test_200_megapixel_phone_heic_is_stored_with_thumb_and_preview(tmp_path: Path) -> None:
    # 16320×12240 (a 200 MP Samsung sensor): refused with 422 while Pillow's own ~179 MP
    # bomb limit applied. Its full decode (~2 GB) cannot fit the 256 MB budget: the thumb
    # comes from the embedded thumbnail, the preview from a tile-by-tile decode (~85 MB).
    path = tmp_path / "200mp.heic"
    path.write_bytes(_giant_heic())
    budget = DecodeBudget(limit_mb=256)
    started = time.perf_counter()
    result = analyse(path, max_pixels=200_000_000, budget=budget)
    assert (result.mime, result.width, result.height) == ("image/heic", 16320, 12240)
    assert (result.thumb_width, result.thumb_height) == (THUMB_PX, 192)
    preview = render(path, "preview", 1, "image/heic", budget=budget)
    assert (preview.width, preview.height) == (PREVIEW_PX, 1080)
    assert time.perf_counter() - started < 15  # ~2 s: 768 tiles decoded
    assert budget.in_use_bytes == 0
    with pytest.raises(ImageTooLarge):
        analyse(path, max_pixels=199_000_000)


def _png_declaring(width: int, height: int) -> bytes:
    """A real 1×1 PNG whose IHDR is patched to claim another size (CRC fixed up)."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, 10**12])
def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, max_pixels: int) -> None:
    # With a huge limit of ours, Pillow's own bomb guard must still trip and be mapped.
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(50_000, 50_000))
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as info:
        analyse(path, max_pixels=max_pixels)
    assert time.perf_counter() - started < 0.5
    assert "50000" in info.value.detail


def test_limit_is_ours_not_pillows(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    Image.new("RGB", (100, 100)).save(path)
    assert analyse(path, max_pixels=10_000).width == 100
    with pytest.raises(ImageTooLarge):
        analyse(path, max_pixels=9_999)


def test_truncated_jpeg_is_broken(tmp_path: Path) -> None:
    whole = io.BytesIO()
    Image.effect_noise((1200, 900), 60).convert("RGB").save(whole, "JPEG", quality=90)
    path = tmp_path / "half.jpg"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    with pytest.raises(BrokenImage):
        analyse(path, max_pixels=MAX_PIXELS)
    with pytest.raises(BrokenImage):
        render(path, "preview", 1, "image/jpeg")


def test_truncated_png_is_broken(tmp_path: Path) -> None:
    whole = io.BytesIO()
    Image.effect_noise((400, 300), 60).save(whole, "PNG")
    path = tmp_path / "half.png"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    with pytest.raises(BrokenImage):
        analyse(path, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize(
    "body", [b"\xff\xd8\xff\xe0" + b"\x00" * 100, b"\x89PNG\r\n\x1a\n" + b"junk" * 10, b"GIF89a\x00"]
)
def test_magic_without_an_image_is_broken(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "fake"
    path.write_bytes(body)
    with pytest.raises(BrokenImage):
        analyse(path, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize(
    ("body", "detected"),
    [
        (b"just some notes\n", "text/plain"),
        (b"%PDF-1.4\n1 0 obj << >> endobj\n", "application/pdf"),
        # MP4 and MOV are accepted as videos now (media/video.py); AVI is not.
        (b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 40, "video/x-msvideo"),
        (bytes(range(256)), "application/octet-stream"),
    ],
)
def test_unsupported_types_name_what_they_are(tmp_path: Path, body: bytes, detected: str) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(body)
    with pytest.raises(UnsupportedMediaType) as info:
        analyse(path, max_pixels=MAX_PIXELS)
    assert info.value.detected == detected
    assert detected in info.value.detail


def test_truncated_images_stay_fatal() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_dhash_is_stable_across_sizes_and_distinct_across_images() -> None:
    # Flat colour fields make every comparison a tie, so hash a textured scene.
    scene = Image.effect_mandelbrot((800, 600), (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")
    other = scene.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a = dhash64(scene.resize((256, 192)))
    b = dhash64(scene.resize((200, 150), Image.Resampling.BILINEAR))
    c = dhash64(other.resize((256, 192)))
    assert hamming(a, b) <= 4
    assert hamming(a, c) >= 10
    for value in (a, b, c):
        assert -(2**63) <= value < 2**63


def test_hamming_handles_signed_values() -> None:
    assert hamming(-1, 0) == 64
    assert hamming(-(2**63), 2**63 - 1) == 64
    assert hamming(5, 5) == 0
    # Bit patterns compare equal whether written signed or unsigned.
    assert hamming(-1, 2**64 - 1) == 0


def test_dhash_bits_follow_brightness() -> None:
    # Rotated a quarter turn the gradient runs dark (left) to light (right): no pixel is
    # brighter than its right neighbour, so all bits are 0; mirrored, all 64 bits are set.
    ramp = Image.linear_gradient("L").rotate(90).resize((90, 80))
    assert dhash64(ramp) == 0
    assert dhash64(ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) == -1
