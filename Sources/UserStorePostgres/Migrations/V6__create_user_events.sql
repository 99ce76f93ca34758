-- The change feed (WatchUsers), in two tables.
--
-- A change writes its event into user_events_pending in its own statement (so in its own
-- transaction): an event exists exactly when its change is committed. The table has no index, so
-- the event costs the change one small row and nothing more; the transaction's id (xid) comes with it.
--
-- Concurrent transactions commit in another order than they start, so the order of the feed is
-- given after commit, by one sequencer at a time (a transaction-scoped advisory lock): each pass moves
-- the committed pending events into user_events, numbered after the highest position so far, in the
-- order of their transactions' ids. Positions have no gap, and no event is numbered below one a
-- watcher has read. docs/ARCHITECTURE.md has the argument.
CREATE TABLE user_events_pending (
    kind          text   NOT NULL CHECK (kind IN ('REGISTERED', 'UPDATED', 'DELETED')),
    user_id       uuid   NOT NULL,
    username      text   NOT NULL,
    email         text   NOT NULL,
    created_at_ms bigint NOT NULL,
    updated_at_ms bigint NOT NULL,
    version       bigint NOT NULL,
    xid           xid8   NOT NULL DEFAULT pg_current_xact_id()
);

CREATE TABLE user_events (
    position      bigint      PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('REGISTERED', 'UPDATED', 'DELETED')),
    user_id       uuid        NOT NULL,
    username      text        NOT NULL,
    email         text        NOT NULL,
    created_at_ms bigint      NOT NULL,
    updated_at_ms bigint      NOT NULL,
    version       bigint      NOT NULL,
    -- When the sequencer numbered it: just after its commit.
    committed_at  timestamptz NOT NULL
);

-- The feed's id, in every cursor it gives: a cursor of another database is never read here.
INSERT INTO service_secrets (name, value)
VALUES ('feed_id', decode(substr(replace(gen_random_uuid()::text, '-', ''), 1, 16), 'hex'));
