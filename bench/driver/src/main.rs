//! The benchmark driver behind `bench/run`: starts a release `portico serve` pinned to the
//! server core, measures every figure of the performance issue from the load core, checks
//! each against its target, prints a table and writes `target/bench/results.json`.
//!
//! Stateless figures (discovery, JWKS, client_credentials, introspection) are driven by
//! wrk; stateful ones (code exchange, refresh rotation, full password logins) by a small
//! closed-loop reqwest client that uses each prepared code or refresh token once and
//! records every latency. No timed assertions anywhere else: targets live here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod replicas;
mod round2;

type Res<T> = Result<T, String>;

const PASSWORD: &str = "bench-password-0123456789";
const WEB_CLIENT: &str = "bench-web";
const WEB_SECRET: &str = "bench-web-secret-0123456789";
const REDIRECT: &str = "http://localhost:9000/callback";
const WORKER_CLIENT: &str = "bench-worker";
const WORKER_SECRET: &str = "bench-worker-secret-0123456789";
const USERS: usize = 8;
const LOGIN_CONCURRENCY: usize = 8;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("argon2") => argon2_mode(&args[1..]),
        Some("run") => run_mode(&args[1..]),
        Some("bare") => round2::bare_mode(&args[1..]),
        _ => {
            eprintln!("usage: portico-bench run --repo DIR [--server-cpus 0] [--load-cpus 1]\n       portico-bench argon2 --threads N --secs S");
            2
        }
    };
    std::process::exit(code);
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// The argon2id bound: the same parameters and the same crate calls as the server's verify.

fn argon2() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(19_456, 2, 1, None).expect("OWASP parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Verify `password` against a PHC string in reused memory, as the server's hasher does
/// (the bound is pure argon2id compute: no allocation or page faults per hash).
fn verify_in(
    password: &[u8],
    h: &argon2::password_hash::phc::PasswordHash,
    memory: &mut Vec<argon2::Block>,
) -> bool {
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(h) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && out == expected.as_bytes()
}

fn argon2_mode(args: &[String]) -> i32 {
    use argon2::password_hash::phc::PasswordHash;
    use argon2::PasswordHasher;
    let threads: usize = flag(args, "--threads")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let secs: f64 = flag(args, "--secs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4.0);
    let stored = argon2()
        .hash_password(PASSWORD.as_bytes())
        .expect("hash")
        .to_string();
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (stored, done) = (stored.clone(), done.clone());
            std::thread::spawn(move || {
                let h = PasswordHash::new(&stored).expect("phc");
                let mut memory = Vec::new();
                while Instant::now() < deadline {
                    assert!(verify_in(PASSWORD.as_bytes(), &h, &mut memory));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "ARGON2 {}",
        json!({"threads": threads, "verifies": n, "secs": elapsed, "rate": n as f64 / elapsed})
    );
    0
}

// ---------------------------------------------------------------------------------------
// Results.

#[derive(Clone, Default)]
struct Figure {
    name: String,
    /// Requests (or logins) per second; for memory rows, MiB.
    value: f64,
    unit: &'static str,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    errors: u64,
    target: String,
    /// None: informational row.
    pass: Option<bool>,
    note: String,
}

impl Figure {
    fn json(&self) -> Value {
        json!({
            "name": self.name, "value": round2(self.value), "unit": self.unit,
            "p50_ms": self.p50_ms.map(round2), "p99_ms": self.p99_ms.map(round2),
            "errors": self.errors, "target": self.target,
            "result": match self.pass { Some(true) => "PASS", Some(false) => "FAIL", None => "info" },
            "note": self.note,
        })
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Latencies and errors of a closed-loop run.
#[derive(Default)]
struct Stats {
    lat_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    secs: f64,
}

impl Stats {
    fn ok(&self) -> usize {
        self.lat_us.len()
    }
    fn rate(&self) -> f64 {
        self.ok() as f64 / self.secs.max(1e-9)
    }
    fn pct_ms(&self, q: f64) -> Option<f64> {
        if self.lat_us.is_empty() {
            return None;
        }
        let mut v = self.lat_us.clone();
        v.sort_unstable();
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        Some(v[i] as f64 / 1000.0)
    }
    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e);
        }
    }
    fn merge(&mut self, o: Stats) {
        self.lat_us.extend(o.lat_us);
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

fn rate_figure(name: &str, s: &Stats, min_rate: f64, note: &str) -> Figure {
    let mut note = note.to_owned();
    if let Some(e) = &s.first_error {
        note = format!("{note}; first error: {e}");
    }
    Figure {
        name: name.into(),
        value: s.rate(),
        unit: "req/s",
        p50_ms: s.pct_ms(0.50),
        p99_ms: s.pct_ms(0.99),
        errors: s.errors,
        target: format!(">= {min_rate:.0}/s"),
        pass: Some(s.errors == 0 && s.ok() > 0 && s.rate() >= min_rate),
        note,
    }
}

// ---------------------------------------------------------------------------------------
// The server process.

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

#[derive(Clone)]
struct Env {
    repo: PathBuf,
    portico: PathBuf,
    out: PathBuf,
    server_cpus: Option<String>,
    port: u16,
    /// PostgreSQL instead of SQLite in the data directory (the replicas phase).
    store_url: Option<String>,
}

impl Env {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pinned(&self, cpus: Option<&str>, program: &Path) -> Command {
        match cpus {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    fn portico(&self, data: &Path) -> Command {
        let mut cmd = self.pinned(self.server_cpus.as_deref(), &self.portico);
        cmd.env("PORTICO_ISSUER", self.base())
            .env("PORTICO_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("PORTICO_DATA_DIR", data);
        if let Some(url) = &self.store_url {
            // Replicas share the database, so they share the secret that seals its keys.
            cmd.env("PORTICO_STORE_URL", url)
                .env("PORTICO_SECRET_KEY", "b".repeat(64));
        }
        cmd
    }

    fn create_users(&self, config: &Path, data: &Path) -> Res<()> {
        for i in 0..USERS {
            let mut child = self
                .portico(data)
                .args(["users", "create", "--connection", "bench-db", "--email"])
                .arg(email(i))
                .arg("--password-stdin")
                .arg("--config")
                .arg(config)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot run portico: {e}"))?;
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                let _ = writeln!(stdin, "{PASSWORD}");
            }
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "portico users create failed for {}: {}",
                    email(i),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(())
    }

    async fn start(&self, label: &str, config: &Path, data: &Path) -> Res<Server> {
        let log = std::fs::File::create(self.out.join(format!("server-{label}.log")))
            .map_err(|e| e.to_string())?;
        let child = self
            .portico(data)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start portico: {e}"))?;
        let mut server = Server {
            child,
            base: self.base(),
        };
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = server.child.try_wait() {
                return Err(format!(
                    "portico serve exited ({st}); see target/bench/server-{label}.log"
                ));
            }
            if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await {
                if r.status().as_u16() == 200 {
                    break;
                }
            }
            if Instant::now() > deadline {
                server.stop();
                return Err("portico serve did not become healthy in 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }
}

fn email(i: usize) -> String {
    format!("user{i}@bench.test")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .expect("reqwest client")
}

/// VmRSS and VmHWM of a process, in KiB.
fn mem_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------
// wrk.

struct WrkOut {
    requests: u64,
    secs: f64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
    error_text: Option<String>,
}

fn wrk(env: &Env, path: &str, body: Option<&str>, auth: Option<&str>, secs: u64) -> Res<WrkOut> {
    let conns = env_num("BENCH_CONNECTIONS", 16);
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--timeout",
            "5s",
            "-s",
        ])
        .arg(env.repo.join("bench/wrk/bench.lua"))
        .arg(format!("{}{}", env.base(), path))
        .env("WRK_BODY", body.unwrap_or(""))
        .env("WRK_AUTH", auth.unwrap_or(""))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WRK_JSON "))
        .ok_or_else(|| {
            format!(
                "no summary from wrk: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let errors = n("connect") + n("read") + n("write") + n("status") + n("timeout");
    Ok(WrkOut {
        requests: n("requests"),
        secs: n("duration_us") as f64 / 1e6,
        p50_us: n("p50_us"),
        p99_us: n("p99_us"),
        errors,
        error_text: (errors > 0).then(|| {
            format!(
                "wrk: {} connect, {} read, {} write, {} non-2xx/3xx, {} timeouts",
                n("connect"),
                n("read"),
                n("write"),
                n("status"),
                n("timeout")
            )
        }),
    })
}

/// A wrk figure: warm up, measure, check against the minimum rate.
fn wrk_figure(
    env: &Env,
    name: &str,
    path: &str,
    body: Option<&str>,
    auth: Option<&str>,
    min_rate: f64,
    note: &str,
) -> Figure {
    let secs = env_num("BENCH_SECS", 10);
    let _ = wrk(env, path, body, auth, 2);
    match wrk(env, path, body, auth, secs) {
        Ok(w) => {
            let rate = w.requests as f64 / w.secs.max(1e-9);
            let mut note = format!("{note}; wrk -t1 -c{}", env_num("BENCH_CONNECTIONS", 16));
            if let Some(e) = &w.error_text {
                note = format!("{note}; {e}");
            }
            Figure {
                name: name.into(),
                value: rate,
                unit: "req/s",
                p50_ms: Some(w.p50_us as f64 / 1000.0),
                p99_ms: Some(w.p99_us as f64 / 1000.0),
                errors: w.errors,
                target: format!(">= {min_rate:.0}/s"),
                pass: Some(w.errors == 0 && w.requests > 0 && rate >= min_rate),
                note,
            }
        }
        Err(e) => failed(name, &format!(">= {min_rate:.0}/s"), &e),
    }
}

fn failed(name: &str, target: &str, why: &str) -> Figure {
    Figure {
        name: name.into(),
        unit: "req/s",
        target: target.into(),
        pass: Some(false),
        errors: 1,
        note: why.into(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// HTTP flows.

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

struct Pkce {
    verifier: String,
    challenge: String,
}

static PKCE_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn pkce() -> Pkce {
    let n = PKCE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = format!("{n}-{:?}", Instant::now());
    let verifier = b64url(&Sha256::digest(seed.as_bytes()));
    let challenge = b64url(&Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn authorize_url(base: &str, p: &Pkce) -> String {
    let q = serde_urlencoded::to_string([
        ("client_id", WEB_CLIENT),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email offline_access bench:read"),
        ("state", "bench-state"),
        ("nonce", "bench-nonce"),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    format!("{base}/authorize?{q}")
}

fn location(r: &reqwest::Response) -> Res<String> {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("no Location (status {})", r.status()))
}

/// The value of the first Set-Cookie whose name starts with `prefix`, as `name=value`.
fn cookie(r: &reqwest::Response, prefix: &str) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|nv| nv.starts_with(prefix))
        .map(str::to_owned)
}

fn hidden(page: &str, name: &str) -> Res<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .ok_or_else(|| format!("no {name} field in the login page"))?
        + marker.len();
    Ok(page[start..].split('"').next().unwrap_or("").to_owned())
}

fn code_of(loc: &str) -> Res<String> {
    if !loc.starts_with(REDIRECT) {
        return Err(format!("unexpected redirect to {loc}"));
    }
    let q = loc.split_once('?').map(|(_, q)| q).unwrap_or("");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).map_err(|e| e.to_string())?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .ok_or_else(|| format!("no code in {loc}"))
}

/// A login form ready to be posted: GET /authorize, then the page it points at.
struct LoginForm {
    pkce: Pkce,
    browser_cookie: String,
    body: String,
}

async fn open_login(http: &reqwest::Client, base: &str, user: usize) -> Res<LoginForm> {
    let p = pkce();
    let r = http
        .get(authorize_url(base, &p))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().as_u16() != 303 {
        return Err(format!("GET /authorize: {}", r.status()));
    }
    let page_url = location(&r)?;
    let browser_cookie = cookie(&r, "portico_browser=").ok_or("no browser cookie")?;
    let page = http
        .get(format!("{base}{page_url}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if page.status().as_u16() != 200 {
        return Err(format!("GET {page_url}: {}", page.status()));
    }
    let page = page.text().await.map_err(|e| e.to_string())?;
    let body = serde_urlencoded::to_string([
        ("tx", hidden(&page, "tx")?),
        ("csrf", hidden(&page, "csrf")?),
        ("email", email(user)),
        ("password", PASSWORD.to_owned()),
    ])
    .map_err(|e| e.to_string())?;
    Ok(LoginForm {
        pkce: p,
        browser_cookie,
        body,
    })
}

async fn post_login(http: &reqwest::Client, base: &str, f: &LoginForm) -> Res<reqwest::Response> {
    http.post(format!("{base}/login"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::COOKIE, &f.browser_cookie)
        .body(f.body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())
}

/// POST /token; returns the JSON answer.
async fn token(http: &reqwest::Client, base: &str, body: String) -> Res<Value> {
    let r = http
        .post(format!("{base}/token"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(
            reqwest::header::AUTHORIZATION,
            basic(WEB_CLIENT, WEB_SECRET),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!(
            "POST /token: {status} {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn code_body(code: &str, verifier: &str) -> String {
    serde_urlencoded::to_string([
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ])
    .unwrap_or_default()
}

fn refresh_body(rt: &str) -> String {
    serde_urlencoded::to_string([("grant_type", "refresh_token"), ("refresh_token", rt)])
        .unwrap_or_default()
}

/// One full password login: authorize, page, POST /login (argon2id), POST /token.
async fn full_login(http: &reqwest::Client, base: &str, user: usize) -> Res<Value> {
    let f = open_login(http, base, user).await?;
    let r = post_login(http, base, &f).await?;
    if r.status().as_u16() != 303 {
        return Err(format!("POST /login: {}", r.status()));
    }
    let code = code_of(&location(&r)?)?;
    token(http, base, code_body(&code, &f.pkce.verifier)).await
}

/// Log in with the password once and keep the SSO session cookie.
async fn sso_session(http: &reqwest::Client, base: &str, user: usize) -> Res<String> {
    let f = open_login(http, base, user).await?;
    let r = post_login(http, base, &f).await?;
    if r.status().as_u16() != 303 {
        return Err(format!("POST /login: {}", r.status()));
    }
    cookie(&r, "portico_session_").ok_or_else(|| "no session cookie".into())
}

/// With an SSO session, /authorize answers with a code at once (no password hash).
async fn sso_code(http: &reqwest::Client, base: &str, session: &str) -> Res<(String, String)> {
    let p = pkce();
    let r = http
        .get(authorize_url(base, &p))
        .header(reqwest::header::COOKIE, session)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().as_u16() != 303 {
        return Err(format!("GET /authorize (SSO): {}", r.status()));
    }
    Ok((code_of(&location(&r)?)?, p.verifier))
}

// ---------------------------------------------------------------------------------------
// Closed-loop runners.

/// Use every item once with `concurrency` requests in flight; collect the outputs.
async fn each_once<T, O, F, Fut>(items: Vec<T>, concurrency: usize, f: F) -> (Stats, Vec<O>)
where
    T: Send + 'static,
    O: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Res<O>> + Send,
{
    let queue = Arc::new(Mutex::new(items.into_iter()));
    let f = Arc::new(f);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (queue, f) = (queue.clone(), f.clone());
        set.spawn(async move {
            let mut s = Stats::default();
            let mut outs = Vec::new();
            loop {
                let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                let Some(item) = next else { break };
                let t = Instant::now();
                match f(item).await {
                    Ok(o) => {
                        s.lat_us.push(t.elapsed().as_micros() as u64);
                        outs.push(o);
                    }
                    Err(e) => s.error(e),
                }
            }
            (s, outs)
        });
    }
    let mut total = Stats::default();
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((s, o)) => {
                total.merge(s);
                all.extend(o);
            }
            Err(e) => total.error(e.to_string()),
        }
    }
    total.secs = start.elapsed().as_secs_f64();
    (total, all)
}

/// Full logins at `concurrency` for `secs`; each worker loops until the deadline, worker
/// `w` against replica `w % bases.len()`.
async fn logins_for(bases: &[String], concurrency: usize, secs: f64) -> Stats {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let base = bases[w % bases.len()].clone();
        set.spawn(async move {
            let http = client();
            let mut s = Stats::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                match full_login(&http, &base, w % USERS).await {
                    Ok(_) => s.lat_us.push(t.elapsed().as_micros() as u64),
                    Err(e) => s.error(e),
                }
            }
            s
        });
    }
    let mut total = Stats::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(s) => total.merge(s),
            Err(e) => total.error(e.to_string()),
        }
    }
    total.secs = start.elapsed().as_secs_f64();
    total
}

// ---------------------------------------------------------------------------------------
// The run.

fn run_mode(args: &[String]) -> i32 {
    let repo = PathBuf::from(flag(args, "--repo").unwrap_or_else(|| ".".into()));
    let repo = repo.canonicalize().unwrap_or(repo);
    let env = Env {
        portico: repo.join("target/release/portico"),
        out: repo.join("target/bench"),
        server_cpus: flag(args, "--server-cpus").filter(|s| !s.is_empty()),
        port: env_num("BENCH_PORT", 18080) as u16,
        store_url: None,
        repo,
    };
    let load_cpus = flag(args, "--load-cpus").filter(|s| !s.is_empty());
    if let Err(e) = std::fs::create_dir_all(&env.out) {
        eprintln!("cannot create {}: {e}", env.out.display());
        return 2;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let mut figures = Vec::new();
    let mut info = BTreeMap::new();
    let outcome = rt.block_on(run(&env, load_cpus.as_deref(), &mut figures, &mut info));
    if let Err(e) = &outcome {
        eprintln!("\nbench aborted: {e}");
        figures.push(failed("harness", "completes", e));
    }
    info.insert(
        "total_secs".into(),
        json!(round2(started.elapsed().as_secs_f64())),
    );
    report(&env, &figures, &info)
}

fn say(msg: &str) {
    eprintln!("[bench] {msg}");
}

fn cpu_count(cpus: Option<&str>) -> usize {
    match cpus {
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        Some(list) => list
            .split(',')
            .map(|part| match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (usize, usize) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
                    b.saturating_sub(a) + 1
                }
                None => 1,
            })
            .sum(),
    }
}

/// `key = N` from the [login] table of the bench config (the only numbers we need).
fn config_number(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .map(str::trim)
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .and_then(|(_, v)| v.split('#').next()?.trim().parse().ok())
}

fn argon2_bound(env: &Env, cpus: Option<&str>, threads: usize) -> Res<f64> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = env
        .pinned(cpus, &me)
        .args(["argon2", "--threads", &threads.to_string(), "--secs", "4"])
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ARGON2 "))
        .ok_or_else(|| format!("argon2 measurement failed: {stdout}"))?;
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    v["rate"].as_f64().ok_or_else(|| "no rate".into())
}

async fn run(
    env: &Env,
    load_cpus: Option<&str>,
    figures: &mut Vec<Figure>,
    info: &mut BTreeMap<String, Value>,
) -> Res<()> {
    let secs = env_num("BENCH_SECS", 10);
    let concurrency = env_num("BENCH_CONCURRENCY", 8) as usize;
    let n_codes = env_num("BENCH_CODES", 20_000) as usize;
    let config = env.repo.join("bench/portico-bench.toml");
    let config_text =
        std::fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let hash_concurrency = config_number(&config_text, "hash_concurrency").unwrap_or(1);
    let hash_queue = config_number(&config_text, "hash_queue").unwrap_or(64);
    let server_cores = cpu_count(env.server_cpus.as_deref());

    info.insert("machine".into(), machine(env, load_cpus));
    info.insert("hash_concurrency".into(), json!(hash_concurrency));
    info.insert("hash_queue".into(), json!(hash_queue));

    // 1. The argon2id bound, before anything else runs: one thread on the server's core,
    //    and two threads on both cores.
    say("argon2id bound (m=19456, t=2, p=1): 1 and 2 threads");
    let one_cpu = env
        .server_cpus
        .as_deref()
        .map(|c| c.split([',', '-']).next().unwrap_or(c).to_owned());
    let bound1 = argon2_bound(env, one_cpu.as_deref(), 1)?;
    let both = match (&env.server_cpus, load_cpus) {
        (Some(s), Some(l)) => Some(format!("{s},{l}")),
        _ => None,
    };
    let bound2 = argon2_bound(env, both.as_deref(), 2)?;
    // The server can hash on min(hash_concurrency, its cores) threads at once.
    let hash_threads = (hash_concurrency as usize).min(server_cores).max(1);
    let (bound, why) = if hash_threads >= 2 {
        (bound2, format!("2-thread rate: the server has {server_cores} cores and hash_concurrency {hash_concurrency}"))
    } else {
        (bound1, format!(
            "1-thread rate: the server is pinned to {server_cores} core(s) with hash_concurrency {hash_concurrency}, so at most one hash runs at a time"
        ))
    };
    info.insert(
        "argon2id".into(),
        json!({
            "params": "m=19456,t=2,p=1",
            "rate_1_thread": round2(bound1), "rate_2_threads": round2(bound2),
            "bound_used": round2(bound), "bound_reason": why,
        }),
    );
    figures.push(Figure {
        name: "argon2id verify, 1 thread".into(),
        value: bound1,
        unit: "hash/s",
        note: "bound (measured in this run)".into(),
        ..Default::default()
    });
    figures.push(Figure {
        name: "argon2id verify, 2 threads".into(),
        value: bound2,
        unit: "hash/s",
        note: "bound (measured in this run)".into(),
        ..Default::default()
    });

    // 2. A fresh data directory with the bench users.
    let data = env.repo.join("target/bench-data");
    let _ = std::fs::remove_dir_all(&data);
    let es_data = data.join("es256");
    say("creating users");
    env.create_users(&config, &es_data)?;

    // 3. The ES256 server.
    say("starting the ES256 server");
    let mut server = env.start("es256", &config, &es_data).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle, _) = mem_kib(server.pid());
    let idle_limit = 16.0;
    figures.push(Figure {
        name: "idle RSS".into(),
        value: mib(idle),
        unit: "MiB",
        target: format!("<= {idle_limit:.0} MiB"),
        pass: Some(idle > 0 && mib(idle) <= idle_limit),
        note: "VmRSS 1 s after start".into(),
        ..Default::default()
    });

    let http = client();
    let cc_body = "grant_type=client_credentials&scope=bench%3Aread";
    let worker_auth = basic(WORKER_CLIENT, WORKER_SECRET);
    let check = http
        .post(format!("{}/token", server.base))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::AUTHORIZATION, &worker_auth)
        .body(cc_body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if check.status().as_u16() != 200 {
        return Err(format!("client_credentials answered {}", check.status()));
    }

    if phase("static") {
        static_phase(
            env,
            &server,
            one_cpu.as_deref(),
            cc_body,
            &worker_auth,
            figures,
            info,
        )
        .await?;
    }
    if phase("login") {
        let l = Limits {
            bound,
            hash_concurrency,
            hash_queue,
        };
        login_phase(&server, secs, &l, figures).await;
    }
    if phase("tokens") {
        token_phase(env, &server, &http, n_codes, concurrency, figures).await?;
    }
    let (rss_end, hwm_end) = mem_kib(server.pid());
    figures.push(Figure {
        name: "RSS after all ES256 figures".into(),
        value: mib(rss_end),
        unit: "MiB",
        note: "SQLite page caches of the pooled connections and the reused argon2 memory".into(),
        ..Default::default()
    });
    info.insert(
        "es256_server_rss_end_mib".into(),
        json!(round2(mib(rss_end))),
    );
    info.insert(
        "es256_server_hwm_end_mib".into(),
        json!(round2(mib(hwm_end))),
    );
    server.stop();

    if phase("rs256") {
        // RS256: a second server on its own data directory, and the raw OpenSSL bound.
        say("client_credentials RS256");
        if let Some(rate) = openssl_rsa_sign_rate(env, one_cpu.as_deref()) {
            info.insert("openssl_rsa2048_sign_per_s".into(), json!(round2(rate)));
            figures.push(Figure {
                name: "RSA-2048 sign, 1 core (openssl speed)".into(),
                value: rate,
                unit: "sign/s",
                note: "bound for RS256 on the server's core (measured in this run)".into(),
                ..Default::default()
            });
        }
        let rs_config = env.out.join("portico-bench-rs256.toml");
        let rs_text = config_text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("signing_alg") {
                    "signing_alg = \"RS256\""
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&rs_config, rs_text).map_err(|e| e.to_string())?;
        let mut rs = env.start("rs256", &rs_config, &data.join("rs256")).await?;
        figures.push(wrk_figure(
            env,
            "client_credentials RS256",
            "/token",
            Some(cc_body),
            Some(&worker_auth),
            2_500.0,
            "client_secret_basic, RSA 2048",
        ));
        rs.stop();
    }
    if phase("postgres") {
        replicas::postgres_phase(env, &config, load_cpus, figures, info).await?;
    }
    Ok(())
}

/// Discovery and JWKS against a bare actix-web server serving the same bytes and headers
/// on the same core; client_credentials against the one-core ES256 signing bound.
async fn static_phase(
    env: &Env,
    server: &Server,
    one_cpu: Option<&str>,
    cc_body: &str,
    worker_auth: &str,
    figures: &mut Vec<Figure>,
    info: &mut BTreeMap<String, Value>,
) -> Res<()> {
    say("bare actix-web (1 worker): discovery and JWKS bytes");
    let dir = env.out.join("bare");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let paths = [
        ("discovery", "/.well-known/openid-configuration"),
        ("jwks", "/.well-known/jwks.json"),
    ];
    for (name, path) in paths {
        let (headers, body) = round2::snapshot(&server.base, path).await?;
        let text: String = headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        std::fs::write(dir.join(format!("{name}.headers")), text).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("{name}.body")), body).map_err(|e| e.to_string())?;
    }
    let bare_env = Env {
        port: env.port + 19,
        ..env.clone()
    };
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut bare = bare_env
        .pinned(env.server_cpus.as_deref(), &me)
        .args(["bare", "--port", &bare_env.port.to_string(), "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the bare server: {e}"))?;
    let http = client();
    for _ in 0..200 {
        let up = http
            .get(format!("{}/.well-known/jwks.json", bare_env.base()))
            .send()
            .await
            .is_ok_and(|r| r.status().as_u16() == 200);
        if up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut bounds = Vec::new();
    for (name, path) in paths {
        let f = wrk_figure(
            &bare_env,
            &format!("bare actix-web: GET {name}"),
            path,
            None,
            None,
            0.0,
            "the bound: 1 worker, same bytes and headers, same core",
        );
        bounds.push(f.value);
        figures.push(Figure {
            pass: None,
            target: "-".into(),
            ..f
        });
    }
    let _ = bare.kill();
    let _ = bare.wait();
    say("GET discovery / JWKS / client_credentials ES256");
    for ((label, path), bound) in [("GET discovery", paths[0].1), ("GET JWKS", paths[1].1)]
        .into_iter()
        .zip(bounds)
    {
        let mut f = wrk_figure(env, label, path, None, None, 30_000.0, "prebuilt bytes");
        let min = 0.95 * bound;
        f.target = format!(">= {min:.0}/s (95% of bare actix)");
        f.note = format!(
            "{}; {:.0}% of bare actix ({bound:.0}/s)",
            f.note,
            100.0 * f.value / bound.max(1e-9)
        );
        f.pass = Some(f.errors == 0 && f.value >= min);
        figures.push(f);
    }
    let sign = round2::openssl_ecdsa_sign_rate(env, one_cpu);
    if let Some(rate) = sign {
        info.insert("openssl_ecdsa_p256_sign_per_s".into(), json!(round2(rate)));
        figures.push(Figure {
            name: "ECDSA P-256 sign, 1 core (openssl speed)".into(),
            value: rate,
            unit: "sign/s",
            note: "bound for client_credentials (one ES256 signature per token)".into(),
            ..Default::default()
        });
    }
    let min_cc = sign.map_or(8_000.0, |r| 0.5 * r);
    let mut f = wrk_figure(
        env,
        "client_credentials ES256",
        "/token",
        Some(cc_body),
        Some(worker_auth),
        min_cc,
        "client_secret_basic",
    );
    if let Some(rate) = sign {
        f.target = format!(">= {min_cc:.0}/s (50% of the sign bound)");
        f.note = format!(
            "{}; {:.0}% of the ES256 sign bound",
            f.note,
            100.0 * f.value / rate
        );
    }
    figures.push(f);
    Ok(())
}

/// `BENCH_ONLY=static,login,tokens,rs256,postgres` runs a subset (for profiling); default all.
fn phase(name: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(only) if !only.is_empty() => only.split(',').any(|p| p.trim() == name),
        _ => true,
    }
}

/// `openssl speed rsa2048` on the server's core: what RS256 signing alone allows.
fn openssl_rsa_sign_rate(env: &Env, cpu: Option<&str>) -> Option<f64> {
    let out = env
        .pinned(cpu, Path::new("openssl"))
        .args(["speed", "-seconds", "2", "rsa2048"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // A header names the columns ("sign verify sign/s verify/s"); the row adds "rsa 2048 bits".
    let header = text.lines().find(|l| l.contains("sign/s"))?;
    let col = header.split_whitespace().position(|c| c == "sign/s")?;
    let row = text
        .lines()
        .find(|l| l.starts_with("rsa") && l.contains("2048"))?;
    row.split_whitespace().nth(col + 3)?.parse().ok()
}

struct Limits {
    bound: f64,
    hash_concurrency: u64,
    hash_queue: u64,
}

/// Full password logins at concurrency 8 with memory sampled throughout, then the burst.
async fn login_phase(server: &Server, secs: u64, l: &Limits, figures: &mut Vec<Figure>) {
    say(&format!(
        "full password logins at concurrency {LOGIN_CONCURRENCY} for {secs} s"
    ));
    let bases = [server.base.clone()];
    let _ = logins_for(&bases, LOGIN_CONCURRENCY, 1.0).await; // warm-up
    let pid = server.pid();
    let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let peak = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let (rss, _) = mem_kib(pid);
                peak.fetch_max(rss as usize, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let logins = logins_for(&bases, LOGIN_CONCURRENCY, secs as f64).await;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let (rss_after, hwm) = mem_kib(pid);
    let sampled = peak.load(Ordering::Relaxed) as u64;
    let login_peak = if hwm_reset { hwm.max(sampled) } else { sampled };
    let min_login = 0.9 * l.bound;
    let p99 = logins.pct_ms(0.99).unwrap_or(f64::INFINITY);
    let mut f = rate_figure(
        &format!("password login c={LOGIN_CONCURRENCY}"),
        &logins,
        min_login,
        "authorize + page + POST /login + POST /token",
    );
    f.unit = "login/s";
    f.target = format!(">= {min_login:.1}/s (90% of {:.1}), p99 < 500 ms", l.bound);
    f.pass = Some(f.pass == Some(true) && p99 < 500.0);
    f.note = format!(
        "{}; {:.0}% of the argon2id bound",
        f.note,
        100.0 * logins.rate() / l.bound
    );
    figures.push(f);
    let mem_limit = 30.0 + 20.0 * l.hash_concurrency as f64;
    figures.push(Figure {
        name: "RSS under login load".into(),
        value: mib(login_peak),
        unit: "MiB",
        target: format!("<= {mem_limit:.0} MiB (30 + 20 x {} hash)", l.hash_concurrency),
        pass: Some(login_peak > 0 && mib(login_peak) <= mem_limit),
        note: format!(
            "peak of VmHWM (reset before the phase: {hwm_reset}) and VmRSS sampled every 20 ms; {:.1} MiB right after",
            mib(rss_after)
        ),
        ..Default::default()
    });
    figures.push(
        overload(
            &server.base,
            l.hash_concurrency as usize,
            l.hash_queue as usize,
        )
        .await,
    );
    // Sign-ups get a quarter of the hashing pool and queue (src/idp/hasher.rs: a flood of
    // anonymous sign-ups must never leave logins only 503s); more in flight are refused.
    let share = ((l.hash_concurrency + l.hash_queue) as usize / 4).max(1);
    say(&format!(
        "sign-ups at concurrency {share} (their share of the hashing queue) for {secs} s"
    ));
    let signups = round2::signups_for(&server.base, share, secs as f64).await;
    let min = 0.9 * l.bound;
    let mut f = rate_figure(
        &format!("sign-up c={share}"),
        &signups,
        min,
        "authorize + page + POST /signup (argon2id + zxcvbn) + POST /token",
    );
    f.unit = "signup/s";
    f.target = format!(">= {min:.1}/s (90% of {:.1})", l.bound);
    f.note = format!(
        "{}; {:.0}% of the argon2id bound",
        f.note,
        100.0 * signups.rate() / l.bound
    );
    figures.push(f);
}

/// `n` authorization codes minted through SSO (one password login per bench user).
async fn mint_codes(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    concurrency: usize,
) -> Res<(Stats, Vec<(String, String)>)> {
    let mut sessions = Vec::new();
    for u in 0..USERS {
        sessions.push(sso_session(http, base, u).await?);
    }
    let sessions = Arc::new(sessions);
    let (http, base) = (http.clone(), base.to_owned());
    let (mint, codes) = each_once((0..n).collect(), concurrency, move |i| {
        let (http, base, sessions) = (http.clone(), base.clone(), sessions.clone());
        async move { sso_code(&http, &base, &sessions[i % sessions.len()]).await }
    })
    .await;
    if mint.errors > 0 {
        return Err(format!(
            "minting codes failed: {}",
            mint.first_error.unwrap_or_default()
        ));
    }
    Ok((mint, codes))
}

/// Exchange every code once: the (refresh, access) tokens it bought.
async fn exchange_codes(
    http: &reqwest::Client,
    base: &str,
    codes: Vec<(String, String)>,
    concurrency: usize,
) -> (Stats, Vec<(String, String)>) {
    let (http, base) = (http.clone(), base.to_owned());
    each_once(codes, concurrency, move |(code, verifier)| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let v = token(&http, &base, code_body(&code, &verifier)).await?;
            let rt = v["refresh_token"]
                .as_str()
                .ok_or("no refresh_token")?
                .to_owned();
            let at = v["access_token"]
                .as_str()
                .ok_or("no access_token")?
                .to_owned();
            Ok((rt, at))
        }
    })
    .await
}

/// Rotate every refresh token once, token `i` on replica `i % bases.len()`.
async fn refresh_all(
    http: &reqwest::Client,
    bases: &[String],
    tokens: Vec<String>,
    concurrency: usize,
) -> Stats {
    refresh_all_keeping(http, bases, tokens, concurrency)
        .await
        .0
}

/// `refresh_all`, and the new refresh tokens (to rotate again).
async fn refresh_all_keeping(
    http: &reqwest::Client,
    bases: &[String],
    tokens: Vec<String>,
    concurrency: usize,
) -> (Stats, Vec<String>) {
    let (http, bases) = (http.clone(), Arc::new(bases.to_vec()));
    let items: Vec<(usize, String)> = tokens.into_iter().enumerate().collect();
    each_once(items, concurrency, move |(i, rt)| {
        let (http, bases) = (http.clone(), bases.clone());
        async move {
            let v = token(&http, &bases[i % bases.len()], refresh_body(&rt)).await?;
            v["refresh_token"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| "no refresh_token".to_owned())
        }
    })
    .await
}

/// Code exchange, refresh rotation and introspection, from prepared codes and tokens.
async fn token_phase(
    env: &Env,
    server: &Server,
    http: &reqwest::Client,
    n_codes: usize,
    concurrency: usize,
    figures: &mut Vec<Figure>,
) -> Res<()> {
    say(&format!(
        "preparing {n_codes} authorization codes through SSO"
    ));
    let (mint, codes) = mint_codes(http, &server.base, n_codes, concurrency).await?;
    let mut f = rate_figure(
        "SSO authorize (code minting)",
        &mint,
        0.0,
        "preparation: GET /authorize with a session cookie",
    );
    f.pass = None;
    f.target = "-".into();
    figures.push(f);

    say(&format!(
        "authorization code exchange: {} codes, {concurrency} in flight",
        codes.len()
    ));
    let (exchange, issued) = exchange_codes(http, &server.base, codes, concurrency).await;
    figures.push(rate_figure("authorization_code exchange", &exchange, 2_000.0, &format!("client_secret_basic + PKCE; ES256 access + ID token, refresh token; {concurrency} in flight")));

    say(&format!(
        "refresh rotation: {} tokens, {concurrency} in flight",
        issued.len()
    ));
    let access = issued.first().map(|(_, a)| a.clone());
    let tokens = issued.into_iter().map(|(r, _)| r).collect();
    let (refresh, rotated) = refresh_all_keeping(
        http,
        std::slice::from_ref(&server.base),
        tokens,
        concurrency,
    )
    .await;
    figures.push(rate_figure(
        "refresh_token rotation",
        &refresh,
        2_000.0,
        &format!("each token used once; {concurrency} in flight"),
    ));
    // The durability issue's figure: 32 in flight, FULL durability (group commit).
    say(&format!(
        "refresh rotation: {} tokens, 32 in flight",
        rotated.len()
    ));
    let (r32, _) = refresh_all_keeping(http, std::slice::from_ref(&server.base), rotated, 32).await;
    let baseline = std::env::var("BENCH_REFRESH_BASELINE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok());
    let min = baseline.map_or(0.0, |b| 3.0 * b);
    let mut f = rate_figure(
        "refresh_token rotation c=32",
        &r32,
        min,
        "each token used once; 32 in flight",
    );
    let p99 = r32.pct_ms(0.99).unwrap_or(f64::INFINITY);
    f.target = match baseline {
        Some(b) => format!(">= {min:.0}/s (3 x {b:.0}, NORMAL before), p99 <= 20 ms"),
        None => "p99 <= 20 ms".into(),
    };
    f.pass = Some(f.pass == Some(true) && p99 <= 20.0);
    figures.push(f);

    say("introspection");
    let Some(at) = access else {
        figures.push(failed(
            "introspection",
            ">= 10000/s",
            "no access token from the exchange",
        ));
        return Ok(());
    };
    let body = format!("token={at}");
    let web_auth = basic(WEB_CLIENT, WEB_SECRET);
    let r = http
        .post(format!("{}/introspect", server.base))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::AUTHORIZATION, &web_auth)
        .body(body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if v["active"] != json!(true) {
        figures.push(failed(
            "introspection",
            ">= 10000/s",
            &format!("token not active: {v}"),
        ));
    } else {
        figures.push(wrk_figure(
            env,
            "introspection",
            "/introspect",
            Some(&body),
            Some(&web_auth),
            10_000.0,
            "active ES256 access token, client_secret_basic",
        ));
    }
    Ok(())
}

/// Fire `4 x (hash_concurrency + hash_queue)` password POSTs at once: the pool admits
/// what it can queue, the rest must get a fast 503 with Retry-After.
async fn overload(base: &str, hash_concurrency: usize, hash_queue: usize) -> Figure {
    let burst = 4 * (hash_concurrency + hash_queue);
    say(&format!("overload: {burst} simultaneous password POSTs (pool {hash_concurrency} + queue {hash_queue})"));
    let name = format!("overload burst of {burst} logins");
    let target = "excess: 503 + Retry-After, p99 < 50 ms; admitted p99 < 1000 ms".to_owned();
    let http = client();
    let mut forms = Vec::new();
    for i in 0..burst {
        match open_login(&http, base, i % USERS).await {
            Ok(f) => forms.push(f),
            Err(e) => return failed(&name, &target, &e),
        }
    }
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut set = tokio::task::JoinSet::new();
    for f in forms {
        let (base, gate) = (base.to_owned(), gate.clone());
        set.spawn(async move {
            let http = client();
            gate.notified().await;
            let t = Instant::now();
            let r = post_login(&http, &base, &f).await;
            let us = t.elapsed().as_micros() as u64;
            match r {
                Ok(r) => (
                    r.status().as_u16(),
                    r.headers().contains_key(reqwest::header::RETRY_AFTER),
                    us,
                ),
                Err(_) => (0, false, us),
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    gate.notify_waiters();
    let (mut admitted, mut refused) = (Stats::default(), Stats::default());
    let mut other = Stats::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((303, _, us)) => admitted.lat_us.push(us),
            Ok((503, true, us)) | Ok((429, true, us)) => refused.lat_us.push(us),
            Ok((status, _, _)) => other.error(format!("status {status}")),
            Err(e) => other.error(e.to_string()),
        }
    }
    let refused_p99 = refused.pct_ms(0.99).unwrap_or(f64::INFINITY);
    let admitted_p99 = admitted.pct_ms(0.99).unwrap_or(0.0);
    let pass = other.errors == 0
        && !refused.lat_us.is_empty()
        && refused_p99 < 50.0
        && admitted_p99 < 1000.0;
    Figure {
        name,
        value: refused.ok() as f64,
        unit: "refused",
        p50_ms: refused.pct_ms(0.5),
        p99_ms: refused.pct_ms(0.99),
        errors: other.errors,
        target,
        pass: Some(pass),
        note: format!(
            "{} admitted (p50 {:.0} ms, p99 {:.0} ms), {} refused fast with Retry-After{}",
            admitted.ok(),
            admitted.pct_ms(0.5).unwrap_or(0.0),
            admitted_p99,
            refused.ok(),
            other
                .first_error
                .map(|e| format!("; unexpected: {e}"))
                .unwrap_or_default()
        ),
    }
}

fn machine(env: &Env, load_cpus: Option<&str>) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total = mem
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    json!({
        "cpu": model,
        "cpus": std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default().trim(),
        "kernel": kernel.trim(),
        "memory_gib": round2(mem_total as f64 / 1024.0 / 1024.0),
        "cpu_busy_at_start_pct": round2(cpu_busy_pct()),
        "server_cpus": env.server_cpus.clone().unwrap_or_else(|| "unpinned".into()),
        "load_cpus": load_cpus.unwrap_or("unpinned"),
    })
}

/// How busy all CPUs are over one second (other work on the machine skews the figures).
fn cpu_busy_pct() -> f64 {
    let sample = || -> (u64, u64) {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let v: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let total: u64 = v.iter().take(8).sum();
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        (total, idle)
    };
    let (t0, i0) = sample();
    std::thread::sleep(Duration::from_secs(1));
    let (t1, i1) = sample();
    let dt = t1.saturating_sub(t0).max(1);
    100.0 * (dt - i1.saturating_sub(i0).min(dt)) as f64 / dt as f64
}

fn report(env: &Env, figures: &[Figure], info: &BTreeMap<String, Value>) -> i32 {
    let fmt_ms = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
    let rows: Vec<[String; 7]> = figures
        .iter()
        .map(|f| {
            [
                f.name.clone(),
                format!("{:.1} {}", f.value, f.unit),
                fmt_ms(f.p50_ms),
                fmt_ms(f.p99_ms),
                f.errors.to_string(),
                f.target.clone(),
                match f.pass {
                    Some(true) => "PASS".into(),
                    Some(false) => "FAIL".into(),
                    None => "info".into(),
                },
            ]
        })
        .collect();
    let head = [
        "figure",
        "rate / value",
        "p50 ms",
        "p99 ms",
        "errors",
        "target",
        "result",
    ];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if (1..=4).contains(&i) {
                s.push_str(&format!(" {}{} |", " ".repeat(pad), c));
            } else {
                s.push_str(&format!(" {}{} |", c, " ".repeat(pad)));
            }
        }
        s
    };
    println!();
    if let Some(m) = info.get("machine") {
        let busy = m["cpu_busy_at_start_pct"].as_f64().unwrap_or(0.0);
        println!("machine: {} ({} CPUs online), kernel {}, server on CPU {}, load on CPU {}, CPUs {busy:.0}% busy before the run",
            m["cpu"].as_str().unwrap_or(""), m["cpus"].as_str().unwrap_or(""), m["kernel"].as_str().unwrap_or(""),
            m["server_cpus"].as_str().unwrap_or(""), m["load_cpus"].as_str().unwrap_or(""));
        if busy > 10.0 {
            println!(
                "warning: other work was running when the run started; it skews these figures"
            );
        }
    }
    if let Some(a) = info.get("argon2id") {
        println!(
            "argon2id bound used for logins: {:.1}/s ({})",
            a["bound_used"].as_f64().unwrap_or(0.0),
            a["bound_reason"].as_str().unwrap_or("")
        );
    }
    println!();
    println!("{}", line(&head.map(String::from)));
    println!("{}", line(&w.map(|n| "-".repeat(n))));
    for r in &rows {
        println!("{}", line(r));
    }
    println!();
    for f in figures.iter().filter(|f| !f.note.is_empty()) {
        println!("  {}: {}", f.name, f.note);
    }
    let failed: Vec<&str> = figures
        .iter()
        .filter(|f| f.pass == Some(false))
        .map(|f| f.name.as_str())
        .collect();
    let results = json!({
        "info": info,
        "figures": figures.iter().map(Figure::json).collect::<Vec<_>>(),
        "failed": failed,
    });
    let path = env.out.join("results.json");
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    ) {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
    if failed.is_empty() {
        println!("all targets met");
        0
    } else {
        println!("FAILED: {}", failed.join(", "));
        1
    }
}
