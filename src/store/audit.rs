//! The audit trail: logins, failures, lockouts, sign-ups, token replays, rule denials.

use rusqlite::params;

use super::{Conn, StoreError};

#[derive(Debug, Default, Clone)]
pub struct Event<'a> {
    pub kind: &'a str,
    pub connection: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub fn record(conn: &Conn, e: &Event<'_>, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_events (at, kind, connection, user_id, client_id, ip, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now,
        e.kind,
        e.connection,
        e.user_id,
        e.client_id,
        e.ip,
        e.detail
    ])?;
    tracing::info!(target: "portico::audit", kind = e.kind, connection = e.connection, user = e.user_id, client = e.client_id, ip = e.ip, detail = e.detail, "audit");
    Ok(())
}

/// Recent events of one kind (for tests and operators).
pub fn kinds_since(conn: &Conn, since: i64) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT kind, detail FROM audit_events WHERE at >= ?1 ORDER BY id")?;
    let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
