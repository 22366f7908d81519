"""Magic-byte detection: real files made by Pillow plus hand-built headers for the rest (real
video files are sniffed in tests/test_media_video.py, through ``analyse``)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from octopus_events.media import ACCEPTED_MIMES, VIDEO_MIMES, sniff, sniff_file
from octopus_events.media.sniff import IMAGE_MIMES, SNIFF_BYTES


def _encoded(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "options", "mime"),
    [
        ("JPEG", {}, "image/jpeg"),
        ("PNG", {}, "image/png"),
        ("WEBP", {}, "image/webp"),
        ("GIF", {}, "image/gif"),
        ("TIFF", {}, "image/tiff"),
        ("HEIF", {}, "image/heic"),
        ("BMP", {}, "image/bmp"),
        ("PDF", {}, "application/pdf"),
    ],
)
def test_files_written_by_pillow(fmt: str, options: dict, mime: str) -> None:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    assert sniff(_encoded(fmt, **options)[:SNIFF_BYTES]) == mime


def test_big_endian_tiff() -> None:
    assert sniff(b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 20) == "image/tiff"
    assert sniff(b"II*\x00\x08\x00\x00\x00" + b"\x00" * 20) == "image/tiff"


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00\x00\x00\x08free"


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs"])
def test_heic_brands(brand: bytes) -> None:
    assert sniff(_ftyp(brand, b"mif1", brand)) == "image/heic"


def test_generic_heif_brands() -> None:
    assert sniff(_ftyp(b"mif1", b"mif1")) == "image/heif"
    assert sniff(_ftyp(b"msf1", b"msf1")) == "image/heif"
    # mif1 as major brand but HEVC coded: the compatible brand decides.
    assert sniff(_ftyp(b"mif1", b"mif1", b"heic")) == "image/heic"


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (_ftyp(b"avif", b"mif1", b"avif"), "image/avif"),
        (_ftyp(b"mif1", b"mif1", b"avif"), "image/avif"),
        (_ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio/mp4"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "application/zip"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/gzip"),
        (b"hello, this is just a note\nwith two lines\n", "text/plain"),
        ("Grüße aus Köln, 東京".encode(), "text/plain"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10"/>', "image/svg+xml"),
        (b"\x00\x01\x02\x03\xfe\xfd\xfc\x00garbage", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_non_images_are_named(head: bytes, mime: str) -> None:
    detected = sniff(head[:SNIFF_BYTES])
    assert detected == mime
    # Named, yet not taken: none of these is a photo or video the library stores (AVIF and SVG
    # included).
    assert detected not in ACCEPTED_MIMES


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (_ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),  # FFmpeg, many phones
        (_ftyp(b"mp42", b"mp42", b"isom"), "video/mp4"),  # Android's MediaMuxer
        (_ftyp(b"mp41", b"mp41"), "video/mp4"),
        (_ftyp(b"avc1", b"avc1", b"isom"), "video/mp4"),
        (_ftyp(b"iso5", b"iso6", b"mp41"), "video/mp4"),
        (_ftyp(b"XAVC", b"XAVC", b"mp42", b"iso2"), "video/mp4"),  # Sony cameras
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),  # iPhone
        (b"\x00\x00\x00\x14moov" + b"\x00" * 20, "video/quicktime"),  # old QuickTime without ftyp
        (b"\x00\x00\x00\x08wide\x00\x10\x00\x00mdat", "video/quicktime"),
        (_ftyp(b"M4V ", b"M4V ", b"M4A ", b"mp42", b"isom"), "video/x-m4v"),  # iTunes / ipod muxer
        (_ftyp(b"M4VH", b"M4VH"), "video/x-m4v"),
        (_ftyp(b"3gp4", b"3gp4", b"isom"), "video/3gpp"),
        (_ftyp(b"3gp6", b"3gp6"), "video/3gpp"),
        (_ftyp(b"3g2a", b"3g2a"), "video/3gpp"),
        # EBML: WebM and Matroska by the DocType in the header.
        (bytes.fromhex("1a45dfa39f4286810142f7810142f2810442f381084282847765626d42878104"), "video/webm"),
        (bytes.fromhex("1a45dfa3a34286810142f7810142f2810442f3810842828" "86d6174726f736b61428781044285"),
         "video/x-matroska"),
        (b"\x1a\x45\xdf\xa3\x80", "video/x-matroska"),  # no DocType in sight: the general case
    ],
)
def test_video_containers(head: bytes, mime: str) -> None:
    assert sniff(head[:SNIFF_BYTES]) == mime
    assert mime in VIDEO_MIMES and mime in ACCEPTED_MIMES


@pytest.mark.parametrize(
    "head",
    [
        _ftyp(b"heic", b"mif1", b"heic", b"iso8"),
        _ftyp(b"mif1", b"mif1", b"heic", b"mp41"),  # an MP4 brand among HEIF's does not make a video
        _ftyp(b"msf1", b"msf1", b"hevc", b"iso8"),  # a HEIF image sequence (burst) stays an image
        _ftyp(b"avis", b"avis", b"msf1", b"iso8", b"mp41"),
    ],
)
def test_heif_brands_are_not_videos(head: bytes) -> None:
    assert sniff(head[:SNIFF_BYTES]) not in VIDEO_MIMES


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    head = ("a" * (SNIFF_BYTES - 1) + "é").encode()[:SNIFF_BYTES]
    assert sniff(head) == "text/plain"


def test_sniff_file_reads_only_the_head(tmp_path) -> None:
    path = tmp_path / "photo.txt"  # the name lies; the bytes decide
    path.write_bytes(_encoded("PNG"))
    assert sniff_file(path) == "image/png"


def test_accepted_set() -> None:
    assert IMAGE_MIMES == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/tiff",
        "image/heic",
        "image/heif",
    }
    assert VIDEO_MIMES == {
        "video/mp4",
        "video/quicktime",
        "video/x-m4v",
        "video/3gpp",
        "video/webm",
        "video/x-matroska",
    }
    assert ACCEPTED_MIMES == IMAGE_MIMES | VIDEO_MIMES
