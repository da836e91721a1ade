//! The UserInfo endpoint (OIDC Core 5.3): bearer access tokens (RFC 6750), claims by scope.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::error::{auth_param, ErrorCode, OAuthError};
use crate::params::Params;
use crate::startup::AppState;
use crate::store;

/// RFC 6750 3: the challenge names the error; a missing token gets no error code.
fn bearer_error(code: ErrorCode, description: &str) -> OAuthError {
    let challenge = format!(
        "Bearer realm=\"portico\", error=\"{}\", error_description=\"{}\"",
        code.as_str(),
        auth_param(description)
    );
    OAuthError::new(code, description.to_owned()).with_challenge(challenge)
}

/// The bearer token from the header (RFC 6750 2.1) or a form body (2.2), not both.
fn bearer(req: &HttpRequest, body: &[u8]) -> Result<String, OAuthError> {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body = if is_form {
        Params::parse(body)?
            .one("access_token")
            .ok()
            .flatten()
            .map(str::to_owned)
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(bearer_error(
            ErrorCode::InvalidRequest,
            "send the token once",
        )),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "an access token is required",
        )
        .with_challenge("Bearer realm=\"portico\"".to_owned())),
    }
}

pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let token = bearer(&req, &body)?;
    let now = state.clock.now();
    let claims = state
        .keys
        .current()
        .verify_access_token(&token, state.settings.issuer.as_str(), now)
        .map_err(|e| bearer_error(ErrorCode::InvalidToken, &e.to_string()))?;
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(bearer_error(
            ErrorCode::InsufficientScope,
            "the token lacks the openid scope",
        ));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let (revoked, user) = state
        .store
        .run(move |c| {
            Ok((
                store::refresh::is_access_token_revoked(c, &jti)?,
                store::users::get(c, &sub)?,
            ))
        })
        .await?;
    if revoked {
        return Err(bearer_error(
            ErrorCode::InvalidToken,
            "the token was revoked",
        ));
    }
    let Some(user) = user else {
        return Err(bearer_error(
            ErrorCode::InvalidToken,
            "the token's subject no longer exists",
        ));
    };
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.id));
    if scope.split(' ').any(|s| s == "email") {
        out.insert("email".into(), json!(user.email));
        out.insert("email_verified".into(), json!(user.email_verified));
    }
    out.insert("roles".into(), json!(user.roles));
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(out))
}
