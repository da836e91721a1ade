//! actix-web integration: the [`Authenticated`] extractor (bearer token from the
//! `Authorization` header, RFC 6750 section 2.1) and [`AuthError`], the one place where
//! authentication and authorization failures become HTTP responses (RFC 6750 section 3).

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use crate::claims::Claims;
use crate::error::VerifyError;
use crate::verifier::Verifier;

/// A request whose bearer access token verified. Take it as a handler argument:
///
/// ```no_run
/// use actix_web::{web, App, HttpResponse};
/// use portico_verify::{AuthError, Authenticated, Verifier};
///
/// async fn reports(auth: Authenticated) -> Result<HttpResponse, AuthError> {
///     auth.require_role("partner")?;
///     Ok(HttpResponse::Ok().json(serde_json::json!({ "sub": auth.sub })))
/// }
///
/// # fn app(verifier: Verifier) {
/// let app = App::new()
///     .app_data(web::Data::new(verifier))
///     .route("/reports", web::get().to(reports));
/// # }
/// ```
///
/// It can only be made by the extractor, so holding one means the token was checked.
/// `Option<Authenticated>` gives optional authentication for free (but then an invalid
/// token is treated like none).
#[derive(Debug, Clone)]
pub struct Authenticated {
    claims: Claims,
}

impl Authenticated {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The verified claims, owned.
    pub fn into_claims(self) -> Claims {
        self.claims
    }
}

impl Deref for Authenticated {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.claims
    }
}

impl FromRequest for Authenticated {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verifier = req
            .app_data::<web::Data<Verifier>>()
            .map(|data| data.get_ref().clone())
            .or_else(|| req.app_data::<Verifier>().cloned());
        let token = bearer_token(req).map(|token| token.map(str::to_owned));
        Box::pin(async move {
            let Some(verifier) = verifier else {
                tracing::error!("no portico_verify::Verifier registered as web::Data");
                return Err(AuthError::NotConfigured);
            };
            let realm: Arc<str> = Arc::from(verifier.realm());
            let token = match token {
                Ok(Some(token)) => token,
                Ok(None) => return Err(AuthError::MissingToken { realm }),
                Err(BadHeader) => return Err(AuthError::InvalidRequest { realm }),
            };
            match verifier.verify(&token).await {
                Ok(claims) => Ok(Authenticated { claims }),
                Err(error) if error.is_unavailable() => Err(AuthError::Unavailable {
                    retry_after: verifier.min_refetch_interval(),
                    error,
                }),
                Err(error) => {
                    tracing::debug!(%error, "refused bearer token");
                    Err(AuthError::InvalidToken { realm, error })
                }
            }
        })
    }
}

struct BadHeader;

/// `Authorization: Bearer <b64token>` (RFC 6750 section 2.1); the scheme is
/// case-insensitive (RFC 9110 section 11.1). `Ok(None)` when there is no bearer
/// credential at all, including another scheme such as Basic.
fn bearer_token(req: &HttpRequest) -> Result<Option<&str>, BadHeader> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| BadHeader)?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() || !token.bytes().all(is_b64token_byte) {
        return Err(BadHeader);
    }
    Ok(Some(token))
}

/// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
fn is_b64token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Why a request was not let through; renders the RFC 6750 response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer token: 401 with a bare `Bearer realm="..."` challenge, no error code
    /// (RFC 6750 section 3.1).
    #[error("no bearer token in the request")]
    MissingToken {
        /// The challenge realm.
        realm: Arc<str>,
    },
    /// A `Bearer` Authorization header that is not a single b64token: 400
    /// `invalid_request`.
    #[error("malformed bearer Authorization header")]
    InvalidRequest {
        /// The challenge realm.
        realm: Arc<str>,
    },
    /// The token was refused: 401 `invalid_token`.
    #[error("invalid access token: {error}")]
    InvalidToken {
        /// The challenge realm.
        realm: Arc<str>,
        /// Why.
        error: VerifyError,
    },
    /// The issuer's keys could not be fetched: 503 with `Retry-After`. The token may be
    /// fine, so clients should not throw it away.
    #[error("cannot verify access tokens now: {error}")]
    Unavailable {
        /// When to retry.
        retry_after: Duration,
        /// Why.
        error: VerifyError,
    },
    /// The token lacks a scope: 403 `insufficient_scope` (RFC 6750 section 3.1).
    #[error("access token lacks scope {required}")]
    InsufficientScope {
        /// The scope the resource needs.
        required: String,
    },
    /// The token lacks a role: 403 `insufficient_role`.
    #[error("access token lacks role {required}")]
    InsufficientRole {
        /// The role the resource needs.
        required: String,
    },
    /// The application forgot `app_data(web::Data::new(verifier))`: 500.
    #[error("no Verifier registered as app data")]
    NotConfigured,
}

impl AuthError {
    /// The error code for the JSON body and challenge.
    pub fn error_code(&self) -> &'static str {
        match self {
            AuthError::MissingToken { .. } => "missing_token",
            AuthError::InvalidRequest { .. } => "invalid_request",
            AuthError::InvalidToken { error, .. } | AuthError::Unavailable { error, .. } => {
                error.error_code()
            }
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::InsufficientRole { .. } => "insufficient_role",
            AuthError::NotConfigured => "server_error",
        }
    }

    fn description(&self) -> String {
        match self {
            AuthError::MissingToken { .. } => "this resource requires a bearer access token".into(),
            AuthError::InvalidRequest { .. } => {
                "the Authorization header must be Bearer followed by one token".into()
            }
            AuthError::InvalidToken { error, .. } | AuthError::Unavailable { error, .. } => {
                error.description().into()
            }
            AuthError::InsufficientScope { required } => {
                format!("this resource requires the scope {}", quotable(required))
            }
            AuthError::InsufficientRole { required } => {
                format!("this resource requires the role {}", quotable(required))
            }
            AuthError::NotConfigured => "the API is misconfigured".into(),
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 section 3), if this error has one.
    fn challenge(&self) -> Option<String> {
        let with_error = |realm: &str| {
            format!(
                "Bearer realm=\"{}\", error=\"{}\", error_description=\"{}\"",
                quotable(realm),
                self.error_code(),
                quotable(&self.description())
            )
        };
        match self {
            AuthError::MissingToken { realm } => {
                Some(format!("Bearer realm=\"{}\"", quotable(realm)))
            }
            AuthError::InvalidRequest { realm } | AuthError::InvalidToken { realm, .. } => {
                Some(with_error(realm))
            }
            AuthError::InsufficientScope { required } => Some(format!(
                "Bearer error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\"",
                quotable(&self.description()),
                quotable(required)
            )),
            // Roles are not something a client can ask a new token for, and 503/500 are
            // not about credentials: no challenge.
            AuthError::InsufficientRole { .. }
            | AuthError::Unavailable { .. }
            | AuthError::NotConfigured => None,
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::MissingToken { .. } => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            AuthError::InvalidToken { error, .. } | AuthError::Unavailable { error, .. } => {
                error.status_code()
            }
            AuthError::InsufficientScope { .. } | AuthError::InsufficientRole { .. } => {
                StatusCode::FORBIDDEN
            }
            AuthError::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        // RFC 6750 section 3 and RFC 9111 section 5.2.2.5: error answers about
        // credentials must not be cached.
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = self.challenge() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.insert_header((header::WWW_AUTHENTICATE, value));
            }
        }
        if let AuthError::Unavailable { retry_after, .. } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.as_secs().max(1)));
        }
        let mut body = json!({
            "error": self.error_code(),
            "error_description": self.description(),
        });
        match self {
            AuthError::InsufficientScope { required } => body["scope"] = json!(required),
            AuthError::InsufficientRole { required } => body["required_role"] = json!(required),
            _ => {}
        }
        response.json(body)
    }
}

/// Keeps only the characters RFC 6750 section 3 allows inside the quoted
/// `WWW-Authenticate` parameters (%x20-21 / %x23-5B / %x5D-7E): no `"`, no `\`, no
/// control or non-ASCII characters, so nothing can break out of the quotes.
fn quotable(value: &str) -> String {
    value
        .chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_can_break_out_of_a_quoted_challenge_parameter() {
        assert_eq!(quotable("or\"ders\\\r\n\u{7f}é api"), "orders api");
        let error = AuthError::MissingToken {
            realm: Arc::from("a\", error=\"x"),
        };
        assert_eq!(
            error.challenge().as_deref(),
            Some("Bearer realm=\"a, error=x\"")
        );
    }
}
