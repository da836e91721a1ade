//! Typed settings: the TOML file of the contract, environment overrides, and every
//! validation problem collected at once so `portico check` can list them all.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::{ClientId, ConnectionName, Issuer, RedirectUri, Scopes, SigningAlg};
use crate::rules::{CompiledRule, RuleSet};

/// One problem found in the configuration: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `client "customers-web"`, `tokens`, `connection #2` …; empty for the top level.
    pub entry: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entry.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.entry, self.message)
        }
    }
}

/// Every problem of one configuration file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} problem(s)",
            self.path.display(),
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub signing_alg: SigningAlg,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub code_ttl: i64,
    /// Live refresh-token families per user and client; the oldest beyond are revoked.
    pub max_refresh_families: i64,
}

#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Password hashes computed at once; more wait in the queue.
    pub hash_concurrency: usize,
    /// Logins allowed to wait for a hashing slot; beyond it a fast 503.
    pub hash_queue: usize,
    pub session_ttl: i64,
    pub transaction_ttl: i64,
    /// Failed logins per account within `failure_window` before the lockout starts.
    pub max_failures: u32,
    pub failure_window: i64,
    /// Failed logins per IP address within `failure_window`.
    pub max_failures_per_ip: u32,
    /// Reverse proxies whose X-Forwarded-For is believed (exact addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Sign-ups per address within `signup_window`, and per minute overall.
    pub max_signups_per_ip: u32,
    pub signup_window: i64,
    pub max_signups_per_minute: u32,
    /// Live login transactions: per browser, per address, in all (oldest evicted).
    pub max_transactions_per_browser: usize,
    pub max_transactions_per_ip: usize,
    pub max_transactions: usize,
    /// Failed client authentications per client and address within 5 minutes.
    pub max_client_auth_failures: u32,
}

/// Limits of the HTTP server itself (slow clients, descriptors).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Open connections, in all (split across the workers).
    pub max_connections: usize,
    /// The whole request head must arrive within this time.
    pub header_timeout_secs: u64,
    /// The whole request body must arrive within this time (slow-POST defence).
    pub body_timeout_secs: u64,
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// SHA-256 of a bearer token required at /metrics.
    pub bearer_token_sha256: Option<SecretDigest>,
    /// Serve /metrics on this address instead of the main listener.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub name: ConnectionName,
    pub signup: bool,
    pub password_min_length: usize,
}

#[derive(Debug, Clone)]
pub struct Api {
    pub audience: String,
    pub name: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Public,
    Confidential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Branding {
    pub title: String,
    pub logo: Option<String>,
    pub primary_color: String,
    pub stylesheet: Option<String>,
    pub signup_heading: String,
}

/// A client secret is random, not a human password: we keep its SHA-256 only.
#[derive(Clone)]
pub struct SecretDigest(pub [u8; 32]);

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest(<redacted>)")
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: ClientId,
    pub name: String,
    pub client_type: ClientType,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub connection: Option<ConnectionName>,
    pub grant_types: Vec<GrantType>,
    pub audience: Option<String>,
    pub branding: Branding,
    pub secret: Option<SecretDigest>,
    /// The APIs (audiences) this client may get tokens for (RFC 8707 2).
    pub apis: Vec<String>,
}

impl Client {
    pub fn allows(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }
    pub fn is_public(&self) -> bool {
        self.client_type == ClientType::Public
    }
}

#[derive(Debug, Clone)]
pub struct Playground {
    pub enabled: bool,
    /// The clients whose doors the playground opens (partner and customer in the demo).
    pub clients: Vec<ClientId>,
}

impl Playground {
    pub const CALLBACK_PATH: &'static str = "/playground/callback";
    pub const HOME_PATH: &'static str = "/playground";
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: Issuer,
    pub listen: String,
    pub data_dir: PathBuf,
    pub durability: crate::store::Durability,
    pub tokens: TokenSettings,
    pub login: LoginSettings,
    pub connections: Vec<Connection>,
    pub apis: Vec<Api>,
    pub clients: Vec<Client>,
    pub rules: RuleSet,
    pub playground: Playground,
    pub secrets: crate::secrets::SecretSource,
    pub server: ServerSettings,
    pub metrics: MetricsSettings,
    /// Audit events older than this many seconds are purged.
    pub audit_retention: i64,
    pub log_format: LogFormat,
    /// Non-fatal findings of `check` (risky but valid settings).
    pub warnings: Vec<Problem>,
}

impl Settings {
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id.as_str() == id)
    }
    pub fn connection(&self, name: &ConnectionName) -> Option<&Connection> {
        self.connections.iter().find(|c| &c.name == name)
    }
    pub fn api(&self, audience: &str) -> Option<&Api> {
        self.apis.iter().find(|a| a.audience == audience)
    }
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("portico.db")
    }
    /// Every scope a token may carry: OIDC's plus each API's.
    pub fn known_scope(&self, s: &str) -> bool {
        matches!(s, "openid" | "profile" | "email" | "offline_access")
            || self.apis.iter().any(|a| a.scopes.iter().any(|x| x == s))
    }
    pub fn supported_scopes(&self) -> Vec<String> {
        let mut v: Vec<String> = ["openid", "profile", "email", "offline_access"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for a in &self.apis {
            for s in &a.scopes {
                if !v.contains(s) {
                    v.push(s.clone());
                }
            }
        }
        v
    }
    /// Drop unknown scopes (interface.md: "Unknown scopes are dropped") and the scopes of
    /// every API but the token's audience: a token for one API never carries another's.
    pub fn granted_scopes(&self, requested: &Scopes, audience: Option<&str>) -> Scopes {
        let api = audience.and_then(|a| self.api(a));
        requested.retain(|s| {
            matches!(s, "openid" | "profile" | "email" | "offline_access")
                || api.is_some_and(|a| a.scopes.iter().any(|x| x == s))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Raw, as written in the file.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    signing_alg: Option<String>,
    access_token_ttl_secs: Option<i64>,
    id_token_ttl_secs: Option<i64>,
    refresh_token_ttl_secs: Option<i64>,
    code_ttl_secs: Option<i64>,
    max_refresh_families: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    hash_concurrency: Option<usize>,
    hash_queue: Option<usize>,
    session_ttl_secs: Option<i64>,
    transaction_ttl_secs: Option<i64>,
    max_failures: Option<u32>,
    failure_window_secs: Option<i64>,
    max_failures_per_ip: Option<u32>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    max_signups_per_ip: Option<u32>,
    signup_window_secs: Option<i64>,
    max_signups_per_minute: Option<u32>,
    max_transactions_per_browser: Option<usize>,
    max_transactions_per_ip: Option<usize>,
    max_transactions: Option<usize>,
    max_client_auth_failures: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    key_file: Option<String>,
    #[serde(default)]
    previous_key_files: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    max_connections: Option<usize>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    bearer_token_sha256: Option<String>,
    listen: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    retention_days: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    name: String,
    #[serde(default)]
    signup: bool,
    password_min_length: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    audience: String,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBranding {
    title: Option<String>,
    logo: Option<String>,
    primary_color: Option<String>,
    stylesheet: Option<String>,
    signup_heading: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    client_id: String,
    name: Option<String>,
    #[serde(rename = "type")]
    client_type: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    connection: Option<String>,
    grant_types: Option<Vec<String>>,
    audience: Option<String>,
    branding: Option<RawBranding>,
    client_secret: Option<String>,
    client_secret_sha256: Option<String>,
    apis: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    script: Option<String>,
    script_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    synchronous: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlayground {
    #[serde(default)]
    enabled: bool,
    clients: Option<Vec<String>>,
}

const TOP_KEYS: &[&str] = &[
    "issuer",
    "listen",
    "data_dir",
    "tokens",
    "login",
    "connection",
    "api",
    "client",
    "rule",
    "playground",
    "store",
    "secrets",
    "server",
    "metrics",
    "audit",
    "log",
];
const SECRETS_KEYS: &[&str] = &["key_file", "previous_key_files"];
const SERVER_KEYS: &[&str] = &[
    "max_connections",
    "header_timeout_secs",
    "body_timeout_secs",
];
const METRICS_KEYS: &[&str] = &["bearer_token_sha256", "listen"];
const AUDIT_KEYS: &[&str] = &["retention_days"];
const LOG_KEYS: &[&str] = &["format"];
/// Ceiling for every lifetime: keeps `now + ttl` far from overflow.
const MAX_TTL: i64 = 10 * 365 * 86_400;

const STORE_KEYS: &[&str] = &["synchronous"];
const TOKEN_KEYS: &[&str] = &[
    "signing_alg",
    "access_token_ttl_secs",
    "id_token_ttl_secs",
    "refresh_token_ttl_secs",
    "code_ttl_secs",
    "max_refresh_families",
];
const LOGIN_KEYS: &[&str] = &[
    "hash_concurrency",
    "hash_queue",
    "session_ttl_secs",
    "transaction_ttl_secs",
    "max_failures",
    "failure_window_secs",
    "max_failures_per_ip",
    "trusted_proxies",
    "max_signups_per_ip",
    "signup_window_secs",
    "max_signups_per_minute",
    "max_transactions_per_browser",
    "max_transactions_per_ip",
    "max_transactions",
    "max_client_auth_failures",
];
const CONNECTION_KEYS: &[&str] = &["name", "signup", "password_min_length"];
const API_KEYS: &[&str] = &["audience", "name", "scopes"];
const CLIENT_KEYS: &[&str] = &[
    "client_id",
    "name",
    "type",
    "redirect_uris",
    "post_logout_redirect_uris",
    "connection",
    "grant_types",
    "audience",
    "branding",
    "client_secret",
    "client_secret_sha256",
    "apis",
];
const BRANDING_KEYS: &[&str] = &[
    "title",
    "logo",
    "primary_color",
    "stylesheet",
    "signup_heading",
];
const RULE_KEYS: &[&str] = &["name", "script", "script_file"];
const PLAYGROUND_KEYS: &[&str] = &["enabled", "clients"];

/// Collects problems while the file is read.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn add(&mut self, entry: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            entry: entry.to_owned(),
            message: message.into(),
        });
    }

    /// Report and remove keys not in `known`, so serde then reports only type errors.
    fn unknown_keys(&mut self, entry: &str, table: &mut toml::Table, known: &[&str]) {
        let unknown: Vec<String> = table
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let hint = closest(&k, known)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            self.add(entry, format!("unknown key \"{k}\"{hint}"));
            table.remove(&k);
        }
    }

    fn section<T: for<'de> Deserialize<'de> + Default>(
        &mut self,
        root: &mut toml::Table,
        key: &str,
        known: &[&str],
    ) -> T {
        match root.remove(key) {
            None => T::default(),
            Some(toml::Value::Table(mut t)) => {
                self.unknown_keys(key, &mut t, known);
                self.typed(key, t).unwrap_or_default()
            }
            Some(_) => {
                self.add(key, "must be a table");
                T::default()
            }
        }
    }

    fn typed<T: for<'de> Deserialize<'de>>(&mut self, entry: &str, t: toml::Table) -> Option<T> {
        match T::deserialize(toml::Value::Table(t)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(entry, e.message().trim().to_owned());
                None
            }
        }
    }

    /// `[[name]]` arrays: each entry checked on its own so one bad entry hides nothing.
    fn entries<T: for<'de> Deserialize<'de>>(
        &mut self,
        root: &mut toml::Table,
        key: &str,
        id_key: &str,
        known: &[&str],
        nested: &[(&str, &[&str])],
    ) -> Vec<(String, T)> {
        let items = match root.remove(key) {
            None => return Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(_) => {
                self.add(key, format!("must be an array of tables ([[{key}]])"));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let toml::Value::Table(mut t) = item else {
                self.add(&format!("{key} #{}", i + 1), "must be a table");
                continue;
            };
            let label = match t.get(id_key).and_then(|v| v.as_str()) {
                Some(id) => format!("{key} \"{id}\""),
                None => format!("{key} #{}", i + 1),
            };
            self.unknown_keys(&label, &mut t, known);
            for (sub, sub_known) in nested {
                if let Some(toml::Value::Table(st)) = t.get_mut(*sub) {
                    let sub_label = format!("{label}: {sub}");
                    self.unknown_keys(&sub_label, st, sub_known);
                }
            }
            if let Some(v) = self.typed::<T>(&label, t) {
                out.push((label, v));
            }
        }
        out
    }
}

/// ` (did you mean "x"?)` when `name` is a near miss of one of `known`, else nothing.
pub fn did_you_mean(name: &str, known: &[&str]) -> String {
    closest(name, known)
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default()
}

/// A near miss for "did you mean": same keys except one typo.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn is_css_color(s: &str) -> bool {
    let hex = s.strip_prefix('#').unwrap_or("");
    matches!(hex.len(), 3 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Logos and stylesheets are URLs placed in attributes: a path on this server or an
/// https URL, with no characters that could break out of the attribute or CSS.
fn is_asset_url(s: &str) -> bool {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'(' | b')' | b'\\')
        });
    safe && ((s.starts_with('/') && !s.starts_with("//")) || s.starts_with("https://"))
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hi = (chunk[0] as char).to_digit(16)?;
        let lo = (chunk[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Environment overrides of the top-level keys (interface.md, Command line).
pub fn env_overrides() -> Vec<(&'static str, String)> {
    [
        ("issuer", "PORTICO_ISSUER"),
        ("listen", "PORTICO_LISTEN"),
        ("data_dir", "PORTICO_DATA_DIR"),
    ]
    .into_iter()
    .filter_map(|(k, var)| std::env::var(var).ok().map(|v| (k, v)))
    .collect()
}

/// Read, override from the environment, and validate.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.to_owned(),
        problems: vec![Problem {
            entry: String::new(),
            message: format!("cannot read the configuration file: {e}"),
        }],
    })?;
    parse(&text, path, &env_overrides())
}

/// Parse and validate configuration text; `path` locates `script_file`s and names errors.
pub fn parse(
    text: &str,
    path: &Path,
    overrides: &[(&str, String)],
) -> Result<Settings, ConfigError> {
    let fail = |problems| ConfigError {
        path: path.to_owned(),
        problems,
    };
    let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        fail(vec![Problem {
            entry: String::new(),
            message: format!("not valid TOML: {}", e.to_string().trim()),
        }])
    })?;
    for (k, v) in overrides {
        root.insert((*k).to_owned(), toml::Value::String(v.clone()));
    }
    let config_dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    let mut c = Checker {
        problems: Vec::new(),
    };
    c.unknown_keys("", &mut root, TOP_KEYS);
    let settings = validate(&mut c, &mut root, &config_dir);
    if c.problems.is_empty() {
        if let Some(s) = settings {
            return Ok(s);
        }
    }
    Err(fail(c.problems))
}

fn top_string(
    c: &mut Checker,
    root: &mut toml::Table,
    key: &str,
    default: Option<&str>,
) -> Option<String> {
    match root.remove(key) {
        Some(toml::Value::String(s)) => Some(s),
        Some(_) => {
            c.add(key, "must be a string");
            None
        }
        None => match default {
            Some(d) => Some(d.to_owned()),
            None => {
                c.add(key, "is required");
                None
            }
        },
    }
}

fn validate(c: &mut Checker, root: &mut toml::Table, config_dir: &Path) -> Option<Settings> {
    let issuer = top_string(c, root, "issuer", None).and_then(|s| match Issuer::parse(&s) {
        Ok(i) => Some(i),
        Err(e) => {
            c.add("issuer", e);
            None
        }
    });
    let listen = top_string(c, root, "listen", Some("127.0.0.1:8080"));
    if let Some(l) = &listen {
        let port_ok = l
            .rsplit_once(':')
            .map(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            .unwrap_or(false);
        if !port_ok {
            c.add("listen", format!("\"{l}\" must be host:port"));
        }
    }
    let data_dir = top_string(c, root, "data_dir", Some("data")).map(|d| {
        let p = PathBuf::from(d);
        if p.is_relative() {
            config_dir.join(p)
        } else {
            p
        }
    });

    let raw_store: RawStore = c.section(root, "store", STORE_KEYS);
    let durability = match raw_store.synchronous.as_deref() {
        None | Some("normal") => crate::store::Durability::Normal,
        Some("full") => crate::store::Durability::Full,
        Some(other) => {
            c.add(
                "store",
                format!("synchronous \"{other}\" must be \"normal\" or \"full\""),
            );
            crate::store::Durability::Normal
        }
    };

    let raw_tokens: RawTokens = c.section(root, "tokens", TOKEN_KEYS);
    let signing_alg = match raw_tokens.signing_alg.as_deref() {
        None => SigningAlg::Es256,
        Some(s) => SigningAlg::parse(s).unwrap_or_else(|| {
            c.add(
                "tokens",
                format!("signing_alg \"{s}\" is not one of ES256, RS256, EdDSA"),
            );
            SigningAlg::Es256
        }),
    };
    let mut ttl = |key: &str, v: Option<i64>, default: i64| {
        let v = v.unwrap_or(default);
        if v <= 0 || v > MAX_TTL {
            c.add(
                "tokens",
                format!("{key} must be between 1 and {MAX_TTL} seconds (10 years)"),
            );
            return default;
        }
        v
    };
    let tokens = TokenSettings {
        signing_alg,
        access_token_ttl: ttl(
            "access_token_ttl_secs",
            raw_tokens.access_token_ttl_secs,
            900,
        ),
        id_token_ttl: ttl("id_token_ttl_secs", raw_tokens.id_token_ttl_secs, 3600),
        refresh_token_ttl: ttl(
            "refresh_token_ttl_secs",
            raw_tokens.refresh_token_ttl_secs,
            2_592_000,
        ),
        code_ttl: ttl("code_ttl_secs", raw_tokens.code_ttl_secs, 60),
        max_refresh_families: raw_tokens.max_refresh_families.unwrap_or(20),
    };
    if !(1..=1_000_000).contains(&tokens.max_refresh_families) {
        c.add(
            "tokens",
            "max_refresh_families must be between 1 and 1000000",
        );
    }
    if tokens.code_ttl > 600 {
        c.add(
            "tokens",
            "code_ttl_secs must be at most 600 (RFC 6749 4.1.2)",
        );
    }

    let raw_login: RawLogin = c.section(root, "login", LOGIN_KEYS);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let login = LoginSettings {
        hash_concurrency: raw_login.hash_concurrency.unwrap_or(cores).max(1),
        hash_queue: raw_login.hash_queue.unwrap_or(64),
        session_ttl: raw_login.session_ttl_secs.unwrap_or(86_400),
        transaction_ttl: raw_login.transaction_ttl_secs.unwrap_or(900),
        max_failures: raw_login.max_failures.unwrap_or(10).max(1),
        failure_window: raw_login.failure_window_secs.unwrap_or(900),
        max_failures_per_ip: raw_login.max_failures_per_ip.unwrap_or(100).max(1),
        trusted_proxies: raw_login
            .trusted_proxies
            .iter()
            .filter_map(|p| match p.parse() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    c.add(
                        "login",
                        format!("trusted_proxies: \"{p}\" is not an IP address"),
                    );
                    None
                }
            })
            .map(crate::idp::throttle::normalise)
            .collect(),
        max_signups_per_ip: raw_login.max_signups_per_ip.unwrap_or(20).max(1),
        signup_window: raw_login.signup_window_secs.unwrap_or(3600),
        max_signups_per_minute: raw_login.max_signups_per_minute.unwrap_or(300).max(1),
        max_transactions_per_browser: raw_login.max_transactions_per_browser.unwrap_or(10).max(1),
        max_transactions_per_ip: raw_login.max_transactions_per_ip.unwrap_or(500).max(1),
        max_transactions: raw_login.max_transactions.unwrap_or(100_000).max(1),
        max_client_auth_failures: raw_login.max_client_auth_failures.unwrap_or(20).max(1),
    };
    for (key, v) in [
        ("session_ttl_secs", login.session_ttl),
        ("transaction_ttl_secs", login.transaction_ttl),
        ("failure_window_secs", login.failure_window),
        ("signup_window_secs", login.signup_window),
    ] {
        if v <= 0 || v > MAX_TTL {
            c.add(
                "login",
                format!("{key} must be between 1 and {MAX_TTL} seconds (10 years)"),
            );
        }
    }

    // Connections.
    let mut connections: Vec<Connection> = Vec::new();
    for (label, rc) in c.entries::<RawConnection>(root, "connection", "name", CONNECTION_KEYS, &[])
    {
        let name = match ConnectionName::parse(&rc.name) {
            Ok(n) => n,
            Err(e) => {
                c.add(&label, format!("name {e}"));
                continue;
            }
        };
        if connections.iter().any(|x| x.name == name) {
            c.add(&label, format!("duplicate connection name \"{name}\""));
            continue;
        }
        let min = rc.password_min_length.unwrap_or(10);
        if !(8..=128).contains(&min) {
            c.add(
                &label,
                "password_min_length must be between 8 and 128 (NIST SP 800-63B)",
            );
        }
        connections.push(Connection {
            name,
            signup: rc.signup,
            password_min_length: min,
        });
    }

    // APIs.
    let mut apis: Vec<Api> = Vec::new();
    for (label, ra) in c.entries::<RawApi>(root, "api", "audience", API_KEYS, &[]) {
        if ra.audience.trim().is_empty() || ra.audience.contains(char::is_whitespace) {
            c.add(&label, "audience must be a non-empty string without spaces");
            continue;
        }
        if apis.iter().any(|a| a.audience == ra.audience) {
            c.add(
                &label,
                format!("duplicate api audience \"{}\"", ra.audience),
            );
            continue;
        }
        for s in &ra.scopes {
            if s.is_empty()
                || s.contains(char::is_whitespace)
                || s.contains('"')
                || s.contains('\\')
            {
                c.add(
                    &label,
                    format!("scope \"{s}\" must be a non-empty token without spaces"),
                );
            }
            if matches!(
                s.as_str(),
                "openid" | "profile" | "email" | "offline_access"
            ) {
                c.add(
                    &label,
                    format!("scope \"{s}\" is reserved by OpenID Connect"),
                );
            }
        }
        apis.push(Api {
            name: ra.name.unwrap_or_else(|| ra.audience.clone()),
            audience: ra.audience,
            scopes: ra.scopes,
        });
    }

    // Clients.
    let mut clients: Vec<Client> = Vec::new();
    let mut seen_ids = HashSet::new();
    let nested: &[(&str, &[&str])] = &[("branding", BRANDING_KEYS)];
    for (label, rc) in c.entries::<RawClient>(root, "client", "client_id", CLIENT_KEYS, nested) {
        if let Some(client) = validate_client(c, &label, rc, &connections, &apis) {
            if !seen_ids.insert(client.client_id.clone()) {
                c.add(
                    &label,
                    format!("duplicate client_id \"{}\"", client.client_id),
                );
                continue;
            }
            clients.push(client);
        }
    }

    // Rules: compiled now, so a syntax error stops `check` and `serve`.
    let mut rule_sources = Vec::new();
    let mut rule_names = HashSet::new();
    for (label, rr) in c.entries::<RawRule>(root, "rule", "name", RULE_KEYS, &[]) {
        if !rule_names.insert(rr.name.clone()) {
            c.add(&label, format!("duplicate rule name \"{}\"", rr.name));
            continue;
        }
        let source = match (rr.script, rr.script_file) {
            (Some(s), None) => s,
            (None, Some(f)) => {
                let p = config_dir.join(&f);
                match std::fs::read_to_string(&p) {
                    Ok(s) => s,
                    Err(e) => {
                        c.add(&label, format!("script_file \"{f}\" cannot be read: {e}"));
                        continue;
                    }
                }
            }
            (Some(_), Some(_)) => {
                c.add(&label, "give either script or script_file, not both");
                continue;
            }
            (None, None) => {
                c.add(&label, "script or script_file is required");
                continue;
            }
        };
        rule_sources.push((label, rr.name, source));
    }
    let mut compiled: Vec<CompiledRule> = Vec::new();
    for (label, name, source) in rule_sources {
        match CompiledRule::compile(&name, &source) {
            Ok(r) => compiled.push(r),
            Err(e) => c.add(&label, format!("does not compile: {e}")),
        }
    }

    let raw_pg: RawPlayground = c.section(root, "playground", PLAYGROUND_KEYS);
    let pg_clients: Vec<ClientId> = match raw_pg.clients {
        Some(ids) => ids
            .iter()
            .filter_map(|id| match clients.iter().find(|x| x.client_id.as_str() == id) {
                Some(x) if x.is_public() && x.allows(GrantType::AuthorizationCode) => {
                    Some(x.client_id.clone())
                }
                Some(_) => {
                    c.add("playground", format!("client \"{id}\" must be a public client with the authorization_code grant"));
                    None
                }
                None => {
                    c.add("playground", format!("client \"{id}\" is not defined"));
                    None
                }
            })
            .collect(),
        // Never every public client by default: the playground's redirect URI is added
        // only to the clients named here, and `check` lists them.
        None => Vec::new(),
    };
    let playground = Playground {
        enabled: raw_pg.enabled,
        clients: pg_clients,
    };

    let issuer = issuer?;
    let data_dir = data_dir?;
    let extras = validate_extras(c, root, config_dir, &data_dir);
    let warnings = warnings(&issuer, &clients, &playground, &extras.metrics);
    // The playground is a relying party of this issuer: its callback is registered for
    // the clients it uses, visibly, instead of asking every deployment to list it.
    if playground.enabled {
        let cb = RedirectUri::parse(&issuer.join(Playground::CALLBACK_PATH)).ok()?;
        let home = RedirectUri::parse(&issuer.join(Playground::HOME_PATH)).ok()?;
        for client in clients.iter_mut() {
            if playground.clients.contains(&client.client_id) {
                if !client.redirect_uris.contains(&cb) {
                    client.redirect_uris.push(cb.clone());
                }
                if !client.post_logout_redirect_uris.contains(&home) {
                    client.post_logout_redirect_uris.push(home.clone());
                }
            }
        }
    }

    Some(Settings {
        issuer,
        listen: listen?,
        data_dir,
        durability,
        tokens,
        login,
        connections,
        apis,
        clients,
        rules: RuleSet::new(compiled),
        playground,
        secrets: extras.secrets,
        server: extras.server,
        metrics: extras.metrics,
        audit_retention: extras.audit_retention,
        log_format: extras.log_format,
        warnings,
    })
}

/// The sections of round 2's security work: secrets, server limits, metrics, audit, log.
struct Extras {
    secrets: crate::secrets::SecretSource,
    server: ServerSettings,
    metrics: MetricsSettings,
    audit_retention: i64,
    log_format: LogFormat,
}

fn validate_extras(
    c: &mut Checker,
    root: &mut toml::Table,
    config_dir: &Path,
    data_dir: &Path,
) -> Extras {
    let resolve = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_relative() {
            config_dir.join(p)
        } else {
            p
        }
    };
    let raw: RawSecrets = c.section(root, "secrets", SECRETS_KEYS);
    let secrets = crate::secrets::SecretSource {
        key_file: raw.key_file.as_deref().map(resolve),
        previous_key_files: raw.previous_key_files.iter().map(|p| resolve(p)).collect(),
        data_dir: data_dir.to_owned(),
    };

    let raw: RawServer = c.section(root, "server", SERVER_KEYS);
    let server = ServerSettings {
        max_connections: raw.max_connections.unwrap_or(10_000),
        header_timeout_secs: raw.header_timeout_secs.unwrap_or(5),
        body_timeout_secs: raw.body_timeout_secs.unwrap_or(10),
    };
    if !(16..=1_000_000).contains(&server.max_connections) {
        c.add("server", "max_connections must be between 16 and 1000000");
    }
    for (key, v) in [
        ("header_timeout_secs", server.header_timeout_secs),
        ("body_timeout_secs", server.body_timeout_secs),
    ] {
        if !(1..=300).contains(&v) {
            c.add("server", format!("{key} must be between 1 and 300 seconds"));
        }
    }

    let raw: RawMetrics = c.section(root, "metrics", METRICS_KEYS);
    let bearer_token_sha256 = raw.bearer_token_sha256.as_deref().and_then(|h| {
        let d = hex32(&h.to_ascii_lowercase()).map(SecretDigest);
        if d.is_none() {
            c.add(
                "metrics",
                "bearer_token_sha256 must be 64 hexadecimal characters",
            );
        }
        d
    });
    if let Some(l) = &raw.listen {
        if l.parse::<std::net::SocketAddr>().is_err() {
            c.add(
                "metrics",
                format!("listen \"{l}\" must be an address like 127.0.0.1:9090"),
            );
        }
    }
    let metrics = MetricsSettings {
        bearer_token_sha256,
        listen: raw.listen,
    };

    let raw: RawAudit = c.section(root, "audit", AUDIT_KEYS);
    let days = raw.retention_days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        c.add("audit", "retention_days must be between 1 and 3650");
    }

    let raw: RawLog = c.section(root, "log", LOG_KEYS);
    let log_format = match raw.format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            c.add(
                "log",
                format!("format \"{other}\" must be \"text\" or \"json\""),
            );
            LogFormat::Text
        }
    };
    Extras {
        secrets,
        server,
        metrics,
        audit_retention: days.clamp(1, 3650) * 86_400,
        log_format,
    }
}

fn is_loopback_host(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| {
            h == "localhost"
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

/// Valid but risky: `check` prints these, `serve` logs them.
fn warnings(
    issuer: &Issuer,
    clients: &[Client],
    playground: &Playground,
    metrics: &MetricsSettings,
) -> Vec<Problem> {
    let mut w = Vec::new();
    let mut add = |entry: &str, message: String| {
        w.push(Problem {
            entry: entry.to_owned(),
            message,
        })
    };
    let loopback = is_loopback_host(issuer.as_str());
    if !issuer.is_https() && !loopback {
        add(
            "issuer",
            format!("\"{issuer}\" is http on a non-loopback host: cookies are not Secure and tokens travel in clear; use https"),
        );
    }
    if !loopback && metrics.bearer_token_sha256.is_none() && metrics.listen.is_none() {
        add(
            "metrics",
            "/metrics is open to anyone who can reach the issuer; set [metrics] bearer_token_sha256 or listen".into(),
        );
    }
    if playground.enabled {
        let ids: Vec<&str> = playground.clients.iter().map(ClientId::as_str).collect();
        add(
            "playground",
            format!(
                "enabled: {} and {} are registered for {}",
                issuer.join(Playground::CALLBACK_PATH),
                issuer.join(Playground::HOME_PATH),
                if ids.is_empty() {
                    "no client".to_owned()
                } else {
                    ids.join(", ")
                }
            ),
        );
        if !loopback {
            add(
                "playground",
                "the demo relying party is on at a non-loopback issuer".into(),
            );
        }
    }
    for c in clients {
        for r in c
            .redirect_uris
            .iter()
            .filter(|r| r.as_str().starts_with("http://"))
        {
            if !is_loopback_host(r.as_str()) {
                add(
                    &format!("client \"{}\"", c.client_id),
                    format!("redirect URI \"{r}\" is http on a non-loopback host: codes travel in clear"),
                );
            }
        }
    }
    w
}

fn validate_client(
    c: &mut Checker,
    label: &str,
    rc: RawClient,
    connections: &[Connection],
    apis: &[Api],
) -> Option<Client> {
    let client_id = match ClientId::parse(&rc.client_id) {
        Ok(id) => id,
        Err(e) => {
            c.add(label, format!("client_id {e}"));
            return None;
        }
    };
    let client_type = match rc.client_type.as_str() {
        "public" => ClientType::Public,
        "confidential" => ClientType::Confidential,
        other => {
            c.add(
                label,
                format!("type \"{other}\" must be \"public\" or \"confidential\""),
            );
            return None;
        }
    };
    let grant_names = rc
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".to_owned(), "refresh_token".to_owned()]);
    let mut grant_types = Vec::new();
    for g in &grant_names {
        match GrantType::parse(g) {
            Some(gt) => grant_types.push(gt),
            None => c.add(
                label,
                format!("grant type \"{g}\" is not one of authorization_code, refresh_token, client_credentials"),
            ),
        }
    }
    let uses_code = grant_types.contains(&GrantType::AuthorizationCode);
    if client_type == ClientType::Public && grant_types.contains(&GrantType::ClientCredentials) {
        c.add(
            label,
            "a public client cannot use the client_credentials grant (it has no secret)",
        );
    }
    if grant_types.contains(&GrantType::RefreshToken) && !uses_code {
        c.add(
            label,
            "the refresh_token grant needs the authorization_code grant",
        );
    }

    let mut uris = |key: &str, list: &[String]| -> Vec<RedirectUri> {
        list.iter()
            .filter_map(|u| match RedirectUri::parse(u) {
                Ok(r) => Some(r),
                Err(e) => {
                    c.add(label, format!("{key}: {e}"));
                    None
                }
            })
            .collect()
    };
    let redirect_uris = uris("redirect_uris", &rc.redirect_uris);
    let post_logout_redirect_uris =
        uris("post_logout_redirect_uris", &rc.post_logout_redirect_uris);
    if uses_code && rc.redirect_uris.is_empty() {
        c.add(
            label,
            "redirect_uris must list at least one URI for the authorization_code grant",
        );
    }

    let connection = match rc.connection {
        Some(name) => match connections.iter().find(|x| x.name.as_str() == name) {
            Some(x) => Some(x.name.clone()),
            None => {
                c.add(label, format!("connection \"{name}\" is not defined"));
                None
            }
        },
        None => {
            if uses_code {
                c.add(
                    label,
                    "connection is required for the authorization_code grant",
                );
            }
            None
        }
    };
    if let Some(aud) = &rc.audience {
        if !apis.iter().any(|a| &a.audience == aud) {
            c.add(
                label,
                format!("audience \"{aud}\" is not defined by any [[api]]"),
            );
        }
    }
    // RFC 8707 2: the APIs this client may ask for; by default only its own audience.
    let client_apis = match rc.apis {
        Some(list) => {
            for a in &list {
                if !apis.iter().any(|x| &x.audience == a) {
                    let hint = closest(
                        a,
                        &apis.iter().map(|x| x.audience.as_str()).collect::<Vec<_>>(),
                    )
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
                    c.add(
                        label,
                        format!("apis: \"{a}\" is not defined by any [[api]]{hint}"),
                    );
                }
            }
            if let Some(aud) = &rc.audience {
                if !list.contains(aud) {
                    c.add(
                        label,
                        format!("apis must include the client's audience \"{aud}\""),
                    );
                }
            }
            list
        }
        None => rc.audience.iter().cloned().collect(),
    };

    let secret = match (client_type, rc.client_secret, rc.client_secret_sha256) {
        (ClientType::Public, None, None) => None,
        (ClientType::Public, _, _) => {
            c.add(label, "a public client must not have a client_secret");
            None
        }
        (ClientType::Confidential, None, None) => {
            c.add(
                label,
                "a confidential client needs client_secret_sha256 (or client_secret)",
            );
            None
        }
        (ClientType::Confidential, Some(_), Some(_)) => {
            c.add(
                label,
                "give client_secret or client_secret_sha256, not both",
            );
            None
        }
        (ClientType::Confidential, Some(plain), None) => {
            if plain.len() < 16 {
                c.add(label, "client_secret must be at least 16 characters");
            }
            Some(SecretDigest(crate::crypto::sha256(plain.as_bytes())))
        }
        (ClientType::Confidential, None, Some(hex)) => match hex32(&hex.to_ascii_lowercase()) {
            Some(d) => Some(SecretDigest(d)),
            None => {
                c.add(
                    label,
                    "client_secret_sha256 must be 64 hexadecimal characters",
                );
                None
            }
        },
    };

    let name = rc.name.unwrap_or_else(|| client_id.to_string());
    let rb = rc.branding.unwrap_or_default();
    let primary_color = rb.primary_color.unwrap_or_else(|| "#2f6f4f".to_owned());
    if !is_css_color(&primary_color) {
        c.add(
            label,
            format!("branding.primary_color \"{primary_color}\" must be a hex colour like #1f6feb"),
        );
    }
    for (key, v) in [("logo", &rb.logo), ("stylesheet", &rb.stylesheet)] {
        if let Some(v) = v {
            if !is_asset_url(v) {
                c.add(label, format!("branding.{key} \"{v}\" must be a path on this server (/static/...) or an https URL"));
            }
        }
    }
    let title = rb.title.unwrap_or_else(|| name.clone());
    let branding = Branding {
        signup_heading: rb
            .signup_heading
            .unwrap_or_else(|| format!("Create your {title} account")),
        title,
        logo: rb.logo,
        primary_color,
        stylesheet: rb.stylesheet,
    };

    Some(Client {
        client_id,
        name,
        client_type,
        redirect_uris,
        post_logout_redirect_uris,
        connection,
        grant_types,
        audience: rc.audience,
        branding,
        secret,
        apis: client_apis,
    })
}
