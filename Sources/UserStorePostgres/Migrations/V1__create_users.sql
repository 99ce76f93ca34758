-- Users. Uniqueness of username and email is case-insensitive and decided by these indexes.
CREATE TABLE users (
    id          uuid        PRIMARY KEY,
    username    text        NOT NULL,
    email       text        NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Unique lower-cased username, in byte order ("C" collation): it decides uniqueness and also serves
-- SearchUsers (prefix range, ORDER BY, keyset pagination) without a second index.
CREATE UNIQUE INDEX users_username_lower_key ON users ((lower(username) COLLATE "C"));

-- Unique lower-cased email: uniqueness and the exact, case-insensitive email filter.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
