//! RFC 6749 4.4: a confidential client acting for itself; no refresh token, sub = client_id.

use serde_json::Map;

use super::{mint, Grant, Issued};
use crate::config::Client;
use crate::domain::Scopes;
use crate::idp::authorize::target_audience;
use crate::idp::params::Params;
use crate::idp::{ErrorCode, Idp, OAuthError};

pub fn exchange(idp: &Idp, client: &Client, p: &Params, now: i64) -> Result<Issued, OAuthError> {
    let s = &idp.settings();
    if client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let audience =
        target_audience(s, client, p.one("resource")?, p.one("audience")?)?.ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidTarget,
                "name the API with resource or audience",
            )
        })?;
    // The admin API: only the scopes this client was given.
    let api_scopes = if audience == s.admin_audience() {
        client.admin_scopes.clone()
    } else {
        s.api(&audience)
            .map(|a| a.scopes.clone())
            .unwrap_or_default()
    };
    // The audience is one of this client's `apis`: without `scope` it gets that API's
    // scopes, never another API's (review M6).
    let scope = match p.one("scope")? {
        Some(req) => Scopes::parse(req).retain(|x| api_scopes.iter().any(|a| a == x)),
        None => Scopes::from_vec(api_scopes),
    };
    let grant = Grant {
        client_id: client.client_id.as_str(),
        user: None,
        scope: &scope,
        audience: Some(&audience),
        auth_time: None,
        nonce: None,
        access_extra: Map::new(),
        id_extra: Map::new(),
    };
    let minted = mint(s, &idp.keys.current(), grant, now)?;
    Ok(Issued {
        access_token: minted.access_token,
        token_type: "Bearer",
        expires_in: s.tokens.access_token_ttl,
        scope: scope.to_string(),
        id_token: None,
        refresh_token: None,
    })
}
