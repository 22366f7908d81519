-- The library read model: one row per photo with everything GET /api/photos/{id} shows, plus
-- the tables behind the timeline scrubber and tags. Timeline, favourites, memories and trash
-- are index ranges over `photo`, so a page is one index walk.
CREATE TABLE IF NOT EXISTS photo (
    id            TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    state         TEXT NOT NULL,          -- library | trash | vault
    version       INTEGER NOT NULL,
    sha256        TEXT,
    bytes         INTEGER NOT NULL,
    mime          TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    orientation   INTEGER NOT NULL,
    filename      TEXT,
    description   TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    taken_at      TEXT,
    taken_local   TEXT NOT NULL,          -- wall-clock time where it was taken: days, memories
    taken_source  TEXT,
    md            TEXT NOT NULL,          -- MM-DD of taken_local, for "on this day"
    uploaded_at   TEXT NOT NULL,
    favourite     INTEGER NOT NULL DEFAULT 0,
    make          TEXT,
    model         TEXT,
    lens          TEXT,
    iso           INTEGER,
    f_number      REAL,
    exposure_time TEXT,
    focal_length  REAL,
    gps_lat       REAL,
    gps_lon       REAL,
    phash         INTEGER,
    trashed_at    TEXT,
    purge_at      TEXT,
    kind          TEXT NOT NULL DEFAULT 'photo',  -- photo | video
    duration      REAL,                   -- seconds, videos only
    video_codec   TEXT,
    fps           REAL,
    motion        INTEGER NOT NULL DEFAULT 0,  -- a motion or Live Photo
    archived      INTEGER NOT NULL DEFAULT 0   -- hidden from timeline, months and memories only
);

CREATE TABLE IF NOT EXISTS timeline_month (
    owner TEXT NOT NULL,
    month TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (owner, month)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS photo_tag (
    owner       TEXT NOT NULL,
    tag         TEXT NOT NULL,            -- case-folded key
    taken_local TEXT NOT NULL,
    photo_id    TEXT NOT NULL,
    PRIMARY KEY (owner, tag, taken_local, photo_id)
) WITHOUT ROWID;

-- `labels` counts each spelling in use ({"Beach": 3, "beach": 1}); `label` is the most common
-- one (ties: the smallest), so it depends only on the current photos, never on their history.
CREATE TABLE IF NOT EXISTS tag_count (
    owner  TEXT NOT NULL,
    tag    TEXT NOT NULL,
    label  TEXT NOT NULL,
    count  INTEGER NOT NULL,
    labels TEXT NOT NULL,
    PRIMARY KEY (owner, tag)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS photo_timeline ON photo (owner, state, taken_local DESC, id DESC);
CREATE INDEX IF NOT EXISTS photo_favourites ON photo (owner, taken_local DESC, id DESC) WHERE favourite = 1 AND state = 'library';
-- archived in the key, not in the WHERE: with it the planner prefers this (three equalities) to
-- walking photo_shown's every older photo for one day of the year.
CREATE INDEX IF NOT EXISTS photo_memories ON photo (owner, md, archived, taken_local DESC) WHERE state = 'library';
-- The timeline (and the Archive view) walk only their own rows, however many are archived.
CREATE INDEX IF NOT EXISTS photo_shown ON photo (owner, archived, taken_local DESC, id DESC) WHERE state = 'library';
CREATE INDEX IF NOT EXISTS photo_purge_due ON photo (purge_at) WHERE state = 'trash';
-- Covering for "already backed up?" (POST /api/photos/check): 5,000 probes read no table row.
CREATE INDEX IF NOT EXISTS photo_by_sha ON photo (sha256, owner, state, id);
-- Search with kind=video walks only the videos (few among many photos); kind=photo walks the
-- timeline index, where nearly every row matches.
CREATE INDEX IF NOT EXISTS photo_videos ON photo (owner, taken_local DESC, id DESC) WHERE kind = 'video' AND state = 'library';
CREATE INDEX IF NOT EXISTS photo_tag_by_photo ON photo_tag (photo_id);
