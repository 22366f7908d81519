-- Outgoing notifications: what happened that someone asked to hear about. Rows are derived from
-- the log (sign-ins, imports, upload runs) or from periodic scans (trash about to purge), each
-- under a deterministic id, so a replay or a second scan lands on the same row instead of a new
-- one. Per-target delivery state lives in `notification_delivery` (notifications.py), outside
-- this file, so rebuilding this read model never forgets what was already delivered.
CREATE TABLE IF NOT EXISTS notification_outbox (
    id      TEXT PRIMARY KEY,      -- the delivery id receivers see; a hash of the dedup key
    kind    TEXT NOT NULL,         -- upload_batch_finished | import_finished | trash_purge_soon | login_new_device | shared_album_new_items
    user_id TEXT NOT NULL,
    at_us   INTEGER NOT NULL,      -- when it happened (µs since the epoch)
    data    TEXT NOT NULL          -- minimal JSON object: counts, ids, the user's own device name
);

-- A user's run of uploads that has not been quiet long enough yet to count as finished.
CREATE TABLE IF NOT EXISTS notification_upload_run (
    user_id        TEXT PRIMARY KEY,
    first_event_id TEXT NOT NULL,  -- names the run, so closing it twice yields one notification
    photos         INTEGER NOT NULL,
    first_us       INTEGER NOT NULL,
    last_us        INTEGER NOT NULL
);

-- Shared albums (docs/notifications.md, shared_album_new_items): owners and members as the log
-- says at each event, and each member's run of new items per album, closed like upload runs.
CREATE TABLE IF NOT EXISTS notification_album (
    album_id TEXT PRIMARY KEY,
    owner    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS notification_album_member (
    album_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (album_id, user_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS notification_album_run (
    user_id        TEXT NOT NULL,  -- who is told
    album_id       TEXT NOT NULL,
    first_event_id TEXT NOT NULL,
    photos         INTEGER NOT NULL,
    first_us       INTEGER NOT NULL,
    last_us        INTEGER NOT NULL,
    PRIMARY KEY (user_id, album_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS notification_outbox_by_time ON notification_outbox (at_us);
CREATE INDEX IF NOT EXISTS notification_outbox_by_user ON notification_outbox (user_id);
