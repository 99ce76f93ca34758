-- Users that change (user.v2): a version, 1 at registration, and the time of the last change.
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN updated_at_ms INTEGER;
