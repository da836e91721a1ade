//! The durability issue's figures: sign-ups against the argon2id bound, refresh rotation
//! at 32 requests in flight (FULL durability, group commit), client_credentials against
//! the one-core ES256 signing bound, and discovery/JWKS against a bare actix-web server
//! (one worker, the same bytes and headers, the same core) started by this driver.

use super::*;

/// `openssl speed ecdsap256` on the server's core: what ES256 signing alone allows.
pub(crate) fn openssl_ecdsa_sign_rate(env: &Env, cpu: Option<&str>) -> Option<f64> {
    let out = env
        .pinned(cpu, Path::new("openssl"))
        .args(["speed", "-seconds", "2", "ecdsap256"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().find(|l| l.contains("sign/s"))?;
    let col = header.split_whitespace().position(|c| c == "sign/s")?;
    let row = text
        .lines()
        .find(|l| l.contains("ecdsa") && l.contains("nistp256"))?;
    // The row starts "256 bits ecdsa (nistp256)": four words before the header's columns.
    row.split_whitespace().nth(col + 4)?.parse().ok()
}

const SIGNUP_PASSWORD: &str = "plinth-quasar-marmalade-0427-bench";

/// One full sign-up: /authorize with screen_hint=signup, the page, POST /signup, and the
/// code exchanged. Each is a new account (an argon2id hash and a zxcvbn check).
async fn full_signup(http: &reqwest::Client, base: &str, n: usize) -> Res<()> {
    let p = pkce();
    let url = format!("{}&screen_hint=signup", authorize_url(base, &p));
    let r = http.get(url).send().await.map_err(|e| e.to_string())?;
    if r.status().as_u16() != 303 {
        return Err(format!("GET /authorize: {}", r.status()));
    }
    let page_url = location(&r)?;
    let browser_cookie = cookie(&r, "portico_browser=").ok_or("no browser cookie")?;
    let page = http
        .get(format!("{base}{page_url}"))
        .header(reqwest::header::COOKIE, &browser_cookie)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let body = serde_urlencoded::to_string([
        ("tx", hidden(&page, "tx")?),
        ("csrf", hidden(&page, "csrf")?),
        (
            "email",
            format!("signup-{n}-{}@bench.example", std::process::id()),
        ),
        ("password", SIGNUP_PASSWORD.to_owned()),
    ])
    .map_err(|e| e.to_string())?;
    let r = http
        .post(format!("{base}/signup"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::COOKIE, &browser_cookie)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().as_u16() != 303 {
        return Err(format!("POST /signup: {}", r.status()));
    }
    let code = code_of(&location(&r)?)?;
    token(http, base, code_body(&code, &p.verifier))
        .await
        .map(drop)
}

/// Sign-ups at `concurrency` for `secs`.
pub(crate) async fn signups_for(base: &str, concurrency: usize, secs: f64) -> Stats {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let counter = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (base, counter) = (base.to_owned(), counter.clone());
        set.spawn(async move {
            let http = client();
            let mut s = Stats::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                let n = counter.fetch_add(1, Ordering::Relaxed);
                match full_signup(&http, &base, n).await {
                    Ok(()) => s.lat_us.push(t.elapsed().as_micros() as u64),
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

/// The same bytes and headers Portico answers at `path`, for the bare server.
pub(crate) async fn snapshot(base: &str, path: &str) -> Res<Recorded> {
    let r = client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let headers = r
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "date" | "connection" | "transfer-encoding"
            )
        })
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = r.bytes().await.map_err(|e| e.to_string())?.to_vec();
    Ok((headers, body))
}

/// `portico-bench bare --port P --dir D`: a bare actix-web server, one worker, serving
/// D/discovery.* and D/jwks.* (headers and body) at Portico's two paths.
pub(crate) fn bare_mode(args: &[String]) -> i32 {
    let port: u16 = flag(args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(18099);
    let dir = PathBuf::from(flag(args, "--dir").unwrap_or_else(|| ".".into()));
    let load = |name: &str| -> Recorded {
        let headers =
            std::fs::read_to_string(dir.join(format!("{name}.headers"))).unwrap_or_default();
        let headers = headers
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (
            headers,
            std::fs::read(dir.join(format!("{name}.body"))).unwrap_or_default(),
        )
    };
    let discovery = Arc::new(load("discovery"));
    let jwks = Arc::new(load("jwks"));
    let system = actix_web::rt::System::new();
    let result = system.block_on(async move {
        actix_web::HttpServer::new(move || {
            let (d, j) = (discovery.clone(), jwks.clone());
            actix_web::App::new()
                .route(
                    "/.well-known/openid-configuration",
                    actix_web::web::get().to(move || answer(d.clone())),
                )
                .route(
                    "/.well-known/jwks.json",
                    actix_web::web::get().to(move || answer(j.clone())),
                )
        })
        .workers(1)
        .bind(("127.0.0.1", port))?
        .run()
        .await
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("bare server: {e}");
            2
        }
    }
}

/// An answer recorded from Portico: its headers and body.
type Recorded = (Vec<(String, String)>, Vec<u8>);

async fn answer(what: Arc<Recorded>) -> actix_web::HttpResponse {
    let mut res = actix_web::HttpResponse::Ok();
    for (k, v) in &what.0 {
        res.insert_header((k.as_str(), v.as_str()));
    }
    res.body(what.1.clone())
}
