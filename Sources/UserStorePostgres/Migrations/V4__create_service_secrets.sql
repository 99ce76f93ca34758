-- Secrets every server of this database shares, made once: the key that signs page tokens, so that
-- a token one server issued is accepted by all (and a token made by hand by none). gen_random_uuid()
-- draws from the operating system's secure random source (pg_strong_random).
CREATE TABLE service_secrets (
    name   text  PRIMARY KEY,
    value  bytea NOT NULL
);

INSERT INTO service_secrets (name, value)
VALUES ('page_token_key', decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
