//! Token introspection (RFC 7662) for authenticated confidential clients.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::crypto::token_hash;
use crate::error::OAuthError;
use crate::oidc::client_auth::{authenticate_throttled, require_form};
use crate::params::Params;
use crate::startup::AppState;
use crate::store;

fn answer(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    require_form(&req)?;
    let p = Params::parse(&body)?;
    let s = &state.settings;
    let (client, _) = authenticate_throttled(&state, &req, &p)?;
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "only confidential clients may introspect",
        ));
    }
    let token = p
        .one("token")?
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_owned();
    let now = state.clock.now();
    let inactive = || answer(json!({"active": false}));

    if let Ok(claims) = state
        .keys
        .current()
        .verify_access_token(&token, s.issuer.as_str(), now)
    {
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // A user's token (it has auth_time; client_credentials tokens have none) is
        // active only while the user exists, as at /userinfo (review L6).
        let user_sub = claims
            .get("auth_time")
            .and(claims.get("sub"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let live = state
            .store
            .run(move |c| {
                if store::refresh::is_access_token_revoked(c, &jti)? {
                    return Ok(false);
                }
                match user_sub {
                    Some(sub) => Ok(store::users::get(c, &sub)?.is_some()),
                    None => Ok(true),
                }
            })
            .await?;
        if !live {
            return Ok(inactive());
        }
        let mut out = json!({"active": true, "token_type": "Bearer"});
        for k in [
            "sub",
            "client_id",
            "aud",
            "scope",
            "iss",
            "exp",
            "iat",
            "nbf",
            "jti",
            "roles",
            "auth_time",
        ] {
            if let Some(v) = claims.get(k) {
                out[k] = v.clone();
            }
        }
        return Ok(answer(out));
    }

    // A refresh token: only its own client learns about it.
    let hash = token_hash(&token);
    let found = state
        .store
        .run(move |c| store::refresh::get(c, &hash))
        .await?;
    match found {
        Some(g)
            if g.client_id == client.client_id.as_str()
                && g.rotated_at.is_none()
                && g.revoked_at.is_none()
                && g.expires_at > now =>
        {
            Ok(answer(json!({
                "active": true,
                "token_type": "refresh_token",
                "sub": g.user_id,
                "client_id": g.client_id,
                "aud": g.audience.as_deref().unwrap_or(s.issuer.as_str()),
                "scope": g.scope,
                "iss": s.issuer.as_str(),
                "exp": g.expires_at,
                "iat": g.issued_at,
            })))
        }
        _ => Ok(inactive()),
    }
}
