"""Every file of the real camera corpus (shared/corpus/exif-samples) through analyse()."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from ci_support import requires
from orientation_support import closest_turn
from octopus_events.media import THUMB_PX, Analysis, MediaError, analyse, render
from octopus_events.media.budget import DecodeBudget

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "exif-samples"
MAX_PIXELS = 100_000_000

pytestmark = requires(CORPUS.is_dir(), f"the shared image corpus ({CORPUS})", "clone the shared/ repository beside this one")


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = [
        path
        for folder in ("jpg", "heic")
        for path in (CORPUS / folder).rglob("*")
        if path.is_file() and path.name != "README" and path.suffix.lower() not in (".rst", ".md", ".txt")
    ]
    return sorted(files)


_ANALYSED: dict[Path, Analysis | MediaError] = {}


def _analysed(path: Path) -> Analysis | MediaError:
    # Several tests look at the same files; decode each once per session.
    if path not in _ANALYSED:
        try:
            _ANALYSED[path] = analyse(path, max_pixels=MAX_PIXELS)
        except MediaError as exc:
            _ANALYSED[path] = exc
    return _ANALYSED[path]


def _ok(name: str) -> Analysis:
    result = _analysed(CORPUS / name)
    assert isinstance(result, Analysis), f"{name} was rejected: {result}"
    return result


def test_corpus_has_the_expected_files() -> None:
    files = _corpus_files()
    assert len(files) >= 90
    assert sum(1 for path in files if path.parts[-3:-1] == ("jpg", "orientation")) == 16


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda path: str(path.relative_to(CORPUS)))
def test_every_corpus_file_is_analysed_or_cleanly_rejected(path: Path) -> None:
    result = _analysed(path)  # anything but a MediaError propagates and fails the test
    if isinstance(result, MediaError):
        assert result.detail
        return
    assert result.mime in ("image/jpeg", "image/heic", "image/heif")
    assert 1 <= result.orientation <= 8
    with Image.open(io.BytesIO(result.thumb)) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (result.thumb_width, result.thumb_height)
    assert max(result.thumb_width, result.thumb_height) == min(THUMB_PX, max(result.width, result.height))
    # The thumb has the upright aspect of the photo (within rounding of a 256 px image).
    assert abs(result.thumb_width / result.thumb_height - result.width / result.height) < 0.02 * (
        result.width / result.height
    ) + 1 / result.thumb_height
    meta = result.metadata
    if meta.taken_local is not None:
        assert 1800 <= datetime.fromisoformat(meta.taken_local).year <= 2100
        assert meta.taken_source != "none"
    else:
        assert (meta.taken_source, meta.offset_minutes) == ("none", None)
    if meta.gps_lat is not None or meta.gps_lon is not None:
        assert -90 <= meta.gps_lat <= 90 and -180 <= meta.gps_lon <= 180
    for text in (meta.make, meta.model, meta.lens):
        assert text is None or (text == text.strip() and text and "\x00" not in text)
    assert meta.f_number is None or 0.5 < meta.f_number < 100
    assert -(2**63) <= result.phash < 2**63


def _downscaled(jpeg: bytes) -> Image.Image:
    with Image.open(io.BytesIO(jpeg)) as img:
        rgb = img.convert("RGB")
        w, h = rgb.size
        # Each variant prints its own number in the middle; only the scene around it must match.
        ImageDraw.Draw(rgb).rectangle((w * 0.3, h * 0.3, w * 0.7, h * 0.7), fill=(128, 128, 128))
        return rgb.resize((16, 12) if w > h else (12, 16), Image.Resampling.BOX)


def _difference(a: Image.Image, b: Image.Image) -> float:
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean)


_WRONG_TURNS = (Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_180)


@pytest.mark.parametrize("shape", ["landscape", "portrait"])
def test_orientation_variants_give_the_same_upright_thumb(shape: str) -> None:
    results = [_ok(f"jpg/orientation/{shape}_{n}.jpg") for n in range(1, 9)]
    assert [r.orientation for r in results] == list(range(1, 9))
    sizes = {(r.width, r.height) for r in results}
    thumb_sizes = {(r.thumb_width, r.thumb_height) for r in results}
    assert sizes == ({(600, 450)} if shape == "landscape" else {(450, 600)})
    assert len(thumb_sizes) == 1
    thumbs = [_downscaled(r.thumb) for r in results]
    # Variants 2-8 share one encoding of the scene: they must agree closely.
    for n, thumb in enumerate(thumbs[2:], start=3):
        assert _difference(thumbs[1], thumb) < 6, f"{shape}_{n}.jpg differs from {shape}_2.jpg"
    # Variant 1 was encoded differently upstream (a global tone shift), so against it each
    # variant must simply be far closer than the same thumb flipped or turned the wrong way.
    for n, thumb in enumerate(thumbs[1:], start=2):
        right = _difference(thumbs[0], thumb)
        wrong = min(_difference(thumbs[0], thumb.transpose(turn)) for turn in _WRONG_TURNS)
        assert right < 20 and right < 0.7 * wrong, f"{shape}_{n}.jpg: {right=} {wrong=}"


def test_orientation_preview_matches_thumb() -> None:
    path = CORPUS / "jpg/orientation/portrait_6.jpg"
    preview = render(path, "preview", 6, "image/jpeg")
    assert (preview.width, preview.height) == (450, 600)
    thumb = _ok("jpg/orientation/portrait_6.jpg").thumb
    assert _difference(_downscaled(thumb), _downscaled(preview.data)) < 6


def test_canon_40d() -> None:
    meta = _ok("jpg/Canon_40D.jpg").metadata
    assert (meta.make, meta.model) == ("Canon", "Canon EOS 40D")
    assert (meta.iso, meta.f_number, meta.exposure_time, meta.focal_length) == (100, 7.1, "1/160", 135.0)
    assert (meta.taken_local, meta.taken_source, meta.offset_minutes) == (
        "2008-05-30T15:56:01",
        "DateTimeOriginal",
        None,
    )
    assert (meta.gps_lat, meta.gps_lon) == (None, None)


@pytest.mark.parametrize(
    ("name", "lat", "lon"),
    [
        ("jpg/gps/DSCN0010.jpg", 43.4674483, 11.8851267),
        ("jpg/gps/DSCN0042.jpg", 43.464455, 11.8814783),
        ("jpg/Kodak_CX7530.jpg", -0.3713, 36.0564167),  # southern hemisphere
        ("jpg/hdr/iphone_hdr_NO.jpg", 40.4469722, -3.7247528),  # western hemisphere
    ],
)
def test_gps_positions(name: str, lat: float, lon: float) -> None:
    meta = _ok(name).metadata
    assert meta.gps_lat == pytest.approx(lat, abs=1e-6)
    assert meta.gps_lon == pytest.approx(lon, abs=1e-6)


def test_every_gps_sample_has_a_position() -> None:
    for path in sorted((CORPUS / "jpg/gps").glob("*.jpg")):
        meta = _ok(str(path.relative_to(CORPUS))).metadata
        assert meta.gps_lat is not None and meta.gps_lon is not None, path.name


def test_rotated_camera_photo_reports_upright_size() -> None:
    result = _ok("jpg/hdr/canon_hdr_NO.jpg")  # stored 2048×1536 with orientation 6
    assert (result.orientation, result.width, result.height) == (6, 1536, 2048)
    assert (result.thumb_width, result.thumb_height) == (192, 256)


def test_phone_offsets() -> None:
    nokia = _ok("jpg/mobile/HMD_Nokia_8.3_5G.jpg").metadata
    assert (nokia.taken_local, nokia.offset_minutes) == ("2022-08-14T14:12:31", 180)
    iphone = _ok("heic/mobile/iphone_13_pro_max.HEIC")
    assert (iphone.mime, iphone.width, iphone.height, iphone.orientation) == ("image/heic", 3024, 4032, 1)
    assert (iphone.metadata.make, iphone.metadata.model) == ("Apple", "iPhone 13 Pro Max")
    assert (iphone.metadata.taken_local, iphone.metadata.offset_minutes) == ("2022-02-16T12:55:41", 60)
    assert (iphone.thumb_width, iphone.thumb_height) == (192, 256)


def test_heic_with_gps_and_lens() -> None:
    meta = _ok("heic/IMG_5195.HEIC").metadata
    assert meta.lens == "iPhone 11 Pro Max back triple camera 4.25mm f/1.8"
    assert meta.gps_lat == pytest.approx(39.0513444, abs=1e-6)
    assert meta.gps_lon == pytest.approx(-94.2887722, abs=1e-6)
    assert meta.offset_minutes == -300


def test_files_that_broke_other_exif_readers_still_yield_what_is_valid() -> None:
    meta = _ok("jpg/tests/87_OSError.jpg").metadata
    assert (meta.make, meta.model, meta.lens) == ("NIKON CORPORATION", "NIKON D70s", "18.0-70.0 mm f/3.5-4.5")
    assert _ok("jpg/tests/67-0_length_string.jpg").metadata.model == "SM-G930F"


def _tiled_heics() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    pillow_heif.register_heif_opener()
    found = []
    for path in _corpus_files():
        if path.suffix.lower() in (".heic", ".heif"):
            with Image.open(path) as img:
                if img.info.get("tiling"):
                    found.append(path)
    return found


@pytest.mark.parametrize("path", _tiled_heics(), ids=lambda path: path.name)
def test_phone_heic_preview_by_tiles_matches_the_whole_decode(path: Path) -> None:
    # A budget the whole decode does not fit (~10 bytes a pixel) but the tile-by-tile decode
    # does (media/heif_tiles.py), as for a 48 MP photo in 256 MB. Real phones' grids carry
    # rotations (the iPhone's irot 270) that move the grid's padding before the image.
    whole = render(path, "preview", 1, "image/heic")
    with Image.open(path) as img:
        pixels = img.width * img.height
    budget = DecodeBudget(limit_mb=max(1, pixels * 9 // (1024 * 1024)))
    by_tiles = render(path, "preview", 1, "image/heic", budget=budget)
    assert (by_tiles.width, by_tiles.height) == (whole.width, whole.height)
    with Image.open(io.BytesIO(whole.data)) as a, Image.open(io.BytesIO(by_tiles.data)) as b:
        a_rgb, b_rgb = a.convert("RGB"), b.convert("RGB")
        assert max(ImageStat.Stat(ImageChops.difference(a_rgb, b_rgb)).mean) < 3
    assert closest_turn(a_rgb, b_rgb) == "as it is"
