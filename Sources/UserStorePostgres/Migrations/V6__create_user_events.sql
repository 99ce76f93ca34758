-- The change feed (WatchUsers). A change writes its event in its own statement (so in its own
-- transaction): an event exists exactly when its change is committed. Its `id` is taken from a
-- sequence inside that transaction, and concurrent transactions commit in another order than
-- they take ids. So the order of the feed is `position`, given only after commit, by one
-- sequencer at a time (a transaction-scoped advisory lock): each pass numbers the committed
-- events that have no position yet, after the highest position so far. Positions have no gap,
-- and no event can be numbered below one a watcher has read. docs/ARCHITECTURE.md has the argument.
-- Few indexes: each costs every change a write. Nothing looks an event up by id (the sequencer finds
-- the unnumbered ones through their partial index, and updates them by ctid).
CREATE TABLE user_events (
    id            bigserial   NOT NULL,
    position      bigint,
    kind          text        NOT NULL CHECK (kind IN ('REGISTERED', 'UPDATED', 'DELETED')),
    user_id       uuid        NOT NULL,
    username      text        NOT NULL,
    email         text        NOT NULL,
    created_at_ms bigint      NOT NULL,
    updated_at_ms bigint      NOT NULL,
    version       bigint      NOT NULL,
    -- When the sequencer numbered it: after its commit.
    committed_at  timestamptz
);

-- What the sequencer looks for: committed events without a position, in id order.
CREATE INDEX user_events_unsequenced ON user_events (id) WHERE position IS NULL;

-- What watchers read: the numbered events by position.
CREATE UNIQUE INDEX user_events_position ON user_events (position) WHERE position IS NOT NULL;

-- The feed's id, in every cursor it gives: a cursor of another database is never read here.
INSERT INTO service_secrets (name, value)
VALUES ('feed_id', decode(substr(replace(gen_random_uuid()::text, '-', ''), 1, 16), 'hex'));
