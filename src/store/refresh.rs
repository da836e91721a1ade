//! Refresh tokens (rotated on every use; a family is one chain) and revoked access tokens.

use super::db::{args, Db};
use super::StoreError;

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
    db: &mut Db<'_>,
    token_hash: &str,
    g: &RefreshGrant,
    now: i64,
    access_jti: &str,
    access_exp: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, audience, \
         auth_time, claims, code_hash, created_at, expires_at, access_jti, access_exp) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        args![
            token_hash,
            &g.family_id,
            &g.client_id,
            &g.user_id,
            &g.scope,
            &g.audience,
            g.auth_time,
            &g.claims,
            &g.code_hash,
            now,
            g.expires_at,
            access_jti,
            access_exp
        ],
    )?;
    Ok(())
}

pub fn get(db: &mut Db<'_>, token_hash: &str) -> Result<Option<RefreshGrant>, StoreError> {
    db.query_opt(
        "SELECT family_id, client_id, user_id, scope, audience, auth_time, claims, code_hash, \
         expires_at, rotated_at, revoked_at, created_at FROM refresh_tokens WHERE token_hash = $1",
        args![token_hash],
        |r| {
            Ok(RefreshGrant {
                family_id: r.text(0)?,
                client_id: r.text(1)?,
                user_id: r.text(2)?,
                scope: r.text(3)?,
                audience: r.opt_text(4)?,
                auth_time: r.int(5)?,
                claims: r.text(6)?,
                code_hash: r.opt_text(7)?,
                expires_at: r.int(8)?,
                rotated_at: r.opt_int(9)?,
                revoked_at: r.opt_int(10)?,
                issued_at: r.int(11)?,
            })
        },
    )
}

/// Evict the oldest live families of `user_id` at `client_id` beyond `keep`: their
/// access tokens are revoked and their rows deleted, so self-service users cannot grow
/// the table without bound (review M4).
pub fn evict_old_families(
    db: &mut Db<'_>,
    user_id: &str,
    client_id: &str,
    keep: i64,
) -> Result<usize, StoreError> {
    let old = db.query_all(
        "SELECT family_id FROM refresh_tokens WHERE user_id = $1 AND client_id = $2 \
         AND rotated_at IS NULL AND revoked_at IS NULL \
         ORDER BY created_at DESC, rowid DESC LIMIT ALL OFFSET $3",
        args![user_id, client_id, keep],
        |r| r.text(0),
    )?;
    for family in &old {
        revoke_access_tokens_of_family(db, family)?;
        db.execute(
            "DELETE FROM refresh_tokens WHERE family_id = $1",
            args![family],
        )?;
    }
    Ok(old.len())
}

/// Rotated tokens kept per family for reuse detection: a stolen token is presented
/// soon after its rotation; older ones would only grow the table (review M4).
pub const ROTATED_KEPT: i64 = 10;

/// Forget the rotated tokens of a family beyond the newest `ROTATED_KEPT`. One of those
/// presented later is an unknown token (refused), no longer a detected reuse.
pub fn prune_rotated(db: &mut Db<'_>, family_id: &str) -> Result<usize, StoreError> {
    db.execute(
        "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens \
         WHERE family_id = $1 AND rotated_at IS NOT NULL \
         ORDER BY rotated_at DESC, rowid DESC LIMIT ALL OFFSET $2)",
        args![family_id, ROTATED_KEPT],
    )
}

/// Take the token's row lock for the rest of the transaction (see `codes::lock`).
pub fn lock(db: &mut Db<'_>, token_hash: &str) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE refresh_tokens SET rotated_at = rotated_at WHERE token_hash = $1",
        args![token_hash],
    )? == 1)
}

/// Retire a token on use. False if it had already been rotated (a replay).
pub fn mark_rotated(db: &mut Db<'_>, token_hash: &str, now: i64) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
        args![token_hash, now],
    )? == 1)
}

fn revoke_access_tokens_of_family(db: &mut Db<'_>, family_id: &str) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO revoked_access_tokens (jti, expires_at) \
         SELECT access_jti, access_exp FROM refresh_tokens WHERE family_id = $1 AND access_jti IS NOT NULL \
         ON CONFLICT DO NOTHING",
        args![family_id],
    )?;
    Ok(())
}

/// Revoke every token of a family and every access token issued with them.
pub fn revoke_family(db: &mut Db<'_>, family_id: &str, now: i64) -> Result<usize, StoreError> {
    // Until a pass finds nothing left: on PostgreSQL a rotation of this family may commit
    // while a pass waits on its row, and the successor it inserted is only visible to the
    // next statement. A rotation that has not reached its row yet finds it revoked.
    let mut total = 0;
    loop {
        revoke_access_tokens_of_family(db, family_id)?;
        let n = db.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
            args![family_id, now],
        )?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// The families started from one authorization code (for code-replay revocation).
pub fn families_of_code(db: &mut Db<'_>, code_hash: &str) -> Result<Vec<String>, StoreError> {
    db.query_all(
        "SELECT DISTINCT family_id FROM refresh_tokens WHERE code_hash = $1",
        args![code_hash],
        |r| r.text(0),
    )
}

pub fn revoke_access_token(db: &mut Db<'_>, jti: &str, expires_at: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        args![jti, expires_at],
    )?;
    Ok(())
}

pub fn is_access_token_revoked(db: &mut Db<'_>, jti: &str) -> Result<bool, StoreError> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM revoked_access_tokens WHERE jti = $1",
            args![jti],
            |_| Ok(()),
        )?
        .is_some())
}

/// Revoke every live family of the user, with the access tokens they bought.
pub fn revoke_user(db: &mut Db<'_>, user_id: &str, now: i64) -> Result<usize, StoreError> {
    let families = db.query_all(
        "SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
        args![user_id],
        |r| r.text(0),
    )?;
    for f in &families {
        revoke_family(db, f, now)?;
    }
    Ok(families.len())
}
