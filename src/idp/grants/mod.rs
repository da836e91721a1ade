//! The token endpoint's grants (RFC 6749 3.2, 4.1.3, 4.4, 6), one file each. A grant
//! that writes runs in one transaction that commits even when the grant is refused, so
//! a detected replay's revocations persist while the client gets its error.

mod authorization_code;
mod client_credentials;
mod mint;
mod refresh_token;

use serde::Serialize;
use serde_json::{Map, Value};

pub use mint::{mint, Grant, Minted};

use super::params::Params;
use super::{ErrorCode, Idp, OAuthError};
use crate::config::{Client, GrantType};
use crate::store::StoreError;

/// A token response (RFC 6749 5.1).
#[derive(Debug, Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Inside a grant's transaction: refused (commit what was written, answer the error) or
/// failed (roll back). `?` works on both.
pub enum GrantError {
    Refused(OAuthError),
    Store(StoreError),
}

impl From<StoreError> for GrantError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<OAuthError> for GrantError {
    fn from(e: OAuthError) -> Self {
        Self::Refused(e)
    }
}

impl From<crate::tokens::KeyError> for GrantError {
    fn from(e: crate::tokens::KeyError) -> Self {
        Self::Refused(e.into())
    }
}

/// Run `f` in one transaction that commits on success and on refusal.
async fn in_transaction<T: Send + 'static>(
    idp: &Idp,
    f: impl FnOnce(&mut crate::store::Db<'_>) -> Result<T, GrantError> + Send + 'static,
) -> Result<T, OAuthError> {
    let outcome = idp
        .store
        .write(move |db| match f(db) {
            Ok(v) => Ok(Ok(v)),
            Err(GrantError::Refused(e)) => Ok(Err(e)),
            Err(GrantError::Store(e)) => Err(e),
        })
        .await?;
    outcome
}

fn refused(e: OAuthError) -> GrantError {
    GrantError::Refused(e)
}

fn invalid_grant(description: &'static str) -> GrantError {
    refused(OAuthError::invalid_grant(description))
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

/// RFC 8707 2.2: `resource` (or `audience`) at the token endpoint names an API the grant
/// covers; these grants carry one audience, so it must be that one.
fn requested_target(p: &Params) -> Result<Option<String>, OAuthError> {
    match (p.one("resource")?, p.one("audience")?) {
        (Some(r), Some(a)) if r != a => Err(OAuthError::invalid_request(
            "resource and audience name different APIs",
        )),
        (Some(t), _) | (None, Some(t)) => Ok(Some(t.to_owned())),
        (None, None) => Ok(None),
    }
}

fn not_granted_target() -> GrantError {
    refused(OAuthError::new(
        ErrorCode::InvalidTarget,
        "the requested resource was not granted",
    ))
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

/// Dispatch an authenticated client's token request to its grant.
pub async fn exchange(
    idp: &Idp,
    client: &Client,
    p: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    no_repeated_parameters(p)?;
    let grant_type = p
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
    match grant {
        GrantType::AuthorizationCode => authorization_code::exchange(idp, client, p, now).await,
        GrantType::RefreshToken => refresh_token::exchange(idp, client, p, now).await,
        GrantType::ClientCredentials => client_credentials::exchange(idp, client, p, now),
    }
}
