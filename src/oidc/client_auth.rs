//! Client credentials from HTTP (RFC 6749 2.3.1): `Authorization: Basic` (id and secret
//! form-urlencoded first) or the body; the core authenticates them.

use actix_web::{http::header, HttpRequest};
use base64::Engine;

use crate::config::Client;
use crate::idp::client_auth::{authenticate_throttled, basic_challenge, Credentials, Method};
use crate::idp::params::Params;
use crate::idp::OAuthError;
use crate::state::AppState;
use crate::web::cookies::client_ip;

/// Read `Authorization: Basic`; another scheme is not ours to read.
fn basic(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || basic_challenge(OAuthError::invalid_client("malformed Authorization header"));
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, cred)) = value.split_once(' ') else {
        return Err(bad());
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
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// Authenticate the caller of /token, /revoke or /introspect.
pub fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    p: &Params,
) -> Result<(std::sync::Arc<Client>, Method), OAuthError> {
    let credentials = Credentials {
        basic: basic(req)?,
        body_id: p.one("client_id")?.map(str::to_owned),
        body_secret: p.one("client_secret")?.map(str::to_owned),
    };
    let ip = client_ip(req, &state.idp.settings().login.trusted_proxies);
    authenticate_throttled(&state.idp, &credentials, ip, state.now())
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
