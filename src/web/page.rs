//! Hosted pages as HTTP: the brand of a page, HTML through askama, and `PageError` — the
//! one place a refusal becomes a status, a branded error page and (when waiting helps)
//! Retry-After.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;

use crate::config::{Client, Settings};
use crate::domain::ClientId;
use crate::idp::Refusal;

pub const OOPS: &str = "Something went wrong. Please try again.";
pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";
pub const TOO_MANY: &str = "Too many attempts, try again later.";
pub const BUSY: &str = "We are busy right now. Please try again in a moment.";
pub const STALE_FORM: &str = "This form has expired or was not sent from this page. Go back to the application and try again.";
pub const EXPIRED: &str =
    "This sign-in link has expired. Go back to the application and try again.";
const TOO_MANY_SIGNUPS: &str = "Too many accounts were created from your network. Try again later.";
const NOT_CREATED: &str = "We could not create an account with these details. If you already have an account, log in instead.";
pub const BLOCKED: &str =
    "This account is blocked. Contact the application's support if you think this is a mistake.";
pub const UPSTREAM_UNAVAILABLE: &str =
    "The sign-in service is not reachable right now. Please try again in a moment.";
pub const LINK_INVALID: &str = "This link has expired or was already used. Ask for a new one.";
const ALREADY_COMPLETED: &str =
    "This sign-in was already completed. Go back to the application and start again.";

/// Branding for one page: a client's, or the neutral one.
pub struct Brand<'a> {
    pub title: &'a str,
    pub logo: Option<&'a str>,
    pub stylesheet: Option<&'a str>,
    pub client_id: Option<&'a str>,
    /// Versions `/branding/{client}.css`: a reload that changes the colour changes the
    /// URL, so no cache shows the old one.
    pub version: String,
}

/// The version of a client's brand stylesheet: a digest of what it renders.
pub fn brand_version(client: &Client) -> String {
    crate::crypto::hex(&crate::crypto::sha256(client.branding.primary_color.as_bytes())[..6])
}

impl<'a> Brand<'a> {
    pub fn of(client: Option<&'a Client>) -> Self {
        match client {
            Some(c) => Self {
                title: &c.branding.title,
                logo: c.branding.logo.as_deref(),
                stylesheet: c.branding.stylesheet.as_deref(),
                client_id: Some(c.client_id.as_str()),
                version: brand_version(c),
            },
            None => Self {
                title: "Portico",
                logo: None,
                stylesheet: None,
                client_id: None,
                version: String::new(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    brand: Brand<'a>,
    heading: &'a str,
    message: &'a str,
}

/// A rendered page, or a plain 500 if the template failed.
pub fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(b) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(b),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body(OOPS)
        }
    }
}

/// Add Retry-After (seconds) when waiting helps.
pub fn with_retry_after(mut res: HttpResponse, retry_after: Option<i64>) -> HttpResponse {
    if let Some(secs) = retry_after {
        if let Ok(v) = header::HeaderValue::from_str(&secs.max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

/// Why a page stops: the status, the sentence, how long to wait, and whose brand.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    pub retry_after: Option<i64>,
    pub client: Option<ClientId>,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            client: None,
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// In this client's brand.
    pub fn branded(mut self, client: Option<&ClientId>) -> Self {
        self.client = client.cloned();
        self
    }

    fn heading(&self) -> &'static str {
        match self.status.as_u16() {
            403 if self.message == BLOCKED => "This account is blocked",
            429 => "Too many attempts",
            503 => "Please try again",
            500.. => "Something went wrong",
            _ => "We could not continue",
        }
    }

    /// The branded error page.
    pub fn render(&self, s: &Settings) -> HttpResponse {
        let client = self.client.as_ref().and_then(|c| s.client(c.as_str()));
        let page = ErrorPage {
            brand: Brand::of(client),
            heading: self.heading(),
            message: &self.message,
        };
        with_retry_after(html(self.status, page.render()), self.retry_after)
    }
}

impl From<Refusal> for PageError {
    fn from(r: Refusal) -> Self {
        let (status, message, retry_after): (u16, Cow<'static, str>, Option<i64>) = match r {
            Refusal::WrongCredentials => (401, WRONG_CREDENTIALS.into(), None),
            Refusal::TooManyAttempts { retry_after } => (429, TOO_MANY.into(), Some(retry_after)),
            Refusal::TooManySignups { retry_after } => {
                (429, TOO_MANY_SIGNUPS.into(), Some(retry_after))
            }
            Refusal::Busy => (503, BUSY.into(), Some(2)),
            Refusal::NotCreated => (400, NOT_CREATED.into(), None),
            Refusal::Invalid(why) => (400, why, None),
            Refusal::SignupClosed => (403, "Sign-up is closed for this application.".into(), None),
            Refusal::AlreadyCompleted => (400, ALREADY_COMPLETED.into(), None),
            Refusal::LinkInvalid => (400, LINK_INVALID.into(), None),
            Refusal::Blocked => (403, BLOCKED.into(), None),
            Refusal::ServerError => (500, OOPS.into(), None),
        };
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message,
            retry_after,
            client: None,
        }
    }
}
