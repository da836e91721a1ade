//! Failed logins per account, for the growing lockout (interface.md, Brute force).
//!
//! An attempt is *reserved* before the password is checked, in one write transaction:
//! parallel guesses cannot all pass a "not locked yet" check before any failure is
//! recorded. A success clears the account's record.

use rusqlite::{params, OptionalExtension};

use super::{Conn, StoreError};

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
    conn: &Conn,
    connection: &str,
    email: &str,
    now: i64,
    window: i64,
    max: u32,
) -> Result<Attempt, StoreError> {
    let locked: Option<i64> = conn
        .prepare_cached(
            "SELECT locked_until FROM login_failures WHERE connection = ?1 AND email = ?2 AND locked_until > ?3",
        )?
        .query_row(params![connection, email, now], |r| r.get(0))
        .optional()?;
    if let Some(until) = locked {
        return Ok(Attempt::Locked(until));
    }
    let failures: i64 = conn
        .prepare_cached(
            "INSERT INTO login_failures (connection, email, failures, window_start) VALUES (?1, ?2, 1, ?3) \
             ON CONFLICT (connection, email) DO UPDATE SET \
               failures = CASE WHEN window_start < ?3 - ?4 AND locked_until IS NULL THEN 1 ELSE failures + 1 END, \
               window_start = CASE WHEN window_start < ?3 - ?4 AND locked_until IS NULL THEN ?3 ELSE window_start END \
             RETURNING failures",
        )?
        .query_row(params![connection, email, now, window], |r| r.get(0))?;
    let over = failures - i64::from(max);
    if over < 0 {
        return Ok(Attempt::Allowed { locks: None });
    }
    let until = now + (60i64 << over.min(6)).min(3600);
    conn.prepare_cached(
        "UPDATE login_failures SET locked_until = ?3 WHERE connection = ?1 AND email = ?2",
    )?
    .execute(params![connection, email, until])?;
    Ok(Attempt::Allowed { locks: Some(until) })
}

pub fn clear(conn: &Conn, connection: &str, email: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM login_failures WHERE connection = ?1 AND email = ?2")?
        .execute(params![connection, email])?;
    Ok(())
}

/// Give back an attempt reserved by `reserve` whose password was never checked (the
/// server failed in between): only a verified wrong password counts (review M1).
pub fn unreserve(
    conn: &Conn,
    connection: &str,
    email: &str,
    locked_by_it: Option<i64>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE login_failures SET failures = max(failures - 1, 0), \
           locked_until = CASE WHEN ?3 IS NOT NULL AND locked_until = ?3 THEN NULL ELSE locked_until END \
         WHERE connection = ?1 AND email = ?2",
    )?
    .execute(params![connection, email, locked_by_it])?;
    Ok(())
}
