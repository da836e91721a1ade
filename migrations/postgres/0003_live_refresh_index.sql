-- The SQLite migration 0004: an index of the live refresh tokens only (the family cap).
CREATE INDEX refresh_tokens_live ON refresh_tokens (user_id, client_id, created_at, rowid)
    WHERE rotated_at IS NULL AND revoked_at IS NULL;
