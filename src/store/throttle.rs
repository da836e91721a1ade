//! Failed logins per account, for the growing lockout (interface.md, Brute force).
//!
//! An attempt is *reserved* before the password is checked, in one write transaction:
//! parallel guesses cannot all pass a "not locked yet" check before any failure is
//! recorded. A success clears the account's record.

use super::db::{args, Db};
use super::StoreError;

/// The outcome of reserving one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Check the password. `locks` is set when this attempt reached the limit: the account
    /// is locked from now on unless this attempt succeeds.
    Allowed { locks: Option<i64> },
    /// Locked until then: refuse without checking the password.
    Locked(i64),
}

/// Count one attempt against `connection`/`email`. Once `max` attempts fall within
/// `window` seconds without a success, the account locks for 60 s, doubling with each
/// further attempt up to an hour; while locked, attempts are refused and not counted.
pub fn reserve(
    db: &mut Db<'_>,
    connection: &str,
    email: &str,
    now: i64,
    window: i64,
    max: u32,
) -> Result<Attempt, StoreError> {
    // One statement counts the attempt (or, while locked, leaves the row as it is) and
    // takes the row's lock until this transaction ends: a parallel guess waits here and
    // then sees this one's count and lock (SQLite's write transaction is exclusive
    // anyway; PostgreSQL's row lock gives the same order).
    let (failures, locked_until) = db.query_one(
        "INSERT INTO login_failures (connection, email, failures, window_start) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (connection, email) DO UPDATE SET \
           failures = CASE WHEN login_failures.locked_until > $3 THEN login_failures.failures \
                           WHEN login_failures.window_start < $4 AND login_failures.locked_until IS NULL THEN 1 \
                           ELSE login_failures.failures + 1 END, \
           window_start = CASE WHEN login_failures.locked_until > $3 THEN login_failures.window_start \
                           WHEN login_failures.window_start < $4 AND login_failures.locked_until IS NULL THEN $3 \
                           ELSE login_failures.window_start END \
         RETURNING failures, locked_until",
        args![connection, email, now, now - window],
        |r| Ok((r.int(0)?, r.opt_int(1)?)),
    )?;
    if let Some(until) = locked_until.filter(|u| *u > now) {
        return Ok(Attempt::Locked(until));
    }
    let over = failures - i64::from(max);
    if over < 0 {
        return Ok(Attempt::Allowed { locks: None });
    }
    let until = now + (60i64 << over.min(6)).min(3600);
    db.execute(
        "UPDATE login_failures SET locked_until = $3 WHERE connection = $1 AND email = $2",
        args![connection, email, until],
    )?;
    Ok(Attempt::Allowed { locks: Some(until) })
}

/// Give back an attempt reserved by `reserve` whose password was never checked (the
/// server failed in between): only a verified wrong password counts (review M1).
pub fn unreserve(
    db: &mut Db<'_>,
    connection: &str,
    email: &str,
    locked_by_it: Option<i64>,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE login_failures SET \
           failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, \
           locked_until = CASE WHEN locked_until = $3 THEN NULL ELSE locked_until END \
         WHERE connection = $1 AND email = $2",
        args![connection, email, locked_by_it],
    )?;
    Ok(())
}

pub fn clear(db: &mut Db<'_>, connection: &str, email: &str) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM login_failures WHERE connection = $1 AND email = $2",
        args![connection, email],
    )?;
    Ok(())
}
