-- Upstream OpenID providers as connections.

-- A user of an upstream connection is its (issuer, subject) there, never an address:
-- two people with one address at the upstream stay two users, and nobody is matched to
-- another account by e-mail. The address rules below apply to database users only.
ALTER TABLE users ADD COLUMN upstream_subject TEXT;
DROP INDEX users_connection_email;
CREATE UNIQUE INDEX users_connection_email ON users (connection, email COLLATE NOCASE)
    WHERE upstream_subject IS NULL;
DROP INDEX users_connection_email_key;
CREATE UNIQUE INDEX users_connection_email_key ON users (connection, email_key)
    WHERE upstream_subject IS NULL;
CREATE UNIQUE INDEX users_connection_upstream ON users (connection, upstream_subject)
    WHERE upstream_subject IS NOT NULL;

-- A round trip to an upstream: its `state` (hashed), the login it belongs to, the nonce,
-- the PKCE verifier (sealed under the server secret) and the browser that started it.
CREATE TABLE upstream_flows (
    state_hash  TEXT PRIMARY KEY,
    connection  TEXT NOT NULL,
    tx_id       TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    browser     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX upstream_flows_expires ON upstream_flows (expires_at);
