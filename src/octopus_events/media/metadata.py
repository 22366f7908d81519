"""Read the facts a photo library needs from EXIF, tolerating the garbage real cameras write."""

from __future__ import annotations

import math
import re
import struct
import warnings
from datetime import datetime
from typing import Any

import msgspec
from PIL import Image

# EXIF tag numbers (TIFF/EXIF 2.32). Names are kept next to the numbers so a grep finds both.
_ORIENTATION = 0x0112
_MAKE = 0x010F
_MODEL = 0x0110
_DATETIME = 0x0132
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_EXPOSURE_TIME = 0x829A
_F_NUMBER = 0x829D
_ISO = 0x8827  # ISOSpeedRatings / PhotographicSensitivity
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_OFFSET_TIME = 0x9010
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_TIME_DIGITIZED = 0x9012
_FOCAL_LENGTH = 0x920A
_LENS_MODEL = 0xA434
_GPS_LAT_REF = 0x01
_GPS_LAT = 0x02
_GPS_LON_REF = 0x03
_GPS_LON = 0x04
_GPS_TIMESTAMP = 0x07
_GPS_DATESTAMP = 0x1D

# Everything Pillow's EXIF parser and our conversions are known to throw on hostile input.
_PARSE_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    SyntaxError,
    EOFError,
    OverflowError,
    ZeroDivisionError,
    struct.error,
)

_DATE_RE = re.compile(r"\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_GPS_DATE_RE = re.compile(r"\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})")
_OFFSET_RE = re.compile(r"\s*([+-])(\d{2}):?(\d{2})\s*$")
# Real offsets run from -12:00 to +14:00; anything wider is a corrupt field.
_MAX_OFFSET_MINUTES = 14 * 60
_MAX_TEXT = 128


class PhotoMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """What EXIF says about a photo; every field is optional because EXIF lies or is absent."""

    taken_local: str | None = None
    offset_minutes: int | None = None
    #: Which field gave the date: an EXIF tag name ("DateTimeOriginal"...), "GPSDateStamp", or
    #: for videos (media/video.py) "quicktime-local" (Apple's local time with its offset) or
    #: "container-utc" (``creation_time``, an instant in UTC); "none" without one.
    taken_source: str = "none"
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    iso: int | None = None
    f_number: float | None = None
    exposure_time: str | None = None
    focal_length: float | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    orientation: int = 1


def read_metadata(img: Image.Image) -> PhotoMetadata:
    """Extract :class:`PhotoMetadata` from an opened (not necessarily loaded) image.

    Never raises for bad EXIF: a field that cannot be read sensibly becomes ``None`` (or the
    default orientation 1). Never decodes pixels, so it is safe on an image too large to decode.
    """
    with warnings.catch_warnings():
        # Pillow warns on every corrupt IFD it skips; those files are expected here.
        warnings.simplefilter("ignore")
        ifd0, exif_ifd, gps_ifd = _read_ifds(img)

    def tag(number: int) -> Any:
        # Some writers put Exif-IFD tags in IFD0; the Exif IFD wins when both are present.
        value = exif_ifd.get(number)
        return ifd0.get(number) if value is None else value

    taken_local, offset, source = _taken(ifd0, exif_ifd, gps_ifd)
    lat, lon = _gps_position(gps_ifd)
    return PhotoMetadata(
        taken_local=taken_local,
        offset_minutes=offset,
        taken_source=source,
        make=_text(ifd0.get(_MAKE)),
        model=_text(ifd0.get(_MODEL)),
        lens=_text(tag(_LENS_MODEL)),
        iso=_iso(tag(_ISO)),
        f_number=_positive(tag(_F_NUMBER), 1000.0),
        exposure_time=_exposure(tag(_EXPOSURE_TIME)),
        focal_length=_positive(tag(_FOCAL_LENGTH), 100000.0),
        gps_lat=lat,
        gps_lon=lon,
        orientation=_orientation(ifd0.get(_ORIENTATION)),
    )


def _read_ifds(img: Image.Image) -> tuple[dict, dict, dict]:
    try:
        if img.format == "PNG" and "exif" not in img.info:
            # Pillow looks for an eXIf chunk after the pixels by decoding them all, which for a
            # huge image is the memory bomb the decode budget exists to stop; find it by walking
            # the chunks. An empty record still lets getexif() read XMP and not decode.
            img.info["exif"] = _png_exif_chunk(img.fp)
        exif = img.getexif()
    except _PARSE_ERRORS:
        return {}, {}, {}
    try:
        ifd0 = dict(exif)
    except _PARSE_ERRORS:
        ifd0 = {}
    return ifd0, _sub_ifd(exif, _EXIF_IFD), _sub_ifd(exif, _GPS_IFD)


def _png_exif_chunk(fp: Any) -> bytes:
    """The eXIf chunk of the PNG open on ``fp`` wherever it lies (b"" if none), read by skipping
    from chunk header to chunk header; ``fp`` is left where it was."""
    if fp is None:
        return b""
    where = fp.tell()
    try:
        fp.seek(8)  # the signature
        for _ in range(_MAX_PNG_CHUNKS):
            head = fp.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return fp.read(length) if length <= _MAX_EXIF_BYTES else b""
            if kind == b"IEND":
                break
            fp.seek(length + 4, 1)  # data and CRC
    finally:
        fp.seek(where)
    return b""


# Encoders split the pixels into chunks of 8–64 KB, so a 200 MB PNG has a few tens of thousands;
# a file made of millions of empty chunks is not worth walking to the end.
_MAX_PNG_CHUNKS = 100_000
_MAX_EXIF_BYTES = 1 << 20


def _sub_ifd(exif: Image.Exif, number: int) -> dict:
    try:
        return dict(exif.get_ifd(number))
    except _PARSE_ERRORS:
        return {}


def _taken(ifd0: dict, exif_ifd: dict, gps_ifd: dict) -> tuple[str | None, int | None, str]:
    candidates = (
        (
            "DateTimeOriginal",
            exif_ifd.get(_DATETIME_ORIGINAL) or ifd0.get(_DATETIME_ORIGINAL),
            exif_ifd.get(_OFFSET_TIME_ORIGINAL),
        ),
        (
            "DateTimeDigitized",
            exif_ifd.get(_DATETIME_DIGITIZED) or ifd0.get(_DATETIME_DIGITIZED),
            exif_ifd.get(_OFFSET_TIME_DIGITIZED),
        ),
        ("DateTime", ifd0.get(_DATETIME), exif_ifd.get(_OFFSET_TIME)),
    )
    for source, raw, raw_offset in candidates:
        when = _datetime(raw)
        if when is not None:
            return when, _offset(raw_offset), source
    gps_when = _gps_datetime(gps_ifd.get(_GPS_DATESTAMP), gps_ifd.get(_GPS_TIMESTAMP))
    if gps_when is not None:
        return gps_when, 0, "GPSDateStamp"  # GPS time is UTC by definition
    return None, None, "none"


def _datetime(raw: Any) -> str | None:
    text = _text(raw)
    if text is None:
        return None
    match = _DATE_RE.match(text)
    if match is None:
        return None
    try:
        when = datetime(*(int(part) for part in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00", month 13, hour 24...
        return None
    return when.isoformat() if when.year >= 1800 else None


def _offset(raw: Any) -> int | None:
    text = _text(raw)
    if text is None:
        return None
    match = _OFFSET_RE.match(text)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(minutes) >= 60:
        return None
    total = int(hours) * 60 + int(minutes)
    if total > _MAX_OFFSET_MINUTES:
        return None
    return -total if sign == "-" else total


def _gps_datetime(raw_date: Any, raw_time: Any) -> str | None:
    text = _text(raw_date)
    if text is None or not isinstance(raw_time, tuple) or len(raw_time) != 3:
        return None
    match = _GPS_DATE_RE.match(text)
    if match is None:
        return None
    parts = [_number(value) for value in raw_time]
    if any(part is None or part < 0 for part in parts):
        return None
    hour, minute, second = (int(part) for part in parts)  # type: ignore[arg-type]
    try:
        when = datetime(*(int(part) for part in match.groups()), hour, minute, second)
    except ValueError:
        return None
    return when.isoformat() if when.year >= 1800 else None


def _gps_position(gps_ifd: dict) -> tuple[float | None, float | None]:
    lat = _gps_coordinate(gps_ifd.get(_GPS_LAT), gps_ifd.get(_GPS_LAT_REF), "N", "S", 90.0)
    lon = _gps_coordinate(gps_ifd.get(_GPS_LON), gps_ifd.get(_GPS_LON_REF), "E", "W", 180.0)
    if lat is None or lon is None:
        return None, None
    if lat == 0.0 and lon == 0.0:
        return None, None  # receivers without a fix write zeros, not a trip to the Gulf of Guinea
    return lat, lon


def _gps_coordinate(raw: Any, raw_ref: Any, positive: str, negative: str, limit: float) -> float | None:
    ref = _text(raw_ref)
    if ref is None or ref[:1].upper() not in (positive, negative):
        return None  # without a hemisphere the sign is a guess
    if not isinstance(raw, tuple) or not 1 <= len(raw) <= 3:
        return None
    parts = [_number(value) for value in raw]
    if any(part is None or part < 0 for part in parts):
        return None
    value = sum(part / 60**i for i, part in enumerate(parts))  # type: ignore[operator]
    if value > limit:
        return None
    value = round(value, 7)
    return -value if ref[:1].upper() == negative else value


def _orientation(raw: Any) -> int:
    if isinstance(raw, tuple) and raw:
        raw = raw[0]
    if isinstance(raw, int) and 1 <= raw <= 8:
        return raw
    return 1


def _iso(raw: Any) -> int | None:
    if isinstance(raw, tuple):
        raw = raw[0] if raw else None
    if isinstance(raw, int) and 0 < raw < 10_000_000:
        return raw
    return None


def _positive(raw: Any, limit: float) -> float | None:
    value = _number(raw)
    if value is None or not 0 < value < limit:
        return None
    return round(value, 2)


def _exposure(raw: Any) -> str | None:
    seconds = _number(raw)
    if seconds is None or not 0 < seconds < 100_000:
        return None
    if seconds < 1:
        denominator = 1 / seconds
        # Shutter speeds below a second are printed as the fraction cameras use ("1/125").
        if abs(denominator - round(denominator)) <= 0.02 * denominator:
            return f"1/{round(denominator)}"
    return f"{seconds:.4g}"


def _number(raw: Any) -> float | None:
    if isinstance(raw, tuple) and len(raw) == 2 and all(isinstance(part, int) for part in raw):
        # Old-style (numerator, denominator) pairs.
        raw = raw[0] / raw[1] if raw[1] else None
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        value = float(raw)
    except _PARSE_ERRORS:
        return None
    return value if math.isfinite(value) else None


def _text(raw: Any) -> str | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return None
    # Cameras pad fixed-size fields with NULs, sometimes with leftovers after the first NUL.
    text = raw.split("\x00", 1)[0]
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:_MAX_TEXT] or None
