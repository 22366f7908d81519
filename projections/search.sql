-- Full-text search over filename, description, tags and camera (FTS5). Documents stay while a
-- photo is in the trash (queries join the library to hide it) and go on purge or vault moves.
CREATE VIRTUAL TABLE IF NOT EXISTS search_doc USING fts5 (
    photo_id UNINDEXED,
    owner UNINDEXED,
    filename,
    description,
    tags,
    camera,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE IF NOT EXISTS search_rowid (
    photo_id TEXT PRIMARY KEY,
    doc      INTEGER NOT NULL
);
