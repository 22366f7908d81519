-- Full-text search over filename, description, tags, camera and place name (FTS5; the place is
-- the offline reverse geocoding of the GPS: city, region, country, readmodels/places.py). Documents stay while a
-- photo is in the trash (queries join the library to hide it) and go on purge or vault moves.
-- A document's rowid encodes when the photo was taken (seconds << 20 | log position), so
-- "newest matches first" walks the index in rowid order and stops after one page, even when a
-- word matches every photo. The owner is an indexed column, matched like a word.
CREATE VIRTUAL TABLE IF NOT EXISTS search_doc USING fts5 (
    photo_id UNINDEXED,
    owner,
    filename,
    description,
    tags,
    camera,
    place,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE IF NOT EXISTS search_rowid (
    photo_id TEXT PRIMARY KEY,
    doc      INTEGER NOT NULL
);
