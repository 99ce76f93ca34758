-- One case-folding rule on every store: only the ASCII letters A-Z fold (lower(x COLLATE "C")),
-- whatever the database's locale. The email index folded with the database's locale until now
-- (JÜRGEN@… and jürgen@… were one email here and two in a C-locale database). Folding less only
-- separates what was together, so the new index cannot meet duplicates among existing rows.
-- (Usernames are ASCII, which every locale folds alike; their index stays.)
DROP INDEX users_email_lower_key;
CREATE UNIQUE INDEX users_email_ascii_lower_key ON users ((lower(email COLLATE "C")));
