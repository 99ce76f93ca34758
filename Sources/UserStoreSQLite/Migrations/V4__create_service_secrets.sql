-- Secrets of this data directory, made once: the key that signs page tokens (randomblob draws from
-- SQLite's generator, seeded from the operating system's random source).
CREATE TABLE service_secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);

INSERT INTO service_secrets (name, value) VALUES ('page_token_key', randomblob(32));
