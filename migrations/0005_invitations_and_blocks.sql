-- Invitations that carry roles, and blocked users.

-- A blocked user's logins are refused after the password check; their sessions end and
-- their refresh tokens stop at once (the block itself deletes and revokes them).
ALTER TABLE users ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;

-- An invitation: one client (hence its connection and brand), one address, roles, a
-- lifetime. The link's token is stored as an HMAC under the server secret; `id` is the
-- public handle for list and revoke.
CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    client_id   TEXT NOT NULL,
    connection  TEXT NOT NULL,
    email       TEXT NOT NULL,
    roles       TEXT NOT NULL DEFAULT '[]',
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by TEXT,
    revoked_at  INTEGER,
    mailed_at   INTEGER
) STRICT;
CREATE INDEX invitations_connection_email ON invitations (connection, email);
CREATE INDEX invitations_created ON invitations (created_at, id);

-- The login that accepts an invitation: its session remembers the invitation until the
-- next login through it (rules see `event.invitation` there).
ALTER TABLE sessions ADD COLUMN invitation_id TEXT;
ALTER TABLE sessions ADD COLUMN invitation_signup INTEGER NOT NULL DEFAULT 0;
