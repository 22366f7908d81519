"""Motion photos and Live Photos: where a still's clip is, and what pairs a still with a MOV.

Three shapes reach us from phones:

- Google motion photos (``MVIMG_*.jpg``, ``*.MP.jpg``): a JPEG with an MP4 appended and XMP that
  says how long the clip is, either the old ``GCamera:MicroVideoOffset`` (bytes from the end of
  the file) or a ``Container:Directory`` whose ``Item:Semantic="MotionPhoto"`` item gives its
  ``Item:Length`` (items after the primary image are laid out in order up to the end of file).
- Samsung motion photos: the JPEG's trailer holds a ``MotionPhoto_Data`` marker followed by the
  MP4 (and often Samsung's own SEF directory after it); in Samsung HEICs the clip is the payload
  of a top-level ``mpvd`` box.
- Apple Live Photos: two files, a still (HEIC or JPEG) and a MOV, that carry the same content
  identifier: the still in its Apple MakerNote (tag 0x0011), the MOV in its
  ``com.apple.quicktime.content.identifier`` metadata key.

Everything here only reads: a clip is found as an (offset, length) span of the original, never
copied, and a span is believed only when its first bytes are an MP4 ``ftyp`` box, so an XMP
that lies about the offset makes a plain photo, not a broken clip. No domain, no HTTP.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import msgspec

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

#: The marker Samsung writes right before the MP4 in a motion photo's trailer.
SAMSUNG_MARKER = b"MotionPhoto_Data"
#: The QuickTime metadata key Apple writes into a Live Photo's MOV.
QUICKTIME_CONTENT_ID = "com.apple.quicktime.content.identifier"

_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_EXIF_HEADER = b"Exif\x00\x00"
_APPLE_MAKERNOTE = b"Apple iOS\x00"
_APPLE_CONTENT_ID_TAG = 0x0011
_EXIF_IFD, _MAKERNOTE_TAG = 0x8769, 0x927C

_NS_CAMERA = "http://ns.google.com/photos/1.0/camera/"
_NS_CONTAINER = "http://ns.google.com/photos/1.0/container/"
_NS_ITEM = "http://ns.google.com/photos/1.0/container/item/"
_NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# A content identifier is a UUID in practice; anything longer or stranger is not one.
_CONTENT_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:-]{3,127}$")
# How far from the end of a JPEG we look for Samsung's marker: the trailer carries the clip,
# which is rarely above a few tens of MB; scanning is chunked, so memory stays small anyway.
_SCAN_CHUNK = 1 << 20


class EmbeddedClip(msgspec.Struct, frozen=True):
    """Where a motion photo's MP4 lies inside its original: ``length`` bytes from ``offset``."""

    offset: int
    length: int
    source: str  # google-microvideo | google-container | samsung | samsung-heic


# -- embedded clips -------------------------------------------------------------------------------


def find_embedded_clip(path: Path | str) -> EmbeddedClip | None:
    """The MP4 a motion photo at ``path`` carries, or None when it carries none we can trust."""
    with open(path, "rb") as fp:
        size = fp.seek(0, 2)
        fp.seek(0)
        head = fp.read(12)
        if head.startswith(b"\xff\xd8\xff"):
            return _jpeg_clip(fp, size)
        if head[4:8] == b"ftyp":
            return _heif_clip(fp, size)
    return None


def _jpeg_clip(fp: BinaryIO, size: int) -> EmbeddedClip | None:
    xmp, scan_start = _jpeg_header(fp)
    if xmp is not None:
        span = _google_span(xmp, size)
        if span is not None and _is_mp4(fp, span[0], span[1]):
            return EmbeddedClip(span[0], span[1], span[2])
    found = _find_last(fp, SAMSUNG_MARKER, start=scan_start, size=size)
    if found is not None:
        offset = found + len(SAMSUNG_MARKER)
        length = _mp4_extent(fp, offset, size)
        if length:
            return EmbeddedClip(offset, length, "samsung")
    return None


def _jpeg_header(fp: BinaryIO) -> tuple[bytes | None, int]:
    """The JPEG's standard XMP packet (if any) and where its first scan starts."""
    fp.seek(2)
    xmp: bytes | None = None
    while True:
        marker = fp.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return xmp, fp.tell()
        kind, length = marker[1], struct.unpack(">H", marker[2:])[0]
        if kind == 0xDA or length < 2:  # start of scan: the headers are over
            return xmp, fp.tell()
        body = fp.read(length - 2)
        if kind == 0xE1 and body.startswith(_XMP_HEADER) and xmp is None:
            xmp = body[len(_XMP_HEADER):]


def _google_span(xmp: bytes, size: int) -> tuple[int, int, str] | None:
    """(offset, length, source) of the clip the XMP describes, counted back from end of file."""
    import xml.etree.ElementTree as ET  # only for JPEGs that carry XMP: not at start-up

    try:
        root = ET.fromstring(xmp.strip(b"\x00 \r\n\t"))
    except ET.ParseError:
        return None
    # Container directory: the MotionPhoto item and every item after it end at end of file.
    items = [el for el in root.iter(f"{{{_NS_CONTAINER}}}Item")]
    tail = 0
    for item in reversed(items):
        length = _int(_xmp_value(item, _NS_ITEM, "Length"))
        padding = _int(_xmp_value(item, _NS_ITEM, "Padding")) or 0
        if _xmp_value(item, _NS_ITEM, "Semantic") == "MotionPhoto":
            if not length or length + tail > size:
                return None
            return size - tail - length, length, "google-container"
        if _xmp_value(item, _NS_ITEM, "Semantic") == "Primary":
            break
        tail += (length or 0) + padding
    for description in root.iter(f"{{{_NS_RDF}}}Description"):
        if _xmp_value(description, _NS_CAMERA, "MicroVideo") != "1":
            continue
        length = _int(_xmp_value(description, _NS_CAMERA, "MicroVideoOffset"))
        if length and length < size:
            return size - length, length, "google-microvideo"
    return None


def _xmp_value(element: ET.Element, ns: str, name: str) -> str | None:
    # XMP writes a simple property either as an attribute or as a child element.
    value = element.get(f"{{{ns}}}{name}")
    if value is None:
        child = element.find(f"{{{ns}}}{name}")
        value = child.text if child is not None else None
    return value.strip() if value is not None else None


def _int(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _heif_clip(fp: BinaryIO, size: int) -> EmbeddedClip | None:
    """Samsung's HEIC motion photos keep the MP4 as the payload of a top-level `mpvd` box."""
    for box_type, start, end, header in _boxes(fp, 0, size):
        if box_type == b"mpvd":
            offset, length = start + header, end - start - header
            if length > 0 and _is_mp4(fp, offset, length):
                return EmbeddedClip(offset, length, "samsung-heic")
    return None


def _find_last(fp: BinaryIO, needle: bytes, *, start: int, size: int) -> int | None:
    """Offset of the last ``needle`` at or after ``start``, reading backwards in chunks."""
    end = size
    while end > start:
        begin = max(start, end - _SCAN_CHUNK)
        fp.seek(begin)
        # Overlap by len(needle) - 1 so a marker across a chunk edge is still found.
        chunk = fp.read(end - begin + len(needle) - 1)
        at = chunk.rfind(needle)
        if at >= 0:
            return begin + at
        end = begin
    return None


def _is_mp4(fp: BinaryIO, offset: int, length: int) -> bool:
    """An ISO-BMFF file begins with an `ftyp` box that fits inside the span."""
    if offset < 0 or length < 16:
        return False
    fp.seek(offset)
    head = fp.read(8)
    if len(head) < 8 or head[4:8] != b"ftyp":
        return False
    box_size = struct.unpack(">I", head[:4])[0]
    return 8 < box_size <= min(length, 4096)


def _mp4_extent(fp: BinaryIO, offset: int, size: int) -> int:
    """Length of the MP4 starting at ``offset``: its top-level boxes, up to the first bytes that
    are not a box (Samsung's SEF directory follows the clip). 0 when no MP4 starts there."""
    if not _is_mp4(fp, offset, size - offset):
        return 0
    end = offset
    seen_moov = False
    for box_type, _start, box_end, _header in _boxes(fp, offset, size):
        seen_moov = seen_moov or box_type == b"moov"
        end = box_end
    return end - offset if seen_moov else 0


def _boxes(fp: BinaryIO, start: int, end: int):  # type: ignore[no-untyped-def]
    """Top-level ISO-BMFF boxes in [start, end) as (type, start, end, header size); stops at
    the first thing that is not a well-formed box."""
    at = start
    while at + 8 <= end:
        fp.seek(at)
        head = fp.read(16)
        box_size, box_type = struct.unpack(">I4s", head[:8])
        header = 8
        if box_size == 1 and len(head) == 16:
            box_size, header = struct.unpack(">Q", head[8:16])[0], 16
        elif box_size == 0:
            box_size = end - at
        if box_size < header or at + box_size > end or not all(0x20 <= c < 0x7F for c in box_type):
            return
        yield box_type, at, at + box_size, header
        at += box_size


# -- Live Photo content identifiers ----------------------------------------------------------------


def content_identifier(path: Path | str, mime: str) -> str | None:
    """The Apple content identifier that pairs a Live Photo's still with its MOV, or None.

    Stills (JPEG, HEIC) carry it in the Apple MakerNote, tag 0x0011; MOVs in their QuickTime
    metadata. Reading never decodes pixels or frames.
    """
    if mime == "image/jpeg":
        value = _makernote_id(_jpeg_exif(path))
    elif mime in ("image/heic", "image/heif"):
        value = _makernote_id(_heif_exif(path))
    elif mime == "video/quicktime":
        value = _quicktime_id(path)
    else:
        return None
    return value if value is not None and _CONTENT_ID.match(value) else None


def _jpeg_exif(path: Path | str) -> bytes | None:
    with open(path, "rb") as fp:
        fp.seek(2)
        while True:
            marker = fp.read(4)
            if len(marker) < 4 or marker[0] != 0xFF or marker[1] == 0xDA:
                return None
            length = struct.unpack(">H", marker[2:])[0]
            if length < 2:
                return None
            body = fp.read(length - 2)
            if marker[1] == 0xE1 and body.startswith(_EXIF_HEADER):
                return body[len(_EXIF_HEADER):]


def _heif_exif(path: Path | str) -> bytes | None:
    import pillow_heif  # loaded with the HEIF support the media pipeline already uses

    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
    except (OSError, ValueError, RuntimeError):
        return None
    exif = heif.info.get("exif")
    if not exif:
        return None
    return exif[len(_EXIF_HEADER):] if exif.startswith(_EXIF_HEADER) else exif


def _makernote_id(tiff: bytes | None) -> str | None:
    """Tag 0x0011 of an Apple MakerNote inside the EXIF (a TIFF structure) ``tiff``."""
    if not tiff or len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    ifd0 = struct.unpack(order + "I", tiff[4:8])[0]
    exif_ifd = _ifd_entry(tiff, order, ifd0, _EXIF_IFD)
    if exif_ifd is None:
        return None
    note = _ifd_entry(tiff, order, struct.unpack(order + "I", exif_ifd[8:12])[0], _MAKERNOTE_TAG)
    if note is None:
        return None
    _tag, _type, count, value = struct.unpack(order + "HHI4s", note)
    start = struct.unpack(order + "I", value)[0] if count > 4 else None
    if start is None or start + count > len(tiff):
        return None
    maker = tiff[start:start + count]
    # "Apple iOS\0", a 2-byte version, the byte order, then an IFD; offsets count from the
    # start of the MakerNote itself.
    if not maker.startswith(_APPLE_MAKERNOTE) or len(maker) < 16 or maker[12:14] not in (b"II", b"MM"):
        return None
    m_order = "<" if maker[12:14] == b"II" else ">"
    entry = _ifd_entry(maker, m_order, 14, _APPLE_CONTENT_ID_TAG)
    if entry is None:
        return None
    _tag, kind, count, value = struct.unpack(m_order + "HHI4s", entry)
    if kind != 2 or count > 256:  # ASCII
        return None
    raw = value[:count] if count <= 4 else maker[struct.unpack(m_order + "I", value)[0]:][:count]
    return raw.split(b"\x00", 1)[0].decode("ascii", "replace") or None


def _ifd_entry(data: bytes, order: str, offset: int, tag: int) -> bytes | None:
    """The 12-byte entry for ``tag`` in the IFD at ``offset``, or None."""
    if offset + 2 > len(data):
        return None
    count = struct.unpack(order + "H", data[offset:offset + 2])[0]
    for i in range(min(count, 1024)):
        at = offset + 2 + 12 * i
        if at + 12 > len(data):
            return None
        if struct.unpack(order + "H", data[at:at + 2])[0] == tag:
            return data[at:at + 12]
    return None


def _quicktime_id(path: Path | str) -> str | None:
    # PyAV (FFmpeg) loads on first use only, so a server that never sees a video stays small.
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            value = container.metadata.get(QUICKTIME_CONTENT_ID)
    except av.FFmpegError:
        return None
    return str(value).strip() if value else None
