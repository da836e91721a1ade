//! `/admin/v1/audit`: the audit trail, newest first, by user, kind and time.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};

use super::model::{ApiError, AuditEvent, AuditPage, AuditQuery};
use super::{caller, decode_cursor, encode_cursor, json, limit, query, Answer};
use crate::state::AppState;
use crate::store::audit::{self, Filter};

#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = ["admin:audit:read"])))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    caller(&req, &state, "admin:audit:read").await?;
    let q: AuditQuery = query(&req)?;
    let (limit, before) = (limit(q.limit)?, decode_cursor(q.cursor.as_deref())?);
    let f = Filter {
        user_id: q.user,
        kind: q.kind,
        since: q.since,
        before_id: before.map(|(id, _)| id),
    };
    let mut events = state
        .idp
        .store
        .read(move |db| audit::page(db, &f, limit + 1))
        .await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next_cursor = match events.last() {
        Some(e) if more => Some(encode_cursor(e.id, "")),
        _ => None,
    };
    let events = events.into_iter().map(AuditEvent::from).collect();
    Ok(json(
        StatusCode::OK,
        &AuditPage {
            events,
            next_cursor,
        },
    ))
}
