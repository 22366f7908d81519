"""A stored-mode (uncompressed) ZIP written as a stream, straight from the files it holds.

Photos and videos are compressed already, so deflating them would cost CPU for nothing; stored
entries also make the whole archive's length known before the first byte (names and sizes fix
every header), so a download can announce its Content-Length. Each entry's CRC-32 is computed
while its bytes go out and is written after them in a data descriptor (general purpose flag
bit 3), so no file is read twice and nothing is copied to a temp file: memory is one chunk.
ZIP64 records (APPNOTE 4.3.9, 4.5.3) are used for an entry of 4 GiB or more, or one that starts
past 4 GiB, and for the end of a large archive; other entries stay plain ZIP for old unzippers.
Names are UTF-8 (flag bit 11) and made unique case-insensitively ("IMG_1.jpg", "IMG_1 (2).jpg"),
because Windows and macOS would otherwise overwrite one with the other when unpacking.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import msgspec

ZIP64_LIMIT = 0xFFFFFFFF
CHUNK = 1024 * 1024
_VERSION_ZIP64 = 45
_VERSION_PLAIN = 20
_FLAGS = 0x0808  # bit 3: sizes and CRC in a data descriptor; bit 11: UTF-8 names
_MADE_BY = (3 << 8) | _VERSION_ZIP64  # Unix, so the file mode in the external attributes counts
_FILE_MODE = 0o100644 << 16


class ZipEntry(msgspec.Struct, kw_only=True):
    name: str  # as given; `plan` makes the stored names unique
    path: Path
    size: int
    modified: datetime  # local wall-clock time (DOS times have no zone)


def unique_names(names: Sequence[str]) -> list[str]:
    """Each name once, case-insensitively: a repeat becomes "stem (2).ext", "stem (3).ext"..."""
    seen: set[str] = set()
    out: list[str] = []
    for raw in names:
        name = raw.replace("/", "_").replace("\\", "_").strip() or "photo"
        if name in (".", ".."):
            name = "photo"
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, dot, ext = name, "", ""
        candidate, n = name, 1
        while candidate.casefold() in seen:
            n += 1
            candidate = f"{stem} ({n}){dot}{ext}"
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


def _dos_time(moment: datetime) -> tuple[int, int]:
    # DOS dates cover 1980-2107; a photo outside gets the nearest end.
    if moment.year < 1980:
        moment = datetime(1980, 1, 1)
    elif moment.year > 2107:
        moment = datetime(2107, 12, 31, 23, 59, 58)
    date = ((moment.year - 1980) << 9) | (moment.month << 5) | moment.day
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return time, date


class _Planned(msgspec.Struct):
    name: bytes
    path: Path
    size: int
    offset: int  # of its local header
    time: int
    date: int
    zip64: bool


class ZipPlan:
    """Every header's position, and the archive's total length, worked out from names and sizes
    alone; `chunks()` then writes exactly that many bytes. `zip64_at` is the size or offset from
    which ZIP64 records are used (ZIP64_LIMIT; a test lowers it to exercise them on small files)."""

    def __init__(self, entries: Sequence[ZipEntry], *, zip64_at: int = ZIP64_LIMIT) -> None:
        self.zip64_at = zip64_at
        self.entries: list[_Planned] = []
        offset = 0
        for entry, name in zip(entries, unique_names([e.name for e in entries])):
            time, date = _dos_time(entry.modified)
            planned = _Planned(name.encode("utf-8"), entry.path, entry.size, offset, time, date,
                               entry.size >= zip64_at or offset >= zip64_at)
            self.entries.append(planned)
            offset += len(self._local(planned)) + entry.size + len(self._descriptor(planned, 0))
        self.central_offset = offset
        self.central_size = sum(len(self._central(e, 0)) for e in self.entries)
        self.size = offset + self.central_size + len(self._end())

    # -- records ------------------------------------------------------------------------------------
    def _local(self, e: _Planned) -> bytes:
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) if e.zip64 else b""
        sizes = ZIP64_LIMIT if e.zip64 else 0
        return struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, _VERSION_ZIP64 if e.zip64 else _VERSION_PLAIN, _FLAGS, 0, e.time, e.date,
            0, sizes, sizes, len(e.name), len(extra),
        ) + e.name + extra

    @staticmethod
    def _descriptor(e: _Planned, crc: int) -> bytes:
        if e.zip64:
            return struct.pack("<IIQQ", 0x08074B50, crc, e.size, e.size)
        return struct.pack("<IIII", 0x08074B50, crc, e.size, e.size)

    def _central(self, e: _Planned, crc: int) -> bytes:
        big = e.zip64 or e.offset >= self.zip64_at
        if big:
            # All three fields marked 0xFFFFFFFF, so all three follow in this order (4.5.3).
            extra = struct.pack("<HHQQQ", 1, 24, e.size, e.size, e.offset)
            size = offset = ZIP64_LIMIT
        else:
            extra, size, offset = b"", e.size, e.offset
        return struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, _MADE_BY, _VERSION_ZIP64 if big else _VERSION_PLAIN, _FLAGS, 0,
            e.time, e.date, crc, size, size, len(e.name), len(extra), 0, 0, 0, _FILE_MODE, offset,
        ) + e.name + extra

    def _end(self) -> bytes:
        count, start, length = len(self.entries), self.central_offset, self.central_size
        out = b""
        if count >= 0xFFFF or start >= self.zip64_at or length >= self.zip64_at:
            end64_at = start + length
            out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _MADE_BY, _VERSION_ZIP64, 0, 0, count, count, length, start)
            out += struct.pack("<IIQI", 0x07064B50, 0, end64_at, 1)
            count16, length32, start32 = min(count, 0xFFFF), min(length, ZIP64_LIMIT), min(start, ZIP64_LIMIT)
        else:
            count16, length32, start32 = count, length, start
        return out + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count16, count16, length32, start32, 0)

    # -- the stream ------------------------------------------------------------------------------------
    def chunks(self, chunk: int = CHUNK) -> Iterator[bytes]:
        """The archive, about `chunk` bytes at a time (blocking reads: run it on a thread).

        A file that changed size since it was planned would make every later offset wrong, so it
        raises instead of writing a broken archive (the blobs are content-addressed and never
        change; this is the guard for a disk that lost one)."""
        crcs: list[int] = []
        for e in self.entries:
            yield self._local(e)
            crc, left = 0, e.size
            with open(e.path, "rb") as fh:
                while left > 0:
                    data = fh.read(min(chunk, left))
                    if not data:
                        raise OSError(f"{e.path} is shorter than it was when the download began")
                    crc = zlib.crc32(data, crc)
                    left -= len(data)
                    yield data
            crcs.append(crc)
            yield self._descriptor(e, crc)
        yield b"".join(self._central(e, crc) for e, crc in zip(self.entries, crcs)) + self._end()
