//! The token endpoint (RFC 6749 3.2, 4.1.3, 4.4, 6): authorization_code with PKCE,
//! refresh_token with rotation and reuse detection, client_credentials. Each exchange
//! is one database transaction; tokens are committed before they are revealed.

use std::sync::Arc;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::config::{Client, GrantType, Settings};
use crate::crypto::{pkce_s256_matches, random_id, random_token, token_hash};
use crate::domain::{valid_code_verifier, Scopes};
use crate::error::{ErrorCode, OAuthError};
use crate::oidc::authorize::target_audience;
use crate::oidc::client_auth::{authenticate_throttled, require_form};
use crate::params::Params;
use crate::startup::AppState;
use crate::store::{self, audit, refresh::RefreshGrant, users::User, StoreError};
use crate::tokens::KeyRing;

/// What a token response carries.
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

impl Issued {
    fn response(&self) -> HttpResponse {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        });
        if let Some(t) = &self.id_token {
            body["id_token"] = json!(t);
        }
        if let Some(t) = &self.refresh_token {
            body["refresh_token"] = json!(t);
        }
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(body)
    }
}

/// Claims rules set at login: `{"access": {...}, "id": {...}}`.
fn rule_claims(stored: &str) -> (Map<String, Value>, Map<String, Value>) {
    let v: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    (get("access"), get("id"))
}

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

/// An access token (RFC 9068 2.2) and, with `openid`, an ID token (OIDC Core 2).
/// Returns (access token, jti, exp, id token).
pub fn mint(
    s: &Settings,
    ring: &KeyRing,
    g: &Grant<'_>,
    now: i64,
) -> Result<(String, String, i64, Option<String>), OAuthError> {
    let jti = random_id("");
    let exp = now + s.tokens.access_token_ttl;
    let sub = g.user.map(|u| u.id.as_str()).unwrap_or(g.client_id);
    let roles: &[String] = g.user.map(|u| u.roles.as_slice()).unwrap_or(&[]);
    // Rule claims first, so the registered ones below always win.
    let mut at = g.access_extra.clone();
    at.insert("iss".into(), json!(s.issuer.as_str()));
    at.insert("sub".into(), json!(sub));
    at.insert("aud".into(), json!(g.audience.unwrap_or(s.issuer.as_str())));
    at.insert("exp".into(), json!(exp));
    at.insert("iat".into(), json!(now));
    at.insert("nbf".into(), json!(now));
    at.insert("jti".into(), json!(jti));
    at.insert("client_id".into(), json!(g.client_id));
    at.insert("scope".into(), json!(g.scope.to_string()));
    at.insert("roles".into(), json!(roles));
    if let Some(t) = g.auth_time {
        at.insert("auth_time".into(), json!(t));
    }
    let access = ring.sign_access_token(&at)?;

    let id_token = match g.user {
        Some(user) if g.scope.contains("openid") => {
            let mut it = g.id_extra.clone();
            it.insert("iss".into(), json!(s.issuer.as_str()));
            it.insert("sub".into(), json!(user.id));
            it.insert("aud".into(), json!(g.client_id));
            it.insert("azp".into(), json!(g.client_id));
            it.insert("exp".into(), json!(now + s.tokens.id_token_ttl));
            it.insert("iat".into(), json!(now));
            if let Some(t) = g.auth_time {
                it.insert("auth_time".into(), json!(t));
            }
            if let Some(n) = g.nonce {
                it.insert("nonce".into(), json!(n));
            }
            it.insert("at_hash".into(), json!(ring.at_hash(&access)));
            // OIDC Core 5.4: the address belongs to the `email` scope (review I2).
            if g.scope.contains("email") {
                it.insert("email".into(), json!(user.email));
                it.insert("email_verified".into(), json!(user.email_verified));
            }
            it.insert("roles".into(), json!(user.roles));
            Some(ring.sign_id_token(&it)?)
        }
        _ => None,
    };
    Ok((access, jti, exp, id_token))
}

/// RFC 6749 3.1/3.2: no token request parameter may appear twice, read by the grant or not.
fn no_repeated_parameters(p: &Params) -> Result<(), OAuthError> {
    const OAUTH: &[&str] = &[
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "resource",
        "audience",
        "client_id",
        "client_secret",
    ];
    match OAUTH.iter().find(|n| p.is_repeated(n)) {
        Some(n) => Err(OAuthError::invalid_request(format!(
            "parameter {n} is repeated"
        ))),
        None => Ok(()),
    }
}

pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    require_form(&req)?;
    let params = Params::parse(&body)?;
    let (client, _) = authenticate_throttled(&state, &req, &params)?;
    no_repeated_parameters(&params)?;
    let grant_type = params
        .one("grant_type")?
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let grant = GrantType::parse(grant_type).ok_or_else(|| {
        OAuthError::new(ErrorCode::UnsupportedGrantType, "unsupported grant_type")
    })?;
    if !client.allows(grant) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ));
    }
    let issued = match grant {
        GrantType::AuthorizationCode => authorization_code(&state, client, &params).await?,
        GrantType::RefreshToken => refresh_token(&state, client, &params).await?,
        GrantType::ClientCredentials => client_credentials(&state, client, &params)?,
    };
    Ok(issued.response())
}

type Outcome = Result<Issued, OAuthError>;

/// Run the grant in one transaction that commits even when the grant fails, so a
/// detected replay's revocations persist while the client gets its error.
async fn in_transaction(
    state: &AppState,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<Outcome, StoreError> + Send + 'static,
) -> Outcome {
    state.store.write(f).await?
}

/// RFC 8707 2.2: `resource` (or `audience`) at the token endpoint names an API the
/// grant covers; these grants carry one audience, so it must be that one.
fn requested_target(p: &Params) -> Result<Option<String>, OAuthError> {
    match (p.one("resource")?, p.one("audience")?) {
        (Some(r), Some(a)) if r != a => Err(OAuthError::invalid_request(
            "resource and audience name different APIs",
        )),
        (Some(t), _) | (None, Some(t)) => Ok(Some(t.to_owned())),
        (None, None) => Ok(None),
    }
}

fn not_granted_target() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidTarget,
        "the requested resource was not granted",
    )
}

/// RFC 6749 4.1.3 with RFC 7636 4.6.
async fn authorization_code(state: &web::Data<AppState>, client: &Client, p: &Params) -> Outcome {
    let code = p
        .one("code")?
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redirect_uri = p.one("redirect_uri")?.map(str::to_owned);
    let verifier = p.one("code_verifier")?.map(str::to_owned);
    let target = requested_target(p)?;
    if verifier.as_deref().is_some_and(|v| !valid_code_verifier(v)) {
        return Err(OAuthError::invalid_grant("code_verifier is malformed"));
    }
    let code_hash = token_hash(code);
    let now = state.clock.now();
    let settings = state.settings.clone();
    let ring: Arc<KeyRing> = state.keys.current();
    let client_id = client.client_id.to_string();
    let offline = client.allows(GrantType::RefreshToken);
    in_transaction(state, move |tx| {
        let Some(g) = store::codes::get(tx, &code_hash)? else {
            return Ok(Err(OAuthError::invalid_grant(
                "the code is invalid or expired",
            )));
        };
        // RFC 6749 4.1.3: the code must be this (authenticated) client's, for this
        // redirect_uri and PKCE verifier, before anything is done about it — a replay by
        // anyone else is just refused, with no side effect (review L2).
        if g.client_id != client_id {
            return Ok(Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            )));
        }
        if redirect_uri.as_deref() != Some(g.redirect_uri.as_str()) {
            return Ok(Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            )));
        }
        match (&g.code_challenge, &verifier) {
            (Some(ch), Some(v)) if pkce_s256_matches(v, ch) => {}
            (Some(_), _) => return Ok(Err(OAuthError::invalid_grant("PKCE verification failed"))),
            // RFC 9700 2.1.1: a verifier without a challenge is a downgrade attempt.
            (None, Some(_)) => {
                return Ok(Err(OAuthError::invalid_grant(
                    "no code_challenge was sent for this code",
                )))
            }
            (None, None) => {}
        }
        if g.used_at.is_some() {
            // RFC 6749 4.1.2: a code used twice revokes what it bought.
            for family in store::refresh::families_of_code(tx, &code_hash)? {
                store::refresh::revoke_family(tx, &family, now)?;
            }
            if let (Some(jti), Some(exp)) = (&g.access_jti, g.access_exp) {
                store::refresh::revoke_access_token(tx, jti, exp)?;
            }
            audit::record(
                tx,
                &audit::Event {
                    kind: "code_replay",
                    user_id: Some(&g.user_id),
                    client_id: Some(&client_id),
                    detail: Some("tokens issued from the code revoked"),
                    ..Default::default()
                },
                now,
            )?;
            return Ok(Err(OAuthError::invalid_grant("the code was already used")));
        }
        if g.expires_at <= now {
            return Ok(Err(OAuthError::invalid_grant(
                "the code is invalid or expired",
            )));
        }
        let Some(user) = store::users::get(tx, &g.user_id)? else {
            return Ok(Err(OAuthError::invalid_grant("the user no longer exists")));
        };
        if target
            .as_ref()
            .is_some_and(|t| g.audience.as_ref() != Some(t))
        {
            return Ok(Err(not_granted_target()));
        }
        let mut scope = Scopes::parse(&g.scope);
        let issues_refresh = offline && scope.contains("offline_access");
        if !issues_refresh {
            // Nothing offline is granted without a refresh token (review S5).
            scope = scope.retain(|x| x != "offline_access");
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
        let (access, jti, exp, id_token) = match mint(&settings, &ring, &grant, now) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        if !store::codes::mark_used(tx, &code_hash, now, &jti, exp)? {
            return Ok(Err(OAuthError::invalid_grant("the code was already used")));
        }
        let refresh = if issues_refresh {
            let token = random_token();
            let rg = RefreshGrant {
                family_id: random_id("fam_"),
                client_id: client_id.clone(),
                user_id: user.id.clone(),
                scope: g.scope.clone(),
                audience: g.audience.clone(),
                auth_time: g.auth_time,
                claims: g.claims.clone(),
                code_hash: Some(code_hash.clone()),
                issued_at: now,
                expires_at: now + settings.tokens.refresh_token_ttl,
                rotated_at: None,
                revoked_at: None,
            };
            store::refresh::insert(tx, &token_hash(&token), &rg, now, &jti, exp)?;
            store::refresh::evict_old_families(
                tx,
                &user.id,
                &client_id,
                settings.tokens.max_refresh_families,
            )?;
            Some(token)
        } else {
            None
        };
        Ok(Ok(Issued {
            access_token: access,
            expires_in: settings.tokens.access_token_ttl,
            scope: scope.to_string(),
            id_token,
            refresh_token: refresh,
        }))
    })
    .await
}

/// RFC 6749 6 with rotation (RFC 9700 4.14.2): a rotated token used again revokes its family.
async fn refresh_token(state: &web::Data<AppState>, client: &Client, p: &Params) -> Outcome {
    let presented = p
        .one("refresh_token")?
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let requested = p.one("scope")?.map(Scopes::parse);
    let target = requested_target(p)?;
    let hash = token_hash(presented);
    let now = state.clock.now();
    let settings = state.settings.clone();
    let ring = state.keys.current();
    let client_id = client.client_id.to_string();
    in_transaction(state, move |tx| {
        let Some(g) = store::refresh::get(tx, &hash)? else {
            return Ok(Err(OAuthError::invalid_grant("the refresh token is invalid")));
        };
        if g.client_id != client_id {
            return Ok(Err(OAuthError::invalid_grant("the refresh token was issued to another client")));
        }
        if g.revoked_at.is_some() {
            return Ok(Err(OAuthError::invalid_grant("the refresh token was revoked")));
        }
        if g.rotated_at.is_some() {
            let n = store::refresh::revoke_family(tx, &g.family_id, now)?;
            let detail = format!("family {} revoked ({n} tokens)", g.family_id);
            audit::record(tx, &audit::Event { kind: "refresh_replay", user_id: Some(&g.user_id), client_id: Some(&client_id), detail: Some(&detail), ..Default::default() }, now)?;
            tracing::warn!(family = %g.family_id, client = %client_id, "refresh token replay: family revoked");
            return Ok(Err(OAuthError::invalid_grant("the refresh token was already used")));
        }
        if g.expires_at <= now {
            return Ok(Err(OAuthError::invalid_grant("the refresh token expired")));
        }
        if target.as_ref().is_some_and(|t| g.audience.as_ref() != Some(t)) {
            return Ok(Err(not_granted_target()));
        }
        let original = Scopes::parse(&g.scope);
        let scope = match requested {
            Some(r) if !r.is_subset_of(&original) => {
                return Ok(Err(OAuthError::new(ErrorCode::InvalidScope, "the requested scope exceeds the original grant")))
            }
            Some(r) if !r.is_empty() => r,
            _ => original,
        };
        // Roles are re-read: a change by an admin shows at the next refresh.
        let Some(user) = store::users::get(tx, &g.user_id)? else {
            return Ok(Err(OAuthError::invalid_grant("the user no longer exists")));
        };
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
        let (access, jti, exp, id_token) = match mint(&settings, &ring, &grant, now) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        if !store::refresh::mark_rotated(tx, &hash, now)? {
            return Ok(Err(OAuthError::invalid_grant("the refresh token was already used")));
        }
        let token = random_token();
        // RFC 6749 6: the new refresh token keeps the original grant's scope.
        store::refresh::insert(tx, &token_hash(&token), &RefreshGrant { rotated_at: None, revoked_at: None, ..g }, now, &jti, exp)?;
        Ok(Ok(Issued {
            access_token: access,
            expires_in: settings.tokens.access_token_ttl,
            scope: scope.to_string(),
            id_token,
            refresh_token: Some(token),
        }))
    })
    .await
}

/// RFC 6749 4.4: a confidential client acting for itself; no refresh token, sub = client_id.
fn client_credentials(state: &AppState, client: &Client, p: &Params) -> Outcome {
    let s = &state.settings;
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
    let api_scopes = s
        .api(&audience)
        .map(|a| a.scopes.clone())
        .unwrap_or_default();
    // The audience is one of this client's `apis` (target_audience): without `scope` it
    // gets that API's scopes, never another API's (review M6).
    let scope = match p.one("scope")? {
        Some(req) => Scopes::parse(req).retain(|x| api_scopes.iter().any(|a| a == x)),
        None => Scopes::from_vec(api_scopes),
    };
    let ring = state.keys.current();
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
    let (access, _, _, _) = mint(s, &ring, &grant, state.clock.now())?;
    Ok(Issued {
        access_token: access,
        expires_in: s.tokens.access_token_ttl,
        scope: scope.to_string(),
        id_token: None,
        refresh_token: None,
    })
}
