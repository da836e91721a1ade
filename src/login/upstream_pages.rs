//! Upstream connections over HTTP: a login page's "Continue with …" button (a form, with
//! the transaction's CSRF field), and `{issuer}/upstream/{connection}/callback`, Portico's
//! redirect URI at the upstream.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::transaction::submitted;
use crate::crypto::token_hash;
use crate::idp::params::Params;
use crate::idp::upstream::callback::{self, CallbackOutcome, CallbackParams, Caller};
use crate::idp::upstream::start;
use crate::state::AppState;
use crate::web::cookies;
use crate::web::page::{PageError, UPSTREAM_UNAVAILABLE};
use crate::web::redirect::see_other;

/// POST /upstream/start: leave for the chosen upstream with this login transaction.
pub async fn start(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let sub = match submitted(&req, &state, &body).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let s = state.idp.settings();
    let chosen = Params::parse(&body)
        .ok()
        .and_then(|p| p.one("connection").ok().flatten().map(str::to_owned));
    let conn = chosen
        .as_deref()
        .and_then(|name| sub.client.upstreams.iter().find(|c| c.as_str() == name))
        .and_then(|name| s.connection(name));
    let Some(conn) = conn else {
        return PageError::bad_request("This sign-in option is not offered here.")
            .branded(Some(&sub.client.client_id))
            .render(&s);
    };
    match start::start(&state.idp, conn, &sub.loaded.id, &sub.browser, state.now()).await {
        Ok(url) => see_other(url),
        Err(e) => {
            tracing::warn!(connection = %conn.name, error = %e, "upstream unavailable");
            PageError::new(StatusCode::SERVICE_UNAVAILABLE, UPSTREAM_UNAVAILABLE)
                .branded(Some(&sub.client.client_id))
                .render(&s)
        }
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// GET /upstream/{connection}/callback: back from the upstream.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let s = state.idp.settings();
    let connection = path.into_inner();
    let https = s.issuer.is_https();
    let browser = cookies::browser_id(&req, &state.idp.secrets, https);
    let replaces = cookies::read(&req, &cookies::session_cookie_name(&connection, https))
        .map(|sid| token_hash(&sid));
    let q = q.into_inner();
    let p = CallbackParams {
        code: q.code,
        state: q.state,
        iss: q.iss,
        error: q.error,
        error_description: q.error_description,
    };
    let caller = Caller {
        browser: browser.as_deref(),
        ip: cookies::client_ip(&req, &s.login.trusted_proxies),
        replaces,
    };
    match callback::finish(&state.idp, &connection, &p, caller, state.now()).await {
        CallbackOutcome::Completed { redirect, session } => {
            let mut res = see_other(redirect);
            if let Some(new) = session {
                let name = cookies::session_cookie_name(new.connection.as_str(), https);
                let _ = res.add_cookie(&cookies::cookie(name, new.id, None, https));
            }
            res
        }
        CallbackOutcome::ToClient { redirect } => see_other(redirect),
        CallbackOutcome::Page {
            status,
            message,
            client,
        } => PageError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            message,
        )
        .branded(client.as_ref())
        .render(&s),
        CallbackOutcome::Refused { refusal, client } => {
            PageError::from(refusal).branded(client.as_ref()).render(&s)
        }
    }
}
