-- Portico's schema on PostgreSQL: the same tables and columns as the SQLite migrations
-- (0001 and 0002), in PostgreSQL's types. Times are Unix seconds (UTC); secrets are
-- stored as hex SHA-256. Integer columns are BIGINT (Rust i64). `rowid` is the insertion
-- order SQLite has implicitly, used to evict the oldest rows beyond a cap.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    connection     TEXT NOT NULL,
    email          TEXT NOT NULL,
    email_key      TEXT NOT NULL DEFAULT '',
    email_verified BIGINT NOT NULL DEFAULT 0,
    password_hash  TEXT NOT NULL,
    roles          TEXT NOT NULL DEFAULT '[]',
    logins_count   BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    last_login_at  BIGINT
);
CREATE UNIQUE INDEX users_connection_email ON users (connection, email);
CREATE UNIQUE INDEX users_connection_email_key ON users (connection, email_key);

CREATE TABLE sessions (
    rowid      BIGSERIAL NOT NULL,
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

CREATE TABLE login_transactions (
    rowid      BIGSERIAL NOT NULL,
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    request    TEXT NOT NULL,
    browser    TEXT NOT NULL,
    ip_bucket  TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_transactions_expires ON login_transactions (expires_at);
CREATE INDEX login_transactions_browser ON login_transactions (browser, created_at);
CREATE INDEX login_transactions_ip ON login_transactions (ip_bucket, created_at);
CREATE INDEX login_transactions_created ON login_transactions (created_at);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,
    nonce          TEXT,
    scope          TEXT NOT NULL,
    audience       TEXT,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time      BIGINT NOT NULL,
    claims         TEXT NOT NULL DEFAULT '{}',
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    access_jti     TEXT,
    access_exp     BIGINT
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    rowid       BIGSERIAL NOT NULL,
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    audience    TEXT,
    auth_time   BIGINT NOT NULL,
    claims      TEXT NOT NULL DEFAULT '{}',
    code_hash   TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT,
    revoked_at  BIGINT,
    access_jti  TEXT,
    access_exp  BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_code ON refresh_tokens (code_hash);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_user_client ON refresh_tokens (user_id, client_id, created_at);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    private_pem  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT,
    activates_at BIGINT,
    withdrawn_at BIGINT
);

CREATE TABLE login_failures (
    connection   TEXT NOT NULL,
    email        TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (connection, email)
);

CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    connection TEXT,
    user_id    TEXT,
    client_id  TEXT,
    ip         TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
