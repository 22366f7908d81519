"""Tell what a file is from its first bytes, never from its name or a client's Content-Type."""

from __future__ import annotations

from pathlib import Path

#: How many leading bytes :func:`sniff` needs to decide.
SNIFF_BYTES = 64

#: Photos: what Pillow (and pillow-heif) decode.
IMAGE_MIMES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/heic", "image/heif"}
)
HEIF_MIMES: frozenset[str] = frozenset({"image/heic", "image/heif"})
#: Containers whose video stream :func:`~octopus_events.media.video.analyse_video` reads.
VIDEO_MIMES: frozenset[str] = frozenset(
    {"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp", "video/webm", "video/x-matroska"}
)
#: Everything :func:`~octopus_events.media.ingest.analyse` takes: photos and videos.
ACCEPTED_MIMES: frozenset[str] = IMAGE_MIMES | VIDEO_MIMES

# Brands that mean "HEVC-coded still image(s)": pillow-heif decodes these.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs"})
# Generic HEIF structure brands: the codec is only known from the compatible brands.
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def sniff(head: bytes) -> str:
    """Return the MIME type that the leading bytes of a file identify.

    ``head`` should hold at least :data:`SNIFF_BYTES` bytes (fewer when the file is shorter).
    Unknown binary data is ``application/octet-stream``; whether the type is acceptable is
    a separate question (:data:`ACCEPTED_MIMES`).
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    # Classic TIFF (42) and BigTIFF (43), in both byte orders.
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "video/quicktime"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _sniff_ebml(head)
    if _looks_like_text(head):
        lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
            return "image/svg+xml"
        return "text/plain"
    return "application/octet-stream"


def sniff_file(path: Path | str) -> str:
    """Return the MIME type of the file at ``path`` (see :func:`sniff`)."""
    with open(path, "rb") as fp:
        return sniff(fp.read(SNIFF_BYTES))


def _sniff_ftyp(head: bytes) -> str:
    major = head[8:12]
    # Compatible brands run from byte 16 to the end of the ftyp box (bounded by what we read).
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    compatible = {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if major in _HEIC_BRANDS:
        return "image/heic"
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIF_BRANDS:
        if compatible & _HEIC_BRANDS:
            return "image/heic"
        if compatible & _AVIF_BRANDS:
            return "image/avif"
        return "image/heif"
    if major == b"qt  ":
        return "video/quicktime"
    if major.startswith(b"3g"):
        return "video/3gpp"  # 3gp4..3gp6, 3g2a (3GPP2 is the same container to us)
    if major in (b"M4V ", b"M4VH", b"M4VP"):
        return "video/x-m4v"
    if major in (b"M4A ", b"M4B ", b"M4P ", b"F4A "):
        return "audio/mp4"  # iTunes music and audiobooks, whatever else they claim
    # isom, iso2..iso6, mp41, mp42, avc1 (FFmpeg, phones), XAVC (Sony), MSNV, dash...: whatever
    # the brand, an MP4 box structure is FFmpeg's to judge, and it refuses what it cannot read.
    return "video/mp4"


def _sniff_ebml(head: bytes) -> str:
    """Matroska and WebM share the EBML container: the header's DocType element tells them apart.

    Muxers write DocType within the first few dozen bytes, so a short head suffices; an EBML file
    whose DocType we cannot find is taken for Matroska, the general case.
    """
    at = head.find(b"\x42\x82", 4)  # the DocType element ID
    if at >= 0 and at + 3 <= len(head):
        size_byte = head[at + 2]
        if size_byte & 0x80:  # a one-byte size, as every muxer writes it
            doc_type = head[at + 3 : at + 3 + (size_byte & 0x7F)]
            if doc_type == b"webm":
                return "video/webm"
    return "video/x-matroska"


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 byte-order mark
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off by the SNIFF_BYTES boundary is still text.
        if exc.start < len(head) - 3:
            return False
    controls = sum(1 for b in head if b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B))
    return controls == 0
