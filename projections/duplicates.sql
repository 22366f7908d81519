-- Near-duplicate detection without comparing all pairs. A 64-bit dHash is cut into 5 bands
-- (13+13+13+13+12 bits); two hashes within Hamming distance 4 must agree on at least one band
-- (pigeonhole), so each new photo is compared only with the few photos sharing a band value.
-- Pairs found are stored; the query groups them. A video's hash is its poster's, and videos pair
-- only with videos whose duration is within a second of theirs.
CREATE TABLE IF NOT EXISTS dup_band (
    owner    TEXT NOT NULL,
    band     INTEGER NOT NULL,
    value    INTEGER NOT NULL,
    photo_id TEXT NOT NULL,
    phash    INTEGER NOT NULL,
    kind     TEXT NOT NULL DEFAULT 'photo',
    duration REAL,                           -- seconds, videos only
    PRIMARY KEY (owner, band, value, photo_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS dup_pair (
    owner    TEXT NOT NULL,
    a        TEXT NOT NULL,
    b        TEXT NOT NULL,
    distance INTEGER NOT NULL,
    PRIMARY KEY (owner, a, b)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS dup_band_by_photo ON dup_band (photo_id);
CREATE INDEX IF NOT EXISTS dup_pair_by_b ON dup_pair (b);
