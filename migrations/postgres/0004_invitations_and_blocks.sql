-- The SQLite migration 0005: invitations that carry roles, and blocked users.
ALTER TABLE users ADD COLUMN blocked BIGINT NOT NULL DEFAULT 0;

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    client_id   TEXT NOT NULL,
    connection  TEXT NOT NULL,
    email       TEXT NOT NULL,
    roles       TEXT NOT NULL DEFAULT '[]',
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by TEXT,
    revoked_at  BIGINT,
    mailed_at   BIGINT
);
CREATE INDEX invitations_connection_email ON invitations (connection, email);
CREATE INDEX invitations_created ON invitations (created_at, id);

ALTER TABLE sessions ADD COLUMN invitation_id TEXT;
ALTER TABLE sessions ADD COLUMN invitation_signup BIGINT NOT NULL DEFAULT 0;
