"""EXIF reading from JPEGs written by Pillow with known tags, including hostile values."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from octopus_events.media import PhotoMetadata, read_metadata

EXIF_IFD = 0x8769
GPS_IFD = 0x8825


def _photo(path: Path, ifd0: dict | None = None, exif_ifd: dict | None = None, gps: dict | None = None) -> Path:
    exif = Image.Exif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    if exif_ifd:
        sub = exif.get_ifd(EXIF_IFD)
        sub.update(exif_ifd)
    if gps:
        sub = exif.get_ifd(GPS_IFD)
        sub.update(gps)
    Image.new("RGB", (64, 48), (120, 60, 30)).save(path, "JPEG", exif=exif)
    return path


def _read(path: Path) -> PhotoMetadata:
    with Image.open(path) as img:
        return read_metadata(img)


def _r(numerator: int, denominator: int = 1) -> IFDRational:
    return IFDRational(numerator, denominator)


def test_full_camera_record(tmp_path: Path) -> None:
    path = _photo(
        tmp_path / "full.jpg",
        ifd0={0x010F: "Canon\x00\x00", 0x0110: "  Canon EOS R6  ", 0x0112: 6, 0x0132: "2023:07:15 09:00:00"},
        exif_ifd={
            0x9003: "2023:07:14 18:30:05",
            0x9011: "+02:00",
            0x9004: "2023:07:14 18:31:00",
            0x9012: "-05:00",
            0x829A: _r(1, 125),
            0x829D: _r(28, 10),
            0x8827: 400,
            0x920A: _r(50),
            0xA434: "RF24-105mm F4 L IS USM",
        },
        gps={
            1: "S",
            2: (_r(33), _r(51), _r(5436, 100)),
            3: "W",
            4: (_r(151), _r(12), _r(3000, 100)),
        },
    )
    meta = _read(path)
    assert meta == PhotoMetadata(
        taken_local="2023-07-14T18:30:05",
        offset_minutes=120,
        taken_source="DateTimeOriginal",
        make="Canon",
        model="Canon EOS R6",
        lens="RF24-105mm F4 L IS USM",
        iso=400,
        f_number=2.8,
        exposure_time="1/125",
        focal_length=50.0,
        gps_lat=pytest.approx(-(33 + 51 / 60 + 54.36 / 3600)),
        gps_lon=pytest.approx(-(151 + 12 / 60 + 30 / 3600)),
        orientation=6,
    )


def test_no_exif_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(path)
    assert _read(path) == PhotoMetadata()


@pytest.mark.parametrize("bad", ["0000:00:00 00:00:00", "    :  :     :  :  ", "", "2023:13:01 10:00:00", "yesterday"])
def test_invalid_original_date_falls_through_to_digitized(tmp_path: Path, bad: str) -> None:
    path = _photo(
        tmp_path / "dates.jpg",
        exif_ifd={0x9003: bad, 0x9011: "+09:00", 0x9004: "2019:02:03 04:05:06", 0x9012: "+01:00"},
    )
    meta = _read(path)
    assert (meta.taken_local, meta.offset_minutes, meta.taken_source) == (
        "2019-02-03T04:05:06",
        60,
        "DateTimeDigitized",
    )


def test_datetime_in_ifd0_with_offset_time(tmp_path: Path) -> None:
    path = _photo(tmp_path / "dt.jpg", ifd0={0x0132: "2001:01:01 12:00:00"}, exif_ifd={0x9010: "-03:30"})
    meta = _read(path)
    assert (meta.taken_local, meta.offset_minutes, meta.taken_source) == ("2001-01-01T12:00:00", -210, "DateTime")


def test_offset_belongs_to_the_date_it_describes(tmp_path: Path) -> None:
    # Only the digitized offset is present: it must not be attached to the original date.
    path = _photo(tmp_path / "o.jpg", exif_ifd={0x9003: "2020:05:05 05:05:05", 0x9012: "+01:00"})
    meta = _read(path)
    assert (meta.taken_source, meta.offset_minutes) == ("DateTimeOriginal", None)


def test_gps_date_is_utc(tmp_path: Path) -> None:
    path = _photo(tmp_path / "gpsdate.jpg", gps={0x1D: "2018:06:01", 7: (_r(23), _r(59), _r(30))})
    meta = _read(path)
    assert (meta.taken_local, meta.offset_minutes, meta.taken_source) == ("2018-06-01T23:59:30", 0, "GPSDateStamp")


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        ({1: "N", 2: (_r(48), _r(51), _r(296, 10)), 3: "E", 4: (_r(2), _r(17), _r(40))}, (48.858222, 2.294444)),
        ({1: "N", 2: (_r(48), _r(0, 0), _r(0)), 3: "E", 4: (_r(2), _r(0), _r(0))}, (None, None)),  # 0 denominator
        ({1: "N", 2: (_r(91), _r(0), _r(0)), 3: "E", 4: (_r(2), _r(0), _r(0))}, (None, None)),  # out of range
        ({1: "N", 2: (_r(10), _r(0), _r(0)), 3: "E", 4: (_r(181), _r(0), _r(0))}, (None, None)),
        ({1: "X", 2: (_r(10), _r(0), _r(0)), 3: "E", 4: (_r(20), _r(0), _r(0))}, (None, None)),  # bad ref
        ({2: (_r(10), _r(0), _r(0)), 4: (_r(20), _r(0), _r(0))}, (None, None)),  # no refs
        ({1: "N", 2: (_r(0), _r(0), _r(0)), 3: "E", 4: (_r(0), _r(0), _r(0))}, (None, None)),  # no fix
        ({1: "N", 3: "E", 4: (_r(20), _r(0), _r(0))}, (None, None)),  # latitude missing
    ],
)
def test_gps_position(tmp_path: Path, gps: dict, expected: tuple) -> None:
    meta = _read(_photo(tmp_path / "gps.jpg", gps=gps))
    if expected[0] is None:
        assert (meta.gps_lat, meta.gps_lon) == (None, None)
    else:
        assert meta.gps_lat == pytest.approx(expected[0], abs=1e-6)
        assert meta.gps_lon == pytest.approx(expected[1], abs=1e-6)


@pytest.mark.parametrize(
    ("raw", "text"),
    [(_r(1, 125), "1/125"), (_r(10, 1250), "1/125"), (_r(5, 2), "2.5"), (_r(30), "30"), (_r(4, 10), "0.4"), (_r(0), None)],
)
def test_exposure_time_is_human(tmp_path: Path, raw: IFDRational, text: str | None) -> None:
    assert _read(_photo(tmp_path / "e.jpg", exif_ifd={0x829A: raw})).exposure_time == text


@pytest.mark.parametrize(("raw", "expected"), [(1, 1), (8, 8), (0, 1), (9, 1), (65535, 1)])
def test_orientation_range(tmp_path: Path, raw: int, expected: int) -> None:
    assert _read(_photo(tmp_path / "o.jpg", ifd0={0x0112: raw})).orientation == expected


def test_garbage_fields_become_none(tmp_path: Path) -> None:
    path = _photo(
        tmp_path / "garbage.jpg",
        ifd0={0x010F: "\x00\x00\x00", 0x0110: "   "},
        exif_ifd={
            0x829D: _r(5, 0),  # f-number with a zero denominator
            0x920A: "fifty",
            0x8827: "ISO 100",
            0x9011: "+99:99",
            0x9003: "2020:01:01 10:00:00",
        },
    )
    meta = _read(path)
    assert (meta.make, meta.model, meta.f_number, meta.focal_length, meta.iso) == (None,) * 5
    assert (meta.taken_local, meta.offset_minutes) == ("2020-01-01T10:00:00", None)
