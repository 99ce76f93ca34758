-- Users that change (user.v2): a version, 1 at registration and one more on every change, and the
-- time of the last change. Both columns are added without rewriting the table (a constant default
-- and a nullable column are catalog changes only), so the ACCESS EXCLUSIVE lock this takes is held
-- for milliseconds, whatever the number of users. Until the next migration fills updated_at, a NULL
-- reads as created_at.
ALTER TABLE users
    ADD COLUMN version bigint NOT NULL DEFAULT 1,
    ADD COLUMN updated_at timestamptz;
