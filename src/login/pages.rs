//! The hosted login and sign-up pages: branded by the client that asked, bound to its
//! connection, protected by CSRF binding and brute-force throttling.

use std::borrow::Cow;
use std::net::IpAddr;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::config::{Client, Settings};
use crate::crypto::{ct_eq, token_hash};
use crate::domain::{Email, Password, PasswordPolicy, MAX_PASSWORD_BYTES};
use crate::login::flow::{self, Completion, Parked, SessionChange};
use crate::login::password::{Busy, Lane};
use crate::login::throttle::IpGate;
use crate::login::{device, session};
use crate::params::Params;
use crate::startup::AppState;
use crate::store::throttle::Attempt;
use crate::store::{self, audit, users::User};

/// No inline script or style anywhere; nothing may frame the pages.
pub const CSP: &str = "default-src 'none'; style-src 'self' https:; img-src 'self' https: data:; \
                       font-src 'self' https:; frame-ancestors 'none'; base-uri 'none'";

const WRONG_CREDENTIALS: &str = "Wrong email or password.";
const TOO_MANY: &str = "Too many attempts, try again later.";
const BUSY: &str = "We are busy right now. Please try again in a moment.";
const STALE_FORM: &str = "This form has expired or was not sent from this page. Go back to the application and try again.";
const OOPS: &str = "Something went wrong. Please try again.";
const TOO_MANY_SIGNUPS: &str = "Too many accounts were created from your network. Try again later.";
const NOT_CREATED: &str = "We could not create an account with these details. If you already have an account, log in instead.";

/// Branding for one page: a client's, or the neutral one.
pub struct Brand<'a> {
    pub title: &'a str,
    pub logo: Option<&'a str>,
    pub stylesheet: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

impl<'a> Brand<'a> {
    pub fn of(client: Option<&'a Client>) -> Self {
        match client {
            Some(c) => Self {
                title: &c.branding.title,
                logo: c.branding.logo.as_deref(),
                stylesheet: c.branding.stylesheet.as_deref(),
                client_id: Some(c.client_id.as_str()),
            },
            None => Self {
                title: "Portico",
                logo: None,
                stylesheet: None,
                client_id: None,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    brand: Brand<'a>,
    client_name: &'a str,
    tx: &'a str,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    signup_allowed: bool,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    brand: Brand<'a>,
    client_name: &'a str,
    heading: &'a str,
    tx: &'a str,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    min_length: usize,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    brand: Brand<'a>,
    heading: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutPage<'a> {
    pub brand: Brand<'a>,
}

pub fn html(status: u16, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(b) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(b)
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body(OOPS)
        }
    }
}

/// An error page, in the client's brand when the client is known.
pub fn error_page(
    _s: &Settings,
    client: Option<&Client>,
    status: u16,
    message: &str,
) -> HttpResponse {
    let heading = match status {
        429 => "Too many attempts",
        503 => "Please try again",
        500.. => "Something went wrong",
        _ => "We could not continue",
    };
    let mut res = html(
        status,
        ErrorPage {
            brand: Brand::of(client),
            heading,
            message,
        }
        .render(),
    );
    if status == 429 || status == 503 {
        res.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(if status == 503 { "2" } else { "60" }),
        );
    }
    res
}

#[derive(Deserialize)]
pub struct TxQuery {
    tx: Option<String>,
}

/// The fields of the login and sign-up forms, decoded strictly (UTF-8 or refused).
struct CredentialsForm {
    tx: Option<String>,
    csrf: Option<String>,
    email: String,
    password: Password,
}

impl CredentialsForm {
    fn parse(body: &[u8]) -> Option<Self> {
        let p = Params::parse(body).ok()?;
        let one = |n: &str| p.one(n).ok().flatten().map(str::to_owned);
        Some(Self {
            tx: one("tx"),
            csrf: one("csrf"),
            email: one("email").unwrap_or_default().trim().to_owned(),
            password: Password::new(one("password").unwrap_or_default()),
        })
    }
}

/// A refused attempt: the page's status, its message and how long to wait.
struct Refusal {
    status: u16,
    message: Cow<'static, str>,
    retry_after: Option<i64>,
}

impl Refusal {
    fn new(status: u16, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    fn wait(status: u16, message: &'static str, secs: i64) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: Some(secs.max(1)),
        }
    }
    fn busy() -> Self {
        Self::wait(503, BUSY, 2)
    }
    fn oops(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Self::new(500, OOPS)
    }
}

/// A login transaction, loaded and resolved to its client.
struct Loaded {
    tx_id: String,
    parked: Parked,
    browser: String,
}

async fn load(state: &AppState, tx_id: Option<&str>) -> Result<Loaded, HttpResponse> {
    let s = &state.settings;
    let expired = || {
        error_page(
            s,
            None,
            400,
            "This sign-in link has expired. Go back to the application and try again.",
        )
    };
    let Some(tx_id) = tx_id.filter(|t| t.len() <= 64).map(str::to_owned) else {
        return Err(expired());
    };
    let now = state.clock.now();
    let id = tx_id.clone();
    let found = state
        .store
        .run(move |c| store::transactions::get(c, &id, now))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot load login transaction");
            error_page(s, None, 500, OOPS)
        })?;
    let Some(t) = found else {
        return Err(expired());
    };
    let parked: Parked = serde_json::from_str(&t.request).map_err(|_| expired())?;
    Ok(Loaded {
        tx_id,
        parked,
        browser: t.browser,
    })
}

/// The CSRF field must equal the transaction's token, and the browser-binding cookie
/// must be the (server-minted) one that started it: a forged cross-site POST has
/// neither. Returns the browser id.
fn csrf_ok(
    req: &HttpRequest,
    state: &AppState,
    loaded: &Loaded,
    field: Option<&str>,
) -> Option<String> {
    let field_ok = field.is_some_and(|f| ct_eq(f.as_bytes(), loaded.parked.csrf.as_bytes()));
    let browser = session::browser_id(req, &state.secrets, state.settings.issuer.is_https())?;
    let browser_ok = ct_eq(token_hash(&browser).as_bytes(), loaded.browser.as_bytes());
    (field_ok && browser_ok).then_some(browser)
}

fn client_of<'a>(
    s: &'a Settings,
    parked: &Parked,
) -> Option<(&'a Client, &'a crate::config::Connection)> {
    let client = s.client(&parked.auth.client_id)?;
    let conn = s.connection(client.connection.as_ref()?)?;
    Some((client, conn))
}

struct Form<'a> {
    client: &'a Client,
    signup_allowed: bool,
    min_length: usize,
    loaded: &'a Loaded,
    email: &'a str,
}

fn with_retry_after(mut res: HttpResponse, retry_after: Option<i64>) -> HttpResponse {
    if let Some(secs) = retry_after {
        if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

fn render_login(f: &Form<'_>, status: u16, error: Option<&str>) -> HttpResponse {
    html(
        status,
        LoginPage {
            brand: Brand::of(Some(f.client)),
            client_name: &f.client.name,
            tx: &f.loaded.tx_id,
            csrf: &f.loaded.parked.csrf,
            email: f.email,
            error,
            signup_allowed: f.signup_allowed,
        }
        .render(),
    )
}

fn render_signup(f: &Form<'_>, status: u16, error: Option<&str>) -> HttpResponse {
    html(
        status,
        SignupPage {
            brand: Brand::of(Some(f.client)),
            client_name: &f.client.name,
            heading: &f.client.branding.signup_heading,
            tx: &f.loaded.tx_id,
            csrf: &f.loaded.parked.csrf,
            email: f.email,
            error,
            min_length: f.min_length,
        }
        .render(),
    )
}

fn login_refused(f: &Form<'_>, r: Refusal) -> HttpResponse {
    with_retry_after(render_login(f, r.status, Some(&r.message)), r.retry_after)
}

fn signup_refused(f: &Form<'_>, r: Refusal) -> HttpResponse {
    with_retry_after(render_signup(f, r.status, Some(&r.message)), r.retry_after)
}

pub async fn login_page(state: web::Data<AppState>, q: web::Query<TxQuery>) -> HttpResponse {
    page(state, q, false).await
}

pub async fn signup_page(state: web::Data<AppState>, q: web::Query<TxQuery>) -> HttpResponse {
    page(state, q, true).await
}

async fn page(state: web::Data<AppState>, q: web::Query<TxQuery>, signup: bool) -> HttpResponse {
    let s = &state.settings;
    let loaded = match load(&state, q.tx.as_deref()).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some((client, conn)) = client_of(s, &loaded.parked) else {
        return error_page(s, None, 400, "This application is no longer registered.");
    };
    let hint = loaded.parked.auth.login_hint.clone().unwrap_or_default();
    let form = Form {
        client,
        signup_allowed: conn.signup,
        min_length: conn.password_min_length,
        loaded: &loaded,
        email: &hint,
    };
    // interface.md: sign-up off means the login form.
    if signup && conn.signup {
        render_signup(&form, 200, None)
    } else {
        render_login(&form, 200, None)
    }
}

/// One password check against one account, with everything that throttles it.
struct PasswordCheck<'a> {
    state: &'a AppState,
    connection: &'a str,
    client_id: &'a str,
    email: &'a Email,
    password: &'a Password,
    ip: Option<IpAddr>,
    /// The browser holds a device cookie for this very account.
    device_trusted: bool,
}

/// The password was right: the user, and whether to store a fresh hash.
struct Verified {
    user: User,
    rehash: bool,
}

/// Check a password, charging nothing that a server failure or a full queue caused:
/// a place in the hashing queue comes first (503 otherwise, review M1), then the
/// address (skipped for this account's own device, review H2; past its limit only the
/// slow lane, review M3), then the account's reservation; only a verified wrong
/// password keeps its charges. `Ok(None)`: wrong e-mail or password.
async fn check_password(a: &PasswordCheck<'_>) -> Result<Option<Verified>, Refusal> {
    let state = a.state;
    let ticket = state
        .hasher
        .admit(Lane::Login)
        .map_err(|_| Refusal::busy())?;
    let now = state.clock.now();
    let gate = if a.device_trusted {
        IpGate::Unlimited
    } else {
        state.ip_limiter.gate(a.ip, now)
    };
    if let IpGate::Refused { retry_after } = gate {
        return Err(Refusal::wait(429, TOO_MANY, retry_after));
    }
    let release_ip = || state.ip_limiter.release(a.ip, now);
    let (conn, em) = (a.connection.to_owned(), a.email.to_string());
    let user = state
        .store
        .run(move |c| store::users::find_by_email(c, &conn, &em))
        .await
        .map_err(|e| {
            release_ip();
            Refusal::oops("login lookup failed", e)
        })?;
    let (window, max) = (
        state.settings.login.failure_window,
        state.settings.login.max_failures,
    );
    let (conn, em) = (a.connection.to_owned(), a.email.to_string());
    let reserved = state
        .store
        .write(move |tx| store::throttle::reserve(tx, &conn, &em, now, window, max))
        .await;
    let locks = match reserved {
        Ok(Attempt::Allowed { locks }) => locks,
        // The right password does not get through a lockout.
        Ok(Attempt::Locked(until)) => {
            release_ip();
            return Err(Refusal::wait(429, TOO_MANY, until - now));
        }
        Err(e) => {
            release_ip();
            return Err(Refusal::oops("login throttle failed", e));
        }
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = match ticket.verify(a.password, stored).await {
        Ok(v) => v,
        Err(Busy) => {
            release_ip();
            let (conn, em) = (a.connection.to_owned(), a.email.to_string());
            let _ = state
                .store
                .write(move |tx| store::throttle::unreserve(tx, &conn, &em, locks))
                .await;
            return Err(Refusal::busy());
        }
    };
    match user {
        Some(user) if verified.matched => {
            release_ip();
            Ok(Some(Verified {
                user,
                rehash: verified.rehash,
            }))
        }
        other => {
            audit_failure(state, a, other.map(|u| u.id), locks).await;
            Ok(None)
        }
    }
}

/// Audit a failed attempt (already counted), and the lockout it caused.
async fn audit_failure(
    state: &AppState,
    a: &PasswordCheck<'_>,
    user_id: Option<String>,
    locks: Option<i64>,
) {
    let now = state.clock.now();
    let (conn, cid, ips) = (
        a.connection.to_owned(),
        a.client_id.to_owned(),
        a.ip.map(|i| i.to_string()),
    );
    let res = state
        .store
        .write(move |tx| {
            let ev = audit::Event {
                kind: "login_failed",
                connection: Some(&conn),
                user_id: user_id.as_deref(),
                client_id: Some(&cid),
                ip: ips.as_deref(),
                detail: Some(if user_id.is_some() {
                    "wrong password"
                } else {
                    "unknown email"
                }),
            };
            audit::record(tx, &ev, now)?;
            if let Some(until) = locks {
                let detail = format!("locked until {until}");
                audit::record(
                    tx,
                    &audit::Event {
                        kind: "account_locked",
                        detail: Some(&detail),
                        ..ev
                    },
                    now,
                )?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "cannot record a failed login");
    }
}

/// A submitted form, checked: its transaction, client, connection and browser.
struct Submitted<'a> {
    loaded: Loaded,
    client: &'a Client,
    conn: &'a crate::config::Connection,
    browser: String,
    form: CredentialsForm,
}

async fn submitted<'a>(
    req: &HttpRequest,
    state: &'a AppState,
    body: &[u8],
) -> Result<Submitted<'a>, HttpResponse> {
    let s = &state.settings;
    let Some(form) = CredentialsForm::parse(body) else {
        return Err(error_page(
            s,
            None,
            400,
            "The form could not be read (it is not valid UTF-8).",
        ));
    };
    let loaded = load(state, form.tx.as_deref()).await?;
    let Some((client, conn)) = client_of(s, &loaded.parked) else {
        return Err(error_page(
            s,
            None,
            400,
            "This application is no longer registered.",
        ));
    };
    let Some(browser) = csrf_ok(req, state, &loaded, form.csrf.as_deref()) else {
        return Err(error_page(s, Some(client), 400, STALE_FORM));
    };
    Ok(Submitted {
        loaded,
        client,
        conn,
        browser,
        form,
    })
}

fn device_trusted(
    req: &HttpRequest,
    state: &AppState,
    browser: &str,
    conn: &str,
    email: &Email,
) -> bool {
    let https = state.settings.issuer.is_https();
    let cookie = session::read(req, &device::cookie_name(https));
    device::trusted(
        &state.secrets,
        browser,
        cookie.as_deref(),
        conn,
        email.as_str(),
        state.clock.now(),
    )
}

pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let sub = match submitted(&req, &state, &body).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let page = Form {
        client: sub.client,
        signup_allowed: sub.conn.signup,
        min_length: sub.conn.password_min_length,
        loaded: &sub.loaded,
        email: &sub.form.email,
    };
    let ip = session::client_ip(&req, &state.settings.login.trusted_proxies);
    let password = &sub.form.password;
    let Ok(email) = Email::parse(&sub.form.email) else {
        return render_login(&page, 401, Some(WRONG_CREDENTIALS));
    };
    if password.expose().is_empty() || password.expose().len() > MAX_PASSWORD_BYTES {
        return render_login(&page, 401, Some(WRONG_CREDENTIALS));
    }
    let attempt = PasswordCheck {
        state: &state,
        connection: sub.conn.name.as_str(),
        client_id: sub.client.client_id.as_str(),
        email: &email,
        password,
        ip,
        device_trusted: device_trusted(&req, &state, &sub.browser, sub.conn.name.as_str(), &email),
    };
    match check_password(&attempt).await {
        Err(r) => login_refused(&page, r),
        Ok(None) => render_login(&page, 401, Some(WRONG_CREDENTIALS)),
        Ok(Some(v)) => {
            let rehash = match v.rehash {
                true => state.hasher.hash(password).await.ok().and_then(Result::ok),
                false => None,
            };
            finish(&req, &state, &sub, v.user, false, ip, rehash).await
        }
    }
}

/// Complete the login (rules, code, session) and remember this account on this device.
async fn finish(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    sub: &Submitted<'_>,
    user: User,
    signup: bool,
    ip: Option<IpAddr>,
    rehash: Option<String>,
) -> HttpResponse {
    let https = state.settings.issuer.is_https();
    let email = user.email.clone();
    let replaces = session::read(
        req,
        &session::session_cookie_name(sub.conn.name.as_str(), https),
    )
    .map(|sid| token_hash(&sid));
    let how = Completion {
        signup,
        ip: ip.map(|i| i.to_string()).unwrap_or_default(),
        session: SessionChange::New,
        rehash,
        tx_id: Some(sub.loaded.tx_id.clone()),
        replaces,
    };
    let mut res = flow::complete(state, &sub.loaded.parked.auth, sub.client, user, how).await;
    if res.status().is_redirection() {
        let name = device::cookie_name(https);
        let value = device::with_login(
            &state.secrets,
            &sub.browser,
            session::read(req, &name).as_deref(),
            sub.conn.name.as_str(),
            &email,
            state.clock.now(),
        );
        let _ = res.add_cookie(&session::cookie(
            name,
            value,
            Some(device::TRUST_SECS),
            https,
        ));
    }
    res
}

/// The connection's policy, on a blocking thread (zxcvbn takes milliseconds).
async fn policy_problem(min_length: usize, password: &Password, email: &Email) -> Option<String> {
    let (p, e) = (password.clone(), email.clone());
    web::block(move || PasswordPolicy { min_length }.check(p.expose(), &e))
        .await
        .map_or(Some(OOPS.to_owned()), |r| r.err().map(|x| x.to_string()))
}

pub async fn signup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let sub = match submitted(&req, &state, &body).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let s = &state.settings;
    let page = Form {
        client: sub.client,
        signup_allowed: sub.conn.signup,
        min_length: sub.conn.password_min_length,
        loaded: &sub.loaded,
        email: &sub.form.email,
    };
    if !sub.conn.signup {
        return error_page(
            s,
            Some(sub.client),
            403,
            "Sign-up is closed for this application.",
        );
    }
    let ip = session::client_ip(&req, &s.login.trusted_proxies);
    let email = match Email::parse(&sub.form.email) {
        Ok(e) => e,
        Err(msg) => return render_signup(&page, 400, Some(msg)),
    };
    let password = &sub.form.password;
    if let Some(problem) = policy_problem(sub.conn.password_min_length, password, &email).await {
        return render_signup(&page, 400, Some(&problem));
    }
    let (cname, em) = (sub.conn.name.to_string(), email.to_string());
    let existing = match state
        .store
        .run(move |c| store::users::find_by_email(c, &cname, &em))
        .await
    {
        Ok(v) => v,
        Err(e) => return signup_refused(&page, Refusal::oops("sign-up lookup failed", e)),
    };
    if existing.is_some() {
        // The e-mail is taken. If the password is the account's, this is the owner
        // signing in through the wrong form: log them in. Otherwise it is a password
        // guess: throttled and counted like a failed login, and we say as little as we can.
        let attempt = PasswordCheck {
            state: &state,
            connection: sub.conn.name.as_str(),
            client_id: sub.client.client_id.as_str(),
            email: &email,
            password,
            ip,
            device_trusted: device_trusted(
                &req,
                &state,
                &sub.browser,
                sub.conn.name.as_str(),
                &email,
            ),
        };
        return match check_password(&attempt).await {
            Err(r) => signup_refused(&page, r),
            Ok(None) => render_signup(&page, 400, Some(NOT_CREATED)),
            Ok(Some(v)) => finish(&req, &state, &sub, v.user, false, ip, None).await,
        };
    }
    match create_account(&state, &sub, &email, password, ip).await {
        Ok(user) => finish(&req, &state, &sub, user, true, ip, None).await,
        Err(r) => signup_refused(&page, r),
    }
}

/// A new account: charged to the address's and the server's sign-up budgets before the
/// password is hashed (review M2), in the sign-up lane of the hashing queue; every
/// charge comes back when no account results.
async fn create_account(
    state: &AppState,
    sub: &Submitted<'_>,
    email: &Email,
    password: &Password,
    ip: Option<IpAddr>,
) -> Result<User, Refusal> {
    let now = state.clock.now();
    state
        .signups
        .charge(ip, now)
        .map_err(|retry| Refusal::wait(429, TOO_MANY_SIGNUPS, retry))?;
    let refund = || state.signups.refund(ip, now);
    let Ok(ticket) = state.hasher.admit(Lane::Signup) else {
        refund();
        return Err(Refusal::busy());
    };
    let hash = match ticket.hash(password).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            refund();
            return Err(Refusal::oops("hashing failed", e));
        }
        Err(Busy) => {
            refund();
            return Err(Refusal::busy());
        }
    };
    let (cname, em, cid, ips) = (
        sub.conn.name.to_string(),
        email.clone(),
        sub.client.client_id.to_string(),
        ip.map(|i| i.to_string()),
    );
    let created = state
        .store
        .write(move |tx| {
            let user = store::users::create(tx, &cname, &em, &hash, &[], now)?;
            if let Ok(u) = &user {
                audit::record(
                    tx,
                    &audit::Event {
                        kind: "signup",
                        connection: Some(&cname),
                        user_id: Some(&u.id),
                        client_id: Some(&cid),
                        ip: ips.as_deref(),
                        detail: None,
                    },
                    now,
                )?;
            }
            Ok(user)
        })
        .await;
    match created {
        Ok(Ok(user)) => Ok(user),
        // Lost a race with another sign-up of the address, or a look-alike of it exists.
        Ok(Err(_)) => {
            refund();
            Err(Refusal::new(400, NOT_CREATED))
        }
        Err(e) => {
            refund();
            Err(Refusal::oops("sign-up failed", e))
        }
    }
}
