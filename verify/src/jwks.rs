//! One trusted issuer's signing keys: discovery, JWKS fetch, the parsed-key cache and the
//! refetch policy (lazy first fetch, rate-limited refetch on an unknown `kid`, one shared
//! fetch for concurrent requests, stale keys kept if the issuer is down).
//!
//! Keys are parsed into josekit verifiers once per fetch, never per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, MutexGuard};

use crate::algorithm::Algorithm;
use crate::error::DiscoveryError;

/// Discovery documents and key sets are small; a bigger answer is refused rather than
/// buffered.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// JWK members that only private keys have (RFC 7518 section 6.2.2, 6.3.2, 6.4.1 and
/// RFC 8037 section 2). A JWKS carrying them is a leak: such a key is refused, since
/// anyone who read the JWKS could sign with it.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// One usable public key, parsed once.
pub(crate) struct CachedKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) verifier: Box<dyn JwsVerifier>,
}

impl std::fmt::Debug for CachedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// What looking a key up found.
pub(crate) enum Lookup {
    Found(Arc<CachedKey>),
    /// The `kid` exists but only for other algorithms.
    WrongAlgorithm,
    Missing,
}

/// An immutable snapshot of an issuer's keys; replaced whole on each successful fetch.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    /// Bumped by every successful fetch; 0 means never fetched.
    generation: u64,
    fetched_at: Option<SystemTime>,
    by_kid: HashMap<String, Vec<Arc<CachedKey>>>,
    all: Vec<Arc<CachedKey>>,
}

impl KeySet {
    fn new(generation: u64, fetched_at: SystemTime, keys: Vec<CachedKey>) -> KeySet {
        let mut set = KeySet {
            generation,
            fetched_at: Some(fetched_at),
            ..KeySet::default()
        };
        for key in keys {
            let key = Arc::new(key);
            if let Some(kid) = &key.kid {
                set.by_kid.entry(kid.clone()).or_default().push(key.clone());
            }
            set.all.push(key);
        }
        set
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.generation > 0
    }

    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    /// Fresh when fetched less than `max_age` ago. A clock that went backwards counts
    /// as fresh.
    fn is_fresh(&self, now: SystemTime, max_age: Duration) -> bool {
        match self.fetched_at {
            Some(at) => now.duration_since(at).map_or(true, |age| age < max_age),
            None => false,
        }
    }

    /// Finds the key for (`kid`, `alg`). A key is only ever used with its own algorithm
    /// (RFC 8725 section 3.1). Without a `kid` (optional in RFC 7515 section 4.1.4) a key
    /// is used only when it is the issuer's single key for that algorithm.
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(keys) => match keys.iter().find(|key| key.alg == alg) {
                    Some(key) => Lookup::Found(key.clone()),
                    None => Lookup::WrongAlgorithm,
                },
                None => Lookup::Missing,
            },
            None => {
                let mut candidates = self.all.iter().filter(|key| key.alg == alg);
                match (candidates.next(), candidates.next()) {
                    (Some(key), None) => Lookup::Found(key.clone()),
                    _ => Lookup::Missing,
                }
            }
        }
    }
}

/// How fetching is tuned; shared by all issuers of a verifier.
#[derive(Debug, Clone)]
pub(crate) struct FetchPolicy {
    pub(crate) min_refetch_interval: Duration,
    pub(crate) max_age: Duration,
    pub(crate) algorithms: Vec<Algorithm>,
}

/// Why a refresh gave no new keys.
pub(crate) enum RefreshError {
    /// Not attempted: the last attempt was less than the minimum interval ago. Carries
    /// that attempt's error, if it failed.
    RateLimited(Option<DiscoveryError>),
    Failed(DiscoveryError),
}

#[derive(Debug, Default)]
struct FetchState {
    /// Cached from discovery; forgotten when the JWKS fetch fails so the next attempt
    /// rediscovers (the issuer may have moved it).
    jwks_uri: Option<String>,
    /// When the last fetch finished (successfully or not). Recorded after the fetch so
    /// a request cancelled mid-fetch leaves no rate-limit trace behind.
    last_attempt: Option<SystemTime>,
    last_error: Option<DiscoveryError>,
}

/// A trusted issuer: its identifier, the audiences accepted from it and its key cache.
#[derive(Debug)]
pub(crate) struct IssuerKeys {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    keys: RwLock<Arc<KeySet>>,
    /// Held for the whole fetch: concurrent requests that miss queue here and then find
    /// the keys the first one fetched, so a burst costs the issuer one request.
    fetch: Mutex<FetchState>,
}

impl IssuerKeys {
    pub(crate) fn new(issuer: String, audiences: Vec<String>) -> IssuerKeys {
        IssuerKeys {
            issuer,
            audiences,
            keys: RwLock::new(Arc::new(KeySet::default())),
            fetch: Mutex::new(FetchState::default()),
        }
    }

    pub(crate) fn snapshot(&self) -> Arc<KeySet> {
        // A poisoned lock still holds a consistent Arc: writers only swap it.
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, set: Arc<KeySet>) {
        match self.keys.write() {
            Ok(mut keys) => *keys = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }

    /// The key for (`kid`, `alg`), fetching the JWKS if there are no keys yet, if they are
    /// older than `max_age`, or if the `kid` is unknown, within the rate limit.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        http: &reqwest::Client,
        policy: &FetchPolicy,
        clock: &(dyn Fn() -> SystemTime + Send + Sync),
    ) -> Result<Lookup, DiscoveryError> {
        let snapshot = self.snapshot();
        let found = snapshot.lookup(kid, alg);
        if snapshot.is_fresh(clock(), policy.max_age) {
            match found {
                Lookup::Missing => {}
                done => return Ok(done),
            }
        }
        let guard = match (&found, self.fetch.try_lock()) {
            (_, Ok(guard)) => guard,
            // Stale but still holding the key, and another request is refreshing
            // already: go on with the key instead of queueing.
            (Lookup::Found(key), Err(_)) => return Ok(Lookup::Found(key.clone())),
            (_, Err(_)) => self.fetch.lock().await,
        };
        match self
            .refresh(guard, snapshot.generation, false, http, policy, clock)
            .await
        {
            Ok(fresh) => Ok(fresh.lookup(kid, alg)),
            Err(error) => match (found, error) {
                // Stale-if-error: keep verifying with the keys we had.
                (Lookup::Found(key), _) => Ok(Lookup::Found(key)),
                (Lookup::WrongAlgorithm, _) => Ok(Lookup::WrongAlgorithm),
                // We have keys, none is this kid, and we may not ask again yet: the
                // token names a key the issuer did not publish when we last looked.
                (Lookup::Missing, RefreshError::RateLimited(_)) if snapshot.is_loaded() => {
                    Ok(Lookup::Missing)
                }
                (Lookup::Missing, RefreshError::RateLimited(last)) => {
                    Err(last.unwrap_or(DiscoveryError::Backoff))
                }
                (Lookup::Missing, RefreshError::Failed(error)) => Err(error),
            },
        }
    }

    /// Fetches now, ignoring the rate limit (an explicit warm-up or operator action).
    pub(crate) async fn force_refresh(
        &self,
        http: &reqwest::Client,
        policy: &FetchPolicy,
        clock: &(dyn Fn() -> SystemTime + Send + Sync),
    ) -> Result<Arc<KeySet>, DiscoveryError> {
        let guard = self.fetch.lock().await;
        let generation = self.snapshot().generation;
        match self
            .refresh(guard, generation, true, http, policy, clock)
            .await
        {
            Ok(set) => Ok(set),
            Err(RefreshError::Failed(error)) => Err(error),
            Err(RefreshError::RateLimited(last)) => Err(last.unwrap_or(DiscoveryError::Backoff)),
        }
    }

    async fn refresh(
        &self,
        mut state: MutexGuard<'_, FetchState>,
        seen_generation: u64,
        force: bool,
        http: &reqwest::Client,
        policy: &FetchPolicy,
        clock: &(dyn Fn() -> SystemTime + Send + Sync),
    ) -> Result<Arc<KeySet>, RefreshError> {
        let current = self.snapshot();
        if current.generation != seen_generation {
            // Someone fetched while we waited for the lock: share their result.
            return Ok(current);
        }
        if !force {
            if let Some(last) = state.last_attempt {
                let elapsed = clock().duration_since(last);
                // A clock that went backwards does not block refetching for that long.
                if elapsed.is_ok_and(|e| e < policy.min_refetch_interval) {
                    return Err(RefreshError::RateLimited(state.last_error.clone()));
                }
            }
        }
        let result = self.fetch_keys(&mut state, http, policy).await;
        let now = clock();
        state.last_attempt = Some(now);
        match result {
            Ok(keys) => {
                state.last_error = None;
                let set = Arc::new(KeySet::new(current.generation + 1, now, keys));
                tracing::info!(
                    issuer = %self.issuer,
                    keys = set.len(),
                    "fetched issuer signing keys"
                );
                self.store(set.clone());
                Ok(set)
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "cannot fetch issuer signing keys");
                state.last_error = Some(error.clone());
                Err(RefreshError::Failed(error))
            }
        }
    }

    async fn fetch_keys(
        &self,
        state: &mut FetchState,
        http: &reqwest::Client,
        policy: &FetchPolicy,
    ) -> Result<Vec<CachedKey>, DiscoveryError> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = discover_jwks_uri(http, &self.issuer).await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        match fetch_json(http, &jwks_uri).await {
            Ok(document) => parse_jwks(&self.issuer, &jwks_uri, document, &policy.algorithms),
            Err(error) => {
                state.jwks_uri = None;
                Err(error)
            }
        }
    }
}

/// OpenID Connect Discovery 1.0 section 4: `{issuer}/.well-known/openid-configuration`,
/// whose `issuer` must equal ours exactly (section 4.3).
async fn discover_jwks_uri(http: &reqwest::Client, issuer: &str) -> Result<String, DiscoveryError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let document = fetch_json(http, &url).await?;
    let invalid = |message: &str| DiscoveryError::InvalidDocument {
        url: url.clone(),
        message: message.to_owned(),
    };
    let found = document
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no issuer"))?;
    if found != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: found.to_owned(),
        });
    }
    let jwks_uri = document
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no jwks_uri"))?;
    if !(jwks_uri.starts_with("https://") || jwks_uri.starts_with("http://")) {
        return Err(invalid("jwks_uri is not an http(s) URL"));
    }
    Ok(jwks_uri.to_owned())
}

/// GETs a JSON object, reading at most [`MAX_DOCUMENT_BYTES`].
async fn fetch_json(
    http: &reqwest::Client,
    url: &str,
) -> Result<Map<String, Value>, DiscoveryError> {
    let request_error = |error: reqwest::Error| DiscoveryError::Request {
        url: url.to_owned(),
        message: error_chain(&error),
    };
    let too_large = || DiscoveryError::TooLarge {
        url: url.to_owned(),
        limit: MAX_DOCUMENT_BYTES,
    };
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(request_error)?;
    if !response.status().is_success() {
        return Err(DiscoveryError::Status {
            url: url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|error| DiscoveryError::InvalidDocument {
        url: url.to_owned(),
        message: error.to_string(),
    })
}

/// reqwest's own message ("error sending request") hides the cause ("Connection
/// refused"); operators need the whole chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Turns a JWKS (RFC 7517 section 5) into verifiers. Keys this verifier could never use
/// (encryption keys, symmetric keys, algorithms not allowed, leaked private keys, RSA
/// under 2048 bits) are skipped with a log line, so one odd key does not take the others down.
fn parse_jwks(
    issuer: &str,
    url: &str,
    document: Map<String, Value>,
    allowed: &[Algorithm],
) -> Result<Vec<CachedKey>, DiscoveryError> {
    let Some(Value::Array(entries)) = document.get("keys") else {
        return Err(DiscoveryError::InvalidDocument {
            url: url.to_owned(),
            message: "no keys array".to_owned(),
        });
    };
    let mut keys = Vec::with_capacity(entries.len());
    for entry in entries {
        match parse_key(entry, allowed) {
            Ok(key) => keys.push(key),
            Err(reason) => {
                let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("");
                tracing::warn!(issuer, kid, reason, "skipping JWKS key");
            }
        }
    }
    if keys.is_empty() {
        tracing::warn!(issuer, "the issuer's JWKS holds no usable signing key");
    }
    Ok(keys)
}

fn parse_key(entry: &Value, allowed: &[Algorithm]) -> Result<CachedKey, &'static str> {
    let Value::Object(members) = entry else {
        return Err("not a JSON object");
    };
    if PRIVATE_MEMBERS
        .iter()
        .any(|name| members.contains_key(*name))
    {
        return Err("carries private or symmetric key material");
    }
    let jwk = Jwk::from_map(members.clone()).map_err(|_| "not a valid JWK")?;
    if jwk.key_use().is_some_and(|key_use| key_use != "sig") {
        return Err("not a signing key (use)");
    }
    let alg = match jwk.algorithm() {
        Some(name) => Algorithm::from_name(name).ok_or("alg is not an asymmetric JWS algorithm")?,
        None => Algorithm::infer_from_jwk(&jwk).ok_or("no alg and none can be inferred")?,
    };
    if !allowed.contains(&alg) {
        return Err("alg not allowed by this verifier");
    }
    let verifier = alg
        .verifier_from_jwk(&jwk)
        .map_err(|_| "key does not fit its algorithm or is too short")?;
    Ok(CachedKey {
        kid: jwk.key_id().map(str::to_owned),
        alg,
        verifier,
    })
}
