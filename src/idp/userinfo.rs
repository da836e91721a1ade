//! The UserInfo endpoint's decision (OIDC Core 5.3): a bearer access token (RFC 6750)
//! with the `openid` scope, claims by scope.

use serde::Serialize;

use super::{ErrorCode, Idp, OAuthError};
use crate::store;

/// RFC 6750 3: the challenge names the error; a missing token gets no error code.
pub fn bearer_error(code: ErrorCode, description: &str) -> OAuthError {
    let challenge = format!(
        "Bearer realm=\"portico\", error=\"{}\", error_description=\"{}\"",
        code.as_str(),
        super::error::auth_param(description)
    );
    OAuthError::new(code, description.to_owned()).with_challenge(challenge)
}

/// No token at all (RFC 6750 3.1: no error code in the challenge).
pub fn missing_token() -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, "an access token is required")
        .with_challenge("Bearer realm=\"portico\"".to_owned())
}

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    pub roles: Vec<String>,
}

pub async fn userinfo(idp: &Idp, token: &str, now: i64) -> Result<UserInfo, OAuthError> {
    let claims = idp
        .keys
        .current()
        .verify_access_token(token, idp.settings().issuer.as_str(), now)
        .map_err(|e| bearer_error(ErrorCode::InvalidToken, &e.to_string()))?;
    if !claims.has_scope("openid") {
        return Err(bearer_error(
            ErrorCode::InsufficientScope,
            "the token lacks the openid scope",
        ));
    }
    let (jti, sub) = (claims.jti.clone(), claims.sub.clone());
    let (revoked, user) = idp
        .store
        .read(move |db| {
            Ok((
                store::refresh::is_access_token_revoked(db, &jti)?,
                store::users::get(db, &sub)?,
            ))
        })
        .await?;
    if revoked {
        return Err(bearer_error(
            ErrorCode::InvalidToken,
            "the token was revoked",
        ));
    }
    let Some(user) = user.filter(|u| !u.blocked) else {
        return Err(bearer_error(
            ErrorCode::InvalidToken,
            "the token's subject no longer exists or is blocked",
        ));
    };
    let email = claims.has_scope("email") && !user.email.is_empty();
    Ok(UserInfo {
        sub: user.id,
        email: email.then_some(user.email),
        email_verified: email.then_some(user.email_verified),
        roles: user.roles,
    })
}
