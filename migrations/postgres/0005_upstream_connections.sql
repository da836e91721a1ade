-- The SQLite migration 0006: upstream OpenID providers as connections.
ALTER TABLE users ADD COLUMN upstream_subject TEXT;
DROP INDEX users_connection_email;
CREATE UNIQUE INDEX users_connection_email ON users (connection, email)
    WHERE upstream_subject IS NULL;
DROP INDEX users_connection_email_key;
CREATE UNIQUE INDEX users_connection_email_key ON users (connection, email_key)
    WHERE upstream_subject IS NULL;
CREATE UNIQUE INDEX users_connection_upstream ON users (connection, upstream_subject)
    WHERE upstream_subject IS NOT NULL;

CREATE TABLE upstream_flows (
    state_hash  TEXT PRIMARY KEY,
    connection  TEXT NOT NULL,
    tx_id       TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    browser     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX upstream_flows_expires ON upstream_flows (expires_at);
