//! Upstream OpenID providers ("Continue with your company's SSO"): Portico as a relying
//! party through the `openidconnect` crate (no JOSE or OAuth client code by hand). Code
//! flow with PKCE S256, `state` and `nonce`; the login transaction goes through the round
//! trip (`start`), and the callback (`callback`) validates everything before a user is
//! found or made by (connection, upstream issuer, upstream subject) — never by e-mail.

pub mod callback;
pub mod start;

use std::collections::HashMap;
use std::sync::Mutex;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreGenderClaim, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, ClientId, ClientSecret, IdToken, IssuerUrl,
    ProviderMetadata, RedirectUrl,
};
use serde::{Deserialize, Serialize};

use crate::config::{Settings, Upstream};

/// Discovery is refreshed this often, and at most this often on an unknown key.
const METADATA_TTL: i64 = 3600;
const REFRESH_AT_MOST_EVERY: i64 = 60;

/// RFC 9207: whether the upstream sends `iss` with its authorization responses.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IssParameter {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssParameter {}

pub type Metadata = ProviderMetadata<
    IssParameter,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Every claim of the upstream's ID token beyond the standard ones (groups, tenant …),
/// so the rules see all of `event.upstream`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

pub type UpstreamIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Discovery or the token endpoint could not be reached (or answered nonsense).
    #[error("the upstream provider is unreachable: {0}")]
    Unreachable(String),
    /// The upstream, or its answer, refused the sign-in.
    #[error("{0}")]
    Refused(String),
}

struct Cached {
    metadata: Metadata,
    fetched_at: i64,
}

/// The upstreams' discovery documents (with their JWKS), cached per issuer, and the HTTP
/// client that talks to them (no redirects followed: no SSRF through a 30x).
pub struct Upstreams {
    /// Built on first use: a TLS client loads the CA store (megabytes a server without
    /// upstream connections never needs).
    http: std::sync::OnceLock<reqwest::Client>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

impl Upstreams {
    pub fn new() -> Self {
        Self {
            http: std::sync::OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(10))
                // Drop idle connections before a typical server keep-alive (5 s) does:
                // a POST sent on a connection the server is closing fails, not retried.
                .pool_idle_timeout(std::time::Duration::from_secs(3))
                .build()
                .unwrap_or_default()
        })
    }

    fn cached(&self, issuer: &str, now: i64, max_age: i64) -> Option<Metadata> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(issuer)
            .filter(|c| now - c.fetched_at < max_age)
            .map(|c| c.metadata.clone())
    }

    /// The upstream's metadata and keys: cached for an hour; `refresh` (an unknown key)
    /// fetches them again unless that happened in the last minute.
    pub async fn metadata(
        &self,
        u: &Upstream,
        refresh: bool,
        now: i64,
    ) -> Result<Metadata, UpstreamError> {
        let max_age = if refresh {
            REFRESH_AT_MOST_EVERY
        } else {
            METADATA_TTL
        };
        if let Some(m) = self.cached(&u.issuer, now, max_age) {
            return Ok(m);
        }
        let issuer = IssuerUrl::new(u.issuer.clone())
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        let metadata = Metadata::discover_async(issuer, self.http())
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("discovery: {e}")))?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(
            u.issuer.clone(),
            Cached {
                metadata: metadata.clone(),
                fetched_at: now,
            },
        );
        Ok(metadata)
    }

    /// Forget an issuer's metadata (a reload may point a connection elsewhere).
    pub fn forget(&self, issuer: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(issuer);
    }
}

/// Portico's redirect URI at the upstream: `{issuer}/upstream/{connection}/callback`.
pub fn redirect_uri(s: &Settings, connection: &str) -> String {
    s.issuer.join(&format!("/upstream/{connection}/callback"))
}

/// A relying-party client built from discovery (authorization URL set; token and
/// userinfo URLs as the upstream published them).
pub type RpClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The relying-party client for this upstream and its metadata.
pub fn client(
    s: &Settings,
    connection: &str,
    u: &Upstream,
    m: Metadata,
) -> Result<RpClient, UpstreamError> {
    let redirect = RedirectUrl::new(redirect_uri(s, connection))
        .map_err(|e| UpstreamError::Refused(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        m,
        ClientId::new(u.client_id.clone()),
        Some(ClientSecret::new(u.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}
