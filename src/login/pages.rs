//! The hosted login and sign-up pages: branded by the client that asked, bound to its
//! connection, protected by CSRF binding and brute-force throttling.

use std::net::IpAddr;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::config::{Client, Settings};
use crate::crypto::{ct_eq, token_hash};
use crate::domain::{Email, Password};
use crate::login::flow::{self, Completion, Parked, SessionChange};
use crate::login::session;
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

#[derive(Deserialize)]
pub struct CredentialsForm {
    tx: Option<String>,
    csrf: Option<String>,
    email: Option<String>,
    password: Option<String>,
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
/// must be the one that started it: a forged cross-site POST has neither.
fn csrf_ok(req: &HttpRequest, loaded: &Loaded, field: Option<&str>) -> bool {
    let field_ok = field.is_some_and(|f| ct_eq(f.as_bytes(), loaded.parked.csrf.as_bytes()));
    let browser_ok = session::read(req, session::BROWSER_COOKIE)
        .is_some_and(|b| ct_eq(token_hash(&b).as_bytes(), loaded.browser.as_bytes()));
    field_ok && browser_ok
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

fn render_login(f: &Form<'_>, status: u16, error: Option<&str>) -> HttpResponse {
    let mut res = html(
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
    );
    if status == 429 {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    }
    if status == 503 {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
    }
    res
}

fn render_signup(f: &Form<'_>, status: u16, error: Option<&str>) -> HttpResponse {
    let mut res = html(
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
    );
    if status == 429 || status == 503 {
        let v = if status == 429 { "60" } else { "2" };
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static(v));
    }
    res
}

pub async fn login_page(state: web::Data<AppState>, q: web::Query<TxQuery>) -> HttpResponse {
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
    render_login(&form, 200, None)
}

pub async fn signup_page(state: web::Data<AppState>, q: web::Query<TxQuery>) -> HttpResponse {
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
    if !conn.signup {
        // interface.md: sign-up off means the login form.
        return render_login(&form, 200, None);
    }
    render_signup(&form, 200, None)
}

/// How long a browser that logged in with a password stays exempt from the per-IP limit.
const TRUSTED_BROWSER_SECS: i64 = 30 * 86_400;

/// The right to check one password, reserved before hashing (see store::throttle).
struct Reserved {
    ip_reserved: bool,
    /// This attempt locks the account unless it succeeds.
    locks: Option<i64>,
}

/// Reserve the attempt for this address (unless the browser is trusted) and account.
/// Refused: the page's status and message.
async fn gate(
    state: &AppState,
    browser_hash: &str,
    ip: Option<IpAddr>,
    connection: &str,
    email: &str,
) -> Result<Reserved, (u16, &'static str)> {
    let now = state.clock.now();
    let ip_reserved = if state.ip_limiter.is_trusted(browser_hash, now) {
        false
    } else if state.ip_limiter.reserve(ip, now) {
        true
    } else {
        return Err((429, TOO_MANY));
    };
    let (window, max) = (
        state.settings.login.failure_window,
        state.settings.login.max_failures,
    );
    let (conn, em) = (connection.to_owned(), email.to_owned());
    let attempt = state
        .store
        .write(move |tx| store::throttle::reserve(tx, &conn, &em, now, window, max))
        .await;
    let refused = match attempt {
        Ok(Attempt::Allowed { locks }) => return Ok(Reserved { ip_reserved, locks }),
        // The right password does not get through a lockout.
        Ok(Attempt::Locked(_)) => (429, TOO_MANY),
        Err(e) => {
            tracing::error!(error = %e, "login throttle failed");
            (500, OOPS)
        }
    };
    if ip_reserved {
        state.ip_limiter.release(ip);
    }
    Err(refused)
}

/// The password was right: the address is not charged, and this browser is trusted.
fn passed(state: &AppState, browser_hash: &str, ip: Option<IpAddr>, ip_reserved: bool) {
    if ip_reserved {
        state.ip_limiter.release(ip);
    }
    state
        .ip_limiter
        .trust_browser(browser_hash, state.clock.now() + TRUSTED_BROWSER_SECS);
}

/// Audit a failed attempt (already counted by `gate`), and the lockout it caused.
async fn audit_failure(
    state: &AppState,
    connection: &str,
    user_id: Option<String>,
    client_id: &str,
    ip: Option<IpAddr>,
    locks: Option<i64>,
) {
    let now = state.clock.now();
    let (conn, cid, ips) = (
        connection.to_owned(),
        client_id.to_owned(),
        ip.map(|i| i.to_string()),
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

pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CredentialsForm>,
) -> HttpResponse {
    let s = &state.settings;
    let loaded = match load(&state, form.tx.as_deref()).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some((client, conn)) = client_of(s, &loaded.parked) else {
        return error_page(s, None, 400, "This application is no longer registered.");
    };
    if !csrf_ok(&req, &loaded, form.csrf.as_deref()) {
        return error_page(s, Some(client), 400, STALE_FORM);
    }
    let raw_email = form.email.as_deref().unwrap_or("").trim().to_owned();
    let page = Form {
        client,
        signup_allowed: conn.signup,
        min_length: conn.password_min_length,
        loaded: &loaded,
        email: &raw_email,
    };
    let ip = session::client_ip(&req, &s.login.trusted_proxies);
    let password = Password::new(form.password.clone().unwrap_or_default());
    let Ok(email) = Email::parse(&raw_email) else {
        return render_login(&page, 401, Some(WRONG_CREDENTIALS));
    };
    if password.expose().is_empty() || password.expose().len() > 1024 {
        return render_login(&page, 401, Some(WRONG_CREDENTIALS));
    }
    let Reserved { ip_reserved, locks } = match gate(
        &state,
        &loaded.browser,
        ip,
        conn.name.as_str(),
        email.as_str(),
    )
    .await
    {
        Ok(r) => r,
        Err((status, message)) => return render_login(&page, status, Some(message)),
    };
    let (cname, em) = (conn.name.to_string(), email.to_string());
    let user = match state
        .store
        .run(move |c| store::users::find_by_email(c, &cname, &em))
        .await
    {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "login lookup failed");
            return render_login(&page, 500, Some(OOPS));
        }
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = match state.hasher.verify(&password, stored).await {
        Ok(ok) => ok,
        Err(_) => return render_login(&page, 503, Some(BUSY)),
    };
    let user = match user {
        Some(u) if ok => u,
        other => {
            let uid = other.map(|u| u.id);
            audit_failure(
                &state,
                conn.name.as_str(),
                uid,
                client.client_id.as_str(),
                ip,
                locks,
            )
            .await;
            return render_login(&page, 401, Some(WRONG_CREDENTIALS));
        }
    };
    passed(&state, &loaded.browser, ip, ip_reserved);
    let rehash = if crate::login::password::needs_rehash(&user.password_hash) {
        state.hasher.hash(&password).await.ok().and_then(Result::ok)
    } else {
        None
    };
    finish(&state, &loaded, client, user, false, ip, rehash).await
}

async fn finish(
    state: &web::Data<AppState>,
    loaded: &Loaded,
    client: &Client,
    user: User,
    signup: bool,
    ip: Option<std::net::IpAddr>,
    rehash: Option<String>,
) -> HttpResponse {
    let how = Completion {
        signup,
        ip: ip.map(|i| i.to_string()).unwrap_or_default(),
        session: SessionChange::New,
        rehash,
        tx_id: Some(loaded.tx_id.clone()),
    };
    flow::complete(state, &loaded.parked.auth, client, user, how).await
}

/// Why a sign-up password is refused, in words for the page.
pub fn password_problem(password: &str, email: &str, min: usize) -> Option<String> {
    let len = password.chars().count();
    if len < min {
        return Some(format!("Use a password of at least {min} characters."));
    }
    if password.len() > 1024 {
        return Some("Use a password of at most 1024 characters.".into());
    }
    if crate::login::is_common_password(password) {
        return Some("This password is too common. Choose another one.".into());
    }
    if password.eq_ignore_ascii_case(email)
        || email
            .split('@')
            .next()
            .is_some_and(|l| password.eq_ignore_ascii_case(l))
    {
        return Some("Your password must not be your email address.".into());
    }
    None
}

pub async fn signup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CredentialsForm>,
) -> HttpResponse {
    let s = &state.settings;
    let loaded = match load(&state, form.tx.as_deref()).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some((client, conn)) = client_of(s, &loaded.parked) else {
        return error_page(s, None, 400, "This application is no longer registered.");
    };
    if !csrf_ok(&req, &loaded, form.csrf.as_deref()) {
        return error_page(s, Some(client), 400, STALE_FORM);
    }
    let raw_email = form.email.as_deref().unwrap_or("").trim().to_owned();
    let page = Form {
        client,
        signup_allowed: conn.signup,
        min_length: conn.password_min_length,
        loaded: &loaded,
        email: &raw_email,
    };
    if !conn.signup {
        return error_page(
            s,
            Some(client),
            403,
            "Sign-up is closed for this application.",
        );
    }
    let now = state.clock.now();
    let ip = session::client_ip(&req, &s.login.trusted_proxies);
    let email = match Email::parse(&raw_email) {
        Ok(e) => e,
        Err(msg) => return render_signup(&page, 400, Some(msg)),
    };
    let password = Password::new(form.password.clone().unwrap_or_default());
    if let Some(problem) =
        password_problem(password.expose(), email.as_str(), conn.password_min_length)
    {
        return render_signup(&page, 400, Some(&problem));
    }

    let (cname, em) = (conn.name.to_string(), email.to_string());
    let existing = match state
        .store
        .run(move |c| store::users::find_by_email(c, &cname, &em))
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "sign-up lookup failed");
            return render_signup(&page, 500, Some(OOPS));
        }
    };
    if let Some(user) = existing {
        // The e-mail is taken. If the password is the account's, this is the owner
        // signing in through the wrong form: log them in. Otherwise it is a password
        // guess: throttled and counted like a failed login, and we say as little as we can.
        let Reserved { ip_reserved, locks } = match gate(
            &state,
            &loaded.browser,
            ip,
            conn.name.as_str(),
            email.as_str(),
        )
        .await
        {
            Ok(r) => r,
            Err((status, message)) => return render_signup(&page, status, Some(message)),
        };
        let ok = match state
            .hasher
            .verify(&password, Some(user.password_hash.clone()))
            .await
        {
            Ok(ok) => ok,
            Err(_) => return render_signup(&page, 503, Some(BUSY)),
        };
        if ok {
            passed(&state, &loaded.browser, ip, ip_reserved);
            return finish(&state, &loaded, client, user, false, ip, None).await;
        }
        audit_failure(
            &state,
            conn.name.as_str(),
            Some(user.id.clone()),
            client.client_id.as_str(),
            ip,
            locks,
        )
        .await;
        return render_signup(&page, 400, Some("We could not create an account with these details. If you already have an account, log in instead."));
    }

    let hash = match state.hasher.hash(&password).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "hashing failed");
            return render_signup(&page, 500, Some(OOPS));
        }
        Err(_) => return render_signup(&page, 503, Some(BUSY)),
    };
    let (cname, em, cid, ips) = (
        conn.name.to_string(),
        email.to_string(),
        client.client_id.to_string(),
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
        Ok(Ok(user)) => finish(&state, &loaded, client, user, true, ip, None).await,
        // Lost a race with another sign-up of the same address.
        Ok(Err(_)) => render_signup(&page, 400, Some("We could not create an account with these details. If you already have an account, log in instead.")),
        Err(e) => {
            tracing::error!(error = %e, "sign-up failed");
            render_signup(&page, 500, Some(OOPS))
        }
    }
}
