//! Login transactions: a validated authorization request parked while the user signs in.
//!
//! Anonymous requests create them, so they are bounded (review H1): at most so many live
//! per browser and per client address, and in all; a new one evicts the oldest beyond
//! each cap. With the request itself bounded (idp::authorize::checks::lengths), the table
//! cannot grow past `total` rows of a few KiB, whatever the traffic.

use super::db::{args, Db};
use super::StoreError;

pub struct Transaction {
    pub client_id: String,
    pub request: String,
    pub browser: String,
    /// The user whose password it verified, waiting for their address to be confirmed,
    /// and whether they had just signed up.
    pub pending: Option<(String, bool)>,
}

pub struct NewTransaction<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub request_json: &'a str,
    /// SHA-256 of the browser id.
    pub browser: &'a str,
    /// The client address's bucket (idp::throttle::IpBucket), or "".
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
/// insert would cost more than the row; the overshoot is at most this many rows (and
/// housekeeping enforces it exactly every minute).
const TOTAL_CHECK_EVERY: u32 = 256;

pub fn create(db: &mut Db<'_>, t: &NewTransaction<'_>, caps: Caps) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO login_transactions (id, client_id, request, browser, ip_bucket, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            t.id,
            t.client_id,
            t.request_json,
            t.browser,
            t.ip_bucket,
            t.now,
            t.expires_at
        ],
    )?;
    db.execute(
        "DELETE FROM login_transactions WHERE id IN (SELECT id FROM login_transactions \
         WHERE browser = $1 ORDER BY created_at DESC, rowid DESC LIMIT ALL OFFSET $2)",
        args![t.browser, caps.per_browser as i64],
    )?;
    if !t.ip_bucket.is_empty() {
        db.execute(
            "DELETE FROM login_transactions WHERE id IN (SELECT id FROM login_transactions \
             WHERE ip_bucket = $1 ORDER BY created_at DESC, rowid DESC LIMIT ALL OFFSET $2)",
            args![t.ip_bucket, caps.per_ip as i64],
        )?;
    }
    let sampled = rand::RngExt::random_range(&mut rand::rng(), 0..TOTAL_CHECK_EVERY) == 0;
    if sampled || caps.total < TOTAL_CHECK_EVERY as usize {
        enforce_total(db, caps.total)?;
    }
    Ok(())
}

/// Evict the oldest transactions beyond `total`.
pub fn enforce_total(db: &mut Db<'_>, total: usize) -> Result<usize, StoreError> {
    db.execute(
        "DELETE FROM login_transactions WHERE id IN (SELECT id FROM login_transactions \
         ORDER BY created_at DESC, rowid DESC LIMIT ALL OFFSET $1)",
        args![total as i64],
    )
}

pub fn count(db: &mut Db<'_>) -> Result<i64, StoreError> {
    db.scalar("SELECT count(*) FROM login_transactions", &[])
}

pub fn get(db: &mut Db<'_>, id: &str, now: i64) -> Result<Option<Transaction>, StoreError> {
    db.query_opt(
        "SELECT client_id, request, browser, pending_user, pending_signup FROM login_transactions \
         WHERE id = $1 AND expires_at > $2",
        args![id, now],
        |r| {
            let signup = r.flag(4)?;
            Ok(Transaction {
                client_id: r.text(0)?,
                request: r.text(1)?,
                browser: r.text(2)?,
                pending: r.opt_text(3)?.map(|u| (u, signup)),
            })
        },
    )
}

/// Consume the transaction; false when it was already used (a double submit).
pub fn delete(db: &mut Db<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(db.execute("DELETE FROM login_transactions WHERE id = $1", args![id])? > 0)
}

/// The login waits for `user_id` to confirm their address.
pub fn set_pending(
    db: &mut Db<'_>,
    id: &str,
    user_id: &str,
    signup: bool,
) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE login_transactions SET pending_user = $2, pending_signup = $3 WHERE id = $1",
        args![id, user_id, signup],
    )? == 1)
}
