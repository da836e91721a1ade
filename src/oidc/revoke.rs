//! Token revocation (RFC 7009): refresh tokens with their family, access tokens by jti.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::crypto::token_hash;
use crate::error::OAuthError;
use crate::oidc::client_auth::{authenticate_throttled, require_form};
use crate::params::Params;
use crate::startup::AppState;
use crate::store::{self, audit};

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    require_form(&req)?;
    let p = Params::parse(&body)?;
    let s = &state.settings;
    let (client, _) = authenticate_throttled(&state, &req, &p)?;
    let token = p
        .one("token")?
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_owned();
    // RFC 7009 2.1/2.2: the hint only speeds up the lookup; an invalid one is ignored.
    p.one("token_type_hint")?;
    let now = state.clock.now();
    let client_id = client.client_id.to_string();
    let not_yours = || OAuthError::invalid_request("the token was not issued to this client");

    // An access token we signed (expired or not: revoking it is harmless).
    let ring = state.keys.current();
    let far_future = now + 10 * 365 * 86_400;
    let access = ring
        .verify_access_token(&token, s.issuer.as_str(), i64::MIN)
        .ok();
    if let Some(claims) = access {
        if claims.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
            return Err(not_yours());
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(far_future);
        if exp > now {
            state
                .store
                .write(move |tx| {
                    store::refresh::revoke_access_token(tx, &jti, exp)?;
                    audit::record(
                        tx,
                        &audit::Event {
                            kind: "access_token_revoked",
                            client_id: Some(&client_id),
                            detail: Some(&jti),
                            ..Default::default()
                        },
                        now,
                    )
                })
                .await?;
        }
        return Ok(HttpResponse::Ok().finish());
    }

    let hash = token_hash(&token);
    let outcome = state
        .store
        .write(move |tx| {
            let Some(g) = store::refresh::get(tx, &hash)? else {
                return Ok(true); // RFC 7009 2.2: unknown tokens get 200
            };
            if g.client_id != client_id {
                return Ok(false);
            }
            store::refresh::revoke_family(tx, &g.family_id, now)?;
            audit::record(
                tx,
                &audit::Event {
                    kind: "refresh_token_revoked",
                    user_id: Some(&g.user_id),
                    client_id: Some(&client_id),
                    detail: Some(&g.family_id),
                    ..Default::default()
                },
                now,
            )?;
            Ok(true)
        })
        .await?;
    if outcome {
        Ok(HttpResponse::Ok().finish())
    } else {
        Err(not_yours())
    }
}
