"""Structural checks (media/integrity.py): whole files pass, cut or damaged ones are refused.

Files: the shared camera corpus and one of each format and flavour Pillow and pillow-heif
write. What is detectable, and so asserted: any truncation before a format's end (JPEG's EOI,
PNG's IEND, the last HEIF box, the RIFF size, GIF's trailer, a TIFF strip or directory);
for PNG any flipped byte (CRCs); for the others a flipped byte in the structure (a marker,
a length, a box size, an offset). A flip inside JPEG entropy data or a segment's payload can
decode to a slightly wrong picture, and no structural check can see it: not asserted.
"""

from __future__ import annotations

import io
import statistics
import struct
import time
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image

from ci_support import requires
from octopus_events.media import BrokenImage, analyse, sniff
from octopus_events.media.integrity import check_buffer, check_whole

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "exif-samples"
MAX_PIXELS = 100_000_000
CUTS = 10
# A real camera file whose structure is broken: an unstuffed 0xFF 0x9F inside its scan data.
CORRUPTED = "jpg/corrupted.jpg"

needs_corpus = requires(CORPUS.is_dir(), f"the shared image corpus ({CORPUS})", "clone the shared/ repository beside this one")


def _scene(size: tuple[int, int] = (320, 240), mode: str = "RGB") -> Image.Image:
    # Noise, so the codecs write real entropy-coded data rather than a few bytes.
    return Image.merge("RGB", [Image.effect_noise(size, 40 + 10 * i) for i in range(3)]).convert(mode)


def _save(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _made() -> dict[str, bytes]:
    pillow_heif.register_heif_opener()
    frames = [_scene((160, 120)).convert("P") for _ in range(3)]
    return {
        "baseline.jpg": _save(_scene(), "JPEG", quality=85),
        "progressive.jpg": _save(_scene(), "JPEG", quality=85, progressive=True),
        "restart.jpg": _save(_scene(), "JPEG", quality=85, restart_marker_blocks=4),
        "rgb.png": _save(_scene(), "PNG"),
        "rgba-text.png": _save(_scene(mode="RGBA"), "PNG", pnginfo=_png_text()),
        "raw.tiff": _save(_scene(), "TIFF"),
        "lzw.tiff": _save(_scene(), "TIFF", compression="tiff_lzw"),
        "jpeg.tiff": _save(_scene(), "TIFF", compression="jpeg"),
        "big.tiff": _save(_scene(), "TIFF", big_tiff=True),
        "pages.tiff": _save(frames[0].convert("RGB"), "TIFF", save_all=True, append_images=[f.convert("RGB") for f in frames[1:]]),
        "lossy.webp": _save(_scene(), "WEBP", quality=80),
        "lossless.webp": _save(_scene(), "WEBP", lossless=True),
        "animated.webp": _save(frames[0].convert("RGB"), "WEBP", save_all=True, append_images=[f.convert("RGB") for f in frames[1:]]),
        "animated.gif": _save(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "pic.heic": _save(_scene(), "HEIF", quality=60),
        "grid.heic": _save(_scene((1024, 768)), "HEIF", quality=30, tile_size=512, thumbnails=[160]),
    }


def _png_text():  # noqa: ANN202 - PngInfo
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "a text chunk before and after nothing in particular")
    return info


MADE = _made()


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        path
        for folder in ("jpg", "heic")
        for path in (CORPUS / folder).rglob("*")
        if path.is_file() and path.name != "README" and path.suffix.lower() not in (".rst", ".md", ".txt")
    )


def _verdict(data: bytes, like: bytes | None = None) -> str | None:
    """None when the check accepts ``data`` as the type of ``like`` (the undamaged file, since
    damage to a signature makes it another type: a 415 upstream), else its message."""
    try:
        check_buffer(memoryview(data), sniff((data if like is None else like)[:64]))
    except BrokenImage as exc:
        return exc.detail
    return None


def _structural_end(data: bytes) -> int:
    """Where the image ends: a JPEG's EOI (cameras may write bytes after it), a TIFF's last
    strip, else the file end."""
    if data.startswith(b"\xff\xd8"):
        return data.rindex(b"\xff\xd9") + 2
    if data[:4] == b"II*\x00":
        # Pillow's multi-page writer pads after the last strip; its strips end the image.
        with Image.open(io.BytesIO(data)) as img:
            ends = []
            for frame in range(getattr(img, "n_frames", 1)):
                img.seek(frame)
                ends += [o + n for o, n in zip(img.tag_v2[273], img.tag_v2[279], strict=True)]
        return max(ends)
    return len(data)


def _cuts(data: bytes) -> list[int]:
    end = _structural_end(data)
    return sorted({end * i // (CUTS + 1) for i in range(1, CUTS + 1)} | {end - 1, 0, 1})


def _accepted_cuts(data: bytes) -> list[int]:
    """The cuts of ``data`` that the check accepts (it should accept none)."""
    view = memoryview(data)
    return [cut for cut in _cuts(data) if _verdict(view[:cut], data) is None]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(MADE))
def test_made_files_are_whole_and_stored(tmp_path: Path, name: str) -> None:
    assert _verdict(MADE[name]) is None
    (tmp_path / name).write_bytes(MADE[name])
    assert analyse(tmp_path / name, max_pixels=MAX_PIXELS).width > 0


@pytest.mark.parametrize("name", sorted(MADE))
def test_made_files_cut_anywhere_are_refused(name: str) -> None:
    data = MADE[name]
    accepted = _accepted_cuts(data)
    assert accepted == [], f"{name} ({len(data)} bytes) cut at {accepted} passed as whole"


@needs_corpus
def test_corpus_files_are_whole_and_refused_when_cut() -> None:
    started = time.perf_counter()
    files = _corpus_files()
    assert len(files) >= 90
    problems = []
    for path in files:
        data = path.read_bytes()
        verdict = _verdict(data)
        if path.relative_to(CORPUS).as_posix() == CORRUPTED:
            assert verdict is not None and "0xFF9F" in verdict
            continue
        if verdict is not None:
            problems.append(f"{path.name}: {verdict}")
        accepted = _accepted_cuts(data)
        if accepted:
            problems.append(f"{path.name} cut at {accepted} of {len(data)} passed as whole")
    assert problems == []
    # The sweep stays cheap: ~0.2 s for ~100 files and ~1,300 cuts, checked in memory.
    assert time.perf_counter() - started < 10


def test_check_whole_maps_the_file_and_leaves_its_position(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(MADE["rgb.png"])
    with open(path, "rb") as fp:
        fp.seek(5)
        check_whole(fp, "image/png")
        assert fp.tell() == 5
    path.write_bytes(b"")
    with open(path, "rb") as fp, pytest.raises(BrokenImage, match="cannot read it"):
        check_whole(fp, "image/png")
    path.write_bytes(MADE["rgb.png"][:-1])
    with open(path, "rb") as fp, pytest.raises(BrokenImage, match="IEND"):
        check_whole(fp, "image/png")


@needs_corpus
def test_camera_trailing_bytes_after_eoi_are_accepted() -> None:
    olympus = (CORPUS / "jpg/exif-org/olympus-d320l.jpg").read_bytes()
    assert _structural_end(olympus) < len(olympus)  # one byte after its EOI
    assert _verdict(olympus) is None
    # Motion photos and vendor trailers append whole files after the EOI.
    for tail in (b"\x00" * 64, b"\x00\x00\x00\x18ftypmp42" + b"\xff\xd8\xff\x00" * 100, b"SEFHMotionPhoto_Data"):
        assert _verdict(MADE["baseline.jpg"] + tail) is None


@needs_corpus
def test_corrupted_camera_jpeg_is_not_stored() -> None:
    with pytest.raises(BrokenImage, match="0xFF9F"):
        analyse(CORPUS / CORRUPTED, max_pixels=MAX_PIXELS)


@needs_corpus
def test_truncated_heic_is_not_stored(tmp_path: Path) -> None:
    # Today's thumb comes from the embedded thumbnail, so a decode alone would not notice.
    data = (CORPUS / "heic/mobile/iphone_13_pro_max.HEIC").read_bytes()
    for fraction in (0.3, 0.6, 0.95):
        path = tmp_path / "cut.heic"
        path.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(BrokenImage, match="past the end"):
            analyse(path, max_pixels=MAX_PIXELS)


def _flip(data: bytes, offset: int, mask: int = 0xFF) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


@pytest.mark.parametrize("name", ["rgb.png", "rgba-text.png"])
def test_png_any_flipped_byte_is_refused(name: str) -> None:
    data = MADE[name]
    offsets = sorted({len(data) * i // 23 for i in range(23)} | {len(data) - 1, len(data) - 9})
    for mask in (0xFF, 0x01):
        accepted = [o for o in offsets if _verdict(_flip(data, o, mask), data) is None]
        assert accepted == [], f"{name}: flips (mask {mask:#x}) at {accepted} passed"


def test_png_bad_crc_and_cut_end_chunk_are_not_stored(tmp_path: Path) -> None:
    data = MADE["rgb.png"]
    path = tmp_path / "p.png"
    path.write_bytes(data[:-12])  # without its IEND chunk: every pixel is still there
    with pytest.raises(BrokenImage, match="IEND"):
        analyse(path, max_pixels=MAX_PIXELS)
    path.write_bytes(data[:-6])  # IEND cut short
    with pytest.raises(BrokenImage):
        analyse(path, max_pixels=MAX_PIXELS)
    crc_at = 8 + 8 + 13  # the IHDR chunk's CRC
    path.write_bytes(_flip(data, crc_at))
    with pytest.raises(BrokenImage, match="IHDR chunk at offset 8 fails its CRC"):
        analyse(path, max_pixels=MAX_PIXELS)


def _jpeg_markers(data: bytes) -> list[int]:
    """Offsets of the segment markers before the first scan (walked by length)."""
    pos, out = 2, [0]
    while data[pos + 1] != 0xDA:
        out.append(pos)
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    return [*out, pos]


@pytest.mark.parametrize("name", ["baseline.jpg", "progressive.jpg"])
def test_jpeg_broken_markers_are_refused(name: str) -> None:
    data = MADE[name]
    markers = _jpeg_markers(data)
    assert len(markers) >= 5
    for at in markers:
        assert _verdict(_flip(data, at), data) is not None, f"marker 0xFF at {at} flipped"
        assert _verdict(_flip(data, at + 1, 0x80), data) is not None, f"marker code at {at + 1} flipped"
    # A segment length one larger makes the next marker miss its place.
    for at in markers[1:-1]:  # not the scan's: its entropy data has no length to miss
        longer = data[: at + 3] + bytes([data[at + 3] + 1]) + data[at + 4 :]
        assert _verdict(longer, data) is not None, f"length at {at + 2} changed"
    # The end-of-image marker flipped: the scan no longer ends.
    assert _verdict(_flip(data, len(data) - 1), data) is not None


def _tiff_strip_counts_at(data: bytes) -> tuple[int, str]:
    """Offset and struct format of the first StripByteCounts value of a little-endian TIFF."""
    assert data[:4] == b"II*\x00"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, ifd)
    for i in range(entries):
        tag, kind, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * i)
        if tag == 279:
            fmt = {3: "<H", 4: "<I"}[kind]
            return (ifd + 2 + 12 * i + 8 if count * struct.calcsize(fmt) <= 4 else value), fmt
    raise AssertionError("no StripByteCounts")


@pytest.mark.parametrize("name", ["raw.tiff", "lzw.tiff"])
def test_tiff_damaged_structure_is_refused(tmp_path: Path, name: str) -> None:
    data = MADE[name]
    for at in (0, 1, 2, 7):  # byte order, version, first directory offset (high byte)
        assert _verdict(_flip(data, at), data) is not None, f"byte {at} flipped"
    # Like Pillow's own crash files: a strip that claims more bytes than the file holds.
    at, fmt = _tiff_strip_counts_at(data)
    path = tmp_path / name
    past_end = len(data) if fmt == "<I" else 0xFFFF
    path.write_bytes(data[:at] + struct.pack(fmt, past_end) + data[at + struct.calcsize(fmt) :])
    with pytest.raises(BrokenImage, match="strip"):
        analyse(path, max_pixels=MAX_PIXELS)


def _top_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    pos, out = 0, []
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, pos, size))
        pos += size
    return out


@pytest.mark.parametrize("name", ["pic.heic", "grid.heic"])
def test_heif_box_sizes_and_item_extents_are_checked(name: str) -> None:
    data = MADE[name]
    boxes = _top_boxes(data)
    for _, at, _ in boxes:  # each top-level box's size, made to reach past the end
        assert _verdict(_flip(data, at, 0x40), data) is not None, f"box size at {at}"
    # Cut the image data and make the mdat box agree: the boxes are whole, the item extents
    # (iloc) still point past the end.
    kind, at, size = boxes[-1]
    assert kind == b"mdat" and at + size == len(data)
    cut = at + size // 2
    shortened = data[:at] + struct.pack(">I", cut - at) + data[at + 4 : cut]
    assert "an item's data" in (_verdict(shortened) or "")


def test_webp_and_gif_structure() -> None:
    for name in ("lossy.webp", "lossless.webp", "animated.webp"):
        assert _verdict(_flip(MADE[name], 7, 0x01), MADE[name]) is not None  # RIFF size beyond the file
    gif = MADE["animated.gif"]
    assert gif[-1] == 0x3B
    assert _verdict(_flip(gif, len(gif) - 1), gif) is not None


@needs_corpus
def test_a_structural_check_costs_well_under_a_millisecond_per_megabyte() -> None:
    # The upload path runs it on every photo: the corpus's largest camera JPEGs are 2-3 MB.
    timings = []
    for name in ("jpg/tests/42_IndexError.jpg", "jpg/mobile/HMD_Nokia_8.3_5G.jpg"):
        path = CORPUS / name
        megabytes = path.stat().st_size / 1e6
        assert megabytes > 2
        with open(path, "rb") as fp:
            for _ in range(15):
                started = time.perf_counter()
                check_whole(fp, "image/jpeg")
                timings.append((time.perf_counter() - started) / megabytes)
    assert statistics.median(timings) < 0.001  # s per MB; measured ~0.15 ms/MB


def test_tiff_with_millions_of_strips_is_refused_before_reading_them() -> None:
    # A hostile directory: 2**21 strip offsets and counts, all inside the file.
    count = 1 << 21
    ifd = struct.pack("<H", 2) + struct.pack("<HHII", 273, 4, count, 64) + struct.pack("<HHII", 279, 4, count, 64)
    data = b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00"
    data += b"\x00" * (64 + 4 * count - len(data))
    assert "lists 2097152 strips" in (_verdict(data) or "")
