-- The family cap (review M4) looks at a user's live families on every code exchange:
-- index exactly those, so the check reads index entries, not every row the user ever had.
CREATE INDEX refresh_tokens_live ON refresh_tokens (user_id, client_id, created_at)
    WHERE rotated_at IS NULL AND revoked_at IS NULL;
