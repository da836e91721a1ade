//! Signing keys: private keys as PEM, the newest unretired one signs.

use rusqlite::params;

use super::{Conn, StoreError};

#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_pem: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

pub fn all(conn: &Conn) -> Result<Vec<StoredKey>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kid, alg, private_pem, created_at, retired_at FROM signing_keys ORDER BY created_at, rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredKey {
            kid: r.get(0)?,
            alg: r.get(1)?,
            private_pem: r.get(2)?,
            created_at: r.get(3)?,
            retired_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Retire the signing key(s) and make `key` the active one.
pub fn activate(conn: &Conn, key: &StoredKey, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL",
        [now],
    )?;
    conn.execute(
        "INSERT INTO signing_keys (kid, alg, private_pem, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![key.kid, key.alg, key.private_pem, key.created_at],
    )?;
    Ok(())
}

/// Forget keys retired before `cutoff`: no token they signed can still be valid.
pub fn delete_retired_before(conn: &Conn, cutoff: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?1",
        [cutoff],
    )?)
}
