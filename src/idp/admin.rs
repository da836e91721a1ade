//! Who may call the admin API: an access token of this issuer, for the admin audience,
//! of a client that (still) lists `admin_scopes`, carrying the route's scope, not revoked.

use super::Idp;
use crate::store;

/// An admin caller: the client acting (its id goes to the audit trail).
#[derive(Debug, Clone)]
pub struct AdminCaller {
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminDenied {
    /// No usable token (401).
    InvalidToken(&'static str),
    /// The token lacks this scope (403 insufficient_scope).
    InsufficientScope(&'static str),
}

pub async fn check(
    idp: &Idp,
    token: Option<&str>,
    scope: &'static str,
    now: i64,
) -> Result<AdminCaller, AdminDenied> {
    let s = &idp.settings();
    let token = token.ok_or(AdminDenied::InvalidToken("a bearer token is required"))?;
    let claims = idp
        .keys
        .current()
        .verify_access_token(token, s.issuer.as_str(), now)
        .map_err(|_| AdminDenied::InvalidToken("the token is invalid or expired"))?;
    if claims.aud != s.admin_audience() || claims.user_id().is_some() {
        return Err(AdminDenied::InvalidToken(
            "the token is not for the admin API",
        ));
    }
    // The configuration decides now, not when the token was minted.
    let allowed = s
        .client(&claims.client_id)
        .is_some_and(|c| c.admin_scopes.iter().any(|x| x == scope));
    if !claims.has_scope(scope) || !allowed {
        return Err(AdminDenied::InsufficientScope(scope));
    }
    let jti = claims.jti.clone();
    let revoked = idp
        .store
        .read(move |db| store::refresh::is_access_token_revoked(db, &jti))
        .await
        .unwrap_or(true);
    if revoked {
        return Err(AdminDenied::InvalidToken("the token was revoked"));
    }
    Ok(AdminCaller {
        client_id: claims.client_id.clone(),
    })
}
