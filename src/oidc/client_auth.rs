//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 2.3): client_secret_basic, client_secret_post, or none for public clients.

use actix_web::{http::header, HttpRequest};
use base64::Engine;

use crate::config::{Client, Settings};
use crate::crypto::{ct_eq, sha256};
use crate::error::{ErrorCode, OAuthError};
use crate::login::session::client_ip;
use crate::params::Params;
use crate::startup::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
    None,
}

fn basic_challenge(e: OAuthError) -> OAuthError {
    e.with_challenge("Basic realm=\"portico\"".to_owned())
}

/// Read `Authorization: Basic` (RFC 6749 2.3.1: id and secret are form-urlencoded first).
fn basic(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        basic_challenge(OAuthError::invalid_client("malformed Authorization header"))
    })?;
    let Some((scheme, cred)) = value.split_once(' ') else {
        return Err(basic_challenge(OAuthError::invalid_client(
            "malformed Authorization header",
        )));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || basic_challenge(OAuthError::invalid_client("malformed Basic credentials"));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .ok_or_else(bad)
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// A secret matches when its SHA-256 equals the stored digest, compared in constant time.
fn secret_matches(client: &Client, presented: &str) -> bool {
    client
        .secret
        .as_ref()
        .is_some_and(|d| ct_eq(&sha256(presented.as_bytes()), &d.0))
}

/// Authenticate the caller; exactly one method may be used (RFC 6749 2.3).
pub fn authenticate<'a>(
    s: &'a Settings,
    req: &HttpRequest,
    p: &Params,
) -> Result<(&'a Client, Method), OAuthError> {
    let basic = basic(req)?;
    let body_id = p.one("client_id")?;
    let body_secret = p.one("client_secret")?;
    let unknown = |m: Method| {
        let e = OAuthError::invalid_client("client authentication failed");
        if m == Method::Basic {
            basic_challenge(e)
        } else {
            e
        }
    };
    match (basic, body_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        )),
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the Authorization header",
                ));
            }
            match s.client(&id) {
                Some(c) if secret_matches(c, &secret) => Ok((c, Method::Basic)),
                _ => Err(unknown(Method::Basic)),
            }
        }
        (None, Some(secret)) => {
            let id = body_id.ok_or_else(|| OAuthError::invalid_client("client_id is required"))?;
            match s.client(id) {
                Some(c) if secret_matches(c, secret) => Ok((c, Method::Post)),
                _ => Err(unknown(Method::Post)),
            }
        }
        (None, None) => {
            let id = body_id
                .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
            match s.client(id) {
                Some(c) if c.is_public() => Ok((c, Method::None)),
                _ => Err(unknown(Method::None)),
            }
        }
    }
}

/// `authenticate`, throttled per client id and address: past
/// `[login] max_client_auth_failures` failures in 5 minutes, that client's
/// authentication from that address is refused with 429 until the window ends (review
/// I3). Secrets are random, so this bounds the cost and noise of a flood, not guessing.
pub fn authenticate_throttled<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    p: &Params,
) -> Result<(&'a Client, Method), OAuthError> {
    let claimed = basic(req)
        .ok()
        .flatten()
        .map(|(id, _)| id)
        .or_else(|| p.one("client_id").ok().flatten().map(str::to_owned))
        .unwrap_or_default();
    let ip = client_ip(req, &state.settings.login.trusted_proxies);
    let now = state.clock.now();
    if state.client_auth.blocked(&claimed, ip, now).is_some() {
        return Err(OAuthError::new(
            ErrorCode::TooManyRequests,
            "too many failed client authentications; try again later",
        ));
    }
    let res = authenticate(&state.settings, req, p);
    if matches!(&res, Err(e) if e.code == ErrorCode::InvalidClient) {
        state.client_auth.failed(&claimed, ip, now);
    }
    res
}

/// `application/x-www-form-urlencoded` bodies only (RFC 6749 3.2).
pub fn require_form(req: &HttpRequest) -> Result<(), OAuthError> {
    let ok = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ))
    }
}
