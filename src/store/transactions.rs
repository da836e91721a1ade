//! Login transactions: a validated authorization request parked while the user signs in.

use rusqlite::{params, OptionalExtension};

use super::{Conn, StoreError};

pub struct Transaction {
    pub client_id: String,
    pub request: String,
    pub browser: String,
}

pub fn create(
    conn: &Conn,
    id: &str,
    client_id: &str,
    request_json: &str,
    browser: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO login_transactions (id, client_id, request, browser, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        client_id,
        request_json,
        browser,
        now,
        expires_at
    ])?;
    Ok(())
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
