//! Refresh tokens (rotated on every use; a family is one chain) and revoked access tokens.

use rusqlite::{params, OptionalExtension};

use super::{Conn, StoreError};

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub audience: Option<String>,
    pub auth_time: i64,
    pub claims: String,
    pub code_hash: Option<String>,
    /// When this row (this token) was issued; ignored by `insert`, which uses `now`.
    pub issued_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub fn insert(
    conn: &Conn,
    token_hash: &str,
    g: &RefreshGrant,
    now: i64,
    access_jti: &str,
    access_exp: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, audience, \
         auth_time, claims, code_hash, created_at, expires_at, access_jti, access_exp) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        token_hash,
        g.family_id,
        g.client_id,
        g.user_id,
        g.scope,
        g.audience,
        g.auth_time,
        g.claims,
        g.code_hash,
        now,
        g.expires_at,
        access_jti,
        access_exp
    ])?;
    Ok(())
}

pub fn get(conn: &Conn, token_hash: &str) -> Result<Option<RefreshGrant>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT family_id, client_id, user_id, scope, audience, auth_time, claims, code_hash, \
             expires_at, rotated_at, revoked_at, created_at FROM refresh_tokens WHERE token_hash = ?1",
        )?
        .query_row([token_hash], |r| {
            Ok(RefreshGrant {
                family_id: r.get(0)?,
                client_id: r.get(1)?,
                user_id: r.get(2)?,
                scope: r.get(3)?,
                audience: r.get(4)?,
                auth_time: r.get(5)?,
                claims: r.get(6)?,
                code_hash: r.get(7)?,
                expires_at: r.get(8)?,
                rotated_at: r.get(9)?,
                revoked_at: r.get(10)?,
                issued_at: r.get(11)?,
            })
        })
        .optional()?)
}

/// Evict the oldest live families of `user_id` at `client_id` beyond `keep`: their
/// access tokens are revoked and their rows deleted, so self-service users cannot grow
/// the table without bound (review M4).
pub fn evict_old_families(
    conn: &Conn,
    user_id: &str,
    client_id: &str,
    keep: i64,
) -> Result<usize, StoreError> {
    let old: Vec<String> = {
        let mut stmt = conn.prepare_cached(
            "SELECT family_id FROM refresh_tokens WHERE user_id = ?1 AND client_id = ?2 \
             AND rotated_at IS NULL AND revoked_at IS NULL \
             ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?3",
        )?;
        let rows = stmt.query_map(params![user_id, client_id, keep], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for family in &old {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO revoked_access_tokens (jti, expires_at) \
             SELECT access_jti, access_exp FROM refresh_tokens WHERE family_id = ?1 AND access_jti IS NOT NULL",
        )?
        .execute([family])?;
        conn.prepare_cached("DELETE FROM refresh_tokens WHERE family_id = ?1")?
            .execute([family])?;
    }
    Ok(old.len())
}

/// Retire a token on use. False if it had already been rotated (a replay).
pub fn mark_rotated(conn: &Conn, token_hash: &str, now: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1 AND rotated_at IS NULL AND revoked_at IS NULL",
        )?
        .execute(params![token_hash, now])?
        == 1)
}

/// Revoke every token of a family and every access token issued with them.
pub fn revoke_family(conn: &Conn, family_id: &str, now: i64) -> Result<usize, StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO revoked_access_tokens (jti, expires_at) \
         SELECT access_jti, access_exp FROM refresh_tokens WHERE family_id = ?1 AND access_jti IS NOT NULL",
    )?
    .execute([family_id])?;
    Ok(conn
        .prepare_cached(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![family_id, now])?)
}

/// The families started from one authorization code (for code-replay revocation).
pub fn families_of_code(conn: &Conn, code_hash: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT family_id FROM refresh_tokens WHERE code_hash = ?1")?;
    let rows = stmt.query_map([code_hash], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn revoke_access_token(conn: &Conn, jti: &str, expires_at: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO revoked_access_tokens (jti, expires_at) VALUES (?1, ?2)",
    )?
    .execute(params![jti, expires_at])?;
    Ok(())
}

pub fn is_access_token_revoked(conn: &Conn, jti: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM revoked_access_tokens WHERE jti = ?1")?
        .query_row([jti], |_| Ok(()))
        .optional()?
        .is_some())
}
