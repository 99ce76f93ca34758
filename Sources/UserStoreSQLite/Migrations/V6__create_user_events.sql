-- The change feed (WatchUsers): the events of each write transaction, written in that transaction,
-- so an event exists exactly when its change is committed. One row per transaction (a batch of
-- registrations is one): its first event's position and the events as a JSON array, each
-- [kind, id, username, email, created_at_ms, updated_at_ms, version]; the events that follow the
-- first take the next positions. The one writer thread numbers them: position order is commit
-- order. Rows older than the feed's retention are deleted.
CREATE TABLE user_events (
    first_position  INTEGER PRIMARY KEY,
    committed_at_ms INTEGER NOT NULL,
    events          TEXT    NOT NULL
);

-- The feed's id, in every cursor it gives: a cursor of another data directory is never read here.
INSERT INTO service_secrets (name, value) VALUES ('feed_id', randomblob(8));
