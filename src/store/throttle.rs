//! Failed logins per account, for the growing lockout (interface.md, Brute force).

use rusqlite::{params, OptionalExtension};

use super::{Conn, StoreError};

/// The lockout in force for that account, if any (Unix seconds it ends).
pub fn locked_until(
    conn: &Conn,
    connection: &str,
    email: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT locked_until FROM login_failures WHERE connection = ?1 AND email = ?2 AND locked_until > ?3",
        )?
        .query_row(params![connection, email, now], |r| r.get(0))
        .optional()?)
}

/// Count a failure. Once `max` failures fall within `window` seconds the account locks
/// for 60 s, doubling with each further failure up to an hour.
pub fn record_failure(
    conn: &Conn,
    connection: &str,
    email: &str,
    now: i64,
    window: i64,
    max: u32,
) -> Result<Option<i64>, StoreError> {
    let failures: i64 = conn
        .prepare_cached(
            "INSERT INTO login_failures (connection, email, failures, window_start) VALUES (?1, ?2, 1, ?3) \
             ON CONFLICT (connection, email) DO UPDATE SET \
               failures = CASE WHEN window_start < ?3 - ?4 AND (locked_until IS NULL OR locked_until < ?3) \
                               THEN 1 ELSE failures + 1 END, \
               window_start = CASE WHEN window_start < ?3 - ?4 AND (locked_until IS NULL OR locked_until < ?3) \
                               THEN ?3 ELSE window_start END \
             RETURNING failures",
        )?
        .query_row(params![connection, email, now, window], |r| r.get(0))?;
    let over = failures - i64::from(max);
    if over < 0 {
        return Ok(None);
    }
    let delay = (60i64 << over.min(6)).min(3600);
    let until = now + delay;
    conn.prepare_cached(
        "UPDATE login_failures SET locked_until = ?3 WHERE connection = ?1 AND email = ?2",
    )?
    .execute(params![connection, email, until])?;
    Ok(Some(until))
}

pub fn clear(conn: &Conn, connection: &str, email: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM login_failures WHERE connection = ?1 AND email = ?2")?
        .execute(params![connection, email])?;
    Ok(())
}
