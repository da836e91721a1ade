//! Minting the tokens of one grant: an RFC 9068 access token and, with `openid`, an
//! ID token (OIDC Core 2).

use serde_json::{Map, Value};

use crate::config::Settings;
use crate::crypto::random_id;
use crate::domain::{AccessClaims, IdClaims, Scopes};
use crate::store::users::User;
use crate::tokens::{KeyError, KeyRing};

/// Everything needed to mint the tokens of one grant.
pub struct Grant<'a> {
    pub client_id: &'a str,
    pub user: Option<&'a User>,
    pub scope: &'a Scopes,
    pub audience: Option<&'a str>,
    pub auth_time: Option<i64>,
    pub nonce: Option<&'a str>,
    pub access_extra: Map<String, Value>,
    pub id_extra: Map<String, Value>,
}

pub struct Minted {
    pub access_token: String,
    pub jti: String,
    pub exp: i64,
    pub id_token: Option<String>,
}

pub fn mint(s: &Settings, ring: &KeyRing, g: Grant<'_>, now: i64) -> Result<Minted, KeyError> {
    let jti = random_id("");
    let exp = now + s.tokens.access_token_ttl;
    let roles: Vec<String> = g.user.map(|u| u.roles.clone()).unwrap_or_default();
    let access = AccessClaims {
        iss: s.issuer.to_string(),
        sub: g.user.map_or(g.client_id, |u| u.id.as_str()).to_owned(),
        aud: g.audience.unwrap_or(s.issuer.as_str()).to_owned(),
        exp,
        iat: now,
        nbf: now,
        jti: jti.clone(),
        client_id: g.client_id.to_owned(),
        scope: g.scope.to_string(),
        roles,
        auth_time: g.auth_time,
        extra: g.access_extra,
    };
    let access_token = ring.sign_access_token(&access)?;
    let id_token = match g.user {
        Some(user) if g.scope.contains("openid") => {
            // OIDC Core 5.4: the address belongs to the `email` scope (review I2).
            let email = g.scope.contains("email");
            let id = IdClaims {
                iss: s.issuer.to_string(),
                sub: user.id.clone(),
                aud: g.client_id.to_owned(),
                azp: g.client_id.to_owned(),
                exp: now + s.tokens.id_token_ttl,
                iat: now,
                auth_time: g.auth_time,
                nonce: g.nonce.map(str::to_owned),
                at_hash: Some(ring.at_hash(&access_token)),
                // An upstream user may have no address: then no email claim at all.
                email: (email && !user.email.is_empty()).then(|| user.email.clone()),
                email_verified: (email && !user.email.is_empty()).then_some(user.email_verified),
                roles: user.roles.clone(),
                extra: g.id_extra,
            };
            Some(ring.sign_id_token(&id)?)
        }
        _ => None,
    };
    Ok(Minted {
        access_token,
        jti,
        exp,
        id_token,
    })
}
