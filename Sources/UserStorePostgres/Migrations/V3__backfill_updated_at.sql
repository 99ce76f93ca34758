-- Fills updated_at for the users registered before it existed. A plain UPDATE in its own
-- transaction: it takes row locks only (ROW EXCLUSIVE on the table), so reads and registrations go
-- on while it runs; a change to one of these users waits for it (see docs/ARCHITECTURE.md for the
-- time it takes). Rows registered by a server of an earlier version while it runs keep NULL, which
-- reads as created_at.
UPDATE users SET updated_at = created_at WHERE updated_at IS NULL;
