//! Token introspection (RFC 7662) for authenticated confidential clients.

use serde::Serialize;

use super::{Idp, OAuthError};
use crate::config::Client;
use crate::crypto::token_hash;
use crate::store;

/// The answer: `active`, and when active what the token says.
#[derive(Debug, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

pub async fn introspect(
    idp: &Idp,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<Introspection, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "only confidential clients may introspect",
        ));
    }
    let s = &idp.settings();
    if let Ok(c) = idp
        .keys
        .current()
        .verify_access_token(token, s.issuer.as_str(), now)
    {
        // A user's token is active only while the user exists and is not blocked, as at
        // /userinfo (review L6).
        let (jti, user) = (c.jti.clone(), c.user_id().map(str::to_owned));
        let live = idp
            .store
            .read(move |db| {
                if store::refresh::is_access_token_revoked(db, &jti)? {
                    return Ok(false);
                }
                match user {
                    Some(sub) => Ok(store::users::get(db, &sub)?.is_some_and(|u| !u.blocked)),
                    None => Ok(true),
                }
            })
            .await?;
        if !live {
            return Ok(Introspection::default());
        }
        return Ok(Introspection {
            active: true,
            token_type: Some("Bearer"),
            sub: Some(c.sub.clone()),
            client_id: Some(c.client_id.clone()),
            aud: Some(c.aud.clone()),
            scope: Some(c.scope.clone()),
            iss: Some(c.iss.clone()),
            exp: Some(c.exp),
            iat: Some(c.iat),
            nbf: Some(c.nbf),
            jti: Some(c.jti.clone()),
            roles: Some(c.roles.clone()),
            auth_time: c.auth_time,
        });
    }
    // A refresh token: only its own client learns about it.
    let hash = token_hash(token);
    let found = idp
        .store
        .read(move |db| store::refresh::get(db, &hash))
        .await?;
    Ok(match found {
        Some(g)
            if g.client_id == client.client_id.as_str()
                && g.rotated_at.is_none()
                && g.revoked_at.is_none()
                && g.expires_at > now =>
        {
            Introspection {
                active: true,
                token_type: Some("refresh_token"),
                sub: Some(g.user_id),
                client_id: Some(g.client_id),
                aud: Some(g.audience.unwrap_or_else(|| s.issuer.to_string())),
                scope: Some(g.scope),
                iss: Some(s.issuer.to_string()),
                exp: Some(g.expires_at),
                iat: Some(g.issued_at),
                ..Introspection::default()
            }
        }
        _ => Introspection::default(),
    })
}
