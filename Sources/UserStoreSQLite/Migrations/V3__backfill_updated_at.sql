-- Fills updated_at for the users registered before it existed (a NULL reads as created_at meanwhile).
UPDATE users SET updated_at_ms = created_at_ms WHERE updated_at_ms IS NULL;
