-- Portico's initial schema. Times are Unix seconds (UTC). Secrets are stored as hex SHA-256.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,               -- the `sub`: random, unique across connections
    connection     TEXT NOT NULL,
    email          TEXT NOT NULL,                  -- normalised (trimmed, lower-case)
    email_verified INTEGER NOT NULL DEFAULT 0,
    password_hash  TEXT NOT NULL,                  -- argon2id PHC string
    roles          TEXT NOT NULL DEFAULT '[]',     -- JSON array of role names
    logins_count   INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_login_at  INTEGER
) STRICT;
CREATE UNIQUE INDEX users_connection_email ON users (connection, email COLLATE NOCASE);

-- Single-sign-on sessions: one per browser per connection.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- A validated authorization request waiting for the user at the hosted page.
CREATE TABLE login_transactions (
    id         TEXT PRIMARY KEY,                   -- opaque id carried by the page
    client_id  TEXT NOT NULL,
    request    TEXT NOT NULL,                      -- JSON of the validated request and its CSRF token
    browser    TEXT NOT NULL,                      -- SHA-256 of the browser-binding cookie
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX login_transactions_expires ON login_transactions (expires_at);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,
    nonce          TEXT,
    scope          TEXT NOT NULL,
    audience       TEXT,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time      INTEGER NOT NULL,
    claims         TEXT NOT NULL DEFAULT '{}',     -- rule claims: {"access":{...},"id":{...}}
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,                        -- single use (RFC 6749 4.1.2)
    access_jti     TEXT,                           -- the access token it bought, for replay revocation
    access_exp     INTEGER
) STRICT;
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

-- Refresh tokens: one row per issued token; a family is one chain of rotations.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    audience    TEXT,
    auth_time   INTEGER NOT NULL,
    claims      TEXT NOT NULL DEFAULT '{}',
    code_hash   TEXT,                              -- the code the family started from
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,                  -- absolute lifetime of the family
    rotated_at  INTEGER,
    revoked_at  INTEGER,
    access_jti  TEXT,                              -- the access token issued with it
    access_exp  INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_code ON refresh_tokens (code_hash);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Revoked access tokens, remembered until they would have expired anyway.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER                            -- no longer signs; published until expiry
) STRICT;

-- Failed logins per account (connection + normalised email, known or not).
CREATE TABLE login_failures (
    connection   TEXT NOT NULL,
    email        TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER,
    PRIMARY KEY (connection, email)
) STRICT;

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    connection TEXT,
    user_id    TEXT,
    client_id  TEXT,
    ip         TEXT,
    detail     TEXT
) STRICT;
CREATE INDEX audit_events_at ON audit_events (at);
