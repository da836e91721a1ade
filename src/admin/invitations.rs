//! `/admin/v1/invitations`: list, create (the URL comes back; mailed with `[email]`), revoke.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};

use super::model::{
    ApiError, CreatedInvitation, InvitationOut, InvitationPage, InvitationQuery, NewInvitationIn,
};
use super::{
    body, caller, decode_cursor, encode_cursor, json, limit, no_content, query, Answer, Failure,
};
use crate::domain::Email;
use crate::idp::invitations::{self as core, InviteError, NewInvitation, DEFAULT_TTL_DAYS};
use crate::idp::users::Actor;
use crate::state::AppState;
use crate::store;

const SCOPE: &str = "admin:invitations";

#[utoipa::path(get, path = "/admin/v1/invitations", tag = "invitations", params(InvitationQuery),
    responses((status = 200, body = InvitationPage), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = ["admin:invitations"])))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    caller(&req, &state, SCOPE).await?;
    let q: InvitationQuery = query(&req)?;
    let (limit, after) = (limit(q.limit)?, decode_cursor(q.cursor.as_deref())?);
    let mut page = state
        .idp
        .store
        .read(move |db| {
            let after = after.as_ref().map(|(t, id)| (*t, id.as_str()));
            store::invitations::page(db, q.client_id.as_deref(), after, limit + 1)
        })
        .await?;
    let more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    let next_cursor = match page.last() {
        Some(i) if more => Some(encode_cursor(i.created_at, &i.id)),
        _ => None,
    };
    let now = state.now();
    let invitations = page
        .into_iter()
        .map(|i| InvitationOut::of(i, now))
        .collect();
    Ok(json(
        StatusCode::OK,
        &InvitationPage {
            invitations,
            next_cursor,
        },
    ))
}

#[utoipa::path(post, path = "/admin/v1/invitations", tag = "invitations", request_body = NewInvitationIn,
    responses((status = 201, body = CreatedInvitation), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = ["admin:invitations"])))]
pub async fn create(req: HttpRequest, state: web::Data<AppState>, bytes: web::Bytes) -> Answer {
    let who = caller(&req, &state, SCOPE).await?;
    let n: NewInvitationIn = body(&bytes)?;
    let email = Email::parse(&n.email).map_err(|e| Failure::bad_request(format!("email: {e}")))?;
    let new = NewInvitation {
        client_id: &n.client_id,
        email: &email,
        roles: &n.roles,
        ttl_days: n.ttl_days.unwrap_or(DEFAULT_TTL_DAYS),
        actor: Actor::Client(who.client_id),
    };
    let now = state.now();
    let c = core::create(&state.idp, &new, now)
        .await
        .map_err(|e| match e {
            InviteError::Store(e) => Failure::from(e),
            other => Failure::bad_request(other.to_string()),
        })?;
    let created = CreatedInvitation {
        invitation: InvitationOut::of(c.invitation, now),
        url: c.url,
        mailed: c.mailed,
    };
    Ok(json(StatusCode::CREATED, &created))
}

#[utoipa::path(delete, path = "/admin/v1/invitations/{id}", tag = "invitations", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)),
    security(("bearer" = ["admin:invitations"])))]
pub async fn revoke(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state, SCOPE).await?;
    let id = req.match_info().get("id").unwrap_or_default().to_owned();
    match core::revoke(&state.idp, &id, Actor::Client(who.client_id), state.now()).await? {
        true => Ok(no_content()),
        false => Err(Failure::not_found("open invitation")),
    }
}
