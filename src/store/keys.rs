//! Signing keys: private keys (sealed under the server secret), when each starts to sign,
//! when it stopped, and whether it was withdrawn.

use rusqlite::params;

use super::{Conn, StoreError};

#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// `sealed:v1:...` (secrets::Secrets::seal) or, before the first start of a version
    /// that seals, a PKCS#8 PEM.
    pub private_pem: String,
    pub created_at: i64,
    /// Published from `created_at`, signs from here (a rotated key is announced first).
    pub activates_at: i64,
    /// Superseded by a newer key: signs no more, published until its tokens expired.
    pub retired_at: Option<i64>,
    /// Withdrawn (`keys retire --now`): neither signs nor verifies, gone from JWKS.
    pub withdrawn_at: Option<i64>,
}

pub fn all(conn: &Conn) -> Result<Vec<StoredKey>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kid, alg, private_pem, created_at, COALESCE(activates_at, created_at), retired_at, withdrawn_at \
         FROM signing_keys ORDER BY created_at, rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredKey {
            kid: r.get(0)?,
            alg: r.get(1)?,
            private_pem: r.get(2)?,
            created_at: r.get(3)?,
            activates_at: r.get(4)?,
            retired_at: r.get(5)?,
            withdrawn_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert(conn: &Conn, key: &StoredKey) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO signing_keys (kid, alg, private_pem, created_at, activates_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![key.kid, key.alg, key.private_pem, key.created_at, key.activates_at],
    )?;
    Ok(())
}

/// Replace a key's stored private key (sealing it, or re-sealing under a new secret).
pub fn set_private(conn: &Conn, kid: &str, sealed: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE signing_keys SET private_pem = ?2 WHERE kid = ?1",
        params![kid, sealed],
    )?;
    Ok(())
}

/// Keys that a newer, already active key replaced: retired as of that key's activation.
pub fn retire_superseded(conn: &Conn, now: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE signing_keys SET retired_at = ( \
             SELECT min(n.activates_at) FROM signing_keys n \
             WHERE n.withdrawn_at IS NULL AND n.activates_at <= ?1 \
               AND (n.activates_at > COALESCE(signing_keys.activates_at, signing_keys.created_at) \
                    OR (n.activates_at = COALESCE(signing_keys.activates_at, signing_keys.created_at) AND n.rowid > signing_keys.rowid))) \
         WHERE retired_at IS NULL AND withdrawn_at IS NULL AND EXISTS ( \
             SELECT 1 FROM signing_keys n \
             WHERE n.withdrawn_at IS NULL AND n.activates_at <= ?1 \
               AND (n.activates_at > COALESCE(signing_keys.activates_at, signing_keys.created_at) \
                    OR (n.activates_at = COALESCE(signing_keys.activates_at, signing_keys.created_at) AND n.rowid > signing_keys.rowid)))",
        [now],
    )?)
}

/// Withdraw a key at once; false when there is no such key.
pub fn withdraw(conn: &Conn, kid: &str, now: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE signing_keys SET withdrawn_at = ?2, retired_at = COALESCE(retired_at, ?2) WHERE kid = ?1 AND withdrawn_at IS NULL",
        params![kid, now],
    )? > 0)
}

/// Forget keys retired before `cutoff`: no token they signed can still be valid.
pub fn delete_retired_before(conn: &Conn, cutoff: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?1",
        [cutoff],
    )?)
}
