//! Token revocation (RFC 7009): refresh tokens with their family, access tokens by jti.
//! A client revokes only its own tokens.

use super::{Idp, OAuthError};
use crate::config::Client;
use crate::crypto::token_hash;
use crate::domain::AuditKind;
use crate::store::{self, audit};

fn not_yours() -> OAuthError {
    OAuthError::invalid_request("the token was not issued to this client")
}

pub async fn revoke(idp: &Idp, client: &Client, token: &str, now: i64) -> Result<(), OAuthError> {
    let client_id = client.client_id.to_string();
    // An access token we signed (expired or not: revoking it is harmless).
    let ring = idp.keys.current();
    if let Ok(c) = ring.verify_access_token(token, idp.settings().issuer.as_str(), i64::MIN) {
        if c.client_id != client_id {
            return Err(not_yours());
        }
        if c.exp > now {
            let (jti, exp) = (c.jti.clone(), c.exp);
            idp.store
                .write(move |db| {
                    store::refresh::revoke_access_token(db, &jti, exp)?;
                    let ev = audit::Event {
                        client_id: Some(&client_id),
                        detail: Some(&jti),
                        ..audit::Event::new(AuditKind::AccessTokenRevoked)
                    };
                    audit::record(db, &ev, now)
                })
                .await?;
        }
        return Ok(());
    }
    let hash = token_hash(token);
    let mine = idp
        .store
        .write(move |db| {
            let Some(g) = store::refresh::get(db, &hash)? else {
                return Ok(true); // RFC 7009 2.2: unknown tokens get 200
            };
            if g.client_id != client_id {
                return Ok(false);
            }
            store::refresh::revoke_family(db, &g.family_id, now)?;
            let ev = audit::Event {
                user_id: Some(&g.user_id),
                client_id: Some(&client_id),
                detail: Some(&g.family_id),
                ..audit::Event::new(AuditKind::RefreshTokenRevoked)
            };
            audit::record(db, &ev, now)?;
            Ok(true)
        })
        .await?;
    if mine {
        Ok(())
    } else {
        Err(not_yours())
    }
}
