//! Password reset over HTTP: "Forgot password?" (`/forgot-password`: the same answer for
//! every address, the mail goes out from the queue), and the page a reset link opens
//! (`/reset-password`: the GET shows the form and uses nothing; the POST sets the
//! password, then continues the login the link belongs to, in the browser that started
//! it, or points at the client's `initiate_login_uri`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::link_form::LinkForm;
use super::notice::notice;
use super::transaction::{finish, resume};
use crate::config::{Client, Connection};
use crate::domain::{Email, Password};
use crate::idp::account::reset::{self, ResetRequest};
use crate::idp::params::Params;
use crate::idp::{transaction, Refusal};
use crate::state::AppState;
use crate::web::cookies;
use crate::web::page::{html, with_retry_after, Brand, PageError, STALE_FORM};

const FORGOT: &str = "forgot-password";
const RESET: &str = "reset-password";
const UNAVAILABLE: &str = "Password reset is not available for this application.";

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    brand: Brand<'a>,
    tx: Option<&'a str>,
    client_id: &'a str,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    brand: Brand<'a>,
    email: &'a str,
    token: &'a str,
    csrf: &'a str,
    min_length: usize,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct DoorQuery {
    pub tx: Option<String>,
    pub client_id: Option<String>,
}

/// The door a reset starts from: the login transaction's client, or a `client_id`
/// (a client's own "forgot password" link), with its connection.
async fn door(
    state: &AppState,
    tx: Option<&str>,
    client_id: Option<&str>,
) -> Result<(Arc<Client>, Connection, Option<String>), PageError> {
    let s = &state.idp.settings();
    let (client_id, tx) = match tx {
        Some(id) => match transaction::load(&state.idp, id, state.now()).await {
            Ok(Some(l)) => (l.parked.auth.client_id.to_string(), Some(l.id)),
            Ok(None) => return Err(PageError::bad_request(crate::web::page::EXPIRED)),
            Err(e) => return Err(Refusal::from(e).into()),
        },
        None => (client_id.unwrap_or_default().to_owned(), None),
    };
    let client = s
        .shared_client(&client_id)
        .ok_or_else(|| PageError::bad_request("This application is not registered."))?;
    let connection = client
        .connection
        .as_ref()
        .and_then(|c| s.connection(c))
        .filter(|c| c.password_reset)
        .ok_or_else(|| PageError::bad_request(UNAVAILABLE).branded(Some(&client.client_id)))?;
    Ok((client.clone(), connection.clone(), tx))
}

struct Forgot<'a> {
    client: &'a Client,
    tx: Option<&'a str>,
    csrf: &'a str,
    email: &'a str,
}

impl Forgot<'_> {
    fn render(&self, status: StatusCode, error: Option<&str>) -> HttpResponse {
        let page = ForgotPage {
            brand: Brand::of(Some(self.client)),
            tx: self.tx,
            client_id: self.client.client_id.as_str(),
            csrf: self.csrf,
            email: self.email,
            error,
        };
        html(status, page.render())
    }
}

/// GET /forgot-password?tx=… (or ?client_id=…).
pub async fn forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<DoorQuery>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let (client, _, tx) = match door(&state, q.tx.as_deref(), q.client_id.as_deref()).await {
        Ok(v) => v,
        Err(e) => return e.render(s),
    };
    let (browser, set) = cookies::browser_id_or_new(&req, &state.idp.secrets, s.issuer.is_https());
    let csrf = cookies::form_csrf(&state.idp.secrets, &browser, FORGOT);
    let form = Forgot {
        client: &client,
        tx: tx.as_deref(),
        csrf: &csrf,
        email: "",
    };
    let mut res = form.render(StatusCode::OK, None);
    if let Some(c) = set {
        let _ = res.add_cookie(&c);
    }
    res
}

/// POST /forgot-password: queue the mail and say the same thing whatever the address.
pub async fn request(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let s = &state.idp.settings();
    let Ok(p) = Params::parse(&body) else {
        return PageError::bad_request(STALE_FORM).render(s);
    };
    let field = |n: &str| p.one(n).ok().flatten().map(str::to_owned);
    let (tx, cid, csrf) = (field("tx"), field("client_id"), field("csrf"));
    let (client, connection, tx) = match door(&state, tx.as_deref(), cid.as_deref()).await {
        Ok(v) => v,
        Err(e) => return e.render(s),
    };
    let https = s.issuer.is_https();
    if cookies::form_csrf_ok(&req, &state.idp.secrets, https, FORGOT, csrf.as_deref()).is_none() {
        return PageError::bad_request(STALE_FORM)
            .branded(Some(&client.client_id))
            .render(s);
    }
    let typed = field("email").unwrap_or_default();
    let typed = typed.trim();
    let csrf = csrf.unwrap_or_default();
    let form = Forgot {
        client: &client,
        tx: tx.as_deref(),
        csrf: &csrf,
        email: typed,
    };
    let Ok(email) = Email::parse(typed) else {
        return form.render(
            StatusCode::BAD_REQUEST,
            Some("Enter a valid email address."),
        );
    };
    let r = ResetRequest {
        connection: connection.name.as_str(),
        client_id: client.client_id.as_str(),
        email: &email,
        tx: tx.as_deref(),
        ip: cookies::client_ip(&req, &s.login.trusted_proxies),
    };
    match reset::request(&state.idp, &r, state.now()).await {
        Ok(()) => {}
        Err(Refusal::TooManyAttempts { retry_after }) => {
            let res = form.render(
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many reset requests from your network. Try again later."),
            );
            return with_retry_after(res, Some(retry_after));
        }
        Err(r) => {
            return PageError::from(r)
                .branded(Some(&client.client_id))
                .render(s)
        }
    }
    let minutes = s.email.as_ref().map_or(30, |e| e.reset_ttl / 60);
    let message = format!(
        "If {} has an account with {}, we have sent it a link to choose a new password. The link works for {minutes} minutes.",
        email.as_str(),
        client.branding.title
    );
    let back = tx.as_ref().map(|t| format!("/login?tx={t}"));
    notice(
        Some(&client),
        "Check your inbox",
        &message,
        back.as_deref().map(|b| (b, "Back to log in")),
    )
}

/// GET /reset-password?token=…: the new-password form (the link is not used yet).
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<super::verify_pages::TokenQuery>,
) -> HttpResponse {
    let token = q.token.clone().unwrap_or_default();
    reset_form(&req, &state, &token, StatusCode::OK, None).await
}

async fn reset_form(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let (link, user) = match reset::peek(&state.idp, token, state.now()).await {
        Ok(Some(v)) => v,
        Ok(None) => return PageError::from(Refusal::LinkInvalid).render(s),
        Err(e) => return PageError::from(Refusal::from(e)).render(s),
    };
    let min_length = s
        .connections
        .iter()
        .find(|c| c.name.as_str() == user.connection)
        .map_or(10, |c| c.password_min_length);
    let (browser, set) = cookies::browser_id_or_new(req, &state.idp.secrets, s.issuer.is_https());
    let csrf = cookies::form_csrf(&state.idp.secrets, &browser, RESET);
    let page = ResetPage {
        brand: Brand::of(s.client(&link.client_id)),
        email: &user.email,
        token,
        csrf: &csrf,
        min_length,
        error,
    };
    let mut res = html(status, page.render());
    if let Some(c) = set {
        let _ = res.add_cookie(&c);
    }
    res
}

/// POST /reset-password: the new password; then the login goes on, or a page says so.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let s = &state.idp.settings();
    let Some(form) = LinkForm::checked(&req, &state, s, &body, RESET) else {
        return PageError::bad_request(STALE_FORM).render(s);
    };
    let browser = form.browser.clone();
    let token = form.field("token");
    let password = Password::new(form.field("password"));
    let done = match reset::complete(&state.idp, &token, &password, state.now()).await {
        Ok(d) => d,
        Err(Refusal::Invalid(why)) => {
            return reset_form(&req, &state, &token, StatusCode::BAD_REQUEST, Some(&why)).await
        }
        Err(r) => {
            let client = reset::peek(&state.idp, &token, state.now())
                .await
                .ok()
                .flatten();
            let cid = client.map(|(t, _)| t.client_id);
            let e = PageError::from(r);
            let e = match cid.as_deref().and_then(|c| s.client(c)) {
                Some(c) => e.branded(Some(&c.client_id)),
                None => e,
            };
            return e.render(s);
        }
    };
    if let Some(tx) = done.tx_id.as_deref() {
        if let Some(sub) = resume(&req, &state, tx, &browser).await {
            if sub.connection.name.as_str() == done.user.connection {
                return finish(&req, &state, &sub, done.user, false, None).await;
            }
        }
    }
    let client = s.client(&done.client_id);
    let title = client.map_or("the application", |c| c.branding.title.as_str());
    let link = client
        .and_then(|c| c.initiate_login_uri.as_deref())
        .map(|u| (u, "Log in with your new password"));
    let message = format!(
        "Your password has been changed and you have been signed out everywhere. Log in to {title} with your new password."
    );
    notice(client, "Password changed", &message, link)
}
