-- Bytes and item counts per user (originals in library, trash and vault count until purged).
-- `photos`/`bytes` count every item, videos included (the quota is on bytes); `videos` and
-- `video_bytes` are the part of them that is video.
CREATE TABLE IF NOT EXISTS storage_usage (
    owner       TEXT PRIMARY KEY,
    photos      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    videos      INTEGER NOT NULL DEFAULT 0,
    video_bytes INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS storage_photo (
    photo_id TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    bytes    INTEGER NOT NULL,
    video    INTEGER NOT NULL DEFAULT 0       -- 1 for a video
);
