//! The core's two error types: `OAuthError` (RFC 6749 5.2, RFC 6750 3.1, RFC 7009,
//! RFC 7662) for the JSON endpoints, and `Refusal` for the hosted pages. Both are mapped
//! to HTTP in one place each (web::oauth, web::page). The description goes to the
//! client; the cause chain only to the logs.

use std::borrow::Cow;

use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    LoginRequired,
    InvalidToken,
    InsufficientScope,
    UnsupportedTokenType,
    RequestNotSupported,
    RequestUriNotSupported,
    ServerError,
    TemporarilyUnavailable,
    SlowDown,
    /// Too many failures from this address: HTTP 429 (RFC 6585) with Retry-After; the
    /// code clients see is `temporarily_unavailable`.
    TooManyRequests,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable | Self::TooManyRequests => "temporarily_unavailable",
            Self::SlowDown => "slow_down",
        }
    }
}

/// An error answered to an OAuth client as JSON `{error, error_description}`.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// Set for invalid_client over HTTP Basic (RFC 6749 5.2) and for bearer errors
    /// (RFC 6750 3): the response is 401 with this challenge.
    pub challenge: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            challenge: None,
        }
    }
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
    pub fn with_challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        if matches!(e, StoreError::Busy) {
            return Self::new(ErrorCode::TemporarilyUnavailable, "busy; retry in a moment");
        }
        tracing::error!(error = %e, "store failure");
        Self::server_error()
    }
}

impl From<crate::idp::params::NotUtf8> for OAuthError {
    fn from(e: crate::idp::params::NotUtf8) -> Self {
        OAuthError::invalid_request(e.to_string())
    }
}

impl From<crate::tokens::KeyError> for OAuthError {
    fn from(e: crate::tokens::KeyError) -> Self {
        tracing::error!(error = %e, "signing failure");
        Self::server_error()
    }
}

/// Quote a value for an HTTP auth-param (RFC 7235 2.1): no quotes or backslashes inside.
pub fn auth_param(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// Why a hosted page does not go on. `web::page` gives each its status, its message in
/// the client's brand and, where waiting helps, Retry-After.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong e-mail or password (the same answer for both).
    WrongCredentials,
    /// The account, or the address, has too many failures: wait so many seconds.
    TooManyAttempts { retry_after: i64 },
    /// The address, or the server, has created enough accounts lately.
    TooManySignups { retry_after: i64 },
    /// The hashing queue is full.
    Busy,
    /// Sign-up with an address that is taken (or looks like one that is), or a wrong
    /// password for it: we say as little as we can.
    NotCreated,
    /// The sign-up form's input is not acceptable; the sentence says why.
    Invalid(Cow<'static, str>),
    /// Sign-up is closed for this connection.
    SignupClosed,
    /// The transaction was completed already (a double submit).
    AlreadyCompleted,
    /// A mailed link that is unknown, used, expired, or voided by a change.
    LinkInvalid,
    /// The password was right, but the account is blocked.
    Blocked,
    /// The store failed; the cause is logged.
    ServerError,
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        if matches!(e, StoreError::Busy) {
            return Refusal::Busy;
        }
        tracing::error!(error = %e, "store failure");
        Refusal::ServerError
    }
}
