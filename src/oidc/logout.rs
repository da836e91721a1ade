//! RP-Initiated Logout 1.0: ends the SSO session of the client's connection and
//! returns to a registered post_logout_redirect_uri with the state. Without a valid
//! id_token_hint the user confirms first (section 2), so a cross-site link or form
//! cannot sign anybody out.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::Value;

use crate::config::Client;
use crate::crypto::{ct_eq, token_hash};
use crate::login::pages::{error_page, html, Brand, LoggedOutPage};
use crate::login::session;
use crate::oidc::authorize::redirect_with;
use crate::params::Params;
use crate::startup::AppState;
use crate::store::{self, audit};

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct LogoutConfirmPage<'a> {
    brand: Brand<'a>,
    scope: &'a str,
    confirm: String,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<String>,
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let s = &state.settings;
    let raw: &[u8] = if req.method() == actix_web::http::Method::POST {
        &body
    } else {
        req.query_string().as_bytes()
    };
    let Ok(p) = Params::parse(raw) else {
        return error_page(s, None, 400, "The logout request is not valid UTF-8.");
    };
    let one = |n: &str| p.one(n).ok().flatten().map(str::to_owned);
    if [
        "id_token_hint",
        "post_logout_redirect_uri",
        "state",
        "client_id",
    ]
    .iter()
    .any(|n| p.is_repeated(n))
    {
        return error_page(s, None, 400, "A logout parameter is repeated.");
    }

    // The hint names the client (its aud) and must be an ID token we issued.
    let mut client: Option<&Client> = None;
    let mut hinted_sub = None;
    let hinted = one("id_token_hint").is_some();
    if let Some(hint) = one("id_token_hint") {
        match state
            .keys
            .current()
            .verify_id_token(&hint, s.issuer.as_str())
        {
            Ok(claims) => {
                let aud = match claims.get("aud") {
                    Some(Value::String(a)) => Some(a.clone()),
                    Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                };
                client = aud.as_deref().and_then(|a| s.client(a));
                hinted_sub = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
            }
            Err(_) => {
                return error_page(
                    s,
                    None,
                    400,
                    "The id_token_hint is not a valid ID token from this server.",
                )
            }
        }
    }
    if let Some(cid) = one("client_id") {
        match (client, s.client(&cid)) {
            (Some(c), _) if c.client_id.as_str() != cid => {
                return error_page(s, None, 400, "client_id does not match the id_token_hint.");
            }
            (None, Some(c)) => client = Some(c),
            (None, None) => return error_page(s, None, 400, "This application is not registered."),
            _ => {}
        }
    }
    let redirect = match one("post_logout_redirect_uri") {
        Some(uri) => match client {
            Some(c)
                if c.post_logout_redirect_uris
                    .iter()
                    .any(|r| r.as_str() == uri) =>
            {
                Some(uri)
            }
            Some(c) => {
                return error_page(
                    s,
                    Some(c),
                    400,
                    "The post_logout_redirect_uri is not registered for this application.",
                )
            }
            None => {
                return error_page(
                    s,
                    None,
                    400,
                    "post_logout_redirect_uri needs an id_token_hint or client_id.",
                )
            }
        },
        None => None,
    };

    // End every session this browser holds, in every connection (review L3): a browser
    // logged out at one door must not stay signed in at another.
    let https = s.issuer.is_https();
    let mut ended = Vec::new();
    let mut removals = Vec::new();
    for conn in s.connections.iter().map(|c| c.name.as_str()) {
        let name = session::session_cookie_name(conn, https);
        if let Some(sid) = session::read(&req, &name) {
            ended.push(token_hash(&sid));
            removals.push(session::removal(name, s.issuer.is_https()));
        }
    }
    // A hint skips the question only when it names the user of the sessions it ends:
    // otherwise an attacker's own ID token would sign a victim out (section 2).
    let hint_matches = match (&hinted_sub, ended.is_empty()) {
        (_, true) => hinted,
        (None, false) => false,
        (Some(sub), false) => {
            let (hashes, sub) = (ended.clone(), sub.clone());
            state
                .store
                .run(move |c| {
                    for h in &hashes {
                        if store::sessions::user_of(c, h)?.is_some_and(|u| u != sub) {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })
                .await
                .unwrap_or(false)
        }
    };

    // Otherwise the user confirms with a token derived from the browser-binding cookie,
    // which a cross-site request can neither read nor send (SameSite=Lax).
    if !hint_matches {
        let browser = session::browser_id(&req, &state.secrets, https);
        let expected = browser
            .as_deref()
            .map(|b| token_hash(&format!("logout:{b}")));
        let confirmed = req.method() == actix_web::http::Method::POST
            && matches!((&expected, one("confirm")), (Some(e), Some(c)) if ct_eq(e.as_bytes(), c.as_bytes()));
        if !confirmed {
            let (browser, set_cookie) = session::browser_id_or_new(&req, &state.secrets, https);
            let page = LogoutConfirmPage {
                brand: Brand::of(client),
                scope: client
                    .map(|c| c.name.as_str())
                    .unwrap_or("every application"),
                confirm: token_hash(&format!("logout:{browser}")),
                client_id: client.map(|c| c.client_id.as_str()),
                post_logout_redirect_uri: redirect.as_deref(),
                state: one("state"),
            };
            let mut res = html(200, page.render());
            if let Some(c) = set_cookie {
                let _ = res.add_cookie(&c);
            }
            return res;
        }
    }

    let now = state.clock.now();
    let cid = client.map(|c| c.client_id.to_string());
    // A logout that ends nothing writes nothing (review M4: anonymous POSTs must not
    // grow the audit trail).
    let res = state
        .store
        .write(move |tx| {
            if ended.is_empty() {
                return Ok(());
            }
            for h in &ended {
                store::sessions::delete(tx, h)?;
            }
            audit::record(
                tx,
                &audit::Event {
                    kind: "logout",
                    user_id: hinted_sub.as_deref(),
                    client_id: cid.as_deref(),
                    ..Default::default()
                },
                now,
            )
        })
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "logout failed");
        return error_page(s, client, 500, "Something went wrong. Please try again.");
    }

    let mut out = match redirect {
        Some(uri) => {
            let st = one("state");
            let params: Vec<(&str, &str)> = st
                .as_deref()
                .map(|v| vec![("state", v)])
                .unwrap_or_default();
            let location = if params.is_empty() {
                uri
            } else {
                redirect_with(&uri, &params)
            };
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish()
        }
        None => html(
            200,
            LoggedOutPage {
                brand: Brand::of(client),
            }
            .render(),
        ),
    };
    for c in removals {
        let _ = out.add_cookie(&c);
    }
    out
}
