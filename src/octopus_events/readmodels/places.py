"""The places read model: the map's clusters (items with GPS counted per cell of the web map
tile grid at every zoom level) and each item's place name (offline reverse geocoding).

A viewport query reads the cells of one level inside the viewport, so 100,000 items on the map
are at most a few hundred clusters on the wire. The projector folds a batch per photo and
adjusts each touched cell by difference (as the library does with its month counters), so the
same code serves an inline append and a rebuild chunk. The place name is looked up once, when
the item's coordinates arrive (upload, back from the vault, or a rebuild), never per request.
"""

from __future__ import annotations

import functools
import hashlib
import math
import sqlite3
from collections import defaultdict
from typing import Any, Sequence

import msgspec

from .. import geocode
from ..errors import Invalid
from ..eventstore import RecordedEvent
from ..photos import (
    PhotoDetails, PhotoLeftVault, PhotoMovedToVault, PhotoPurged, PhotoRestored, PhotoTrashed, PhotoUploaded,
    Unsealer,
)
from ..projection import Projector
from .library import PHOTO_SELECT, PhotoPage, check_limit, decode_cursor, encode_cursor, to_view

MAX_LEVEL = 16  # cells of ~600 m at the equator: the map zooms further on the items themselves
LEVELS = range(MAX_LEVEL + 1)
# The map's cluster cells are this many levels below its zoom: a 256 px tile holds 4 x 4 cells,
# so a cluster stands for the items within about 64 px on screen.
CELL_LEVELS_BELOW_ZOOM = 2
MAX_ZOOM = 22
MAX_CELLS = 64 * 64  # per viewport query: a 4K screen at 64 px cells is 60 x 34
MAX_LAT = 85.0511287798  # where the square web map ends
E6 = 1_000_000


def tile(lat: float, lon: float, level: int) -> tuple[int, int]:
    """The x, y of the web map tile (OpenStreetMap's scheme) holding the point at `level`."""
    n = 1 << level
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(n - 1, max(0, x)), min(n - 1, max(0, y))


def tile_bounds(x: int, y: int, level: int) -> tuple[float, float, float, float]:
    """west, south, east, north of a tile."""
    n = 1 << level

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


_Row = tuple[str, int, int, int]  # owner, lat_e6, lon_e6, visible


def _cells(row: _Row | None) -> list[tuple[tuple[str, int, int, int], int, int]]:
    """What one item adds to the cells: ((owner, level, x, y), lat_e6, lon_e6) per level. A
    tile's x, y at a level is its x, y at the finest level shifted right (the grid halves
    exactly: scaling by a power of two is exact in floating point), so one projection serves all."""
    if row is None or not row[3]:
        return []
    owner, lat_e6, lon_e6, _ = row
    x, y = tile(lat_e6 / E6, lon_e6 / E6, MAX_LEVEL)
    return [((owner, level, x >> (MAX_LEVEL - level), y >> (MAX_LEVEL - level)), lat_e6, lon_e6) for level in LEVELS]


# Names are looked up for the point rounded to 0.001° (~100 m): photos come in runs taken at the
# same spots, so a rebuild of 100,000 asks the geocoder a fraction as often, and the name of a
# point never depends on what was looked up before it (replay equals incremental).
PLACE_GRID = 1000


@functools.lru_cache(maxsize=65_536)
def _place_at(lat_k: int, lon_k: int) -> geocode.Place | None:
    try:
        return geocode.lookup(lat_k / PLACE_GRID, lon_k / PLACE_GRID)
    except geocode.GeocoderUnavailable:
        return None  # no data installed: the map still works, without names


def place_of(lat: float, lon: float) -> geocode.Place | None:
    """The place name for a photo's coordinates (or None), as every read model stores it."""
    return _place_at(round(lat * PLACE_GRID), round(lon * PLACE_GRID))


class PlacesProjector(Projector):
    name = "places"
    sql_file = "places.sql"
    code_version = 2  # 2: names looked up at 0.001° (place_of)

    @classmethod
    def version(cls) -> str:
        # Place names come from the GeoNames data: new data, new names, so rebuild.
        digest = hashlib.sha256(f"{super().version()}|{geocode.dataset_version()}".encode())
        return digest.hexdigest()[:16]

    def apply_batch(self, conn: sqlite3.Connection, batch: Sequence[RecordedEvent]) -> None:
        unsealer: Unsealer | None = None
        before: dict[str, _Row | None] = {}
        after: dict[str, _Row | None] = {}
        names: dict[str, geocode.Place | None] = {}
        for recorded in batch:
            event = recorded.event
            kind = type(event)
            if kind not in _HANDLED:
                continue
            photo_id: str = event.photo_id  # type: ignore[attr-defined]
            if photo_id not in before:
                before[photo_id] = self._load(conn, photo_id)
                after[photo_id] = before[photo_id]
            if kind is PhotoUploaded or kind is PhotoLeftVault:
                if unsealer is None:
                    unsealer = Unsealer(conn, batch)
                details = unsealer.open(event, PhotoDetails)
                gps = details.gps if isinstance(details, PhotoDetails) else None
                if gps is None or not (-90 <= gps.lat <= 90 and -180 <= gps.lon <= 180):
                    after[photo_id] = None
                    names.pop(photo_id, None)
                    continue
                after[photo_id] = (recorded.owner or "", round(gps.lat * E6), round(gps.lon * E6), 1)
                names[photo_id] = place_of(gps.lat, gps.lon)
            elif kind is PhotoPurged or kind is PhotoMovedToVault:
                after[photo_id] = None
                names.pop(photo_id, None)
            else:
                row = after[photo_id]
                if row is not None:
                    after[photo_id] = (row[0], row[1], row[2], int(kind is PhotoRestored))
        self._write(conn, before, after, names)

    def _load(self, conn: sqlite3.Connection, photo_id: str) -> _Row | None:
        found = conn.execute(
            f"SELECT owner, lat_e6, lon_e6, visible FROM {self.t.place_item} WHERE photo_id = ?", (photo_id,)
        ).fetchone()
        return tuple(found) if found else None  # type: ignore[return-value]

    def _write(self, conn: sqlite3.Connection, before: dict[str, _Row | None], after: dict[str, _Row | None],
               names: dict[str, geocode.Place | None]) -> None:
        t = self.t
        delta: dict[tuple[str, int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        deletes: list[tuple[str]] = []
        visibility: list[tuple[int, str]] = []
        inserts: list[tuple[Any, ...]] = []
        for photo_id, new in after.items():
            old = before[photo_id]
            if photo_id in names:
                # New coordinates (an upload, or back from the vault): the row is written again.
                place = names[photo_id]
                assert new is not None
                inserts.append((photo_id, *new, place.city if place else None, place.region if place else None,
                                place.country if place else None))
            elif new == old:
                continue
            elif new is None:
                deletes.append((photo_id,))
            elif old is not None:
                visibility.append((new[3], photo_id))
            for key, lat, lon in _cells(old):
                d = delta[key]
                d[0] -= 1
                d[1] -= lat
                d[2] -= lon
            for key, lat, lon in _cells(new):
                d = delta[key]
                d[0] += 1
                d[1] += lat
                d[2] += lon
        if deletes:
            conn.executemany(f"DELETE FROM {t.place_item} WHERE photo_id = ?", deletes)
        if inserts:
            conn.executemany(f"INSERT OR REPLACE INTO {t.place_item} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", inserts)
        if visibility:
            conn.executemany(f"UPDATE {t.place_item} SET visible = ? WHERE photo_id = ?", visibility)
        changes = [(*key, *d) for key, d in delta.items() if d[0] or d[1] or d[2]]
        if changes:
            conn.executemany(
                f"INSERT INTO {t.place_cell} (owner, zoom, x, y, count, lat_sum, lon_sum) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (owner, zoom, x, y) DO UPDATE SET count = count + excluded.count, "
                "lat_sum = lat_sum + excluded.lat_sum, lon_sum = lon_sum + excluded.lon_sum",
                changes,
            )
            if any(d[0] < 0 for d in delta.values()):
                conn.executemany(
                    f"DELETE FROM {t.place_cell} WHERE owner = ? AND zoom = ? AND x = ? AND y = ? AND count <= 0",
                    [key for key, d in delta.items() if d[0] < 0],
                )


_HANDLED = {PhotoUploaded, PhotoLeftVault, PhotoTrashed, PhotoRestored, PhotoPurged, PhotoMovedToVault}


# -- queries ---------------------------------------------------------------------------------------


class BBox(msgspec.Struct, frozen=True):
    west: float
    south: float
    east: float
    north: float


def parse_bbox(text: str | None) -> BBox:
    """`west,south,east,north` in degrees; west > east crosses the antimeridian."""
    if not text:
        raise Invalid("bbox: required, as west,south,east,north in degrees")
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise Invalid("bbox: expected four numbers west,south,east,north") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise Invalid("bbox: the numbers must be finite")
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise Invalid("bbox: west and east must be between -180 and 180")
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        raise Invalid("bbox: south and north must be between -90 and 90")
    if s > n:
        raise Invalid("bbox: south must not be north of north")
    return BBox(w, s, e, n)


def cell_level(zoom: int | None) -> int:
    if zoom is None:
        raise Invalid("zoom: required, the map's zoom level (0 to 22)")
    if not 0 <= zoom <= MAX_ZOOM:
        raise Invalid(f"zoom: must be between 0 and {MAX_ZOOM}")
    return min(MAX_LEVEL, zoom + CELL_LEVELS_BELOW_ZOOM)


def _x_ranges(box: BBox, level: int) -> list[tuple[int, int]]:
    x0, _ = tile(0, box.west, level)
    x1, _ = tile(0, box.east, level)
    if box.west <= box.east:
        return [(x0, x1)]
    return [(x0, (1 << level) - 1), (0, x1)]  # across the antimeridian


class Cluster(msgspec.Struct):
    """Items in one cell: their count and centroid (where the marker goes), and the cell: the web
    map tile (`Clusters.level`, x, y), whose bounds a click zooms to and lists (`tile_bounds`)."""

    lat: float
    lon: float
    count: int
    x: int
    y: int


class Clusters(msgspec.Struct):
    zoom: int
    level: int
    total: int
    clusters: list[Cluster]


def clusters(conn: sqlite3.Connection, owner: str, bbox: str | None, zoom: int | None) -> Clusters:
    """The owner's items in the viewport, one cluster per non-empty cell of the level for `zoom`.

    The centroids are computed by SQLite and the rows become Structs as they are: a viewport of
    a few hundred clusters costs little more than reading its rows (tests/benchmarks/bench_places.py)."""
    box = parse_bbox(bbox)
    level = cell_level(zoom)
    _, y0 = tile(box.north, 0, level)
    _, y1 = tile(box.south, 0, level)
    ranges = _x_ranges(box, level)
    if sum(b - a + 1 for a, b in ranges) * (y1 - y0 + 1) > MAX_CELLS:
        raise Invalid(f"bbox: too large for zoom {zoom} (more than {MAX_CELLS} cells); zoom out or ask for less")
    out: list[Cluster] = []
    for a, b in ranges:
        out += [Cluster(*row) for row in conn.execute(
            "SELECT lat_sum * 1e-6 / count, lon_sum * 1e-6 / count, count, x, y FROM place_cell "
            "WHERE owner = ? AND zoom = ? AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?",
            (owner, level, a, b, y0, y1),
        )]
    return Clusters(zoom=zoom or 0, level=level, total=sum(c.count for c in out), clusters=out)


def _estimate(conn: sqlite3.Connection, owner: str, box: BBox) -> int:
    """About how many of the owner's items are inside the box (more, never fewer): the counts of
    the cells of the level where the box spans two or three cells each way, so a handful of rows
    answer it even for a box holding 40,000 items."""
    width = (box.east - box.west) % 360 or 360
    level = max(0, min(MAX_LEVEL, int(math.log2(360 / width) + 1e-9) + 1))
    _, y0 = tile(box.north, 0, level)
    _, y1 = tile(box.south, 0, level)
    total = 0
    for a, b in _x_ranges(box, level):
        total += conn.execute(
            "SELECT coalesce(sum(count), 0) FROM place_cell WHERE owner = ? AND zoom = ? AND x BETWEEN ? AND ? "
            "AND y BETWEEN ? AND ?", (owner, level, a, b, y0, y1)).fetchone()[0]
    return total


def items(conn: sqlite3.Connection, owner: str, bbox: str | None, *, cursor: str | None = None,
          limit: int | None = None) -> PhotoPage:
    """The owner's library items inside the bbox, newest taken first, a page at a time."""
    box = parse_bbox(bbox)
    n = check_limit(limit)
    # Half-open like the tile grid (a tile holds its west and north edges, not its east and
    # south ones), so a cluster's bbox lists exactly the items it counts.
    south = ">=" if box.south <= -90 else ">"
    east = "<=" if box.east >= 180 else "<"
    inside_where = ["i.owner = ?", "i.visible = 1", f"i.lat_e6 {south} ?", "i.lat_e6 <= ?"]
    args: list[Any] = [owner, round(box.south * E6), round(box.north * E6)]
    w, e = round(box.west * E6), round(box.east * E6)
    if box.west <= box.east:
        inside_where.append(f"i.lon_e6 >= ? AND i.lon_e6 {east} ?")
    else:  # across the antimeridian
        inside_where.append(f"(i.lon_e6 >= ? OR i.lon_e6 {east} ?)")
    args += [w, e]
    # Two plans. A small area: its items through the coordinate index, sorted by date. A large
    # one (a world-level cluster of 40,000): the timeline index walked newest first, each photo
    # probed for being inside, stopping after a page, where sorting 40,000 rows takes a second.
    # Which one is cheaper follows from how many of the library's photos are inside.
    inside = _estimate(conn, owner, box)
    library = conn.execute("SELECT coalesce(sum(count), 0) FROM timeline_month WHERE owner = ?", (owner,)).fetchone()[0]
    where = ["p.owner = ?", "p.state = 'library'", *inside_where]
    args = [owner, *args]
    if cursor:
        taken, pid = decode_cursor(cursor, 2)
        where.append("(p.taken_local, p.id) < (?, ?)")
        args += [taken, pid]
    walk = inside > 0 and n * library / inside < inside
    # CROSS JOIN fixes the order of the loops (SQLite never reorders it): the planner cannot tell
    # from a bbox's numbers how many photos it holds. The inner query sorts ids only; the page's
    # rows are read afterwards, by id.
    source = ("photo p CROSS JOIN place_item i ON i.photo_id = p.id" if walk
              else "place_item i CROSS JOIN photo p ON p.id = i.photo_id")
    rows = conn.execute(
        f"{PHOTO_SELECT} WHERE p.id IN (SELECT p.id FROM {source} WHERE {' AND '.join(where)} "
        "ORDER BY p.taken_local DESC, p.id DESC LIMIT ?) ORDER BY p.taken_local DESC, p.id DESC",
        (*args, n + 1),
    ).fetchall()
    more = len(rows) > n
    rows = rows[:n]
    return PhotoPage([to_view(r) for r in rows], encode_cursor(rows[-1][14], rows[-1][0]) if more else None)
