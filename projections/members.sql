-- Shared albums (docs/sharing.md): who is a member of which album, and each member's share of
-- the sync feed. The projector keeps its own copy of albums and their items (owner, items and
-- whose each item is) because during a rebuild it must not read other read models, which show
-- the end of the log, not the event being replayed. Rows hold ids only: names and photo fields
-- are read from the albums and library read models when a feed page is sent, so a purge or an
-- account deletion has nothing personal to shred here.
CREATE TABLE IF NOT EXISTS member_album (
    album_id TEXT PRIMARY KEY,
    owner    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS album_member (
    album_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    role     TEXT NOT NULL,                -- viewer | contributor
    since    TEXT NOT NULL,                -- RFC 3339 time of the (last) invitation
    PRIMARY KEY (album_id, user_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS member_album_photo (
    album_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    owner    TEXT NOT NULL,                -- whose item it is (a contributor's stays theirs)
    PRIMARY KEY (album_id, photo_id)
) WITHOUT ROWID;

-- Each member's (and an album owner's, for contributors' items) share events, by log position.
CREATE TABLE IF NOT EXISTS shared_feed (
    owner    TEXT    NOT NULL,             -- whose feed: the recipient
    position INTEGER NOT NULL,
    type     TEXT    NOT NULL,             -- album.joined, album.left, album.shared_added, _updated, _removed
    at       TEXT    NOT NULL,
    album_id TEXT    NOT NULL,
    data     BLOB    NOT NULL,             -- {"role"?, "photo_ids": [...]}: ids only
    PRIMARY KEY (owner, position, album_id) -- one event may concern several albums (an item in two)
) WITHOUT ROWID;

-- Feed rows that name a photo, so a purge can take the id out of them.
CREATE TABLE IF NOT EXISTS shared_feed_ref (
    photo_id TEXT    NOT NULL,
    owner    TEXT    NOT NULL,
    position INTEGER NOT NULL,
    album_id TEXT    NOT NULL,
    PRIMARY KEY (photo_id, owner, position, album_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS member_album_by_owner ON member_album (owner);
CREATE INDEX IF NOT EXISTS album_member_by_user ON album_member (user_id);
CREATE INDEX IF NOT EXISTS member_album_photo_by_photo ON member_album_photo (photo_id);
CREATE INDEX IF NOT EXISTS member_album_photo_by_owner ON member_album_photo (album_id, owner);
CREATE INDEX IF NOT EXISTS shared_feed_by_album ON shared_feed (album_id);
