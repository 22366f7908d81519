-- Bytes and photo counts per user (originals in library, trash and vault count until purged).
CREATE TABLE IF NOT EXISTS storage_usage (
    owner  TEXT PRIMARY KEY,
    photos INTEGER NOT NULL,
    bytes  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS storage_photo (
    photo_id TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    bytes    INTEGER NOT NULL
);
