//! Authorization codes, stored as SHA-256; single use (RFC 6749 4.1.2).

use rusqlite::{params, OptionalExtension};

use super::{Conn, StoreError};

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

pub fn insert(conn: &Conn, code_hash: &str, g: &CodeGrant, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge, nonce, \
         scope, audience, user_id, auth_time, claims, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        code_hash,
        g.client_id,
        g.redirect_uri,
        g.code_challenge,
        g.nonce,
        g.scope,
        g.audience,
        g.user_id,
        g.auth_time,
        g.claims,
        now,
        g.expires_at
    ])?;
    Ok(())
}

pub fn get(conn: &Conn, code_hash: &str) -> Result<Option<CodeGrant>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT client_id, redirect_uri, code_challenge, nonce, scope, audience, user_id, \
             auth_time, claims, expires_at, used_at, access_jti, access_exp \
             FROM authorization_codes WHERE code_hash = ?1",
        )?
        .query_row([code_hash], |r| {
            Ok(CodeGrant {
                client_id: r.get(0)?,
                redirect_uri: r.get(1)?,
                code_challenge: r.get(2)?,
                nonce: r.get(3)?,
                scope: r.get(4)?,
                audience: r.get(5)?,
                user_id: r.get(6)?,
                auth_time: r.get(7)?,
                claims: r.get(8)?,
                expires_at: r.get(9)?,
                used_at: r.get(10)?,
                access_jti: r.get(11)?,
                access_exp: r.get(12)?,
            })
        })
        .optional()?)
}

/// Mark redeemed, recording the access token it bought. False if it was already used.
pub fn mark_used(
    conn: &Conn,
    code_hash: &str,
    now: i64,
    access_jti: &str,
    access_exp: i64,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE authorization_codes SET used_at = ?2, access_jti = ?3, access_exp = ?4 \
             WHERE code_hash = ?1 AND used_at IS NULL",
        )?
        .execute(params![code_hash, now, access_jti, access_exp])?
        == 1)
}
