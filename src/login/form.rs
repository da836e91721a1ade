//! The login and sign-up forms: their templates, and the fields they post.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use crate::config::{Client, Connection};
use crate::domain::Password;
use crate::idp::params::Params;
use crate::idp::transaction::Loaded;
use crate::web::page::{html, with_retry_after, Brand, PageError};

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
    reset_allowed: bool,
    /// The client has a database connection: the password form is shown.
    password_form: bool,
    buttons: &'a [Button],
}

/// "Continue with …" for one upstream connection.
#[derive(Debug, Clone)]
pub struct Button {
    pub connection: String,
    pub label: String,
    pub icon: Option<String>,
}

#[derive(Template)]
#[template(path = "check_inbox.html")]
struct CheckInboxPage<'a> {
    brand: Brand<'a>,
    tx: &'a str,
    csrf: &'a str,
    email: &'a str,
    message: Option<&'a str>,
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

/// The fields of both forms, decoded strictly (UTF-8 or refused).
pub struct Credentials {
    pub tx: Option<String>,
    pub csrf: Option<String>,
    pub email: String,
    pub password: Password,
}

impl Credentials {
    /// No form was posted (a login continued by a mailed link).
    pub fn empty() -> Self {
        Self {
            tx: None,
            csrf: None,
            email: String::new(),
            password: Password::new(String::new()),
        }
    }

    pub fn parse(body: &[u8]) -> Option<Self> {
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

/// One rendering of a form: its client, connection, transaction and the e-mail to show.
pub struct Form<'a> {
    pub client: &'a Client,
    pub connection: &'a Connection,
    pub loaded: &'a Loaded,
    pub email: &'a str,
    pub buttons: &'a [Button],
}

impl Form<'_> {
    pub fn login(&self, status: StatusCode, error: Option<&str>) -> HttpResponse {
        html(
            status,
            LoginPage {
                brand: Brand::of(Some(self.client)),
                client_name: &self.client.name,
                tx: &self.loaded.id,
                csrf: &self.loaded.parked.csrf,
                email: self.email,
                error,
                signup_allowed: self.connection.open_signup(),
                reset_allowed: self.connection.password_reset,
                password_form: self.client.connection.is_some(),
                buttons: self.buttons,
            }
            .render(),
        )
    }

    /// "Check your inbox": the login waits for the address in `email` to be confirmed.
    pub fn inbox(&self, status: StatusCode, email: &str, message: Option<&str>) -> HttpResponse {
        html(
            status,
            CheckInboxPage {
                brand: Brand::of(Some(self.client)),
                tx: &self.loaded.id,
                csrf: &self.loaded.parked.csrf,
                email,
                message,
            }
            .render(),
        )
    }

    pub fn signup(&self, status: StatusCode, error: Option<&str>) -> HttpResponse {
        html(
            status,
            SignupPage {
                brand: Brand::of(Some(self.client)),
                client_name: &self.client.name,
                heading: &self.client.branding.signup_heading,
                tx: &self.loaded.id,
                csrf: &self.loaded.parked.csrf,
                email: self.email,
                error,
                min_length: self.connection.password_min_length,
            }
            .render(),
        )
    }

    /// The form again, with the refusal's message, status and Retry-After.
    pub fn refused(&self, signup: bool, e: PageError) -> HttpResponse {
        let res = match signup {
            true => self.signup(e.status, Some(&e.message)),
            false => self.login(e.status, Some(&e.message)),
        };
        with_retry_after(res, e.retry_after)
    }
}
