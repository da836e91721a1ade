//! `/admin/v1/users`: find, create, read, change, delete; end sessions; mail a reset.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};

use super::model::{
    ApiError, NewUser, PasswordResetIn, Queued, UserOut, UserPage, UserPatch, UserQuery,
};
use super::{
    body, caller, decode_cursor, encode_cursor, json, limit, no_content, query, Answer, Failure,
};
use crate::domain::{valid_role, Email, Password};
use crate::idp::account::jobs::{self, Job};
use crate::idp::signup::{self, NewAccount, Origin};
use crate::idp::users::{self as core, Actor, Patch};
use crate::idp::Refusal;
use crate::state::AppState;
use crate::store;

const READ: &str = "admin:users:read";
const WRITE: &str = "admin:users:write";

fn path_id(req: &HttpRequest) -> String {
    req.match_info().get("id").unwrap_or_default().to_owned()
}

fn check_roles(roles: &[String]) -> Result<(), Failure> {
    match roles.iter().find(|r| !valid_role(r)) {
        Some(r) => Err(Failure::bad_request(format!("role \"{r}\" is not valid"))),
        None => Ok(()),
    }
}

#[utoipa::path(get, path = "/admin/v1/users", tag = "users", params(UserQuery),
    responses((status = 200, body = UserPage), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = ["admin:users:read"])))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    caller(&req, &state, READ).await?;
    let q: UserQuery = query(&req)?;
    let (limit, after) = (limit(q.limit)?, decode_cursor(q.cursor.as_deref())?);
    // The address as stored (normalised); one that does not parse matches nobody.
    let email = q.email.as_deref().map(|e| {
        Email::parse(e)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| e.to_owned())
    });
    let mut users = state
        .idp
        .store
        .read(move |db| {
            let after = after.as_ref().map(|(t, id)| (*t, id.as_str()));
            store::users::page(
                db,
                q.connection.as_deref(),
                email.as_deref(),
                after,
                limit + 1,
            )
        })
        .await?;
    let more = users.len() as i64 > limit;
    users.truncate(limit as usize);
    let next_cursor = match users.last() {
        Some(u) if more => Some(encode_cursor(u.created_at, &u.id)),
        _ => None,
    };
    let users = users.into_iter().map(UserOut::from).collect();
    Ok(json(StatusCode::OK, &UserPage { users, next_cursor }))
}

#[utoipa::path(post, path = "/admin/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserOut), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn create(req: HttpRequest, state: web::Data<AppState>, bytes: web::Bytes) -> Answer {
    let who = caller(&req, &state, WRITE).await?;
    let n: NewUser = body(&bytes)?;
    let s = &state.idp.settings();
    if !s
        .connections
        .iter()
        .any(|c| c.name.as_str() == n.connection)
    {
        return Err(Failure::bad_request(format!(
            "connection \"{}\" is not defined",
            n.connection
        )));
    }
    let email = Email::parse(&n.email).map_err(|e| Failure::bad_request(format!("email: {e}")))?;
    check_roles(&n.roles)?;
    let password = Password::new(n.password);
    let account = NewAccount {
        connection: &n.connection,
        client_id: Some(&who.client_id),
        email: &email,
        password: &password,
        roles: &n.roles,
        origin: Origin::Admin,
        tx: None,
    };
    let now = state.now();
    let user = signup::create(&state.idp, &account, now)
        .await
        .map_err(|r| match r {
            Refusal::NotCreated => Failure::new(
                StatusCode::CONFLICT,
                "conflict",
                "the address (or a look-alike) has an account in this connection",
            ),
            Refusal::Invalid(why) => Failure::bad_request(why.into_owned()),
            Refusal::Busy => Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "busy; retry",
            ),
            _ => Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the user was not created",
            ),
        })?;
    let user = match n.email_verified {
        true => {
            let p = Patch {
                email_verified: Some(true),
                ..Default::default()
            };
            core::apply(&state.idp, &user.id, p, Actor::Client(who.client_id), now)
                .await?
                .ok_or_else(|| Failure::not_found("user"))?
        }
        false => user,
    };
    Ok(json(StatusCode::CREATED, &UserOut::from(user)))
}

#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = ["admin:users:read"])))]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    caller(&req, &state, READ).await?;
    let id = path_id(&req);
    let user = state
        .idp
        .store
        .read(move |db| store::users::get(db, &id))
        .await?;
    let user = user.ok_or_else(|| Failure::not_found("user"))?;
    Ok(json(StatusCode::OK, &UserOut::from(user)))
}

#[utoipa::path(patch, path = "/admin/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    request_body = UserPatch,
    responses((status = 200, body = UserOut), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn patch(req: HttpRequest, state: web::Data<AppState>, bytes: web::Bytes) -> Answer {
    let who = caller(&req, &state, WRITE).await?;
    let p: UserPatch = body(&bytes)?;
    check_roles(p.roles.as_deref().unwrap_or_default())?;
    let patch = Patch {
        roles: p.roles,
        blocked: p.blocked,
        email_verified: p.email_verified,
    };
    let user = core::apply(
        &state.idp,
        &path_id(&req),
        patch,
        Actor::Client(who.client_id),
        state.now(),
    )
    .await?;
    let user = user.ok_or_else(|| Failure::not_found("user"))?;
    Ok(json(StatusCode::OK, &UserOut::from(user)))
}

#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn delete(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state, WRITE).await?;
    let (id, now, a) = (path_id(&req), state.now(), Actor::Client(who.client_id));
    match state
        .idp
        .store
        .write(move |db| core::delete(db, &id, &a, now))
        .await?
    {
        true => Ok(no_content()),
        false => Err(Failure::not_found("user")),
    }
}

#[utoipa::path(delete, path = "/admin/v1/users/{id}/sessions", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn end_sessions(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state, WRITE).await?;
    let (id, now, a) = (path_id(&req), state.now(), Actor::Client(who.client_id));
    match state
        .idp
        .store
        .write(move |db| core::end_sessions(db, &id, &a, now))
        .await?
    {
        true => Ok(no_content()),
        false => Err(Failure::not_found("user")),
    }
}

#[utoipa::path(post, path = "/admin/v1/users/{id}/password-reset", tag = "users", params(("id" = String, Path)),
    request_body = PasswordResetIn,
    responses((status = 202, body = Queued), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> Answer {
    caller(&req, &state, WRITE).await?;
    let b: PasswordResetIn = body(&bytes)?;
    let s = &state.idp.settings();
    if s.email.is_none() {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "mail_not_configured",
            "no [email] section: no mail can be sent",
        ));
    }
    let id = path_id(&req);
    let user = state
        .idp
        .store
        .read(move |db| store::users::get(db, &id))
        .await?;
    let user = user.ok_or_else(|| Failure::not_found("user"))?;
    let of_connection = s.client(&b.client_id).is_some_and(|c| {
        c.connection.as_ref().map(|n| n.as_str()) == Some(user.connection.as_str())
    });
    if !of_connection {
        return Err(Failure::bad_request(
            "client_id must be a client of the user's connection",
        ));
    }
    let job = Job::Reset {
        connection: user.connection,
        email: user.email,
        client_id: b.client_id,
        tx: None,
    };
    let now = state.now();
    state
        .idp
        .store
        .write(move |db| jobs::enqueue(db, &job, now))
        .await?;
    state.idp.mail_queued.notify_one();
    Ok(json(StatusCode::ACCEPTED, &Queued { queued: true }))
}
