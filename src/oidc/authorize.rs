//! `/authorize` (GET and POST): read the parameters and the browser's cookies, let the
//! core decide (idp::authorize), answer with a page or a redirect.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::crypto::token_hash;
use crate::idp::authorize::{self, AuthorizeOutcome, Browser};
use crate::idp::params::Params;
use crate::state::AppState;
use crate::web::cookies;
use crate::web::page::{PageError, UPSTREAM_UNAVAILABLE};
use crate::web::redirect::see_other;

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(&req, &state, req.query_string().as_bytes()).await
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        let e = PageError::bad_request("The authorization request must be form-encoded.");
        return e.render(&state.idp.settings());
    }
    handle(&req, &state, &body).await
}

async fn handle(req: &HttpRequest, state: &AppState, raw: &[u8]) -> HttpResponse {
    let s = &state.idp.settings();
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return PageError::bad_request(e.to_string()).render(s),
    };
    let https = s.issuer.is_https();
    let (browser, set_browser) = cookies::browser_id_or_new(req, &state.idp.secrets, https);
    // The SSO session cookies of the named client's connections the browser sent.
    let sessions = params
        .one("client_id")
        .ok()
        .flatten()
        .and_then(|id| s.client(id))
        .map(|c| {
            c.all_connections()
                .filter_map(|conn| {
                    let sid =
                        cookies::read(req, &cookies::session_cookie_name(conn.as_str(), https))?;
                    Some((conn.to_string(), token_hash(&sid)))
                })
                .collect()
        })
        .unwrap_or_default();
    let who = Browser {
        id: &browser,
        sessions,
        ip: cookies::client_ip(req, &s.login.trusted_proxies),
    };
    match authorize::authorize(&state.idp, &params, who, state.now()).await {
        AuthorizeOutcome::Page { message, client } => PageError::bad_request(message)
            .branded(client.as_ref())
            .render(s),
        AuthorizeOutcome::Redirect(to) => {
            // Perhaps to an upstream provider: the callback checks this browser's id.
            let mut res = see_other(to);
            if let Some(c) = set_browser {
                let _ = res.add_cookie(&c);
            }
            res
        }
        AuthorizeOutcome::Failed(r) => PageError::from(r).render(s),
        AuthorizeOutcome::Unavailable { client } => PageError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            UPSTREAM_UNAVAILABLE,
        )
        .branded(client.as_ref())
        .render(s),
        AuthorizeOutcome::Login(page) => {
            let mut res = see_other(page);
            if let Some(c) = set_browser {
                let _ = res.add_cookie(&c);
            }
            res
        }
    }
}
