//! Why a token was refused ([`VerifyError`]), why an issuer's keys could not be had
//! ([`DiscoveryError`]) and why a [`crate::Verifier`] could not be built ([`BuildError`]),
//! each mapped to the RFC 6750 error code and HTTP status a resource server answers with.
//!
//! `Display` is for logs and may carry detail; [`VerifyError::description`] is what a
//! client is told, a fixed sentence that is safe inside a `WWW-Authenticate` quoted
//! string (RFC 6750 section 3: no `"` or `\`).

use actix_web::http::StatusCode;

/// Why [`crate::Verifier::verify`] refused a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact JWS, bad base64url, header or payload not a JSON object, too large.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header `alg` is not in the allow-list (always the case for `none` and `HS*`).
    #[error("signing algorithm not accepted: {0}")]
    UnsupportedAlgorithm(String),
    /// The header `typ` is not `at+jwt` (RFC 9068 section 4), e.g. an ID token.
    #[error("token type is not at+jwt")]
    WrongType,
    /// The header lists `crit` extensions, none of which this verifier understands
    /// (RFC 7515 section 4.1.11 requires refusing them).
    #[error("critical header extensions are not supported")]
    UnsupportedCritical,
    /// The `iss` claim names no configured issuer.
    #[error("issuer is not trusted")]
    UnknownIssuer,
    /// No key of the issuer has the token's `kid`, even after a (rate-limited) refetch.
    #[error("signing key is unknown to the issuer's JWKS")]
    UnknownKey,
    /// The key named by `kid` is for another algorithm than the header `alg`.
    #[error("key algorithm does not match the token algorithm")]
    KeyAlgorithmMismatch,
    /// The signature does not verify under the issuer's key.
    #[error("signature is invalid")]
    BadSignature,
    /// A claim RFC 9068 section 2.2 requires is missing or has the wrong JSON type.
    #[error("claim {0} is missing or has the wrong type")]
    InvalidClaim(&'static str),
    /// `exp` is in the past, beyond the leeway.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `aud` does not contain this API's audience (RFC 9068 section 4).
    #[error("token audience does not include this API")]
    WrongAudience,
    /// The issuer's discovery document or JWKS could not be fetched, so the token could
    /// be neither accepted nor refused on its merits.
    #[error("issuer keys unavailable: {0}")]
    Discovery(DiscoveryError),
}

impl VerifyError {
    /// True when the fault is ours or the issuer's rather than the token's: answered with
    /// 503 so clients retry instead of throwing their token away.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, VerifyError::Discovery(_))
    }

    /// The HTTP status a resource server answers with.
    pub fn status_code(&self) -> StatusCode {
        if self.is_unavailable() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNAUTHORIZED
        }
    }

    /// The error code: `invalid_token` (RFC 6750 section 3.1) for every fault of the
    /// token; `temporarily_unavailable` (borrowed from RFC 6749 section 4.1.2.1) when the
    /// issuer's keys could not be fetched.
    pub fn error_code(&self) -> &'static str {
        if self.is_unavailable() {
            "temporarily_unavailable"
        } else {
            "invalid_token"
        }
    }

    /// A fixed, client-facing sentence: never echoes token content, and contains no `"`
    /// or `\` so it can go into a `WWW-Authenticate` quoted string as is.
    pub fn description(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "the access token is malformed",
            VerifyError::UnsupportedAlgorithm(_) => {
                "the access token is signed with an algorithm this API does not accept"
            }
            VerifyError::WrongType => "the token is not an access token (typ must be at+jwt)",
            VerifyError::UnsupportedCritical => {
                "the access token uses critical header extensions this API does not support"
            }
            VerifyError::UnknownIssuer => "the access token issuer is not trusted by this API",
            VerifyError::UnknownKey => "the access token signing key is unknown",
            VerifyError::KeyAlgorithmMismatch => {
                "the access token algorithm does not match its signing key"
            }
            VerifyError::BadSignature => "the access token signature is invalid",
            VerifyError::InvalidClaim(_) => {
                "the access token lacks a required claim or has one of the wrong type"
            }
            VerifyError::Expired => "the access token expired",
            VerifyError::NotYetValid => "the access token is not valid yet",
            VerifyError::IssuedInFuture => "the access token was issued in the future",
            VerifyError::WrongAudience => "the access token is not meant for this API",
            VerifyError::Discovery(_) => {
                "the token issuer signing keys are unavailable, retry later"
            }
        }
    }
}

/// Why an issuer's discovery document or JWKS could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Connection, TLS or timeout failure.
    #[error("request to {url} failed: {message}")]
    Request {
        /// The URL fetched.
        url: String,
        /// The transport error, for logs.
        message: String,
    },
    /// A non-2xx answer.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body is larger than the verifier is willing to read.
    #[error("{url} answered more than {limit} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not the JSON document expected.
    #[error("{url} is not a valid document: {message}")]
    InvalidDocument {
        /// The URL fetched.
        url: String,
        /// What was wrong, for logs.
        message: String,
    },
    /// The discovery document names another issuer than the one configured
    /// (OpenID Connect Discovery 1.0 section 4.3: they MUST be identical), which is what
    /// a mix-up or impersonation attempt looks like.
    #[error("discovery document names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The issuer configured.
        expected: String,
        /// The issuer the document claims.
        found: String,
    },
    /// No fetch was attempted: the last one failed less than the minimum refetch interval
    /// ago and the verifier has no keys for this issuer yet.
    #[error("waiting before retrying a failed key fetch")]
    Backoff,
}

/// Why [`crate::VerifierBuilder::build`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No `.issuer(...)` call.
    #[error("no issuer configured")]
    NoIssuer,
    /// An issuer identifier is not an `https://` (or `http://`) URL without query or
    /// fragment (OpenID Connect Discovery 1.0 section 2).
    #[error("issuer {0:?} is not an http(s) URL without query or fragment")]
    InvalidIssuer(String),
    /// An empty audience would match nothing.
    #[error("empty audience for issuer {0:?}")]
    EmptyAudience(String),
    /// An empty allow-list would refuse every token.
    #[error("no signing algorithm allowed")]
    NoAlgorithm,
    /// The default HTTP client could not be created.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}
