-- Devices with app passwords, for Settings → Devices. The secret's digest and the activity live
-- in the keystore (never derived from the log); a revoked device's row goes, and an account's
-- rows go with it (their names were sealed under the account's key, shredded then too).
CREATE TABLE IF NOT EXISTS device (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS device_owner ON device (owner, created_at);
