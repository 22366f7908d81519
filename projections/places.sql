-- The places read model (the map): each item with GPS, and per owner, per zoom level of the web
-- map tile grid (levels 0-16, the same x/y as OpenStreetMap's tiles), how many items fall in
-- each cell and the sum of their coordinates (integer micro-degrees, so removing an item gives
-- back exactly the sums a replay computes). A viewport query reads at most a few hundred cells,
-- whatever the library holds. Items in the library count (archived ones too: archive hides from
-- the timeline only); trashed ones keep their row with visible = 0 and leave the counts; vault
-- moves and purges delete the row: no coordinates or place names are left.
CREATE TABLE IF NOT EXISTS place_item (
    photo_id TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    lat_e6   INTEGER NOT NULL,
    lon_e6   INTEGER NOT NULL,
    visible  INTEGER NOT NULL,           -- 1 in the library, 0 in the trash
    city     TEXT,                       -- offline reverse geocoding (geocode.py); null: no place
    region   TEXT,
    country  TEXT
);

CREATE TABLE IF NOT EXISTS place_cell (
    owner   TEXT NOT NULL,
    zoom    INTEGER NOT NULL,
    x       INTEGER NOT NULL,
    y       INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    lat_sum INTEGER NOT NULL,            -- micro-degrees; the centroid is lat_sum / count
    lon_sum INTEGER NOT NULL,
    PRIMARY KEY (owner, zoom, x, y)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS place_item_by_lat ON place_item (owner, lat_e6, lon_e6) WHERE visible = 1;
