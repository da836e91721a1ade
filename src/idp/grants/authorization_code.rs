//! RFC 6749 4.1.3 with RFC 7636 4.6: a code for tokens, once.

use super::{
    in_transaction, invalid_grant, mint, not_granted_target, requested_target, rule_claims, Grant,
    GrantError, Issued,
};
use crate::config::{Client, GrantType};
use crate::crypto::{random_id, random_token, token_hash};
use crate::domain::{AuditKind, CodeChallenge, CodeVerifier, Scopes};
use crate::idp::params::Params;
use crate::idp::{Idp, OAuthError};
use crate::store::{self, audit, codes::CodeGrant, refresh::RefreshGrant, Db};

/// What the client sent, checked for shape.
struct Request {
    code_hash: String,
    redirect_uri: Option<String>,
    verifier: Option<CodeVerifier>,
    target: Option<String>,
}

pub async fn exchange(
    idp: &Idp,
    client: &Client,
    p: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    let code = p
        .one("code")?
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier = match p.one("code_verifier")? {
        Some(v) => Some(CodeVerifier::parse(v).map_err(OAuthError::invalid_grant)?),
        None => None,
    };
    let req = Request {
        code_hash: token_hash(code),
        redirect_uri: p.one("redirect_uri")?.map(str::to_owned),
        verifier,
        target: requested_target(p)?,
    };
    let settings = idp.settings();
    let ring = idp.keys.current();
    let client_id = client.client_id.to_string();
    let offline = client.allows(GrantType::RefreshToken);
    in_transaction(idp, move |db| {
        let g = checked_code(db, &req, &client_id, now)?;
        let user = store::users::get(db, &g.user_id)?
            .ok_or_else(|| invalid_grant("the user no longer exists"))?;
        if user.blocked {
            return Err(invalid_grant("the user is blocked"));
        }
        let mut scope = Scopes::parse(&g.scope);
        let issues_refresh = offline && scope.contains("offline_access");
        if !issues_refresh {
            // Nothing offline is granted without a refresh token (review S5).
            scope = scope.without("offline_access");
        }
        let (access_extra, id_extra) = rule_claims(&g.claims);
        let grant = Grant {
            client_id: &client_id,
            user: Some(&user),
            scope: &scope,
            audience: g.audience.as_deref(),
            auth_time: Some(g.auth_time),
            nonce: g.nonce.as_deref(),
            access_extra,
            id_extra,
        };
        let minted = mint(&settings, &ring, grant, now)?;
        if !store::codes::mark_used(db, &req.code_hash, now, &minted.jti, minted.exp)? {
            // Another redemption committed first: on PostgreSQL the two ran side by side
            // and this one waited on the row. Look again: it is a replay like any other.
            checked_code(db, &req, &client_id, now)?;
            return Err(invalid_grant("the code was already used"));
        }
        let refresh_token = match issues_refresh {
            true => Some(start_family(
                db,
                &g,
                &req.code_hash,
                &minted,
                settings.tokens.refresh_token_ttl,
                settings.tokens.max_refresh_families,
                now,
            )?),
            false => None,
        };
        Ok(Issued {
            access_token: minted.access_token,
            token_type: "Bearer",
            expires_in: settings.tokens.access_token_ttl,
            scope: scope.to_string(),
            id_token: minted.id_token,
            refresh_token,
        })
    })
    .await
}

/// The stored code, once it is known to be this client's, for this redirect_uri and
/// verifier (RFC 6749 4.1.3: only then is anything done about it — a replay by anyone
/// else is refused with no side effect, review L2), unused and unexpired.
fn checked_code(
    db: &mut Db<'_>,
    req: &Request,
    client_id: &str,
    now: i64,
) -> Result<CodeGrant, GrantError> {
    let g = store::codes::get(db, &req.code_hash)?
        .ok_or_else(|| invalid_grant("the code is invalid or expired"))?;
    if g.client_id != client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if req.redirect_uri.as_deref() != Some(g.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let challenge = g
        .code_challenge
        .as_deref()
        .map(CodeChallenge::parse_s256)
        .transpose();
    let challenge =
        challenge.map_err(|_| store::StoreError::Corrupt("stored code_challenge".into()))?;
    match (&challenge, &req.verifier) {
        (Some(ch), Some(v)) if ch.is_met_by(v) => {}
        (Some(_), _) => return Err(invalid_grant("PKCE verification failed")),
        // RFC 9700 2.1.1: a verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => return Err(invalid_grant("no code_challenge was sent for this code")),
        (None, None) => {}
    }
    if g.used_at.is_some() {
        // Replays racing each other take turns: the first revokes and deletes the code,
        // the others then find nothing.
        if !store::codes::lock(db, &req.code_hash)? {
            return Err(invalid_grant("the code is invalid or expired"));
        }
        revoke_what_it_bought(db, &g, &req.code_hash, client_id, now)?;
        return Err(invalid_grant("the code was already used"));
    }
    if g.expires_at <= now {
        return Err(invalid_grant("the code is invalid or expired"));
    }
    if req
        .target
        .as_ref()
        .is_some_and(|t| g.audience.as_ref() != Some(t))
    {
        return Err(not_granted_target());
    }
    Ok(g)
}

/// RFC 6749 4.1.2: a code used twice revokes what it bought.
fn revoke_what_it_bought(
    db: &mut Db<'_>,
    g: &CodeGrant,
    code_hash: &str,
    client_id: &str,
    now: i64,
) -> Result<(), GrantError> {
    for family in store::refresh::families_of_code(db, code_hash)? {
        store::refresh::revoke_family(db, &family, now)?;
    }
    if let (Some(jti), Some(exp)) = (&g.access_jti, g.access_exp) {
        store::refresh::revoke_access_token(db, jti, exp)?;
    }
    let ev = audit::Event {
        user_id: Some(&g.user_id),
        client_id: Some(client_id),
        detail: Some("tokens issued from the code revoked"),
        ..audit::Event::new(AuditKind::CodeReplay)
    };
    audit::record(db, &ev, now)?;
    // The code is dead now: a further replay is an unknown code (no second audit row).
    store::codes::delete(db, code_hash)?;
    Ok(())
}

/// A new refresh-token family for this code; the oldest beyond the per-user cap go.
fn start_family(
    db: &mut Db<'_>,
    g: &CodeGrant,
    code_hash: &str,
    minted: &super::Minted,
    ttl: i64,
    keep: i64,
    now: i64,
) -> Result<String, GrantError> {
    let token = random_token();
    let rg = RefreshGrant {
        family_id: random_id("fam_"),
        client_id: g.client_id.clone(),
        user_id: g.user_id.clone(),
        scope: g.scope.clone(),
        audience: g.audience.clone(),
        auth_time: g.auth_time,
        claims: g.claims.clone(),
        code_hash: Some(code_hash.to_owned()),
        issued_at: now,
        expires_at: now + ttl,
        rotated_at: None,
        revoked_at: None,
    };
    store::refresh::insert(db, &token_hash(&token), &rg, now, &minted.jti, minted.exp)?;
    store::refresh::evict_old_families(db, &g.user_id, &g.client_id, keep)?;
    Ok(token)
}
