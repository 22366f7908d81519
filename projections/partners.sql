-- Partner sharing (docs/sharing.md): who shows their library to whom, from which day, and who
-- wants partners' items merged into their own timeline. Ids only; names come from app_user.
CREATE TABLE IF NOT EXISTS partner_share (
    owner      TEXT NOT NULL,              -- whose library
    partner    TEXT NOT NULL,              -- who may see it
    since      TEXT,                       -- YYYY-MM-DD: items taken (local time) on or after it; NULL: all
    created_at TEXT NOT NULL,
    PRIMARY KEY (owner, partner)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS partner_merge (
    user_id TEXT PRIMARY KEY               -- present: this user's timeline merges their partners'
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS partner_share_by_partner ON partner_share (partner, owner);
