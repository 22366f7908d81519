-- Motion and Live Photos (docs/motion.md). `motion_clip`: the clip of each motion photo, a span
-- of its original (`sha256` NULL) or a Live Photo's MOV blob. `motion_still`: stills a MOV may
-- still pair with, by the keyed hash of their content identifier. `motion_held`: MOVs that
-- arrived before their still; they are in no read model that lists items.
CREATE TABLE IF NOT EXISTS motion_clip (
    photo_id TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    source   TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    length   INTEGER NOT NULL,
    mime     TEXT NOT NULL,
    sha256   TEXT
);
CREATE INDEX IF NOT EXISTS motion_clip_by_sha ON motion_clip (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX IF NOT EXISTS motion_clip_by_owner ON motion_clip (owner);

CREATE TABLE IF NOT EXISTS motion_still (
    owner    TEXT NOT NULL,
    pair     TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    PRIMARY KEY (owner, pair, photo_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS motion_still_by_photo ON motion_still (photo_id);

CREATE TABLE IF NOT EXISTS motion_held (
    clip_id  TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    pair     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    mime     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    purge_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS motion_held_by_pair ON motion_held (owner, pair);
CREATE INDEX IF NOT EXISTS motion_held_by_sha ON motion_held (sha256);
CREATE INDEX IF NOT EXISTS motion_held_due ON motion_held (purge_at);
CREATE INDEX IF NOT EXISTS motion_held_by_owner ON motion_held (owner);
