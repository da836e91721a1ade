//! [`Verifier`]: decides whether a bearer access token (RFC 9068 JWT profile) was issued
//! by a trusted issuer for this API and is valid now; and its [`VerifierBuilder`].
//!
//! The order of checks is the point: everything in the header is untrusted, so the
//! algorithm allow-list and `typ` are checked before any key is looked up, the issuer
//! named by the unverified `iss` only selects whose keys to try, and the claims are
//! interpreted only after the signature verified under that issuer's key.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::claims::Claims;
use crate::error::{BuildError, VerifyError};
use crate::jwks::{FetchPolicy, IssuerKeys, Lookup};

/// Longer tokens are refused before any parsing; Portico's are well under 2 KiB.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Verifies access tokens from one or more trusted issuers.
///
/// Cheap to clone (an `Arc` inside); register it once as `web::Data<Verifier>` and the
/// [`crate::Authenticated`] extractor finds it.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: HashMap<String, IssuerKeys>,
    leeway_secs: i64,
    policy: FetchPolicy,
    http: reqwest::Client,
    realm: Arc<str>,
    clock: Clock,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.inner.issuers.values().collect::<Vec<_>>())
            .field("leeway_secs", &self.inner.leeway_secs)
            .field("policy", &self.inner.policy)
            .field("realm", &self.inner.realm)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts configuring a verifier.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The `realm` sent in `WWW-Authenticate` challenges (RFC 6750 section 3).
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// The configured issuer identifiers.
    pub fn issuers(&self) -> impl Iterator<Item = &str> + '_ {
        self.inner.issuers.keys().map(String::as_str)
    }

    /// Verifies `token` at the verifier's clock's current time.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let now = unix_seconds((self.inner.clock)());
        self.verify_at(token, now).await
    }

    /// Verifies `token` as if the time were `now_unix` (seconds since the Unix epoch).
    /// Key fetching and its rate limit still follow the builder's clock.
    pub async fn verify_at(&self, token: &str, now_unix: i64) -> Result<Claims, VerifyError> {
        let inner = &*self.inner;
        let parsed = ParsedToken::parse(token)?;

        // RFC 8725 section 3.1: only allow-listed algorithms, decided before any key is
        // touched, so `none` and `HS256` never reach key lookup.
        let alg = Algorithm::from_name(&parsed.alg)
            .filter(|alg| inner.policy.algorithms.contains(alg))
            .ok_or_else(|| VerifyError::UnsupportedAlgorithm(truncated(&parsed.alg)))?;
        // RFC 9068 section 4: the typ header distinguishes access tokens from ID tokens
        // and other JWTs signed by the same keys.
        if !parsed.typ.as_deref().is_some_and(is_access_token_type) {
            return Err(VerifyError::WrongType);
        }
        if parsed.has_crit {
            return Err(VerifyError::UnsupportedCritical);
        }

        // The unverified iss only picks whose keys to try; a token claiming issuer A is
        // checked against A's keys alone, so issuer B's keys can never vouch for it.
        let iss = parsed
            .payload
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(VerifyError::InvalidClaim("iss"))?;
        let issuer = inner.issuers.get(iss).ok_or(VerifyError::UnknownIssuer)?;

        let lookup = issuer
            .key_for(
                parsed.kid.as_deref(),
                alg,
                &inner.http,
                &inner.policy,
                &*inner.clock,
            )
            .await
            .map_err(VerifyError::Discovery)?;
        let key = match lookup {
            Lookup::Found(key) => key,
            Lookup::WrongAlgorithm => return Err(VerifyError::KeyAlgorithmMismatch),
            Lookup::Missing => return Err(VerifyError::UnknownKey),
        };
        // Belt and braces: lookup already matched the key's own algorithm.
        if key.alg != alg {
            return Err(VerifyError::KeyAlgorithmMismatch);
        }
        key.verifier
            .verify(parsed.signing_input.as_bytes(), &parsed.signature)
            .map_err(|_| VerifyError::BadSignature)?;

        let claims = Claims::from_payload(parsed.payload)?;
        check_claims(&claims, issuer, now_unix, inner.leeway_secs)?;
        Ok(claims)
    }

    /// Fetches every issuer's discovery document and JWKS now, ignoring the refetch rate
    /// limit: call it at start-up to warm the cache and to fail fast on a wrong issuer
    /// URL. Without it keys are fetched on first use.
    pub async fn refresh(&self) -> Result<(), VerifyError> {
        let inner = &*self.inner;
        for issuer in inner.issuers.values() {
            issuer
                .force_refresh(&inner.http, &inner.policy, &*inner.clock)
                .await
                .map_err(VerifyError::Discovery)?;
        }
        Ok(())
    }

    /// How many keys of `issuer` are cached (None for an unknown issuer); for health
    /// checks and tests.
    pub fn cached_key_count(&self, issuer: &str) -> Option<usize> {
        self.inner
            .issuers
            .get(issuer)
            .map(|keys| keys.snapshot().len())
    }

    /// The minimum refetch interval, which is also a sensible `Retry-After` for 503s.
    pub fn min_refetch_interval(&self) -> Duration {
        self.inner.policy.min_refetch_interval
    }
}

/// RFC 9068 section 4: `at+jwt`, or its full media type `application/at+jwt`; media
/// types are case-insensitive (RFC 2045 section 5.1).
fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

fn check_claims(
    claims: &Claims,
    issuer: &IssuerKeys,
    now: i64,
    leeway: i64,
) -> Result<(), VerifyError> {
    // Signed by this issuer's key, and says so (RFC 9068 section 4, RFC 8725 3.8).
    if claims.iss != issuer.issuer {
        return Err(VerifyError::UnknownIssuer);
    }
    // RFC 9068 section 4: the token must be meant for this resource server.
    if !issuer
        .audiences
        .iter()
        .any(|audience| claims.has_audience(audience))
    {
        return Err(VerifyError::WrongAudience);
    }
    // RFC 7519 section 4.1.4: "current time MUST be before the expiration time", with a
    // small leeway for clock skew.
    if now >= claims.exp.saturating_add(leeway) {
        return Err(VerifyError::Expired);
    }
    // RFC 7519 section 4.1.5.
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(leeway))
    {
        return Err(VerifyError::NotYetValid);
    }
    // A token from the future is a skewed or forged issuer clock.
    if claims.iat > now.saturating_add(leeway) {
        return Err(VerifyError::IssuedInFuture);
    }
    Ok(())
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Attacker-chosen strings go into logs only, and only briefly.
fn truncated(value: &str) -> String {
    value.chars().take(32).collect()
}

/// A compact JWS split and decoded, none of it trusted yet.
struct ParsedToken<'a> {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    has_crit: bool,
    payload: Map<String, Value>,
    /// `BASE64URL(header) "." BASE64URL(payload)`, what the signature covers
    /// (RFC 7515 section 5.2).
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> ParsedToken<'a> {
    fn parse(token: &'a str) -> Result<ParsedToken<'a>, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Malformed("token too large"));
        }
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(VerifyError::Malformed("not a compact JWS"))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(VerifyError::Malformed("not a compact JWS"))?;
        if payload.contains('.') {
            // Five parts would be a JWE; an encrypted token is not for us.
            return Err(VerifyError::Malformed("not a compact JWS"));
        }
        let header = decode_object(header, "header")?;
        let payload = decode_object(payload, "payload")?;
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| VerifyError::Malformed("signature is not base64url"))?;

        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            _ => return Err(VerifyError::Malformed("no alg header")),
        };
        let typ = match header.get("typ") {
            None => None,
            Some(Value::String(typ)) => Some(typ.clone()),
            Some(_) => return Err(VerifyError::Malformed("typ header is not a string")),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(VerifyError::Malformed("kid header is not a string")),
        };
        // `jku`, `x5u`, `jwk` and `x5c` are ignored on purpose: keys come from the
        // configured issuer's JWKS only, never from the token (RFC 8725 section 3.10).
        Ok(ParsedToken {
            alg,
            typ,
            kid,
            has_crit: header.contains_key("crit"),
            payload,
            signing_input,
            signature,
        })
    }
}

fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, VerifyError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| {
            VerifyError::Malformed(if what == "header" {
                "header is not base64url"
            } else {
                "payload is not base64url"
            })
        })?;
    serde_json::from_slice(&bytes).map_err(|_| {
        VerifyError::Malformed(if what == "header" {
            "header is not a JSON object"
        } else {
            "payload is not a JSON object"
        })
    })
}

/// Configures a [`Verifier`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use portico_verify::Verifier;
/// let verifier = Verifier::builder()
///     .issuer("http://127.0.0.1:8080", "https://api.example.com")
///     .build()?;
/// let claims = verifier.verify("eyJ...").await?;
/// # Ok(()) }
/// ```
pub struct VerifierBuilder {
    issuers: Vec<(String, String)>,
    leeway: Duration,
    algorithms: Vec<Algorithm>,
    min_refetch_interval: Duration,
    max_age: Duration,
    http: Option<reqwest::Client>,
    realm: String,
    clock: Clock,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            issuers: Vec::new(),
            leeway: Duration::from_secs(30),
            algorithms: Algorithm::DEFAULT_ALLOWED.to_vec(),
            min_refetch_interval: Duration::from_secs(10),
            max_age: Duration::from_secs(10 * 60),
            http: None,
            realm: "api".to_owned(),
            clock: Arc::new(SystemTime::now),
        }
    }
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("issuers", &self.issuers)
            .field("leeway", &self.leeway)
            .field("algorithms", &self.algorithms)
            .field("min_refetch_interval", &self.min_refetch_interval)
            .field("max_age", &self.max_age)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl VerifierBuilder {
    /// Trusts tokens from `issuer` (compared exactly with `iss` and the discovery
    /// document's `issuer`) whose `aud` contains `audience`. Call it once per issuer;
    /// calling it again for the same issuer adds another accepted audience.
    pub fn issuer(mut self, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        self.issuers.push((issuer.into(), audience.into()));
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s; whole seconds).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The accepted algorithms (default ES256, RS256, EdDSA, PS256). `none` and HMAC
    /// algorithms cannot be expressed.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The least time between two JWKS fetches of one issuer triggered by unknown key
    /// ids or stale keys (default 10 s), so a flood of tokens with random `kid`s cannot
    /// make the API hammer the issuer.
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Keys older than this are refetched on next use (default 10 min), so a key the
    /// issuer withdrew stops being accepted; if the refetch fails, the old keys are kept.
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The HTTP client for discovery and JWKS fetches. The default one has a 10 s
    /// timeout.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The time source, for tests that must not sleep (default `SystemTime::now`).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks the configuration. Fetches nothing: keys are fetched on first use or by
    /// [`Verifier::refresh`].
    pub fn build(self) -> Result<Verifier, BuildError> {
        if self.issuers.is_empty() {
            return Err(BuildError::NoIssuer);
        }
        if self.algorithms.is_empty() {
            return Err(BuildError::NoAlgorithm);
        }
        let mut audiences: Vec<(String, Vec<String>)> = Vec::new();
        for (issuer, audience) in self.issuers {
            if !is_valid_issuer(&issuer) {
                return Err(BuildError::InvalidIssuer(issuer));
            }
            if audience.is_empty() {
                return Err(BuildError::EmptyAudience(issuer));
            }
            match audiences.iter_mut().find(|(known, _)| *known == issuer) {
                Some((_, list)) => list.push(audience),
                None => audiences.push((issuer, vec![audience])),
            }
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                // Idle connections go before a typical server keep-alive (5 s) ends them.
                .pool_idle_timeout(Duration::from_secs(3))
                .build()
                .map_err(|error| BuildError::HttpClient(error.to_string()))?,
        };
        let issuers = audiences
            .into_iter()
            .map(|(issuer, audiences)| (issuer.clone(), IssuerKeys::new(issuer, audiences)))
            .collect();
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers,
                leeway_secs: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
                policy: FetchPolicy {
                    min_refetch_interval: self.min_refetch_interval,
                    max_age: self.max_age,
                    algorithms: self.algorithms,
                },
                http,
                realm: Arc::from(self.realm),
                clock: self.clock,
            }),
        })
    }
}

/// OpenID Connect Discovery 1.0 section 2 / RFC 8414 section 2: an issuer is a URL with
/// no query or fragment. Plain http is tolerated for local development.
fn is_valid_issuer(issuer: &str) -> bool {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            !rest.is_empty()
                && !rest.starts_with('/')
                && !issuer.contains(['?', '#'])
                && !issuer.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}
