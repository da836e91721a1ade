//! The tokens of e-mailed links (verification, password reset): keyed hashes only,
//! single use by one atomic update, bound to user, purpose and client, and to the address
//! and password the user had when the link was made.

use super::db::{args, Db, Row};
use super::StoreError;

/// What a link is for. A token of one purpose is unknown to the other's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
        }
    }
}

pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub purpose: Purpose,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub email: &'a str,
    pub password_stamp: &'a str,
    pub tx_id: Option<&'a str>,
    pub expires_at: i64,
}

/// A live token read back (not yet used, not expired).
#[derive(Debug, Clone)]
pub struct EmailToken {
    pub user_id: String,
    pub client_id: String,
    pub email: String,
    pub password_stamp: String,
    pub tx_id: Option<String>,
}

fn from_row(r: &Row<'_, '_>) -> Result<EmailToken, StoreError> {
    Ok(EmailToken {
        user_id: r.text(0)?,
        client_id: r.text(1)?,
        email: r.text(2)?,
        password_stamp: r.text(3)?,
        tx_id: r.opt_text(4)?,
    })
}

pub fn insert(db: &mut Db<'_>, t: &NewToken<'_>, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO email_tokens (token_hash, purpose, user_id, client_id, email, password_stamp, \
         tx_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            t.token_hash,
            t.purpose.as_str(),
            t.user_id,
            t.client_id,
            t.email,
            t.password_stamp,
            t.tx_id,
            now,
            t.expires_at
        ],
    )?;
    Ok(())
}

/// The live token with this hash and purpose, without using it (the GET of a link).
pub fn peek(
    db: &mut Db<'_>,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<EmailToken>, StoreError> {
    db.query_opt(
        "SELECT user_id, client_id, email, password_stamp, tx_id FROM email_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        args![token_hash, purpose.as_str(), now],
        from_row,
    )
}

/// Use the token: true for exactly one caller, while it is live.
pub fn consume(
    db: &mut Db<'_>,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE email_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        args![token_hash, purpose.as_str(), now],
    )? == 1)
}

/// Tokens of this purpose made for the user since `since` (the per-account mail limit).
pub fn count_since(
    db: &mut Db<'_>,
    user_id: &str,
    purpose: Purpose,
    since: i64,
) -> Result<i64, StoreError> {
    db.scalar(
        "SELECT count(*) FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND created_at >= $3",
        args![user_id, purpose.as_str(), since],
    )
}

/// Void every unused link of this purpose for the user (the password or address changed).
pub fn void_for_user(
    db: &mut Db<'_>,
    user_id: &str,
    purpose: Purpose,
    now: i64,
) -> Result<usize, StoreError> {
    db.execute(
        "UPDATE email_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
        args![user_id, purpose.as_str(), now],
    )
}

/// Forget a token whose mail never left.
pub fn delete(db: &mut Db<'_>, token_hash: &str) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM email_tokens WHERE token_hash = $1",
        args![token_hash],
    )?;
    Ok(())
}
