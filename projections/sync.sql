-- The sync feed (docs/sync.md): each user's changes as wire events, ready to send. One row per
-- log event that a mirroring client needs; `position` is the event's log position (the cursor).
-- When a photo is purged or moved into the vault, every row that carried its content is deleted
-- (that content is shredded in the log too) and only the tombstone / left-library row remains.
-- A deleted album keeps only its album.deleted row; a deleted account keeps nothing.
CREATE TABLE IF NOT EXISTS sync_event (
    owner    TEXT    NOT NULL,
    position INTEGER NOT NULL,
    type     TEXT    NOT NULL,            -- wire type: photo.added, album.renamed, ...
    at       TEXT    NOT NULL,            -- RFC 3339 time of the event
    photo_id TEXT,
    album_id TEXT,
    subject  TEXT,                        -- the photo whose key this row's content depends on
    data     BLOB    NOT NULL,            -- the wire `data` object, JSON
    PRIMARY KEY (owner, position)
) WITHOUT ROWID;

-- album.photos_added/removed rows that name a photo, so shredding it can take its id out.
CREATE TABLE IF NOT EXISTS sync_album_ref (
    photo_id TEXT    NOT NULL,
    owner    TEXT    NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (photo_id, position)
) WITHOUT ROWID;

-- Current album membership, for a photo that comes back from the vault into its albums.
CREATE TABLE IF NOT EXISTS sync_album_member (
    album_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    PRIMARY KEY (album_id, photo_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS sync_event_by_subject ON sync_event (subject);
CREATE INDEX IF NOT EXISTS sync_event_by_album ON sync_event (album_id);
CREATE INDEX IF NOT EXISTS sync_album_member_by_photo ON sync_album_member (photo_id);
