//! `/logout` (RP-Initiated Logout 1.0, GET and POST): the core decides (idp::logout);
//! here the session cookies are read and removed and the pages rendered.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::crypto::token_hash;
use crate::domain::ClientId;
use crate::idp::logout::{self, confirm_token, LogoutDecision, LogoutRequest};
use crate::idp::params::Params;
use crate::state::AppState;
use crate::web::cookies;
use crate::web::page::{html, Brand, PageError};
use crate::web::redirect::see_other;

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct LogoutConfirmPage<'a> {
    brand: Brand<'a>,
    scope: &'a str,
    confirm: String,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage<'a> {
    brand: Brand<'a>,
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let s = &state.idp.settings();
    let https = s.issuer.is_https();
    let post = req.method() == actix_web::http::Method::POST;
    let raw: &[u8] = if post {
        &body
    } else {
        req.query_string().as_bytes()
    };
    let Ok(params) = Params::parse(raw) else {
        return PageError::bad_request("The logout request is not valid UTF-8.").render(s);
    };
    // Every session cookie this browser holds, in every connection.
    let names: Vec<String> = s
        .connections
        .iter()
        .map(|c| cookies::session_cookie_name(c.name.as_str(), https))
        .collect();
    let held: Vec<(String, String)> = names
        .into_iter()
        .filter_map(|n| cookies::read(&req, &n).map(|sid| (n, token_hash(&sid))))
        .collect();
    let browser = cookies::browser_id(&req, &state.idp.secrets, https);
    let request = LogoutRequest {
        params: &params,
        sessions: held.iter().map(|(_, h)| h.clone()).collect(),
        browser: browser.as_deref(),
        post,
    };
    let decision = match logout::decide(&state.idp, request, state.now()).await {
        Ok(d) => d,
        Err(e) => return PageError::from(crate::idp::Refusal::from(e)).render(s),
    };
    match decision {
        LogoutDecision::Refused { message, client } => PageError::bad_request(message)
            .branded(client.as_ref())
            .render(s),
        LogoutDecision::Confirm {
            client,
            post_logout_redirect_uri,
            state: st,
        } => confirm_page(
            &req,
            &state,
            client.as_ref(),
            post_logout_redirect_uri.as_deref(),
            st.as_deref(),
        ),
        LogoutDecision::Done { client, redirect } => {
            let mut res = match redirect {
                Some(to) => see_other(to),
                None => {
                    let c = client.as_ref().and_then(|c| s.client(c.as_str()));
                    html(
                        StatusCode::OK,
                        LoggedOutPage {
                            brand: Brand::of(c),
                        }
                        .render(),
                    )
                }
            };
            for (name, _) in held {
                let _ = res.add_cookie(&cookies::removal(name, https));
            }
            res
        }
    }
}

/// Ask first, with a token bound to this browser (minted now if it has no id yet).
fn confirm_page(
    req: &HttpRequest,
    state: &AppState,
    client: Option<&ClientId>,
    post_logout_redirect_uri: Option<&str>,
    st: Option<&str>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let (browser, set_cookie) =
        cookies::browser_id_or_new(req, &state.idp.secrets, s.issuer.is_https());
    let c = client.and_then(|c| s.client(c.as_str()));
    let page = LogoutConfirmPage {
        brand: Brand::of(c),
        scope: c.map(|c| c.name.as_str()).unwrap_or("every application"),
        confirm: confirm_token(&browser),
        client_id: c.map(|c| c.client_id.as_str()),
        post_logout_redirect_uri,
        state: st,
    };
    let mut res = html(StatusCode::OK, page.render());
    if let Some(cookie) = set_cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}
