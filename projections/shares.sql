-- Share links (shares.py, docs/sharing.md). The token is only here as its SHA-256; what a link
-- shows is read at request time from album_photo / share_photo joined with photo, so trashing,
-- archiving or vaulting an item takes it out of every link with no bookkeeping here.
CREATE TABLE IF NOT EXISTS share (
    id             TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    token_digest   TEXT NOT NULL,
    album_id       TEXT,                  -- an album link; NULL for a selection (share_photo)
    created_at     TEXT NOT NULL,
    expires_at     TEXT,
    expires_us     INTEGER,               -- the same instant, for the hot path's comparison
    allow_download INTEGER NOT NULL,
    show_location  INTEGER NOT NULL,
    has_password   INTEGER NOT NULL,
    revoked        INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS share_photo (
    share_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    position INTEGER NOT NULL,            -- order given at creation
    PRIMARY KEY (share_id, photo_id)
) WITHOUT ROWID;

CREATE UNIQUE INDEX IF NOT EXISTS share_by_digest ON share (token_digest);
CREATE INDEX IF NOT EXISTS share_by_owner ON share (owner, created_at);
CREATE INDEX IF NOT EXISTS share_by_album ON share (album_id) WHERE album_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS share_photo_by_photo ON share_photo (photo_id);
CREATE INDEX IF NOT EXISTS share_photo_order ON share_photo (share_id, position);
