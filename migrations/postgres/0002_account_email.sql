-- Account e-mail (verification, password reset): the SQLite migration 0003 in
-- PostgreSQL's types.

CREATE TABLE email_tokens (
    token_hash     TEXT PRIMARY KEY,
    purpose        TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    email          TEXT NOT NULL,
    password_stamp TEXT NOT NULL,
    tx_id          TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose, created_at);
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);

CREATE TABLE mail_jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    done_at         BIGINT
);
CREATE INDEX mail_jobs_due ON mail_jobs (state, next_attempt_at);
CREATE INDEX mail_jobs_done ON mail_jobs (done_at);

ALTER TABLE login_transactions ADD COLUMN pending_user TEXT;
ALTER TABLE login_transactions ADD COLUMN pending_signup BIGINT NOT NULL DEFAULT 0;
