//! E-mail verification over HTTP: the page a mailed link opens (GET shows a button and
//! uses nothing: mail scanners follow links), the confirming POST, and the "check your
//! inbox" page's two buttons (resend, continue).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::transaction::{finish, resume, submitted};
use crate::idp::account::links;
use crate::idp::account::verification::{self, Requested};
use crate::idp::Refusal;
use crate::state::AppState;
use crate::store::{self, email_tokens::Purpose};
use crate::web::cookies;
use crate::web::page::{html, with_retry_after, Brand, PageError, STALE_FORM};

use super::link_form::LinkForm;
use super::notice::notice;

const FORM: &str = "verify-email";

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage<'a> {
    brand: Brand<'a>,
    email: &'a str,
    token: &'a str,
    csrf: &'a str,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

/// GET /verify-email?token=…: "Confirm your email address" and a button.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let token = q.token.clone().unwrap_or_default();
    let (secrets, t, now) = (state.idp.secrets.clone(), token.clone(), state.now());
    let found = state
        .idp
        .store
        .read(move |db| links::peek(db, &secrets, Purpose::Verify, &t, now))
        .await;
    let (link, user) = match found {
        Ok(Some(v)) => v,
        Ok(None) => return PageError::from(Refusal::LinkInvalid).render(s),
        Err(e) => return PageError::from(Refusal::from(e)).render(s),
    };
    let https = s.issuer.is_https();
    let (browser, set) = cookies::browser_id_or_new(&req, &state.idp.secrets, https);
    let csrf = cookies::form_csrf(&state.idp.secrets, &browser, FORM);
    let page = VerifyPage {
        brand: Brand::of(s.client(&link.client_id)),
        email: &user.email,
        token: &token,
        csrf: &csrf,
    };
    let mut res = html(StatusCode::OK, page.render());
    if let Some(c) = set {
        let _ = res.add_cookie(&c);
    }
    res
}

/// POST /verify-email: use the link. In the browser that started the login it belongs
/// to, that login goes on; elsewhere a page says the address is confirmed.
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let s = &state.idp.settings();
    let Some(form) = LinkForm::checked(&req, &state, s, &body, FORM) else {
        return PageError::bad_request(STALE_FORM).render(s);
    };
    let browser = form.browser.clone();
    let token = form.field("token");
    let done = match verification::confirm(&state.idp, &token, state.now()).await {
        Ok(Some(d)) => d,
        Ok(None) => return PageError::from(Refusal::LinkInvalid).render(s),
        Err(e) => return PageError::from(Refusal::from(e)).render(s),
    };
    if let Some(tx) = done.tx_id.as_deref() {
        if let Some(sub) = resume(&req, &state, tx, &browser).await {
            // Only the login that waits for this very user goes on.
            if let Some((_, signup)) = sub
                .loaded
                .pending
                .clone()
                .filter(|(u, _)| *u == done.user.id)
            {
                return finish(&req, &state, &sub, done.user, signup, None).await;
            }
        }
    }
    let client = s.client(&done.client_id);
    let link = client
        .and_then(|c| c.initiate_login_uri.as_deref())
        .map(|u| (u, "Continue to the application"));
    notice(
        client,
        "Address confirmed",
        "Thank you: your email address is confirmed. You can close this page and continue where you were.",
        link,
    )
}

/// POST /verify-email/resend (from "check your inbox"): mail the link again, at most
/// once a minute.
pub async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let sub = match submitted(&req, &state, &body).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let s = &state.idp.settings();
    let Some(user) = waiting_user(&state, &sub.loaded.pending).await else {
        return PageError::bad_request(STALE_FORM)
            .branded(Some(&sub.client.client_id))
            .render(s);
    };
    let cid = sub.client.client_id.as_str();
    let asked =
        verification::request(&state.idp, &user.id, cid, Some(&sub.loaded.id), state.now()).await;
    let form = sub.form();
    match asked {
        Ok(Requested::Queued) => {
            form.inbox(StatusCode::OK, &user.email, Some("We sent a new link."))
        }
        Ok(Requested::TooSoon(wait)) => with_retry_after(
            form.inbox(
                StatusCode::TOO_MANY_REQUESTS,
                &user.email,
                Some("A link was sent moments ago. Wait a minute before asking for another."),
            ),
            Some(wait),
        ),
        Err(e) => PageError::from(Refusal::from(e))
            .branded(Some(&sub.client.client_id))
            .render(s),
    }
}

/// POST /login/continue (from "check your inbox"): go on once the address is confirmed.
pub async fn continue_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let sub = match submitted(&req, &state, &body).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let s = &state.idp.settings();
    let signup = sub
        .loaded
        .pending
        .as_ref()
        .is_some_and(|(_, signup)| *signup);
    let Some(user) = waiting_user(&state, &sub.loaded.pending).await else {
        return PageError::bad_request(STALE_FORM)
            .branded(Some(&sub.client.client_id))
            .render(s);
    };
    if verification::must_wait(&sub.connection, &user) {
        let msg = "Your address is not confirmed yet. Open the link in the mail we sent.";
        return sub.form().inbox(StatusCode::OK, &user.email, Some(msg));
    }
    finish(&req, &state, &sub, user, signup, None).await
}

async fn waiting_user(
    state: &AppState,
    pending: &Option<(String, bool)>,
) -> Option<store::users::User> {
    let uid = pending.as_ref()?.0.clone();
    state
        .idp
        .store
        .read(move |db| store::users::get(db, &uid))
        .await
        .ok()
        .flatten()
}
