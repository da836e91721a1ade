-- Account e-mail (verification, password reset): the links' tokens and the mail queue.

-- A link's token, stored as a keyed hash (HMAC under the server secret). Single use
-- (`used_at` set by one atomic update), bound to user, purpose and client, and to the
-- address and password the user had when it was made (a change voids the link).
CREATE TABLE email_tokens (
    token_hash     TEXT PRIMARY KEY,
    purpose        TEXT NOT NULL,                  -- verify | reset
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    email          TEXT NOT NULL,
    password_stamp TEXT NOT NULL,
    tx_id          TEXT,                           -- the login to continue, if still open
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
) STRICT;
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose, created_at);
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);

-- "Send this mail": committed by the request, delivered by a sender task with retries.
-- The payload names what to send (never a link: the sender makes the token when it
-- renders the mail, so no usable link is ever stored).
CREATE TABLE mail_jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,                 -- verify | reset
    payload         TEXT NOT NULL,                 -- JSON
    state           TEXT NOT NULL DEFAULT 'pending', -- pending | sent | dropped | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
) STRICT;
CREATE INDEX mail_jobs_due ON mail_jobs (state, next_attempt_at);
CREATE INDEX mail_jobs_done ON mail_jobs (done_at);

-- A login waiting for the user to confirm their address (`email_verification =
-- "required"`): the user whose password it verified, and whether they just signed up.
ALTER TABLE login_transactions ADD COLUMN pending_user TEXT;
ALTER TABLE login_transactions ADD COLUMN pending_signup INTEGER NOT NULL DEFAULT 0;
