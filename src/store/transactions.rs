//! Login transactions: a validated authorization request parked while the user signs in.
//!
//! Anonymous requests create them, so they are bounded (review H1): at most so many live
//! per browser and per client address, and in all; a new one evicts the oldest beyond
//! each cap. With the request itself bounded (authorize::checks::lengths), the table
//! cannot grow past `total` rows of a few KiB, whatever the traffic.

use rusqlite::{params, OptionalExtension};

use super::{Conn, StoreError};

pub struct Transaction {
    pub client_id: String,
    pub request: String,
    pub browser: String,
}

pub struct NewTransaction<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub request_json: &'a str,
    /// SHA-256 of the browser id.
    pub browser: &'a str,
    /// The client address's bucket (login::throttle::IpBucket), or "".
    pub ip_bucket: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// How many live transactions may exist.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_browser: usize,
    pub per_ip: usize,
    pub total: usize,
}

/// The global cap is enforced on one insert in this many: an exact count on every
/// insert would cost more than the row; the overshoot is at most this many rows.
const TOTAL_CHECK_EVERY: i64 = 256;

pub fn create(conn: &Conn, t: &NewTransaction<'_>, caps: Caps) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO login_transactions (id, client_id, request, browser, ip_bucket, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        t.id,
        t.client_id,
        t.request_json,
        t.browser,
        t.ip_bucket,
        t.now,
        t.expires_at
    ])?;
    let rowid = conn.last_insert_rowid();
    conn.prepare_cached(
        "DELETE FROM login_transactions WHERE rowid IN (SELECT rowid FROM login_transactions \
         WHERE browser = ?1 ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![t.browser, caps.per_browser as i64])?;
    if !t.ip_bucket.is_empty() {
        conn.prepare_cached(
            "DELETE FROM login_transactions WHERE rowid IN (SELECT rowid FROM login_transactions \
             WHERE ip_bucket = ?1 ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?2)",
        )?
        .execute(params![t.ip_bucket, caps.per_ip as i64])?;
    }
    if rowid % TOTAL_CHECK_EVERY == 0 || caps.total < TOTAL_CHECK_EVERY as usize {
        enforce_total(conn, caps.total)?;
    }
    Ok(())
}

/// Evict the oldest transactions beyond `total`.
pub fn enforce_total(conn: &Conn, total: usize) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM login_transactions WHERE rowid IN (SELECT rowid FROM login_transactions \
             ORDER BY rowid DESC LIMIT -1 OFFSET ?1)",
        )?
        .execute([total as i64])?)
}

pub fn count(conn: &Conn) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM login_transactions", [], |r| r.get(0))?)
}

pub fn get(conn: &Conn, id: &str, now: i64) -> Result<Option<Transaction>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT client_id, request, browser FROM login_transactions WHERE id = ?1 AND expires_at > ?2",
        )?
        .query_row(params![id, now], |r| {
            Ok(Transaction {
                client_id: r.get(0)?,
                request: r.get(1)?,
                browser: r.get(2)?,
            })
        })
        .optional()?)
}

/// Consume the transaction; false when it was already used (a double submit).
pub fn delete(conn: &Conn, id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM login_transactions WHERE id = ?1")?
        .execute([id])?
        > 0)
}
