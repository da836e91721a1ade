//! Client authentication (RFC 6749 2.3): client_secret_basic, client_secret_post, or
//! none for public clients; exactly one method per request. The edge extracts the
//! credentials from HTTP; this decides, and throttles failures per client and address.

use std::net::IpAddr;
use std::sync::Arc;

use super::{ErrorCode, Idp, OAuthError};
use crate::config::{Client, Settings};
use crate::crypto::{ct_eq, sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
    None,
}

/// What a request presented. `basic` is the decoded `Authorization: Basic` pair.
#[derive(Debug, Default)]
pub struct Credentials {
    pub basic: Option<(String, String)>,
    pub body_id: Option<String>,
    pub body_secret: Option<String>,
}

/// The challenge of RFC 6749 5.2 for a failed Basic authentication.
pub fn basic_challenge(e: OAuthError) -> OAuthError {
    e.with_challenge("Basic realm=\"portico\"".to_owned())
}

/// A secret matches when its SHA-256 equals the stored digest, compared in constant time.
fn secret_matches(client: &Client, presented: &str) -> bool {
    client
        .secret
        .as_ref()
        .is_some_and(|d| ct_eq(&sha256(presented.as_bytes()), &d.0))
}

/// Authenticate the caller; exactly one method may be used (RFC 6749 2.3).
pub fn authenticate(s: &Settings, c: &Credentials) -> Result<(Arc<Client>, Method), OAuthError> {
    let unknown = |m: Method| {
        let e = OAuthError::invalid_client("client authentication failed");
        if m == Method::Basic {
            basic_challenge(e)
        } else {
            e
        }
    };
    match (&c.basic, &c.body_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        )),
        (Some((id, secret)), None) => {
            if c.body_id.as_ref().is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the Authorization header",
                ));
            }
            match s.shared_client(id) {
                Some(client) if secret_matches(client, secret) => {
                    Ok((client.clone(), Method::Basic))
                }
                _ => Err(unknown(Method::Basic)),
            }
        }
        (None, Some(secret)) => {
            let id = c
                .body_id
                .as_deref()
                .ok_or_else(|| OAuthError::invalid_client("client_id is required"))?;
            match s.shared_client(id) {
                Some(client) if secret_matches(client, secret) => {
                    Ok((client.clone(), Method::Post))
                }
                _ => Err(unknown(Method::Post)),
            }
        }
        (None, None) => {
            let id = c
                .body_id
                .as_deref()
                .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
            match s.shared_client(id) {
                Some(client) if client.is_public() => Ok((client.clone(), Method::None)),
                _ => Err(unknown(Method::None)),
            }
        }
    }
}

/// `authenticate`, throttled per client id and address: past
/// `[login] max_client_auth_failures` failures in 5 minutes, that client's
/// authentication from that address is refused with 429 until the window ends (review
/// I3). Secrets are random, so this bounds the cost and noise of a flood, not guessing.
pub fn authenticate_throttled(
    idp: &Idp,
    c: &Credentials,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<(Arc<Client>, Method), OAuthError> {
    let claimed = c
        .basic
        .as_ref()
        .map(|(id, _)| id.as_str())
        .or(c.body_id.as_deref())
        .unwrap_or_default();
    if idp.limits.client_auth.blocked(claimed, ip, now).is_some() {
        return Err(OAuthError::new(
            ErrorCode::TooManyRequests,
            "too many failed client authentications; try again later",
        ));
    }
    let res = authenticate(&idp.settings(), c);
    if matches!(&res, Err(e) if e.code == ErrorCode::InvalidClient) {
        idp.limits.client_auth.failed(claimed, ip, now);
    }
    res
}
