"""media/strip_location.py at the byte level: files made by Pillow and PyAV with GPS, and the real
camera files of the shared corpus. The patched bytes have no GPS tag (read back by Pillow or
PyAV), the same length, the same pixels or frames, and keep their other tags; a Range of the
patched stream is that range of the patched whole; formats it cannot rewrite are refused."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import av
import pillow_heif
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from http_support import CORPUS, needs_corpus
from octopus_events.media import sniff
from octopus_events.media.strip_location import CannotStrip, apply, location_patches
from video_support import ANDROID_TAGS, APPLE_TAGS, clip

pillow_heif.register_heif_opener()
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.495N" '
       b'exif:GPSLongitude="2,17.671E"><exif:GPSAltitude>35/1</exif:GPSAltitude></rdf:Description>'
       b'</rdf:RDF></x:xmpmeta>')


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Maker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = "N", "E"
    gps[2] = (IFDRational(48), IFDRational(51), IFDRational(2970, 100))
    gps[4] = (IFDRational(2), IFDRational(17), IFDRational(4028, 100))
    return exif


def made(fmt: str, tmp: Path) -> Path:
    img = Image.new("RGB", (64, 48), (10, 200, 30))
    for x in range(64):
        img.putpixel((x, x % 48), (x * 4, 0, 255 - x * 4))
    out = io.BytesIO()
    options = {"exif": gps_exif().tobytes()}
    if fmt == "WEBP":
        options["lossless"] = True
    if fmt in ("JPEG", "WEBP"):
        options["xmp"] = XMP
    img.save(out, fmt, **options)
    path = tmp / f"gps.{fmt.lower()}"
    path.write_bytes(out.getvalue())
    return path


def stripped(path: Path) -> bytes:
    data = path.read_bytes()
    patches = location_patches(path, sniff(data[:64]))
    new = apply(data, 0, patches)
    assert len(new) == len(data)
    # Streaming in uneven chunks gives the same bytes as patching the whole.
    pieces, at = [], 0
    for size in (1, 7, 100, 4096, 65536):
        pieces.append(apply(data[at:at + size], at, patches))
        at += size
    pieces.append(apply(data[at:], at, patches))
    assert b"".join(pieces) == new
    return new


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_gps_leaves_each_image_format_and_nothing_else_does(fmt: str, tmp_path: Path) -> None:
    path = made(fmt, tmp_path)
    before = Image.open(path)
    assert dict(before.getexif().get_ifd(0x8825))
    new = stripped(path)
    after = Image.open(io.BytesIO(new))
    exif = after.getexif()
    assert 0x8825 not in exif and not dict(exif.get_ifd(0x8825))
    assert exif[0x010F] == "Maker"
    assert after.tobytes() == before.tobytes()
    assert b"GPSLatitude" not in new and b"51.495N" not in new and b"GPSAltitude" not in new
    if fmt == "PNG":  # every chunk's CRC still right (Pillow would refuse a wrong one in a strict read)
        at = 8
        while at < len(new):
            length = int.from_bytes(new[at:at + 4], "big")
            kind, body = new[at + 4:at + 8], new[at + 8:at + 8 + length]
            assert int.from_bytes(new[at + 8 + length:at + 12 + length], "big") == zlib.crc32(kind + body), kind
            at += 12 + length


@needs_corpus
def test_real_camera_files_lose_their_gps(tmp_path: Path) -> None:
    files = sorted((CORPUS / "jpg" / "gps").glob("*.jpg")) + [CORPUS / "heic" / "IMG_5195.HEIC",
                                                               CORPUS / "jpg" / "mobile" / "HMD_Nokia_8.3_5G.jpg"]
    for path in files:
        before = Image.open(path)
        assert dict(before.getexif().get_ifd(0x8825)), path
        after = Image.open(io.BytesIO(stripped(path)))
        assert not dict(after.getexif().get_ifd(0x8825)), path
        assert after.getexif().get(0x0110) == before.getexif().get(0x0110)  # the camera model stays
        assert after.tobytes() == before.tobytes(), path


@pytest.mark.parametrize("container,tags,needle", [("mov", APPLE_TAGS, b"+48.8584"), ("mp4", ANDROID_TAGS, b"151.2153"),
                                                   ("3gp", ANDROID_TAGS, b"loci")])
def test_videos_lose_their_location_atoms(container: str, tags: dict[str, str], needle: bytes) -> None:
    path = clip(container=container, tags=tags, seed=3)
    assert needle in path.read_bytes()
    new = stripped(path)
    assert needle not in new
    with av.open(io.BytesIO(new)) as c:
        assert not any("location" in k.lower() for k in c.metadata), c.metadata
        assert sum(1 for _ in c.decode(video=0)) == 20
    with av.open(str(path)) as c:
        assert any("location" in k.lower() for k in c.metadata)


def test_files_it_cannot_rewrite_are_refused(tmp_path: Path) -> None:
    # Matroska keeps tags in its own element tree, which this module does not rewrite.
    webm = tmp_path / "clip.webm"
    webm.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(60))
    for mime in ("video/webm", "video/x-matroska", "application/octet-stream"):
        with pytest.raises(CannotStrip):
            location_patches(webm, mime)
    broken = tmp_path / "broken.jpg"
    # An IFD that claims 65,535 entries in an 18-byte segment: its GPS pointer cannot be found.
    broken.write_bytes(b"\xff\xd8\xff\xe1\x00\x12Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff\xff\xd9")
    with pytest.raises(CannotStrip):
        location_patches(broken, "image/jpeg")
    assert location_patches(tmp_path / "broken.jpg", "image/gif") == []  # GIF carries no EXIF
