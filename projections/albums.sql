-- Albums and their photos. Counts and covers are computed at query time from the visible
-- (library) photos, so trashing a photo needs no album bookkeeping.
CREATE TABLE IF NOT EXISTS album (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    version    INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS album_photo (
    album_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    position INTEGER NOT NULL,            -- log position of the add: album order
    PRIMARY KEY (album_id, photo_id)
) WITHOUT ROWID;

-- Descriptions (AlbumDescribed), kept apart: most albums have none.
CREATE TABLE IF NOT EXISTS album_description (
    album_id    TEXT PRIMARY KEY,
    description TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS album_by_owner ON album (owner, created_at);
CREATE INDEX IF NOT EXISTS album_photo_by_photo ON album_photo (photo_id);
CREATE INDEX IF NOT EXISTS album_photo_order ON album_photo (album_id, position);
