//! A hosted page's login transaction over HTTP: loaded from the `tx` parameter, checked
//! against the CSRF field and the browser cookie, and completed with the cookies a
//! successful login sets (the SSO session, the device cookie).

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::form::{Button, Credentials, Form};
use crate::config::{Client, Connection, Settings};
use crate::crypto::token_hash;
use crate::domain::Email;
use crate::idp::account::verification;
use crate::idp::login::{self, Completion, LoginOutcome, SessionChange};
use crate::idp::transaction::{self, Loaded};
use crate::idp::{device, Refusal};
use crate::state::AppState;
use crate::store::users::User;
use crate::store::StoreError;
use crate::web::cookies;
use crate::web::page::{PageError, EXPIRED, STALE_FORM};
use crate::web::redirect::see_other;

async fn load(state: &AppState, tx: Option<&str>) -> Result<Loaded, PageError> {
    match transaction::load(&state.idp, tx.unwrap_or(""), state.now()).await {
        Ok(Some(l)) => Ok(l),
        Ok(None) => Err(PageError::bad_request(EXPIRED)),
        Err(e) => Err(Refusal::from(e).into()),
    }
}

/// The transaction's client, the connection of its form (the database one, else its
/// first upstream), and its upstream buttons.
fn client_of(
    s: &Settings,
    loaded: &Loaded,
) -> Result<(Arc<Client>, Connection, Vec<Button>), PageError> {
    s.shared_client(loaded.parked.auth.client_id.as_str())
        .and_then(|c| {
            let connection = s.connection(c.all_connections().next()?)?.clone();
            Some((c.clone(), connection, buttons(s, c)))
        })
        .ok_or_else(|| PageError::bad_request("This application is no longer registered."))
}

/// "Continue with …": one per upstream connection of the client.
fn buttons(s: &Settings, client: &Client) -> Vec<Button> {
    client
        .upstreams
        .iter()
        .filter_map(|name| {
            let u = s.connection(name)?.upstream.as_ref()?;
            Some(Button {
                connection: name.to_string(),
                label: u.button_label.clone(),
                icon: u.icon.clone(),
            })
        })
        .collect()
}

/// GET /login or /signup: the form of the transaction in `tx`.
pub async fn page(state: &AppState, tx: Option<&str>, signup: bool) -> HttpResponse {
    let s = &state.idp.settings();
    let loaded = match load(state, tx).await {
        Ok(l) => l,
        Err(e) => return e.render(s),
    };
    let (client, connection, buttons) = match client_of(s, &loaded) {
        Ok(v) => v,
        Err(e) => return e.render(s),
    };
    let hint = loaded.parked.auth.login_hint.clone().unwrap_or_default();
    let form = Form {
        client: &client,
        connection: &connection,
        loaded: &loaded,
        email: &hint,
        buttons: &buttons,
    };
    // interface.md: sign-up off means the login form.
    if signup && connection.open_signup() {
        form.signup(StatusCode::OK, None)
    } else {
        form.login(StatusCode::OK, None)
    }
}

/// A submitted form, checked: its transaction, client, connection and browser.
pub struct Submitted {
    pub loaded: Loaded,
    /// Held for the whole request: a reload meanwhile changes nothing here.
    pub client: Arc<Client>,
    pub connection: Connection,
    pub buttons: Vec<Button>,
    pub browser: String,
    pub credentials: Credentials,
    pub ip: Option<IpAddr>,
}

impl Submitted {
    pub fn form(&self) -> Form<'_> {
        Form {
            client: &self.client,
            connection: &self.connection,
            loaded: &self.loaded,
            email: &self.credentials.email,
            buttons: &self.buttons,
        }
    }

    /// The browser holds a device cookie for this account (idp::device).
    pub fn device_trusted(&self, req: &HttpRequest, state: &AppState, email: &Email) -> bool {
        let cookie = cookies::read(
            req,
            &cookies::device_cookie_name(state.idp.settings().issuer.is_https()),
        );
        device::trusted(
            &state.idp.secrets,
            &self.browser,
            cookie.as_deref(),
            self.connection.name.as_str(),
            email.as_str(),
            state.now(),
        )
    }
}

/// Read and check a POSTed form; the error page when it cannot go on.
pub async fn submitted(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<Submitted, HttpResponse> {
    let s = &state.idp.settings();
    let Some(credentials) = Credentials::parse(body) else {
        return Err(
            PageError::bad_request("The form could not be read (it is not valid UTF-8).").render(s),
        );
    };
    let loaded = load(state, credentials.tx.as_deref())
        .await
        .map_err(|e| e.render(s))?;
    let (client, connection, buttons) = client_of(s, &loaded).map_err(|e| e.render(s))?;
    let browser = cookies::browser_id(req, &state.idp.secrets, s.issuer.is_https())
        .filter(|b| loaded.csrf_ok(credentials.csrf.as_deref(), b));
    let Some(browser) = browser else {
        return Err(PageError::bad_request(STALE_FORM)
            .branded(Some(&client.client_id))
            .render(s));
    };
    Ok(Submitted {
        loaded,
        client,
        connection,
        buttons,
        browser,
        credentials,
        ip: cookies::client_ip(req, &s.login.trusted_proxies),
    })
}

/// The transaction `tx_id`, continued by a mailed link opened in the browser that
/// started it (no form of the transaction was posted: the link was the proof).
pub async fn resume(
    req: &HttpRequest,
    state: &AppState,
    tx_id: &str,
    browser: &str,
) -> Option<Submitted> {
    let loaded = load(state, Some(tx_id)).await.ok()?;
    if !loaded.started_by(browser) {
        return None;
    }
    let (client, connection, buttons) = client_of(&state.idp.settings(), &loaded).ok()?;
    Some(Submitted {
        loaded,
        client,
        connection,
        buttons,
        browser: browser.to_owned(),
        credentials: Credentials::empty(),
        ip: cookies::client_ip(req, &state.idp.settings().login.trusted_proxies),
    })
}

/// Complete the login (rules, code, session) and remember this account on this device;
/// or, when the connection requires a confirmed address the user has not confirmed,
/// hold the login at "check your inbox".
pub async fn finish(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    sub: &Submitted,
    user: User,
    signup: bool,
    rehash: Option<String>,
) -> HttpResponse {
    if user.blocked {
        return blocked(state, sub, &user).await;
    }
    if verification::must_wait(&sub.connection, &user) {
        return hold(state, sub, &user, signup).await;
    }
    complete(req, state, sub, user, signup, rehash).await
}

/// The right password for a blocked account: the "blocked" page, and the audit trail.
async fn blocked(state: &web::Data<AppState>, sub: &Submitted, user: &User) -> HttpResponse {
    let (uid, conn, cid) = (
        user.id.clone(),
        user.connection.clone(),
        sub.client.client_id.to_string(),
    );
    let ip = sub.ip.map(|i| i.to_string());
    let now = state.now();
    let _ = state
        .idp
        .store
        .write(move |db| {
            let ev = crate::store::audit::Event {
                connection: Some(&conn),
                user_id: Some(&uid),
                client_id: Some(&cid),
                ip: ip.as_deref(),
                ..crate::store::audit::Event::new(crate::domain::AuditKind::BlockedLogin)
            };
            crate::store::audit::record(db, &ev, now)
        })
        .await;
    PageError::from(Refusal::Blocked)
        .branded(Some(&sub.client.client_id))
        .render(&state.idp.settings())
}

/// Park the login until the address is confirmed, mail the link (a sign-up queued its
/// own), and show "check your inbox".
async fn hold(
    state: &web::Data<AppState>,
    sub: &Submitted,
    user: &User,
    signup: bool,
) -> HttpResponse {
    let s = &state.idp.settings();
    let idp = &state.idp;
    let now = state.now();
    let branded = |e: StoreError| {
        PageError::from(Refusal::from(e))
            .branded(Some(&sub.client.client_id))
            .render(s)
    };
    if let Err(e) = transaction::hold(idp, &sub.loaded.id, &user.id, signup).await {
        return branded(e);
    }
    if !signup {
        let cid = sub.client.client_id.as_str();
        let sent = verification::request(idp, &user.id, cid, Some(&sub.loaded.id), now).await;
        if let Err(e) = sent {
            return branded(e);
        }
    }
    sub.form().inbox(StatusCode::OK, &user.email, None)
}

async fn complete(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    sub: &Submitted,
    user: User,
    signup: bool,
    rehash: Option<String>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let https = s.issuer.is_https();
    let email = user.email.clone();
    let replaces = cookies::read(
        req,
        &cookies::session_cookie_name(sub.connection.name.as_str(), https),
    )
    .map(|sid| token_hash(&sid));
    let how = Completion {
        signup,
        ip: sub.ip,
        session: SessionChange::New,
        rehash,
        tx_id: Some(sub.loaded.id.clone()),
        replaces,
        invitation: None,
        upstream: None,
    };
    let now = state.now();
    let outcome = login::complete(
        &state.idp,
        &sub.loaded.parked.auth,
        &sub.client,
        user,
        how,
        now,
    )
    .await;
    let (redirect, session) = match outcome {
        Ok(LoginOutcome::Completed { redirect, session }) => (redirect, session),
        Ok(LoginOutcome::Denied { redirect }) => return see_other(redirect),
        Ok(LoginOutcome::AlreadyCompleted) => {
            return PageError::from(Refusal::AlreadyCompleted)
                .branded(Some(&sub.client.client_id))
                .render(s)
        }
        Err(e) => {
            return PageError::from(Refusal::from(e))
                .branded(Some(&sub.client.client_id))
                .render(s)
        }
    };
    let mut res = see_other(redirect);
    if let Some(new) = session {
        let name = cookies::session_cookie_name(new.connection.as_str(), https);
        let _ = res.add_cookie(&cookies::cookie(name, new.id, None, https));
    }
    let name = cookies::device_cookie_name(https);
    let existing = cookies::read(req, &name);
    let value = device::with_login(
        &state.idp.secrets,
        &sub.browser,
        existing.as_deref(),
        sub.connection.name.as_str(),
        &email,
        now,
    );
    let _ = res.add_cookie(&cookies::cookie(
        name,
        value,
        Some(device::TRUST_SECS),
        https,
    ));
    res
}
