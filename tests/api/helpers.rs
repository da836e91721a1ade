//! spawn_app() and the helpers every test uses: a real server on port 0 with its own
//! temporary SQLite file, and a cookie-keeping HTTP client that does not follow redirects.

use std::net::TcpListener;
use std::path::PathBuf;

use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use portico::clock::Clock;
use portico::config;
use portico::startup::Application;
use portico::state::AppState;
use reqwest::header::LOCATION;
use reqwest::Response;
use serde_json::Value;
use tempfile::TempDir;

/// The configuration every test server starts from; `{EXTRA}` takes per-test additions.
pub const BASE_CONFIG: &str = r##"
issuer = "{ISSUER}"
listen = "127.0.0.1:0"
data_dir = "{DATA}"

[tokens]
signing_alg = "{ALG}"
access_token_ttl_secs = 900
id_token_ttl_secs = 3600
refresh_token_ttl_secs = 86400
code_ttl_secs = 60

[login]
{LOGIN}

[[connection]]
name = "customers-db"
signup = true
password_min_length = 10

[[connection]]
name = "partners-db"
signup = true
password_min_length = 10

[[connection]]
name = "staff-db"
signup = false

[[api]]
audience = "https://api.example.com"
name = "Orders API"
scopes = ["orders:read", "orders:write"]

[[api]]
audience = "https://billing.example.com"
name = "Billing API"
scopes = ["billing:read"]

[[client]]
client_id = "customers-web"
name = "Acme for customers"
type = "public"
redirect_uris = ["http://localhost:3000/callback"]
post_logout_redirect_uris = ["http://localhost:3000/"]
connection = "customers-db"
grant_types = ["authorization_code", "refresh_token"]
audience = "https://api.example.com"
apis = ["https://api.example.com", "https://billing.example.com"]
[client.branding]
title = "Acme customers"
logo = "/static/brands/customers.svg"
primary_color = "#1f6feb"
stylesheet = "/static/brands/customers.css"
signup_heading = "Sign up as a customer"

[[client]]
client_id = "partners-web"
name = "Acme partner network"
type = "public"
redirect_uris = ["http://localhost:4000/callback"]
post_logout_redirect_uris = ["http://localhost:4000/"]
connection = "partners-db"
grant_types = ["authorization_code", "refresh_token"]
audience = "https://api.example.com"
[client.branding]
title = "Acme partner network"
logo = "/static/brands/partners.svg"
primary_color = "#7c3aed"
signup_heading = "Sign up as a partner"

[[client]]
client_id = "customers-admin"
name = "Customer admin console"
type = "public"
redirect_uris = ["http://localhost:3001/callback"]
connection = "customers-db"
grant_types = ["authorization_code"]

[[client]]
client_id = "staff-web"
type = "public"
redirect_uris = ["http://localhost:6000/callback"]
connection = "staff-db"
grant_types = ["authorization_code"]

[[client]]
client_id = "backend-app"
name = "Back office"
type = "confidential"
client_secret = "backend-secret-0123456789"
redirect_uris = ["http://localhost:5000/cb"]
post_logout_redirect_uris = ["http://localhost:5000/bye"]
connection = "customers-db"
grant_types = ["authorization_code", "refresh_token"]
audience = "https://api.example.com"

[[client]]
client_id = "orders-worker"
type = "confidential"
client_secret = "worker-secret-0123456789"
grant_types = ["client_credentials"]
audience = "https://api.example.com"

{EXTRA}
"##;

/// Roles follow from the door, and both doors are in the playground.
pub const PLAYGROUND: &str = r#"
[[rule]]
name = "role-from-client"
script = '''
switch event.client.id {
    "partners-web" => api.add_role("partner"),
    "customers-web" => api.add_role("customer"),
}
'''

[playground]
enabled = true
clients = ["partners-web", "customers-web"]
"#;

pub const PASSWORD: &str = "a-long-unusual-passphrase";

/// A browser: its own cookie jar, redirects not followed.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

pub struct TestApp {
    pub browser: Browser,
    pub base: String,
    pub state: web::Data<AppState>,
    pub config_path: PathBuf,
    _tmp: Option<TempDir>,
}

impl std::ops::Deref for TestApp {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

/// A client that follows no redirects and drops idle connections after a second, well
/// before the server's keep-alive (5 s) closes them: a POST sent on a connection the
/// server is closing at that instant fails with IncompleteMessage and is not retried.
pub fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(1))
}

pub fn new_http() -> reqwest::Client {
    http_builder().cookie_store(true).build().unwrap()
}

/// The standard test server: BASE_CONFIG, ES256, a fresh data directory.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// A PostgreSQL server for the tests (`.ci/pg-cluster`): its URL, from
/// PORTICO_TEST_POSTGRES. Without it the PostgreSQL tests skip, unless
/// PORTICO_REQUIRE_POSTGRES is set (CI), where that is a failure.
pub fn postgres_server() -> Option<String> {
    match std::env::var("PORTICO_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("PORTICO_REQUIRE_POSTGRES").is_some() => {
            panic!("PORTICO_TEST_POSTGRES is not set but PORTICO_REQUIRE_POSTGRES is")
        }
        _ => None,
    }
}

/// The backend ordinary tests run on: PORTICO_TEST_BACKEND=postgres runs the whole
/// suite on PostgreSQL (CI runs it both ways).
fn postgres_by_default() -> bool {
    std::env::var("PORTICO_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// A fresh database on the test server; its URL.
pub fn new_database(server: &str) -> String {
    let name = format!(
        "portico_{}",
        portico::crypto::random_id("")
            .to_lowercase()
            .replace(['-', '_'], "")
    );
    // The synchronous client runs its own runtime: not on the test's.
    let (server_url, create) = (server.to_owned(), format!("CREATE DATABASE {name}"));
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&server_url, postgres::NoTls).unwrap();
        admin.batch_execute(&create).unwrap();
    })
    .join()
    .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// How a test server is made: the one way to start one.
pub struct TestAppBuilder {
    extra: String,
    login: Vec<String>,
    alg: String,
    reuse: Option<TempDir>,
    demo: bool,
    postgres: Option<bool>,
    /// A given database and server secret (replicas of one deployment).
    shared: Option<(String, PathBuf)>,
    issuer: Option<String>,
    /// Dotted keys set on the demo configuration (as the environment would).
    demo_overrides: Vec<(&'static str, String)>,
    /// A listener bound beforehand (its address goes into another server's config).
    listener: Option<TcpListener>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            extra: String::new(),
            login: Vec::new(),
            alg: "ES256".into(),
            reuse: None,
            demo: false,
            postgres: None,
            shared: None,
            issuer: None,
            demo_overrides: Vec::new(),
            listener: None,
        }
    }
}

impl TestAppBuilder {
    /// Configuration appended to BASE_CONFIG (more clients, rules, sections).
    pub fn extra(mut self, text: &str) -> Self {
        self.extra.push_str(text);
        self.extra.push('\n');
        self
    }

    /// `[login]` settings (`max_failures_per_ip` defaults to 1000 in tests).
    pub fn login(mut self, lines: &str) -> Self {
        self.login.extend(lines.lines().map(str::to_owned));
        self
    }

    /// X-Forwarded-For believed from loopback, so one test speaks from many addresses.
    pub fn behind_proxy(self) -> Self {
        self.login("trusted_proxies = [\"127.0.0.1\"]")
    }

    pub fn alg(mut self, alg: &str) -> Self {
        self.alg = alg.to_owned();
        self
    }

    /// Start on the data directory of an earlier server (restarts).
    pub fn reuse(mut self, dir: Option<TempDir>) -> Self {
        self.reuse = dir;
        self
    }

    /// The repository's own demo configuration (`portico.toml`: both branded doors with
    /// their stylesheets, the demo rules, the playground), read in place so its
    /// `script_file`s resolve as shipped.
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// The demo's mail through this SMTP relay instead of its outbox.
    pub fn demo_smtp(mut self, url: &str) -> Self {
        self.demo_overrides
            .push(("email.transport", "smtp".to_owned()));
        self.demo_overrides.push(("email.smtp_url", url.to_owned()));
        self
    }

    /// Serve on this listener (bound beforehand, so its URL can go into another
    /// server's configuration first).
    pub fn listener(mut self, l: TcpListener) -> Self {
        self.listener = Some(l);
        self
    }

    /// SQLite whatever PORTICO_TEST_BACKEND says (a test of SQLite itself).
    pub fn sqlite(mut self) -> Self {
        self.postgres = Some(false);
        self
    }

    /// A replica of a deployment: this PostgreSQL database and this server secret.
    pub fn replica_of(mut self, database: &str, key_file: &std::path::Path) -> Self {
        self.shared = Some((database.to_owned(), key_file.to_owned()));
        self
    }

    /// The issuer all replicas of a deployment share (the server still listens on its
    /// own port).
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// The `[store]`/`[secrets]` lines for PostgreSQL: a database of this test (kept in
    /// the data directory, so a restart with `reuse` finds it) and a shared secret.
    fn postgres_lines(&self, dir: &std::path::Path) -> Option<String> {
        if let Some((url, key)) = &self.shared {
            return Some(format!(
                "[store]\nurl = \"{url}\"\n[secrets]\nkey_file = \"{}\"\n",
                key.display()
            ));
        }
        if !self.postgres.unwrap_or_else(postgres_by_default) {
            return None;
        }
        let remembered = dir.join("postgres-url");
        let url = match std::fs::read_to_string(&remembered) {
            Ok(u) => u,
            Err(_) => {
                let u = new_database(&postgres_server()?);
                std::fs::write(&remembered, &u).unwrap();
                u
            }
        };
        let key = dir.join("replicas.key");
        if !key.exists() {
            std::fs::write(
                &key,
                portico::crypto::hex(&portico::crypto::sha256(url.as_bytes())),
            )
            .unwrap();
        }
        Some(format!(
            "[store]\nurl = \"{url}\"\n[secrets]\nkey_file = \"{}\"\n",
            key.display()
        ))
    }

    fn login_section(&self) -> String {
        let mut lines = self.login.clone();
        if !lines.iter().any(|l| l.starts_with("max_failures_per_ip")) {
            lines.push("max_failures_per_ip = 1000".into());
        }
        lines.join("\n")
    }

    pub async fn spawn(mut self) -> TestApp {
        let tmp = self
            .reuse
            .take()
            .unwrap_or_else(|| tempfile::tempdir().unwrap());
        let listener = self
            .listener
            .take()
            .unwrap_or_else(|| TcpListener::bind("127.0.0.1:0").unwrap());
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let data = tmp.path().join("data").display().to_string();
        let (settings, config_path) = if self.demo {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("portico.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut overrides = vec![
                ("issuer", base.clone()),
                ("listen", "127.0.0.1:0".to_owned()),
                ("data_dir", data),
            ];
            overrides.extend(self.demo_overrides.iter().map(|(k, v)| (*k, v.clone())));
            (config::parse(&text, &path, &overrides), path)
        } else {
            let extra = match self.postgres_lines(tmp.path()) {
                Some(pg) => format!("{}\n{pg}", self.extra),
                None => self.extra.clone(),
            };
            let issuer = self.issuer.clone().unwrap_or_else(|| base.clone());
            let text = BASE_CONFIG
                .replace("{ISSUER}", &issuer)
                .replace("{DATA}", &data)
                .replace("{ALG}", &self.alg)
                .replace("{LOGIN}", &self.login_section())
                .replace("{EXTRA}", &extra);
            let path = tmp.path().join("portico.toml");
            std::fs::write(&path, &text).unwrap();
            (config::parse(&text, &path, &[]), path)
        };
        let settings = settings.unwrap_or_else(|e| panic!("{e}"));
        launch(settings, listener, base, config_path, tmp).await
    }
}

/// Start the server on its listener and keep what the tests need.
async fn launch(
    settings: portico::config::Settings,
    listener: TcpListener,
    base: String,
    config_path: PathBuf,
    tmp: TempDir,
) -> TestApp {
    let app = Application::build_on(settings, Clock::default(), listener)
        .await
        .unwrap();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        browser: Browser {
            http: new_http(),
            base: base.clone(),
        },
        base,
        state,
        config_path,
        _tmp: Some(tmp),
    }
}

impl TestApp {
    /// A second browser with an empty cookie jar.
    pub fn new_browser(&self) -> Browser {
        Browser {
            http: new_http(),
            base: self.base.clone(),
        }
    }

    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }

    /// A browser behind a trusted proxy that says it is `ip` (X-Forwarded-For): the
    /// server must list 127.0.0.1 in `[login] trusted_proxies`.
    pub fn browser_at(&self, ip: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Browser {
            http: http_builder()
                .cookie_store(true)
                .default_headers(headers)
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    /// Like `browser_at`, but keeping no cookies: every request a new browser.
    pub fn anonymous_at(&self, ip: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Browser {
            http: http_builder().default_headers(headers).build().unwrap(),
            base: self.base.clone(),
        }
    }

    /// One number from the store, e.g. `select count(*) from sessions`.
    pub async fn scalar(&self, sql: &'static str) -> i64 {
        self.state
            .idp
            .store
            .read(move |db| db.scalar(sql, &[]))
            .await
            .unwrap()
    }

    /// Give up the temporary directory (to start another server on the same data).
    pub fn into_dir(mut self) -> TempDir {
        self._tmp.take().unwrap()
    }

    /// Audit event kinds recorded so far.
    pub async fn audit_kinds(&self) -> Vec<String> {
        self.state
            .idp
            .store
            .read(|c| portico::store::audit::kinds_since(c, 0))
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// Create a user directly in the store (what `portico users create` does).
    pub async fn create_user(
        &self,
        connection: &str,
        email: &str,
        password: &str,
        roles: &[&str],
    ) -> String {
        let hash = portico::idp::hasher::hash_now(password).unwrap();
        let (c, e) = (
            connection.to_owned(),
            portico::domain::Email::parse(email).unwrap(),
        );
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        self.state
            .idp
            .store
            .write(move |db| portico::store::users::create(db, &c, &e, &hash, &roles, 0))
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = portico::crypto::random_token();
    let challenge = portico::crypto::b64url(&portico::crypto::sha256(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn redirect_of(client_id: &str) -> &'static str {
    match client_id {
        "customers-web" => "http://localhost:3000/callback",
        "partners-web" => "http://localhost:4000/callback",
        "customers-admin" => "http://localhost:3001/callback",
        "staff-web" => "http://localhost:6000/callback",
        "backend-app" => "http://localhost:5000/cb",
        "verified-web" => "http://localhost:7000/callback",
        "invite-web" => "http://localhost:8000/callback",
        "sso-web" => "http://localhost:9200/callback",
        other => panic!("no redirect for {other}"),
    }
}

/// A login transaction in progress: the page's hidden fields and the PKCE verifier.
pub struct Flow {
    pub client_id: String,
    pub redirect_uri: String,
    pub verifier: String,
    pub tx: String,
    pub csrf: String,
    pub page: String,
    pub page_url: String,
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location header (status {})", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query parameters of a redirect.
pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

/// The value of a hidden input in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in page:\n{page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        self.http.get(url).send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{}", self.base, path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// GET /authorize with PKCE and the standard parameters plus `extra`.
    pub async fn authorize(
        &self,
        client_id: &str,
        pkce: &Pkce,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut q: Vec<(&str, &str)> = vec![
            ("client_id", client_id),
            ("redirect_uri", redirect_of(client_id)),
            ("response_type", "code"),
            ("scope", "openid email offline_access orders:read"),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ];
        q.extend_from_slice(extra);
        let qs = serde_urlencoded::to_string(&q).unwrap();
        self.get(&format!("/authorize?{qs}")).await
    }

    /// Start a login: /authorize, then the page it sends us to.
    pub async fn begin(&self, client_id: &str, extra: &[(&str, &str)]) -> Flow {
        let p = pkce();
        let r = self.authorize(client_id, &p, extra).await;
        assert_eq!(r.status(), 303, "authorize should send us to the page");
        let page_url = location(&r);
        assert!(
            page_url.starts_with("/login?tx=") || page_url.starts_with("/signup?tx="),
            "{page_url}"
        );
        let page = self.get(&page_url).await.text().await.unwrap();
        Flow {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_of(client_id).to_owned(),
            verifier: p.verifier,
            tx: hidden(&page, "tx"),
            csrf: hidden(&page, "csrf"),
            page,
            page_url,
        }
    }

    pub async fn submit(
        &self,
        path: &str,
        f: &Flow,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.post_form(
            path,
            &[
                ("tx", &f.tx),
                ("csrf", &f.csrf),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    pub async fn login(&self, f: &Flow, email: &str, password: &str) -> reqwest::Response {
        self.submit("/login", f, email, password).await
    }

    pub async fn signup(&self, f: &Flow, email: &str, password: &str) -> reqwest::Response {
        self.submit("/signup", f, email, password).await
    }

    /// Sign up through a client and return the authorization code and its flow.
    pub async fn signup_code(&self, client_id: &str, email: &str) -> (String, Flow) {
        let f = self.begin(client_id, &[("screen_hint", "signup")]).await;
        let r = self.signup(&f, email, PASSWORD).await;
        assert_eq!(
            r.status(),
            303,
            "sign-up should redirect: {}",
            r.text().await.unwrap_or_default()
        );
        let loc = location(&r);
        let q = query_of(&loc);
        let code = q
            .get("code")
            .unwrap_or_else(|| panic!("no code in {loc}"))
            .clone();
        (code, f)
    }

    /// Log in through a client and return the authorization code and its flow.
    pub async fn login_code(&self, client_id: &str, email: &str, password: &str) -> (String, Flow) {
        let f = self.begin(client_id, &[]).await;
        let r = self.login(&f, email, password).await;
        assert_eq!(r.status(), 303, "login should redirect");
        let code = query_of(&location(&r)).get("code").expect("code").clone();
        (code, f)
    }

    /// POST /token as a public client redeeming a code.
    pub async fn exchange(&self, f: &Flow, code: &str) -> reqwest::Response {
        self.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &f.client_id),
                ("code", code),
                ("redirect_uri", &f.redirect_uri),
                ("code_verifier", &f.verifier),
            ],
        )
        .await
    }

    /// Sign up and exchange: the token response JSON.
    pub async fn signup_tokens(&self, client_id: &str, email: &str) -> serde_json::Value {
        let (code, f) = self.signup_code(client_id, email).await;
        let r = self.exchange(&f, &code).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

/// The claims of a JWT, unverified (tests check signatures elsewhere).
pub fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

// --- OAuth answers and token calls, shared by the token, logout and housekeeping tests ---

pub const API: &str = "https://api.example.com";

pub const WORKER: (&str, &str) = ("orders-worker", "worker-secret-0123456789");

pub const BACKEND: (&str, &str) = ("backend-app", "backend-secret-0123456789");

/// Assert an OAuth error answer (RFC 6749 5.2) with `status`; return its `error`.
pub async fn oauth_error(r: Response, status: u16) -> String {
    let headers = r.headers().clone();
    let got = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "unexpected status: {text}");
    let ct = headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("application/json"), "{ct}");
    assert_eq!(headers["cache-control"], "no-store");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    body["error"].as_str().unwrap().to_owned()
}

/// Assert a 200 token response and return its JSON.
pub async fn ok_json(r: Response) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// POST a form with HTTP Basic client authentication (client_secret_basic).
pub async fn post_basic(
    b: &Browser,
    path: &str,
    (id, secret): (&str, &str),
    form: &[(&str, &str)],
) -> Response {
    b.http
        .post(format!("{}{path}", b.base))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Introspect as the confidential backend-app.
pub async fn introspect(b: &Browser, token: &str) -> Value {
    let r = post_basic(b, "/introspect", BACKEND, &[("token", token)]).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    ok_json(r).await
}

pub async fn is_active(b: &Browser, token: &str) -> bool {
    introspect(b, token).await["active"].as_bool().unwrap()
}

pub async fn userinfo(b: &Browser, token: &str) -> Response {
    b.http
        .get(format!("{}/userinfo", b.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Assert a bearer-token refusal by /userinfo (RFC 6750 3.1).
pub async fn refused_by_userinfo(b: &Browser, token: &str) {
    let r = userinfo(b, token).await;
    let challenge = r
        .headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate challenge")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(oauth_error(r, 401).await, "invalid_token");
}

/// A refresh by a public client.
pub async fn refresh(b: &Browser, client_id: &str, rt: &str, extra: &[(&str, &str)]) -> Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", rt),
    ];
    form.extend_from_slice(extra);
    b.post_form("/token", &form).await
}

pub async fn revoke(b: &Browser, client_id: &str, token: &str) -> Response {
    b.post_form("/revoke", &[("client_id", client_id), ("token", token)])
        .await
}

pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
}

pub fn header_of(jwt: &str) -> Value {
    let h = URL_SAFE_NO_PAD
        .decode(jwt.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice(&h).unwrap()
}

pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

pub async fn jwks(b: &Browser) -> Value {
    b.get("/.well-known/jwks.json").await.json().await.unwrap()
}

/// Run the `portico` binary with `--config`: (success, stdout, stderr).
pub fn portico(args: &[&str], config: &std::path::Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
