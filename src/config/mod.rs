//! Typed settings: the TOML file of the contract, environment overrides, and every
//! validation problem collected at once so `portico check` can list them all. One file
//! per section; the known keys of each come from its serde struct (checker.rs).

mod apis;
mod checker;
mod clients;
mod connections;
mod email;
mod login;
mod operations;
mod playground;
mod rules;
mod store;
mod tokens;
mod warnings;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use checker::did_you_mean;
use checker::{known_keys, Checker};

pub use email::{EmailSettings, MailTransport};

use crate::domain::{ClientId, ConnectionName, Issuer, RedirectUri, Scopes, SigningAlg};
use crate::rules::RuleSet;

/// Ceiling for every lifetime: keeps `now + ttl` far from overflow.
const MAX_TTL: i64 = 10 * 365 * 86_400;

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
    /// Codes one SSO session may obtain per minute without a password.
    pub max_sso_per_minute: u32,
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
    pub signup: Signup,
    pub password_min_length: usize,
    pub email_verification: EmailVerification,
    /// "Forgot password?" on the login page (only with `[email]`).
    pub password_reset: bool,
    /// `kind = "oidc"`: users sign in at this upstream OpenID provider.
    pub upstream: Option<Upstream>,
}

/// An upstream OpenID provider Portico signs users in with (as a relying party).
#[derive(Clone)]
pub struct Upstream {
    /// Its issuer (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// Portico's client id there.
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub button_label: String,
    pub icon: Option<String>,
    /// Copy the upstream's `email_verified` (else upstream users are unverified here).
    pub trust_email: bool,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Who may create an account in a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    /// Anyone, on the sign-up page (`signup = "open"` or `true`).
    Open,
    /// Only with an invitation for that address and connection.
    Invite,
    /// Nobody: operators create users (`"off"` or `false`, the default).
    Off,
}

impl Connection {
    /// The sign-up form is offered to anyone (database connections).
    pub fn open_signup(&self) -> bool {
        self.signup == Signup::Open && self.upstream.is_none()
    }

    /// `"database"` or `"oidc"` (rules see it as `event.connection.kind`).
    pub fn kind(&self) -> &'static str {
        match self.upstream {
            Some(_) => "oidc",
            None => "database",
        }
    }
}

/// Whether a connection's users confirm their address by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    Off,
    /// A link is mailed after sign-up; login does not wait for it.
    Optional,
    /// Login and sign-up stop at "check your inbox" until the link is used.
    Required,
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
    /// The From of this client's mails (else `[email] from`).
    pub email_from: Option<lettre::message::Mailbox>,
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
    /// Where a finished reset or an accepted invitation sends the user to start a login
    /// (OIDC Core 4, third-party initiated login).
    pub initiate_login_uri: Option<String>,
    /// The admin API scopes this client may get (client_credentials only).
    pub admin_scopes: Vec<String>,
    /// Upstream connections its login page offers (a button each), in order.
    pub upstreams: Vec<ConnectionName>,
}

impl Client {
    /// Every connection of this client: the database one first, then the upstreams.
    pub fn all_connections(&self) -> impl Iterator<Item = &ConnectionName> {
        self.connection.iter().chain(self.upstreams.iter())
    }
}

/// The admin API's scopes (interface.md, Admin API).
pub const ADMIN_SCOPES: &[&str] = &[
    "admin:users:read",
    "admin:users:write",
    "admin:invitations",
    "admin:audit:read",
];

/// The admin API's path; its audience is `{issuer}` followed by this.
pub const ADMIN_PATH: &str = "/admin/v1";

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
    /// SQLite writes allowed to wait for the writer (`[store] write_queue`).
    pub write_queue: usize,
    /// PostgreSQL instead of SQLite (`[store] url`).
    pub store_url: Option<String>,
    pub tokens: TokenSettings,
    pub login: LoginSettings,
    pub connections: Vec<Connection>,
    pub apis: Vec<Api>,
    /// Shared, so a request can hold its client past a reload without copying it.
    pub clients: Vec<std::sync::Arc<Client>>,
    pub rules: RuleSet,
    pub playground: Playground,
    pub secrets: crate::secrets::SecretSource,
    pub server: ServerSettings,
    pub metrics: MetricsSettings,
    /// Account mail (`[email]`); none: no verification, no reset.
    pub email: Option<EmailSettings>,
    /// Audit events older than this many seconds are purged.
    pub audit_retention: i64,
    pub log_format: LogFormat,
    /// Non-fatal findings of `check` (risky but valid settings).
    pub warnings: Vec<Problem>,
    /// SHA-256 (hex) of the file and the environment overrides it was read with:
    /// `/healthz` shows it, so a rolling reload can be watched replica by replica.
    pub fingerprint: String,
    /// The origins (scheme://host[:port]) of every client's redirect URIs: the browser
    /// origins the token endpoints answer cross-origin (web::cors).
    pub origins: std::collections::HashSet<String>,
}

impl Settings {
    /// Where the store is: PostgreSQL at `[store] url`, else SQLite in `data_dir`.
    pub fn store_location(&self) -> crate::store::Location {
        match &self.store_url {
            Some(url) => crate::store::Location::Postgres { url: url.clone() },
            None => crate::store::Location::Sqlite {
                data_dir: self.data_dir.clone(),
                durability: self.durability,
                write_queue: self.write_queue,
            },
        }
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.shared_client(id).map(|c| &**c)
    }
    /// The client, to hold beyond this configuration's borrow (a reload may come).
    pub fn shared_client(&self, id: &str) -> Option<&std::sync::Arc<Client>> {
        self.clients.iter().find(|c| c.client_id.as_str() == id)
    }
    pub fn connection(&self, name: &ConnectionName) -> Option<&Connection> {
        self.connections.iter().find(|c| &c.name == name)
    }
    /// The admin API's audience: `{issuer}/admin/v1`.
    pub fn admin_audience(&self) -> String {
        self.issuer.join(ADMIN_PATH)
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

fn origins_of(clients: &[Client]) -> std::collections::HashSet<String> {
    clients
        .iter()
        .flat_map(|c| c.redirect_uris.iter())
        .filter_map(|u| url::Url::parse(u.as_str()).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .collect()
}

/// The admin API is an API of this issuer: its audience goes to the `apis` of the clients
/// that list `admin_scopes` (and to nobody else's).
fn admin_api(issuer: &Issuer, mut apis: Vec<Api>, clients: &mut [Client]) -> Vec<Api> {
    let audience = issuer.join(ADMIN_PATH);
    let mut any = false;
    for c in clients.iter_mut().filter(|c| !c.admin_scopes.is_empty()) {
        c.apis.push(audience.clone());
        any = true;
    }
    if any {
        apis.push(Api {
            audience,
            name: "Portico admin API".into(),
            scopes: ADMIN_SCOPES.iter().map(|s| s.to_string()).collect(),
        });
    }
    apis
}

/// The top-level keys (each section is checked by its own struct).
#[derive(Deserialize)]
#[allow(dead_code)]
struct RawTop {
    issuer: Option<toml::Value>,
    listen: Option<toml::Value>,
    data_dir: Option<toml::Value>,
    tokens: Option<toml::Value>,
    login: Option<toml::Value>,
    connection: Option<toml::Value>,
    api: Option<toml::Value>,
    client: Option<toml::Value>,
    rule: Option<toml::Value>,
    playground: Option<toml::Value>,
    store: Option<toml::Value>,
    secrets: Option<toml::Value>,
    server: Option<toml::Value>,
    metrics: Option<toml::Value>,
    audit: Option<toml::Value>,
    log: Option<toml::Value>,
    email: Option<toml::Value>,
}

/// Environment overrides of the top-level keys (interface.md, Command line).
pub fn env_overrides() -> Vec<(&'static str, String)> {
    [
        ("issuer", "PORTICO_ISSUER"),
        ("listen", "PORTICO_LISTEN"),
        ("data_dir", "PORTICO_DATA_DIR"),
        ("store.url", "PORTICO_STORE_URL"),
        ("email.smtp_url", "PORTICO_SMTP_URL"),
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
        match k.split_once('.') {
            // A key of a section: `store.url`.
            // PORTICO_SMTP_URL sets where mail goes, not whether: no [email], no mail.
            Some(("email", _)) if !root.contains_key("email") => {}
            Some((section, key)) => {
                let table = root
                    .entry(section.to_owned())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let Some(t) = table.as_table_mut() {
                    t.insert(key.to_owned(), toml::Value::String(v.clone()));
                }
            }
            None => {
                root.insert((*k).to_owned(), toml::Value::String(v.clone()));
            }
        }
    }
    let config_dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    let mut c = Checker {
        problems: Vec::new(),
    };
    c.unknown_keys("", &mut root, known_keys::<RawTop>());
    let settings = validate(&mut c, &mut root, &config_dir);
    if c.problems.is_empty() {
        if let Some(mut s) = settings {
            let mut digest = text.to_owned();
            for (k, v) in overrides {
                digest.push_str(&format!("\n{k}={v}"));
            }
            s.fingerprint = crate::crypto::hex(&crate::crypto::sha256(digest.as_bytes()));
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

    let store = store::parse(c, root);
    let tokens = tokens::parse(c, root);
    let login = login::parse(c, root);
    let has_email = root.contains_key("email");
    let email = match &data_dir {
        Some(d) => email::parse(c, root, d),
        None => None,
    };
    let connections = connections::parse(c, root, has_email);
    let apis = apis::parse(c, root);
    let mut clients = clients::parse(c, root, &connections, &apis);
    let rules = rules::parse(c, root, config_dir);
    let playground = playground::parse(c, root, &clients);
    let issuer = issuer?;
    let data_dir = data_dir?;
    let mut ops = operations::parse(c, root, config_dir, &data_dir);
    // Replicas share one database: they must share the server secret too (a secret
    // generated per data directory would differ on each).
    ops.secrets.allow_generated = store.url.is_none();
    let warnings = warnings::collect(&issuer, &clients, &playground, &ops.metrics);
    playground::register(&playground, &issuer, &mut clients);
    let apis = admin_api(&issuer, apis, &mut clients);
    Some(Settings {
        issuer,
        listen: listen?,
        data_dir,
        durability: store.durability,
        write_queue: store.write_queue,
        store_url: store.url,
        tokens,
        login,
        connections,
        apis,
        origins: origins_of(&clients),
        clients: clients.into_iter().map(std::sync::Arc::new).collect(),
        rules,
        playground,
        secrets: ops.secrets,
        server: ops.server,
        metrics: ops.metrics,
        email,
        audit_retention: ops.audit_retention,
        log_format: ops.log_format,
        warnings,
        fingerprint: String::new(),
    })
}
