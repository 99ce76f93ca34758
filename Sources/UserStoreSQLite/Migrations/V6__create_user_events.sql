-- The change feed (WatchUsers): one row per committed change, written in the transaction of the
-- change, so an event exists exactly when its change is committed. The one writer thread numbers
-- them: position order is commit order. Rows older than the feed's retention are deleted.
CREATE TABLE user_events (
    position        INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('REGISTERED', 'UPDATED', 'DELETED')),
    user_id         TEXT    NOT NULL,
    username        TEXT    NOT NULL,
    email           TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    committed_at_ms INTEGER NOT NULL
);

-- The feed's id, in every cursor it gives: a cursor of another data directory is never read here.
INSERT INTO service_secrets (name, value) VALUES ('feed_id', randomblob(8));
