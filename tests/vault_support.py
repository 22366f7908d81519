"""Shared by the vault tests (service and HTTP): photos full of findable markers, and a scanner
that reads every byte of every file under a data dir looking for them."""

from __future__ import annotations

import io
import os
import random
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

PASSPHRASE = "a long vault passphrase"
FILENAME = "VaultFileMarkerQ7Z.jpg"
DESCRIPTION = "VaultDescMarkerK4W beside the lake"
TAG = "VaultTagMarkerJ9P"
# Unusual coordinates (degrees, minutes, seconds) whose decimal text and IEEE-754 bytes are
# unlikely to be anywhere by chance.
LAT = (Fraction(47), Fraction(23), Fraction(111234, 10000))
LON = (Fraction(8), Fraction(31), Fraction(987654, 10000))
LAT_DEGREES = float(LAT[0] + LAT[1] / 60 + LAT[2] / 3600)


def _rational(x: Fraction) -> Any:
    return IFDRational(x.numerator, x.denominator)


def noisy_jpeg(seed: int, *, gps: bool = False, size: tuple[int, int] = (480, 360), quality: int = 92) -> bytes:
    """A JPEG whose entropy-coded data is effectively random (so any 64-byte slice of it is
    unique), with camera EXIF and, when asked, a GPS position."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (size[0] // 8, size[1] // 8), rng.randbytes(size[0] // 8 * size[1] // 8 * 3))
    img = small.resize(size, Image.Resampling.NEAREST)
    noise = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    img = Image.blend(img, noise, 0.25)
    exif = Image.Exif()
    exif[0x010F] = "VaultCam"
    exif[0x0110] = "Model V"
    exif.get_ifd(0x8769)[0x9003] = "2016:05:04 10:11:12"
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2] = "N", tuple(_rational(v) for v in LAT)
        g[3], g[4] = "E", tuple(_rational(v) for v in LON)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


def reencoded(data: bytes, quality: int = 70) -> bytes:
    """The same picture saved again: a near-duplicate by perceptual hash, different bytes."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def every_file(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            yield Path(dirpath) / name


def find_markers(root: Path, markers: dict[str, bytes]) -> list[str]:
    """Every (marker, file) pair where the marker occurs in the file's bytes or its path."""
    found = []
    for path in every_file(root):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # a temp file that went away while we walked
        rel = str(path.relative_to(root))
        for label, marker in markers.items():
            if marker in data:
                found.append(f"{label} in {rel}")
            if marker in rel.encode():
                found.append(f"{label} in the name {rel}")
    return found


def markers_of(original: bytes, thumb: bytes, preview: bytes, sha256: str, lat: float, lon: float) -> dict[str, bytes]:
    def middle(data: bytes, at: float = 0.5) -> bytes:
        start = int(len(data) * at)
        return data[start:start + 64]

    out = {
        "original bytes": middle(original),
        "original bytes (first quarter)": middle(original, 0.25),
        "thumbnail bytes": middle(thumb),
        "preview bytes": middle(preview),
        "filename": b"VaultFileMarkerQ7Z",
        "description": b"VaultDescMarkerK4W",
        "tag": b"VaultTagMarkerJ9P",
        "tag (case-folded)": b"vaulttagmarkerj9p",
        "sha256 text": sha256.encode(),
        "camera make": b"VaultCam",
    }
    for axis, value in (("lat", lat), ("lon", lon)):
        # SQLite stores a REAL as 8 big-endian bytes; other encoders may use little-endian.
        out[f"gps {axis} float (BE)"] = struct.pack(">d", value)
        out[f"gps {axis} float (LE)"] = struct.pack("<d", value)
        out[f"gps {axis} text"] = repr(value).encode()
    return out


# What must be findable before the move (the decimal text of GPS is not: SQLite stores floats as
# binary), so that "nothing found afterwards" means something.
MUST_FIND_BEFORE = ("original bytes", "thumbnail bytes", "preview bytes", "filename", "description", "tag",
                    "gps lat float (BE)", "gps lon float (BE)", "sha256 text")


def assert_findable(found: list[str]) -> None:
    for label in MUST_FIND_BEFORE:
        assert any(f.startswith(label + " in") for f in found), (label, found)


def flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
