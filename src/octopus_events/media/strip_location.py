"""Serve a file without its location: the byte patches that remove GPS from it, never touching it.

A share link with `show_location = false` must not hand out where a photo was taken, yet the
stored original is a fact and must stay byte for byte as uploaded. So this module reads a file's
metadata once and returns *patches*: (offset, bytes) pairs of the same length as what they
replace. Serving applies them to the chunks as they stream by; the size never changes, so
`Range` requests, `Content-Length` and seeking in videos work exactly as for the original.

What is removed, per format:

- EXIF (JPEG APP1, PNG `eXIf`, WebP `EXIF`, TIFF files, HEIF `Exif` items): the GPSInfo entry
  goes from every IFD that has one (the following entries move up, the count drops by one, the
  freed 12 bytes are zero) and the GPS IFD itself with every value it points to is zeroed.
- XMP (JPEG APP1, PNG `iTXt`, WebP `XMP `, TIFF tag 700, HEIF `mime` items, MP4 XMP `uuid`
  boxes): every `exif:GPS…` / `Iptc4xmpExt:LocationShown`… property, attribute or element, is
  overwritten with spaces, which leaves well-formed XML.
- PNG chunks whose data changed get their CRC recomputed (also a patch).
- MP4 / MOV / M4V / 3GP (ISO BMFF): `©xyz` and `loci` boxes (in `udta` or an iTunes `ilst`)
  become `free` boxes with zeroed contents; QuickTime `keys`/`ilst` items whose key names a
  location (`com.apple.quicktime.location.ISO6709`, `…location.accuracy…`) likewise; XMP `uuid`
  boxes are scrubbed as above.

A format this cannot rewrite safely (Matroska/WebM, anything unknown) raises `CannotStrip`; the
caller then refuses the original (the link still shows thumbnails and previews, which never
carry metadata: `derivatives.encode_jpeg`).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

Patch = tuple[int, bytes]
MAX_METADATA = 64 * 1024 * 1024  # a moov or metadata block larger than this is not read whole

GPS_TAG = 0x8825
XMP_TAG = 700
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}


class CannotStrip(Exception):
    """This file's format cannot be served without its location safely."""


# -- EXIF (TIFF structure) ---------------------------------------------------------------------


def tiff_patches(data: bytes, base: int) -> list[Patch]:
    """Patches (relative to the file, `base` = where this TIFF starts) removing GPS from it."""
    if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise CannotStrip("not a TIFF header")
    end = "<" if data[:2] == b"II" else ">"
    u16, u32 = struct.Struct(end + "H"), struct.Struct(end + "I")
    patches: list[Patch] = []
    seen: set[int] = set()
    offset = u32.unpack_from(data, 4)[0]
    pending = [offset]
    while pending:
        ifd = pending.pop()
        if ifd == 0 or ifd in seen or ifd + 2 > len(data):
            continue
        seen.add(ifd)
        count = u16.unpack_from(data, ifd)[0]
        if ifd + 2 + 12 * count + 4 > len(data):
            raise CannotStrip("an IFD runs past the end of the metadata")
        entries = [data[ifd + 2 + 12 * i: ifd + 14 + 12 * i] for i in range(count)]
        next_ifd = u32.unpack_from(data, ifd + 2 + 12 * count)[0]
        kept = []
        for entry in entries:
            tag, kind, n = u16.unpack_from(entry, 0)[0], u16.unpack_from(entry, 2)[0], u32.unpack_from(entry, 4)[0]
            value = u32.unpack_from(entry, 8)[0]
            if tag == GPS_TAG:
                patches.extend(_zero_gps_ifd(data, value, u16, u32, base))
                continue
            if tag in (0x8769, 0xA005):  # Exif IFD, Interoperability IFD: GPS is never there, but walk
                pending.append(value)
            if tag == XMP_TAG and kind in (1, 7) and n > 4:
                patches.extend(xmp_patches(data[value:value + n], base + value))
            kept.append(entry)
        if len(kept) != len(entries):
            block = u16.pack(len(kept)) + b"".join(kept) + u32.pack(next_ifd) + b"\x00" * 12 * (len(entries) - len(kept))
            patches.append((base + ifd, block))
        pending.append(next_ifd)
    return patches


def _zero_gps_ifd(data: bytes, ifd: int, u16: struct.Struct, u32: struct.Struct, base: int) -> list[Patch]:
    if ifd + 2 > len(data):
        return []
    count = u16.unpack_from(data, ifd)[0]
    size = 2 + 12 * count + 4
    if ifd + size > len(data):
        raise CannotStrip("the GPS IFD runs past the end of the metadata")
    patches = [(base + ifd, b"\x00" * size)]
    for i in range(count):
        at = ifd + 2 + 12 * i
        kind, n = u16.unpack_from(data, at + 2)[0], u32.unpack_from(data, at + 4)[0]
        length = _TYPE_SIZES.get(kind, 1) * n
        if length > 4:
            value = u32.unpack_from(data, at + 8)[0]
            if value + length <= len(data):
                patches.append((base + value, b"\x00" * length))
    return patches


# -- XMP --------------------------------------------------------------------------------------

_XMP_NAMES = rb"(?:exif:GPS\w*|exifEX:GPS\w*|Iptc4xmpExt:Location\w*|photoshop:(?:City|State|Country)|" \
             rb"Iptc4xmpCore:(?:Location|CountryCode)|drone-dji:\w*(?:Latitude|Longitude|Altitude)\w*)"
_XMP_ELEMENT = re.compile(rb"<(" + _XMP_NAMES + rb")\b[^>]*?(?:/>|>.*?</\1\s*>)", re.S)
_XMP_ATTRIBUTE = re.compile(rb"\s" + _XMP_NAMES + rb"\s*=\s*(?:\"[^\"]*\"|'[^']*')")


def xmp_patches(data: bytes, base: int) -> list[Patch]:
    """Spaces over every location property of an XMP packet (the XML stays well-formed)."""
    patches: list[Patch] = []
    for pattern in (_XMP_ELEMENT, _XMP_ATTRIBUTE):
        for m in pattern.finditer(data):
            patches.append((base + m.start(), b" " * (m.end() - m.start())))
    return patches


# -- containers -------------------------------------------------------------------------------


def _read(fh, offset: int, length: int) -> bytes:  # type: ignore[no-untyped-def]
    if length > MAX_METADATA:
        raise CannotStrip("a metadata block is too large to read")
    fh.seek(offset)
    data = fh.read(length)
    if len(data) != length:
        raise CannotStrip("the file ends inside a metadata block")
    return data


def _jpeg(fh, size: int) -> list[Patch]:  # type: ignore[no-untyped-def]
    patches: list[Patch] = []
    fh.seek(0)
    if fh.read(2) != b"\xff\xd8":
        raise CannotStrip("not a JPEG")
    at = 2
    while at + 4 <= size:
        fh.seek(at)
        head = fh.read(4)
        if head[0] != 0xFF:
            raise CannotStrip("a JPEG marker was expected")
        marker = head[1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end: metadata comes before it
            break
        length = struct.unpack(">H", head[2:4])[0]
        if marker == 0xE1:
            body = _read(fh, at + 4, length - 2)
            if body.startswith(b"Exif\x00\x00"):
                patches.extend(tiff_patches(body[6:], at + 10))
            elif body.startswith((b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")):
                patches.extend(xmp_patches(body, at + 4))
        at += 2 + length
    return patches


def _png(fh, size: int) -> list[Patch]:  # type: ignore[no-untyped-def]
    patches: list[Patch] = []
    at = 8
    while at + 12 <= size:
        fh.seek(at)
        length, kind = struct.unpack(">I4s", fh.read(8))
        if kind in (b"IDAT", b"IEND"):
            if kind == b"IEND":
                break
            at += 12 + length
            continue
        if kind in (b"eXIf", b"iTXt", b"tEXt", b"zTXt"):
            data = _read(fh, at + 8, length)
            found: list[Patch] = []
            if kind == b"eXIf":
                found = tiff_patches(data[6:] if data.startswith(b"Exif\x00\x00") else data,
                                     at + 8 + (6 if data.startswith(b"Exif\x00\x00") else 0))
            elif kind == b"iTXt" and data.startswith(b"XML:com.adobe.xmp\x00"):
                if data[18:19] == b"\x01":
                    raise CannotStrip("compressed XMP in a PNG")
                found = xmp_patches(data, at + 8)
            elif data.split(b"\x00", 1)[0].lower() in (b"raw profile type exif", b"raw profile type xmp"):
                raise CannotStrip("EXIF hidden in a PNG text chunk")
            if found:
                patches.extend(found)
                patched = bytearray(data)
                for offset, new in found:
                    patched[offset - at - 8: offset - at - 8 + len(new)] = new
                patches.append((at + 8 + length, struct.pack(">I", zlib.crc32(kind + bytes(patched)) & 0xFFFFFFFF)))
        at += 12 + length
    return patches


def _webp(fh, size: int) -> list[Patch]:  # type: ignore[no-untyped-def]
    patches: list[Patch] = []
    at = 12
    while at + 8 <= size:
        fh.seek(at)
        kind, length = struct.unpack("<4sI", fh.read(8))
        if kind == b"EXIF":
            data = _read(fh, at + 8, length)
            skip = 6 if data.startswith(b"Exif\x00\x00") else 0
            patches.extend(tiff_patches(data[skip:], at + 8 + skip))
        elif kind == b"XMP ":
            patches.extend(xmp_patches(_read(fh, at + 8, length), at + 8))
        at += 8 + length + (length & 1)
    return patches


def _tiff(fh, size: int) -> list[Patch]:  # type: ignore[no-untyped-def]
    # A TIFF's IFDs may sit anywhere, after megabytes of pixels; the file is read whole only
    # when it is small enough.
    return tiff_patches(_read(fh, 0, size), 0)


# ISO BMFF boxes whose children are boxes (the path to udta, meta, ilst).
_CONTAINERS = {b"moov", b"trak", b"udta", b"mdia", b"minf", b"edts", b"ilst"}
_LOCATION_BOXES = {b"\xa9xyz", b"loci"}
_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, bytes, int]]:
    """(offset, size, type, header length) of each box in data[start:end]."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > end:
                return
            size = struct.unpack_from(">Q", data, at + 8)[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise CannotStrip("a box runs past its parent")
        yield at, size, kind, header
        at += size


def _free(at: int, size: int, header: int) -> list[Patch]:
    """The box at `at` turned into a `free` box with zeroed contents."""
    return [(at + 4, b"free"), (at + header, b"\x00" * (size - header))]


Item = tuple[str, int, int]  # a HEIF metadata item: ("exif" | "xmp", file offset, length)


def _bmff_walk(data: bytes, start: int, end: int, base: int, items: list[Item]) -> list[Patch]:
    patches: list[Patch] = []
    for at, size, kind, header in _boxes(data, start, end):
        if kind in _LOCATION_BOXES:
            patches.extend(_free(base + at, size, header))
        elif kind == b"uuid" and data[at + header:at + header + 16] == _XMP_UUID:
            patches.extend(xmp_patches(data[at:at + size], base + at))
        elif kind == b"meta":
            patches.extend(_bmff_meta(data, at, size, header, base, items))
        elif kind in _CONTAINERS:
            patches.extend(_bmff_walk(data, at + header, at + size, base, items))
    return patches


def _bmff_meta(data: bytes, at: int, size: int, header: int, base: int, items: list[Item]) -> list[Patch]:
    # An ISO `meta` is a full box (4 bytes of version and flags before its children); QuickTime's
    # is not. QuickTime's first child is `hdlr`, so look where it would be.
    inner = at + header
    if data[inner + 4:inner + 8] != b"hdlr":
        inner += 4
    children = list(_boxes(data, inner, at + size))
    location_keys: set[int] = set()
    for c_at, c_size, kind, c_header in children:
        if kind == b"keys":
            count = struct.unpack_from(">I", data, c_at + c_header + 4)[0]
            k = c_at + c_header + 8
            for index in range(1, count + 1):
                if k + 8 > c_at + c_size:
                    break
                k_size = struct.unpack_from(">I", data, k)[0]
                name = data[k + 8:k + k_size].lower()
                if b"location" in name or b"gps" in name:
                    location_keys.add(index)
                k += max(8, k_size)
    patches: list[Patch] = []
    for c_at, c_size, kind, c_header in children:
        if kind == b"ilst":
            for i_at, i_size, i_kind, i_header in _boxes(data, c_at + c_header, c_at + c_size):
                if i_kind in _LOCATION_BOXES or struct.unpack(">I", i_kind)[0] in location_keys:
                    patches.extend(_free(base + i_at, i_size, i_header))
        elif kind == b"uuid" and data[c_at + c_header:c_at + c_header + 16] == _XMP_UUID:
            patches.extend(xmp_patches(data[c_at:c_at + c_size], base + c_at))
        elif kind in _LOCATION_BOXES:
            patches.extend(_free(base + c_at, c_size, c_header))
    items.extend(_heif_items(data, children))
    return patches


def _heif_items(data: bytes, children: list[tuple[int, int, bytes, int]]) -> list[Item]:
    """HEIF `Exif` and XMP (`mime`) items, located through `iinf` and `iloc` (construction
    method 0: offsets in the file); their bytes lie outside `meta` and are read by `_bmff`."""
    wanted: dict[int, str] = {}
    iloc: tuple[int, int] | None = None
    for c_at, c_size, kind, c_header in children:
        if kind == b"iinf":
            version = data[c_at + c_header]
            pos = c_at + c_header + 4
            pos += 2 if version == 0 else 4
            for e_at, e_size, e_kind, e_header in _boxes(data, pos, c_at + c_size):
                if e_kind != b"infe":
                    continue
                v = data[e_at + e_header]
                if v < 2:
                    continue
                p = e_at + e_header + 4
                item_id = struct.unpack_from(">H" if v == 2 else ">I", data, p)[0]
                p += 2 if v == 2 else 4
                p += 2  # protection index
                item_type = data[p:p + 4]
                if item_type == b"Exif":
                    wanted[item_id] = "exif"
                elif item_type == b"mime":
                    rest = data[p + 4:e_at + e_size]
                    if b"application/rdf+xml" in rest:
                        wanted[item_id] = "xmp"
        elif kind == b"iloc":
            iloc = (c_at + c_header, c_at + c_size)
    if not wanted:
        return []
    if iloc is None:
        raise CannotStrip("HEIF metadata items without locations")
    extents = _iloc(data, *iloc)
    return [(what, offset, length) for item_id, what in wanted.items() for offset, length in extents.get(item_id, [])]


def _iloc(data: bytes, start: int, end: int) -> dict[int, list[tuple[int, int]]]:
    version = data[start]
    p = start + 4
    sizes = data[p], data[p + 1]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15) if version in (1, 2) else 0
    p += 2

    def read(n: int) -> int:
        nonlocal p
        if n == 0:
            return 0
        value = int.from_bytes(data[p:p + n], "big")
        p += n
        return value

    count = read(2 if version < 2 else 4)
    out: dict[int, list[tuple[int, int]]] = {}
    for _ in range(count):
        item_id = read(2 if version < 2 else 4)
        method = read(2) & 15 if version in (1, 2) else 0
        read(2)  # data reference index
        base_offset = read(base_size)
        extents = []
        for _ in range(read(2)):
            read(index_size)
            extents.append((base_offset + read(offset_size), read(length_size)))
        if method == 0:
            out[item_id] = extents
        if p > end:
            raise CannotStrip("iloc runs past its box")
    return out


def _bmff(fh, size: int, start: int = 0) -> list[Patch]:  # type: ignore[no-untyped-def]
    """An ISO BMFF file, or (from `start` to `size`) one embedded in another file."""
    patches: list[Patch] = []
    at = start
    while at + 8 <= size:
        fh.seek(at)
        head = fh.read(16)
        box_size, kind = struct.unpack_from(">I4s", head, 0)
        header = 8
        if box_size == 1:
            box_size, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif box_size == 0:
            box_size = size - at
        if box_size < header or at + box_size > size:
            raise CannotStrip("a top-level box runs past the end of the file")
        if kind in (b"moov", b"meta", b"udta") or (kind == b"uuid" and head[8:8 + 16] == _XMP_UUID[:8]):
            items: list[Item] = []
            patches.extend(_bmff_walk(_read(fh, at, box_size), 0, box_size, at, items))
            for what, item_offset, length in items:
                item = _read(fh, item_offset, length)
                if what == "exif":
                    skip = 4 + struct.unpack_from(">I", item, 0)[0]
                    if item[skip:skip + 6] == b"Exif\x00\x00":
                        skip += 6
                    patches.extend(tiff_patches(item[skip:], item_offset + skip))
                else:
                    patches.extend(xmp_patches(item, item_offset))
        at += box_size
    return patches


_READERS = {
    "image/jpeg": _jpeg, "image/png": _png, "image/webp": _webp, "image/tiff": _tiff,
    "image/heic": _bmff, "image/heif": _bmff, "image/avif": _bmff,
    "video/mp4": _bmff, "video/quicktime": _bmff, "video/x-m4v": _bmff, "video/3gpp": _bmff,
}
# Formats that carry no EXIF/XMP location we know of: served as they are.
_NOTHING_TO_STRIP = {"image/gif", "image/bmp"}


def location_patches(path: Path, mime: str, *, embedded: tuple[int, int] | None = None) -> list[Patch]:
    """The patches that take every location out of the file at `path` (empty: there is none).
    `embedded` (offset, length) names an MP4 inside it (a motion photo's clip after the JPEG),
    which is stripped too. Raises CannotStrip when the format, or this file, cannot be rewritten
    safely."""
    if mime in _NOTHING_TO_STRIP:
        return []
    reader = _READERS.get(mime)
    if reader is None:
        raise CannotStrip(f"{mime} files cannot be served without their location")
    size = path.stat().st_size
    if mime == "image/tiff" and size > MAX_METADATA:
        raise CannotStrip("a TIFF this large is not read whole")
    try:
        with open(path, "rb") as fh:
            patches = reader(fh, size)
            if embedded is not None:
                offset, length = embedded
                if offset < 0 or offset + length > size:
                    raise CannotStrip("the embedded clip lies outside the file")
                patches += _bmff(fh, offset + length, offset)
    except (struct.error, IndexError, ValueError) as exc:
        raise CannotStrip(f"the metadata could not be read: {exc}") from None
    return sorted(patches)


def apply(chunk: bytes, offset: int, patches: list[Patch]) -> bytes:
    """`chunk` (the file's bytes from `offset`) with the patches that overlap it applied."""
    end = offset + len(chunk)
    out: bytearray | None = None
    for at, new in patches:
        if at >= end:
            break
        if at + len(new) <= offset:
            continue
        if out is None:
            out = bytearray(chunk)
        lo, hi = max(at, offset), min(at + len(new), end)
        out[lo - offset:hi - offset] = new[lo - at:hi - at]
    return chunk if out is None else bytes(out)
