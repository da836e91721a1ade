//! Authorization codes, stored as SHA-256; single use (RFC 6749 4.1.2).

use super::db::{args, Db, Row};
use super::StoreError;

#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub audience: Option<String>,
    pub user_id: String,
    pub auth_time: i64,
    /// JSON `{"access":{...},"id":{...}}` of rule-set claims.
    pub claims: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub access_jti: Option<String>,
    pub access_exp: Option<i64>,
}

pub fn insert(db: &mut Db<'_>, code_hash: &str, g: &CodeGrant, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge, nonce, \
         scope, audience, user_id, auth_time, claims, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            code_hash,
            &g.client_id,
            &g.redirect_uri,
            &g.code_challenge,
            &g.nonce,
            &g.scope,
            &g.audience,
            &g.user_id,
            g.auth_time,
            &g.claims,
            now,
            g.expires_at
        ],
    )?;
    Ok(())
}

fn from_row(r: &Row<'_, '_>) -> Result<CodeGrant, StoreError> {
    Ok(CodeGrant {
        client_id: r.text(0)?,
        redirect_uri: r.text(1)?,
        code_challenge: r.opt_text(2)?,
        nonce: r.opt_text(3)?,
        scope: r.text(4)?,
        audience: r.opt_text(5)?,
        user_id: r.text(6)?,
        auth_time: r.int(7)?,
        claims: r.text(8)?,
        expires_at: r.int(9)?,
        used_at: r.opt_int(10)?,
        access_jti: r.opt_text(11)?,
        access_exp: r.opt_int(12)?,
    })
}

pub fn get(db: &mut Db<'_>, code_hash: &str) -> Result<Option<CodeGrant>, StoreError> {
    db.query_opt(
        "SELECT client_id, redirect_uri, code_challenge, nonce, scope, audience, user_id, \
         auth_time, claims, expires_at, used_at, access_jti, access_exp \
         FROM authorization_codes WHERE code_hash = $1",
        args![code_hash],
        from_row,
    )
}

/// Take the code's row lock for the rest of the transaction (PostgreSQL; SQLite's writer
/// is alone anyway): replays racing each other take turns instead of deadlocking over the
/// same revocations. False if the code is gone (another replay deleted it meanwhile).
pub fn lock(db: &mut Db<'_>, code_hash: &str) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE authorization_codes SET used_at = used_at WHERE code_hash = $1",
        args![code_hash],
    )? == 1)
}

/// Mark redeemed, recording the access token it bought. False if it was already used.
pub fn mark_used(
    db: &mut Db<'_>,
    code_hash: &str,
    now: i64,
    access_jti: &str,
    access_exp: i64,
) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE authorization_codes SET used_at = $2, access_jti = $3, access_exp = $4 \
         WHERE code_hash = $1 AND used_at IS NULL",
        args![code_hash, now, access_jti, access_exp],
    )? == 1)
}

pub fn delete(db: &mut Db<'_>, code_hash: &str) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM authorization_codes WHERE code_hash = $1",
        args![code_hash],
    )?;
    Ok(())
}
