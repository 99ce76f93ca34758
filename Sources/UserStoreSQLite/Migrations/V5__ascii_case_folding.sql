-- One case-folding rule on every store: only the ASCII letters A-Z fold. The keys were Swift's
-- Unicode lower-casing until now; SQLite's built-in lower() folds ASCII only, which is the rule.
-- Folding less only separates what was together, so the unique indexes cannot meet duplicates.
UPDATE users SET username_key = lower(username), email_key = lower(email);
