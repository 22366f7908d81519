-- Accounts as sign-in and admin screens need them. Names come from sealed events; a deleted
-- account's row goes, and its key with it, so the names are gone from the log too.
CREATE TABLE IF NOT EXISTS app_user (
    id           TEXT PRIMARY KEY,
    name_key     TEXT NOT NULL UNIQUE,     -- case-folded username
    username     TEXT NOT NULL,
    display_name TEXT NOT NULL,
    admin        INTEGER NOT NULL,
    quota_bytes  INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    email        TEXT NOT NULL DEFAULT ''  -- profile data (UserEmailSet: moving in from 0.6)
);
