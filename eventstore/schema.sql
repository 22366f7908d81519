-- The event log: the only source of truth. Append-only; positions are gap-free and in commit
-- order because one writer connection assigns them (INTEGER PRIMARY KEY = max + 1, and rows are
-- never deleted). Each row's hash chains to the previous row's, so `octopus verify` can name the
-- first position whose bytes changed.
CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    event_id       TEXT    NOT NULL UNIQUE,
    stream         TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    type_version   INTEGER NOT NULL,
    data           BLOB    NOT NULL,
    recorded_us    INTEGER NOT NULL,
    actor          TEXT,
    owner          TEXT,
    correlation_id TEXT,
    causation_id   TEXT,
    hash           BLOB    NOT NULL,
    UNIQUE (stream, stream_version)
);

-- Sync feeds read "this user's events after position N".
CREATE INDEX IF NOT EXISTS events_by_owner ON events (owner, position);

CREATE TRIGGER IF NOT EXISTS events_are_immutable_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable');
END;

CREATE TRIGGER IF NOT EXISTS events_are_immutable_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable');
END;

-- One row per projector: which version of its SQL and code built its tables, and how far into
-- the log they are. Inline projectors update this row in the same transaction as the append.
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name             TEXT PRIMARY KEY,
    version          TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    generation       INTEGER NOT NULL DEFAULT 0,
    rebuilt_at       TEXT,
    rebuild_position INTEGER,
    rebuild_target   INTEGER,
    tables           TEXT    NOT NULL DEFAULT '[]',
    error            TEXT
);

-- Secrets (password hashes, session token digests, per-photo data keys, wrapped vault keys) live
-- here, outside the log: destroying a row must be able to make data unreadable for good, which an
-- immutable log cannot do. Included in backups; never replayed.
CREATE TABLE IF NOT EXISTS keystore (
    key_id     TEXT PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    owner      TEXT,
    material   BLOB    NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keystore_by_owner ON keystore (owner, purpose);
