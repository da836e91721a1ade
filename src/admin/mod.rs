//! The admin API (`/admin/v1/`): users, sessions, password resets, invitations and the
//! audit trail for back-office clients, with an OpenAPI 3.1 document generated from these
//! handlers and their types (`GET /admin/v1/openapi.json`). Callers present an access
//! token of this issuer for the admin audience (idp::admin); every change is audited
//! with the acting client. Every answer is JSON with `Cache-Control: no-store`.

mod audit;
mod invitations;
pub mod model;
mod users;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::idp::admin::{self, AdminCaller, AdminDenied};
use crate::state::AppState;
use crate::store::StoreError;
use model::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portico admin API",
        version = "1",
        description = "Users, sessions, password resets, invitations and the audit trail. \
            Call with an access token from client_credentials, requested with resource \
            {issuer}/admin/v1 and a scope from the client's admin_scopes."
    ),
    paths(
        users::list, users::create, users::get, users::patch, users::delete,
        users::end_sessions, users::password_reset,
        invitations::list, invitations::create, invitations::revoke,
        audit::list,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1")
            .route("/openapi.json", web::get().to(openapi_json))
            .route("/users", web::get().to(users::list))
            .route("/users", web::post().to(users::create))
            .route("/users/{id}", web::get().to(users::get))
            .route("/users/{id}", web::patch().to(users::patch))
            .route("/users/{id}", web::delete().to(users::delete))
            .route(
                "/users/{id}/sessions",
                web::delete().to(users::end_sessions),
            )
            .route(
                "/users/{id}/password-reset",
                web::post().to(users::password_reset),
            )
            .route("/invitations", web::get().to(invitations::list))
            .route("/invitations", web::post().to(invitations::create))
            .route("/invitations/{id}", web::delete().to(invitations::revoke))
            .route("/audit", web::get().to(audit::list))
            .default_service(web::to(|| async {
                Failure::not_found("admin endpoint").error_response()
            })),
    );
}

async fn openapi_json() -> HttpResponse {
    json(StatusCode::OK, &ApiDoc::openapi())
}

/// A JSON answer that no cache keeps.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

pub(crate) fn no_content() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Every refusal of the admin API, mapped to HTTP in one place (`ResponseError`):
/// a status, an OAuth-style code, a sentence, and for 401/403 the RFC 6750 challenge.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    code: &'static str,
    description: String,
    challenge: Option<String>,
}

impl Failure {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
        }
    }

    pub(crate) fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = json(
            self.status,
            &ApiError {
                error: self.code.to_owned(),
                error_description: self.description.clone(),
            },
        );
        if let Some(c) = self
            .challenge
            .as_deref()
            .and_then(|c| header::HeaderValue::from_str(c).ok())
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        res
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "admin API: store failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the store failed",
        )
    }
}

impl From<AdminDenied> for Failure {
    fn from(d: AdminDenied) -> Self {
        match d {
            AdminDenied::InvalidToken(why) => Self {
                challenge: Some(format!(
                    "Bearer realm=\"admin\", error=\"invalid_token\", error_description=\"{why}\""
                )),
                ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", why)
            },
            AdminDenied::InsufficientScope(scope) => Self {
                challenge: Some(format!(
                    "Bearer realm=\"admin\", error=\"insufficient_scope\", scope=\"{scope}\""
                )),
                ..Self::new(
                    StatusCode::FORBIDDEN,
                    "insufficient_scope",
                    format!("this route needs the scope {scope}"),
                )
            },
        }
    }
}

pub(crate) type Answer = Result<HttpResponse, Failure>;

/// The caller, if its bearer token carries `scope`.
pub(crate) async fn caller(
    req: &HttpRequest,
    state: &AppState,
    scope: &'static str,
) -> Result<AdminCaller, Failure> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    Ok(admin::check(&state.idp, token, scope, state.now()).await?)
}

/// The query string as `T`.
pub(crate) fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, Failure> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| Failure::bad_request(format!("query: {e}")))
}

/// The JSON body as `T`.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| Failure::bad_request(format!("body: {e}")))
}

/// Page sizes: 1-200, 50 by default.
pub(crate) fn limit(l: Option<i64>) -> Result<i64, Failure> {
    match l.unwrap_or(50) {
        n @ 1..=200 => Ok(n),
        _ => Err(Failure::bad_request("limit must be 1 to 200")),
    }
}

/// Cursors are opaque: base64url of `"<number>:<text>"`.
pub(crate) fn encode_cursor(n: i64, s: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{n}:{s}"))
}

pub(crate) fn decode_cursor(c: Option<&str>) -> Result<Option<(i64, String)>, Failure> {
    let Some(c) = c else { return Ok(None) };
    let bad = || Failure::bad_request("cursor is not one this API made");
    let text = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (n, s) = text.split_once(':').ok_or_else(bad)?;
    Ok(Some((n.parse().map_err(|_| bad())?, s.to_owned())))
}
