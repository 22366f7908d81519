"""Is an image file whole? Structural checks per format, run before anything is stored.

Decoding proves a file whole only where the decode reads all of it, and ours often does not: a
JPEG thumb decodes at 1/8 scale, a HEIC thumb from its embedded thumbnail, a TIFF or GIF only
its first page or frame, and libpng never looks past the image data. So each format's own
structure is walked instead, in C-speed steps (``bytes.find``, ``zlib.crc32``) over a read-only
map of the file: a few hundred microseconds for a 3 MB JPEG. What each check proves:

- JPEG: every segment's marker and length line up from SOI through each scan, and the scan
  data ends in EOI. Bytes after EOI are accepted (phones append motion-photo MP4s and vendor
  trailers there). A flipped bit inside the entropy-coded data or inside a segment's payload
  is not visible to any structural check; one in a marker or a length is.
- PNG: every chunk inside the file with a matching CRC, from IHDR to IEND.
- TIFF: every IFD of the chain, and each one's strips or tiles, inside the file.
- HEIC/HEIF: every top-level box inside the file, and every item extent (``iloc``) inside the
  file or its ``idat``.
- WebP: the RIFF size and every chunk inside the file. GIF: every block up to the trailer.

A failed check raises :class:`BrokenImage`; nothing here decodes pixels.
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from typing import IO, Union

from octopus_events.media.errors import BrokenImage

# Bounds on structures a hostile file could make us loop over for ever.
_MAX_SEGMENTS = 100_000
_MAX_IFDS = 1_000
# A 200 MP TIFF written a row per strip has ~12,000 strips; 256 px tiles, ~3,000.
_MAX_STRIPS = 1 << 20
_MAX_BOXES = 100_000

Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]


def check_whole(fp: IO[bytes], mime: str) -> None:
    """Raise :class:`BrokenImage` unless the image open on ``fp`` (a real file) is structurally
    whole for its ``mime``. ``fp``'s position is not used and is left where it was."""
    if mime not in _CHECKERS:
        return
    where = fp.tell()
    try:
        # A map, not a read: the file's pages are walked in place, never copied.
        with mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ) as data:
            check_buffer(data, mime)
    except (ValueError, OSError) as exc:  # an empty file cannot be mapped
        raise BrokenImage(f"the {mime} file is damaged or incomplete: cannot read it: {exc}") from None
    finally:
        fp.seek(where)


def check_buffer(data: Buffer, mime: str) -> None:
    """:func:`check_whole` on the bytes of a whole file already in memory (or mapped)."""
    checker = _CHECKERS.get(mime)
    if checker is None:
        return
    try:
        problem = checker(data) if len(data) else "it is empty"
    except (struct.error, IndexError):
        problem = "a structure runs past the end of the file"
    if problem is not None:
        raise BrokenImage(f"the {mime} file is damaged or incomplete: {problem}")


# --- JPEG -------------------------------------------------------------------------------------

# After a scan, the next byte pair that is 0xFF and neither a stuffed zero nor a restart marker.
_JPEG_MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SOI, _EOI, _SOS, _TEM = 0xD8, 0xD9, 0xDA, 0x01


def _check_jpeg(data: Buffer) -> str | None:
    size = len(data)
    if data[:2] != b"\xff\xd8":
        return "no start-of-image marker"
    pos = 2
    scans = 0
    for _ in range(_MAX_SEGMENTS):
        if pos + 2 > size:
            return "it ends before the end-of-image marker" if scans else "it ends before any image data"
        if data[pos] != 0xFF:
            return f"no marker where one belongs (offset {pos})"
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes before a marker are allowed
            pos += 1
            continue
        if marker == _EOI:
            return None if scans else "it ends before any image data"
        if marker == _TEM or 0xD0 <= marker <= 0xD7:
            pos += 2  # standalone markers carry no length
            continue
        if marker < 0xC0:
            return f"an invalid marker 0xFF{marker:02X} (offset {pos})"
        if pos + 4 > size:
            return "a segment header runs past the end of the file"
        length = (data[pos + 2] << 8) | data[pos + 3]
        if length < 2 or pos + 2 + length > size:
            return f"a segment runs past the end of the file (offset {pos})"
        pos += 2 + length
        if marker == _SOS:
            scans += 1
            found = _JPEG_MARKER_AFTER_SCAN.search(data, pos)
            if found is None:
                return "the image data is cut short (no end-of-image marker)"
            pos = found.start()
    return "too many segments"


# --- PNG --------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(data: Buffer) -> str | None:
    size = len(data)
    if data[:8] != _PNG_SIGNATURE:
        return "no PNG signature"
    pos = 8
    first = True
    for _ in range(_MAX_SEGMENTS):
        if pos + 12 > size:
            return "it ends before the IEND chunk"
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 8 + length
        if end + 4 > size:
            return f"the {_name(kind)} chunk runs past the end of the file"
        if first and kind != b"IHDR":
            return "the first chunk is not IHDR"
        first = False
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(memoryview(data)[pos + 4 : end]) != crc:
            return f"the {_name(kind)} chunk at offset {pos} fails its CRC"
        if kind == b"IEND":
            return None
        pos = end + 4
    return "too many chunks"


def _name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else repr(kind)


# --- TIFF -------------------------------------------------------------------------------------

_STRIP_OFFSETS, _STRIP_BYTE_COUNTS = 273, 279
_TILE_OFFSETS, _TILE_BYTE_COUNTS = 324, 325
# TIFF field types: size in bytes of one value.
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_TIFF_INTS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}


def _check_tiff(data: Buffer) -> str | None:
    size = len(data)
    order = {b"II": "<", b"MM": ">"}.get(bytes(data[:2]))
    if order is None:
        return "no TIFF byte-order mark"
    (version,) = struct.unpack_from(order + "H", data, 2)
    if version == 42:
        big = False
        (offset,) = struct.unpack_from(order + "I", data, 4)
    elif version == 43:
        big = True
        (offset,) = struct.unpack_from(order + "Q", data, 8)
    else:
        return f"an unknown TIFF version {version}"
    count_fmt, entry_size, value_size = ("Q", 20, 8) if big else ("H", 12, 4)
    count_size = 8 if big else 2
    seen: set[int] = set()
    for _ in range(_MAX_IFDS):
        if offset == 0:
            return None if seen else "no image directory"
        if offset in seen:
            return None  # a loop back to a directory already checked
        seen.add(offset)
        if offset + count_size > size:
            return f"an image directory (offset {offset}) lies past the end of the file"
        (entries,) = struct.unpack_from(order + count_fmt, data, offset)
        table = offset + count_size
        next_at = table + entries * entry_size
        if next_at + value_size > size:
            return f"the image directory at offset {offset} runs past the end of the file"
        fields: dict[int, list[int]] = {}
        for i in range(entries):
            at = table + i * entry_size
            tag, kind = struct.unpack_from(order + "HH", data, at)
            (count,) = struct.unpack_from(order + ("Q" if big else "I"), data, at + 4)
            width = _TIFF_TYPE_SIZES.get(kind, 1) * count
            value_at = at + (12 if big else 8)
            if width > value_size:
                (value_at,) = struct.unpack_from(order + ("Q" if big else "I"), data, value_at)
                if value_at + width > size:
                    return f"tag {tag} of the directory at offset {offset} points past the end of the file"
            if tag in (_STRIP_OFFSETS, _STRIP_BYTE_COUNTS, _TILE_OFFSETS, _TILE_BYTE_COUNTS):
                fmt = _TIFF_INTS.get(kind)
                if fmt is None:
                    return f"tag {tag} has a non-integer type {kind}"
                if count > _MAX_STRIPS:  # unpacking them would cost more memory than the photo
                    return f"tag {tag} lists {count} strips or tiles"
                fields[tag] = list(struct.unpack_from(f"{order}{count}{fmt}", data, value_at))
        problem = _check_extents(fields, _STRIP_OFFSETS, _STRIP_BYTE_COUNTS, "strip", size) or _check_extents(
            fields, _TILE_OFFSETS, _TILE_BYTE_COUNTS, "tile", size
        )
        if problem:
            return problem
        if _STRIP_OFFSETS not in fields and _TILE_OFFSETS not in fields:
            return f"the image directory at offset {offset} has no image data"
        (offset,) = struct.unpack_from(order + ("Q" if big else "I"), data, next_at)
    return "too many image directories"


def _check_extents(fields: dict[int, list[int]], offsets_tag: int, counts_tag: int, what: str, size: int) -> str | None:
    offsets = fields.get(offsets_tag)
    if offsets is None:
        return None
    counts = fields.get(counts_tag)
    if counts is None or len(counts) != len(offsets):
        return f"the {what} byte counts do not match the {what} offsets"
    for start, length in zip(offsets, counts, strict=True):
        if start + length > size:
            return f"a {what} (offset {start}, {length} bytes) runs past the end of the file"
    return None


# --- HEIC/HEIF --------------------------------------------------------------------------------


def _boxes(data: Buffer, start: int, end: int) -> list[tuple[bytes, int, int]] | str:
    """The boxes between ``start`` and ``end`` as (type, payload start, box end), or a problem."""
    out: list[tuple[bytes, int, int]] = []
    pos = start
    while pos < end:
        if len(out) >= _MAX_BOXES:
            return "too many boxes"
        if pos + 8 > end:
            return f"a box header at offset {pos} is cut short"
        length, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if length == 1:
            if pos + 16 > end:
                return f"a box header at offset {pos} is cut short"
            (length,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif length == 0:
            length = end - pos  # the box runs to the end of its container
        if length < header or pos + length > end:
            return f"the {_name(kind)} box at offset {pos} runs past the end of the file"
        out.append((kind, pos + header, pos + length))
        pos += length
    return out


def _check_heif(data: Buffer) -> str | None:
    size = len(data)
    top = _boxes(data, 0, size)
    if isinstance(top, str):
        return top
    meta = next(((s, e) for kind, s, e in top if kind == b"meta"), None)
    if meta is None:
        return "no meta box"
    children = _boxes(data, meta[0] + 4, meta[1])  # meta is a full box: version and flags first
    if isinstance(children, str):
        return children
    iloc = next(((s, e) for kind, s, e in children if kind == b"iloc"), None)
    if iloc is None:
        return "no item locations (iloc)"
    idat = next(((s, e) for kind, s, e in children if kind == b"idat"), None)
    return _check_iloc(data, iloc[0], iloc[1], size, idat)


def _check_iloc(data: Buffer, pos: int, end: int, size: int, idat: tuple[int, int] | None) -> str | None:
    """Every extent of every item in the file (construction method 0) or the idat (method 1)."""
    version = data[pos]
    pos += 4
    sizes = (data[pos] << 8) | data[pos + 1]
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    pos += 2
    if version < 2:
        (count,) = struct.unpack_from(">H", data, pos)
        pos += 2
    else:
        (count,) = struct.unpack_from(">I", data, pos)
        pos += 4

    def read(width: int) -> int:
        nonlocal pos
        if pos + width > end:
            raise IndexError("iloc")
        value = int.from_bytes(data[pos : pos + width], "big") if width else 0
        pos += width
        return value

    for _ in range(count):
        read(2 if version < 2 else 4)  # item ID
        method = read(2) & 15 if version in (1, 2) else 0
        read(2)  # data reference index
        base = read(base_size)
        for _ in range(read(2)):
            read(index_size)
            offset = base + read(offset_size)
            length = read(length_size)
            if method == 0:
                if offset + length > size or offset > size:
                    return f"an item's data (offset {offset}, {length} bytes) lies past the end of the file"
            elif method == 1:
                if idat is None or offset + length > idat[1] - idat[0]:
                    return "an item's data lies outside the idat box"
    return None


# --- WebP and GIF -----------------------------------------------------------------------------


def _check_webp(data: Buffer) -> str | None:
    size = len(data)
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return "no RIFF/WEBP header"
    (riff,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff
    if end > size:
        return "it is shorter than its RIFF header says"
    pos = 12
    chunks = 0
    while pos < end:
        if pos + 8 > end:
            return "a chunk header is cut short"
        (length,) = struct.unpack_from("<I", data, pos + 4)
        pos += 8 + length + (length & 1)
        if pos > end + (length & 1):
            return "a chunk runs past the end of the file"
        chunks += 1
        if chunks > _MAX_SEGMENTS:
            return "too many chunks"
    return None if chunks else "no chunks"


def _check_gif(data: Buffer) -> str | None:
    size = len(data)
    if data[:3] != b"GIF":
        return "no GIF header"
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    images = 0
    for _ in range(_MAX_SEGMENTS):
        if pos >= size:
            return "it ends before the GIF trailer"
        block = data[pos]
        if block == 0x3B:
            return None if images else "no image in it"
        if block == 0x21:  # extension: label, then sub-blocks
            pos += 2
        elif block == 0x2C:  # image descriptor, optional local colour table, LZW code size
            if pos + 10 > size:
                return "an image descriptor is cut short"
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            images += 1
        else:
            return f"an unknown block 0x{block:02X} at offset {pos}"
        # Sub-blocks: a length byte and that many bytes, until a zero length.
        while True:
            if pos >= size:
                return "it ends inside a data block"
            length = data[pos]
            pos += 1 + length
            if length == 0:
                break
    return "too many blocks"


_CHECKERS = {
    "image/jpeg": _check_jpeg,
    "image/png": _check_png,
    "image/tiff": _check_tiff,
    "image/heic": _check_heif,
    "image/heif": _check_heif,
    "image/webp": _check_webp,
    "image/gif": _check_gif,
}
