-- Users. Uniqueness of username and email is case-insensitive: the keys are the values lower-cased by
-- the server (Swift's Unicode lower-casing, the rule the embedded store has always used), and the
-- UNIQUE constraints decide it, atomically with the insert.
CREATE TABLE users (
    id            TEXT    PRIMARY KEY,   -- the id's lower-case 36-character text
    username      TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    email_key     TEXT    NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
