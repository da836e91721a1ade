//! The audit trail: logins, failures, lockouts, sign-ups, token replays, rule denials.

use super::db::{args, Db};
use super::StoreError;
use crate::domain::AuditKind;

#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub kind: AuditKind,
    pub connection: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(kind: AuditKind) -> Self {
        Self {
            kind,
            connection: None,
            user_id: None,
            client_id: None,
            ip: None,
            detail: None,
        }
    }
}

pub fn record(db: &mut Db<'_>, e: &Event<'_>, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO audit_events (at, kind, connection, user_id, client_id, ip, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            now,
            e.kind.as_str(),
            e.connection,
            e.user_id,
            e.client_id,
            e.ip,
            e.detail
        ],
    )?;
    tracing::info!(
        target: "portico::audit",
        kind = e.kind.as_str(),
        connection = e.connection,
        user = e.user_id,
        client = e.client_id,
        ip = e.ip,
        detail = e.detail,
        "audit"
    );
    Ok(())
}

/// Events since `since`, oldest first: (kind, detail).
pub fn kinds_since(
    db: &mut Db<'_>,
    since: i64,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    db.query_all(
        "SELECT kind, detail FROM audit_events WHERE at >= $1 ORDER BY id",
        args![since],
        |r| Ok((r.text(0)?, r.opt_text(1)?)),
    )
}
