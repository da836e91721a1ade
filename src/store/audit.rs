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

/// A stored event, as the admin API lists it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub connection: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// What to list: by user, kind, from a time; newest first, before the cursor id.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    pub kind: Option<String>,
    pub since: Option<i64>,
    pub before_id: Option<i64>,
}

pub fn page(db: &mut Db<'_>, f: &Filter, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
    // Absent filters are no-ops written so every statement has the same parameters.
    db.query_all(
        "SELECT id, at, kind, connection, user_id, client_id, ip, detail FROM audit_events \
         WHERE id < $1 AND at >= $2 AND ($3 = '' OR user_id = $3) AND ($4 = '' OR kind = $4) \
         ORDER BY id DESC LIMIT $5",
        args![
            f.before_id.unwrap_or(i64::MAX),
            f.since.unwrap_or(i64::MIN),
            f.user_id.as_deref().unwrap_or(""),
            f.kind.as_deref().unwrap_or(""),
            limit
        ],
        |r| {
            Ok(StoredEvent {
                id: r.int(0)?,
                at: r.int(1)?,
                kind: r.text(2)?,
                connection: r.opt_text(3)?,
                user_id: r.opt_text(4)?,
                client_id: r.opt_text(5)?,
                ip: r.opt_text(6)?,
                detail: r.opt_text(7)?,
            })
        },
    )
}
