//! `/invitation?token=…`: the inviting client's branded sign-up page with the address
//! fixed, or, when the address has an account in that connection, its login form. The
//! GET uses nothing; the POST accepts (once), gives the roles, starts an SSO session that
//! carries the invitation to the next login, and sends the browser to the client's
//! `initiate_login_uri`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::link_form::LinkForm;
use super::notice::notice;
use super::verify_pages::TokenQuery;
use crate::config::{Client, Connection};
use crate::domain::{Email, Password};
use crate::idp::invitations::{self, NewSession};
use crate::idp::password_check::{self, PasswordCheck};
use crate::idp::Refusal;
use crate::state::AppState;
use crate::store::invitations::Invitation;
use crate::store::{self};
use crate::web::cookies;
use crate::web::page::{html, with_retry_after, Brand, PageError, STALE_FORM, WRONG_CREDENTIALS};
use crate::web::redirect::see_other;

const FORM: &str = "invitation";

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage<'a> {
    brand: Brand<'a>,
    heading: &'a str,
    roles: String,
    token: &'a str,
    csrf: &'a str,
    email: &'a str,
    existing: bool,
    min_length: usize,
    error: Option<&'a str>,
}

/// The open invitation, its client and connection, and whether the address has an
/// account there.
struct Opened {
    inv: Invitation,
    client: Arc<Client>,
    connection: Connection,
    existing: bool,
}

async fn opened(state: &AppState, token: &str) -> Result<Opened, PageError> {
    let s = &state.idp.settings();
    let inv = match invitations::open(&state.idp, token, state.now()).await {
        Ok(Some(i)) => i,
        Ok(None) => return Err(Refusal::LinkInvalid.into()),
        Err(e) => return Err(Refusal::from(e).into()),
    };
    let client = s
        .shared_client(&inv.client_id)
        .cloned()
        .ok_or_else(|| PageError::bad_request("This application is no longer registered."))?;
    let connection = client
        .connection
        .as_ref()
        .and_then(|c| s.connection(c))
        .cloned()
        .ok_or_else(|| PageError::bad_request("This application has no user store."))?;
    let (conn, email) = (inv.connection.clone(), inv.email.clone());
    let existing = state
        .idp
        .store
        .read(move |db| store::users::find_by_email(db, &conn, &email))
        .await
        .map_err(|e| PageError::from(Refusal::from(e)))?
        .is_some();
    Ok(Opened {
        inv,
        client,
        connection,
        existing,
    })
}

fn page(
    o: &Opened,
    token: &str,
    csrf: &str,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let heading = if o.existing {
        "Log in to accept the invitation"
    } else {
        o.client.branding.signup_heading.as_str()
    };
    let p = InvitationPage {
        brand: Brand::of(Some(&o.client)),
        heading,
        roles: o.inv.roles.join(", "),
        token,
        csrf,
        email: &o.inv.email,
        existing: o.existing,
        min_length: o.connection.password_min_length,
        error,
    };
    html(status, p.render())
}

/// GET /invitation?token=…
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let token = q.token.clone().unwrap_or_default();
    let o = match opened(&state, &token).await {
        Ok(o) => o,
        Err(e) => return e.render(s),
    };
    let (browser, set) = cookies::browser_id_or_new(&req, &state.idp.secrets, s.issuer.is_https());
    let csrf = cookies::form_csrf(&state.idp.secrets, &browser, FORM);
    let mut res = page(&o, &token, &csrf, StatusCode::OK, None);
    if let Some(c) = set {
        let _ = res.add_cookie(&c);
    }
    res
}

/// POST /invitation: accept by signing up, or by logging in to the existing account.
pub async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let s = &state.idp.settings();
    let Some(form) = LinkForm::checked(&req, &state, s, &body, FORM) else {
        return PageError::bad_request(STALE_FORM).render(s);
    };
    let (token, csrf) = (form.field("token"), form.csrf.clone());
    let o = match opened(&state, &token).await {
        Ok(o) => o,
        Err(e) => return e.render(s),
    };
    let password = Password::new(form.field("password"));
    let now = state.now();
    let accepted = if o.existing {
        let Ok(email) = Email::parse(&o.inv.email) else {
            return PageError::from(Refusal::ServerError).render(s);
        };
        let check = PasswordCheck {
            connection: o.connection.name.as_str(),
            client_id: o.client.client_id.as_str(),
            email: &email,
            password: &password,
            ip: cookies::client_ip(&req, &s.login.trusted_proxies),
            device_trusted: false,
        };
        match password_check::check(&state.idp, &check, now).await {
            Ok(Some(v)) if v.user.blocked => Err(Refusal::Blocked),
            Ok(Some(v)) => invitations::accept_existing(&state.idp, &o.inv, &v.user, now).await,
            Ok(None) => Err(Refusal::WrongCredentials),
            Err(r) => Err(r),
        }
    } else {
        invitations::accept_new(&state.idp, &o.inv, &password, now)
            .await
            .map(|(_, session)| session)
    };
    match accepted {
        Ok(session) => done(&state, &o, session),
        Err(Refusal::WrongCredentials) => page(
            &o,
            &token,
            &csrf,
            StatusCode::UNAUTHORIZED,
            Some(WRONG_CREDENTIALS),
        ),
        Err(Refusal::Invalid(why)) => page(&o, &token, &csrf, StatusCode::BAD_REQUEST, Some(&why)),
        Err(r) => {
            let e = PageError::from(r).branded(Some(&o.client.client_id));
            let retry = e.retry_after;
            with_retry_after(e.render(s), retry)
        }
    }
}

/// The browser now holds an SSO session of the connection: on to the client.
fn done(state: &AppState, o: &Opened, session: NewSession) -> HttpResponse {
    let https = state.idp.settings().issuer.is_https();
    let mut res = match o.client.initiate_login_uri.as_deref() {
        Some(uri) => see_other(uri.to_owned()),
        None => notice(
            Some(&o.client),
            "Invitation accepted",
            &format!(
                "Your {} account is ready. Go back to {} and log in.",
                o.client.branding.title, o.client.name
            ),
            None,
        ),
    };
    let name = cookies::session_cookie_name(o.connection.name.as_str(), https);
    let _ = res.add_cookie(&cookies::cookie(name, session.id, None, https));
    res
}
