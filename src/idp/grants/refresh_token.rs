//! RFC 6749 6 with rotation (RFC 9700 4.14.2): every use returns a new refresh token; a
//! rotated token used again revokes its whole family.

use super::{
    in_transaction, invalid_grant, mint, not_granted_target, refused, requested_target,
    rule_claims, Grant, GrantError, Issued,
};
use crate::config::Client;
use crate::crypto::{random_token, token_hash};
use crate::domain::{AuditKind, Scopes};
use crate::idp::params::Params;
use crate::idp::{ErrorCode, Idp, OAuthError};
use crate::store::{self, audit, refresh::RefreshGrant, Db};

pub async fn exchange(
    idp: &Idp,
    client: &Client,
    p: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    let presented = p
        .one("refresh_token")?
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let requested = p.one("scope")?.map(Scopes::parse);
    let target = requested_target(p)?;
    let hash = token_hash(presented);
    let settings = idp.settings();
    let ring = idp.keys.current();
    let client_id = client.client_id.to_string();
    in_transaction(idp, move |db| {
        let g = live_token(db, &hash, &client_id, now)?;
        if target
            .as_ref()
            .is_some_and(|t| g.audience.as_ref() != Some(t))
        {
            return Err(not_granted_target());
        }
        let original = Scopes::parse(&g.scope);
        let scope = match requested {
            Some(r) if !r.is_subset_of(&original) => {
                return Err(refused(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds the original grant",
                )))
            }
            Some(r) if !r.is_empty() => r,
            _ => original,
        };
        // Roles are re-read: a change by an admin shows at the next refresh.
        let user = store::users::get(db, &g.user_id)?
            .ok_or_else(|| invalid_grant("the user no longer exists"))?;
        if user.blocked {
            return Err(invalid_grant("the user is blocked"));
        }
        let (access_extra, id_extra) = rule_claims(&g.claims);
        let grant = Grant {
            client_id: &client_id,
            user: Some(&user),
            scope: &scope,
            audience: g.audience.as_deref(),
            auth_time: Some(g.auth_time),
            nonce: None,
            access_extra,
            id_extra,
        };
        let minted = mint(&settings, &ring, grant, now)?;
        if !store::refresh::mark_rotated(db, &hash, now)? {
            // Another use committed first: on PostgreSQL the two ran side by side and
            // this one waited on the row. Look again: a replay ends the family.
            live_token(db, &hash, &client_id, now)?;
            return Err(invalid_grant("the refresh token was already used"));
        }
        store::refresh::prune_rotated(db, &g.family_id)?;
        let token = random_token();
        // RFC 6749 6: the new refresh token keeps the original grant's scope.
        let next = RefreshGrant {
            rotated_at: None,
            revoked_at: None,
            ..g
        };
        store::refresh::insert(db, &token_hash(&token), &next, now, &minted.jti, minted.exp)?;
        Ok(Issued {
            access_token: minted.access_token,
            token_type: "Bearer",
            expires_in: settings.tokens.access_token_ttl,
            scope: scope.to_string(),
            id_token: minted.id_token,
            refresh_token: Some(token),
        })
    })
    .await
}

/// The presented token, if it is this client's, not revoked, not rotated (a rotated one
/// presented again revokes its family) and not expired.
fn live_token(
    db: &mut Db<'_>,
    hash: &str,
    client_id: &str,
    now: i64,
) -> Result<RefreshGrant, GrantError> {
    let g = store::refresh::get(db, hash)?
        .ok_or_else(|| invalid_grant("the refresh token is invalid"))?;
    if g.client_id != client_id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if g.revoked_at.is_some() {
        return Err(invalid_grant("the refresh token was revoked"));
    }
    if g.rotated_at.is_some() {
        // Replays racing each other take turns: the first ends the family, the others
        // then find the token revoked.
        store::refresh::lock(db, hash)?;
        let g = store::refresh::get(db, hash)?
            .ok_or_else(|| invalid_grant("the refresh token is invalid"))?;
        if g.revoked_at.is_some() {
            return Err(invalid_grant("the refresh token was revoked"));
        }
        let n = store::refresh::revoke_family(db, &g.family_id, now)?;
        let detail = format!("family {} revoked ({n} tokens)", g.family_id);
        let ev = audit::Event {
            user_id: Some(&g.user_id),
            client_id: Some(client_id),
            detail: Some(&detail),
            ..audit::Event::new(AuditKind::RefreshReplay)
        };
        audit::record(db, &ev, now)?;
        tracing::warn!(
            family = %g.family_id,
            client = %client_id,
            "refresh token replay: family revoked"
        );
        return Err(invalid_grant("the refresh token was already used"));
    }
    if g.expires_at <= now {
        return Err(invalid_grant("the refresh token expired"));
    }
    Ok(g)
}
