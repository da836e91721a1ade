-- The fixes of the 2026-11-28 security review.

-- H1: live login transactions are capped per browser and per client address (the
-- oldest evicted), so both need an index.
ALTER TABLE login_transactions ADD COLUMN ip_bucket TEXT NOT NULL DEFAULT '';
CREATE INDEX login_transactions_browser ON login_transactions (browser, created_at);
CREATE INDEX login_transactions_ip ON login_transactions (ip_bucket, created_at);
CREATE INDEX login_transactions_created ON login_transactions (created_at);

-- M8: the look-alike key of the e-mail (domain::Email::key), unique per connection.
-- Existing rows get their id as a placeholder; Store::open computes the real keys.
ALTER TABLE users ADD COLUMN email_key TEXT NOT NULL DEFAULT '';
UPDATE users SET email_key = id;
CREATE UNIQUE INDEX users_connection_email_key ON users (connection, email_key);

-- M4: live refresh families are capped per user and client (the oldest evicted).
CREATE INDEX refresh_tokens_user_client ON refresh_tokens (user_id, client_id, created_at);

-- I8: a rotated key is published before it signs.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
UPDATE signing_keys SET activates_at = created_at;
-- I8: `keys retire --now` withdraws a compromised key from JWKS at once.
ALTER TABLE signing_keys ADD COLUMN withdrawn_at INTEGER;
