//! The hosted pages in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver + fantoccini). Each test starts its own chromedriver on a free port with
//! a fresh Chromium profile, and leaves screenshots under target/screenshots/.
//!
//! Without /usr/bin/chromedriver the tests print a note and pass, unless
//! PORTICO_REQUIRE_BROWSER is set (to anything but 0; CI sets 1): then a missing browser fails them.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The longest any single page may take to show what we wait for (2 cores, tests in parallel).
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// A chromedriver we started, in its own process group together with the Chromium it
/// launches. Dropping it kills that group (the browser too, even after a panic) and
/// removes the profile directory.
pub(crate) struct Chromedriver {
    child: Child,
    url: String,
    _profile: TempDir,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group id is the child's pid (process_group(0)); only processes we started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Start chromedriver and a headless Chromium session, or `None` when the browser is not
/// installed and PORTICO_REQUIRE_BROWSER is not set.
pub(crate) async fn start_browser(test: &str) -> Option<(Chromedriver, Client)> {
    let missing: Vec<&str> = [CHROMEDRIVER, CHROMIUM]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        if std::env::var("PORTICO_REQUIRE_BROWSER").is_ok_and(|v| !v.is_empty() && v != "0") {
            panic!("PORTICO_REQUIRE_BROWSER is set but {missing:?} is missing (apt-get install chromium chromium-driver)");
        }
        eprintln!("note: {test} skipped: {missing:?} not installed (set PORTICO_REQUIRE_BROWSER=1 to fail instead)");
        return None;
    }

    let port = free_port();
    let profile = tempfile::tempdir().unwrap();
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("cannot start chromedriver")
    };
    let driver = Chromedriver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };

    // Wait until it answers /status with ready = true: 200 tries, 50 ms apart.
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = http
            .get(format!("{}/status", driver.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            if let Ok(v) = r.json::<serde_json::Value>().await {
                if v["value"]["ready"] == json!(true) {
                    ready = true;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "chromedriver on port {port} did not become ready");

    let user_data_dir = driver._profile.path().display().to_string();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                format!("--user-data-dir={user_data_dir}"),
            ],
        }),
    );
    let client = ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
    Some((driver, client))
}

/// Run a test body against the browser; whatever happens, save a screenshot of a failure
/// and end the WebDriver session before the panic goes on.
pub(crate) async fn drive<F, Fut>(test: &str, client: Client, body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(body(client.clone())).await;
    if outcome.is_err() {
        if let Ok(url) = client.current_url().await {
            eprintln!("{test} failed on {url}");
        }
        screenshot(&client, &format!("{test}-failure.png")).await;
    }
    let _ = client.close().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(p) => std::panic::resume_unwind(p),
            Err(e) => panic!("{test}: {e}"),
        }
    }
}

pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Save a PNG of the viewport under target/screenshots/.
pub(crate) async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).unwrap();
    path
}

pub(crate) async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(PAGE_WAIT)
        .every(Duration::from_millis(50))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| {
            panic!("no {css} on the page within {PAGE_WAIT:?}: {e}");
        })
}

/// Wait until the element's text is `want` (the page may still be on its way).
pub(crate) async fn wait_text(client: &Client, css: &str, want: &str) {
    let mut last = String::new();
    for _ in 0..300 {
        if let Ok(e) = client.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.trim() == want {
                    return;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} shows {last:?}, expected {want:?}");
}

/// The element's text content as written in the page (CSS text-transform aside).
pub(crate) async fn text_of(client: &Client, css: &str) -> String {
    find(client, css)
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Poll the current URL (a CDP-free way to see where a submit ended) until `pred` holds.
pub(crate) async fn wait_url(
    client: &Client,
    what: &str,
    pred: impl Fn(&url::Url) -> bool,
) -> url::Url {
    let mut last = None;
    for _ in 0..300 {
        if let Ok(u) = client.current_url().await {
            if pred(&u) {
                return u;
            }
            last = Some(u);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached {what}; it is on {last:?}");
}

pub(crate) async fn fill(client: &Client, css: &str, value: &str) {
    let input = find(client, css).await;
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

/// The /authorize URL a relying party sends the browser to (as Browser::authorize builds it).
pub(crate) fn authorize_url(base: &str, client_id: &str, state: &str, pkce: &Pkce) -> String {
    let q: Vec<(&str, &str)> = vec![
        ("client_id", client_id),
        ("redirect_uri", redirect_of(client_id)),
        ("response_type", "code"),
        ("scope", "openid email offline_access orders:read"),
        ("state", state),
        ("nonce", "n-browser"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ];
    format!(
        "{base}/authorize?{}",
        serde_urlencoded::to_string(&q).unwrap()
    )
}

struct BrandSeen {
    title: String,
    brand_title: String,
    logo: String,
    button_bg: String,
    heading: String,
}

async fn brand_seen(client: &Client) -> BrandSeen {
    find(client, "form button.primary").await;
    let button_bg = client
        .execute(
            "return getComputedStyle(document.querySelector('form button.primary')).backgroundColor;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned();
    BrandSeen {
        title: client.title().await.unwrap(),
        brand_title: text_of(client, ".brand-title").await,
        logo: find(client, "img.logo")
            .await
            .attr("src")
            .await
            .unwrap()
            .unwrap_or_default(),
        button_bg,
        heading: text_of(client, "h1").await,
    }
}

/// The page fits a phone: nothing wider than the viewport, the form fully inside it.
async fn assert_fits_width(client: &Client) {
    let v = client
        .execute(
            "const f = document.querySelector('main.card').getBoundingClientRect();\
             return [window.innerWidth, document.documentElement.scrollWidth, f.left, f.right];",
            vec![],
        )
        .await
        .unwrap();
    let n = |i: usize| v[i].as_f64().unwrap();
    let (inner, scroll, left, right) = (n(0), n(1), n(2), n(3));
    assert!(
        scroll <= inner,
        "horizontal scrolling at {inner}px: {scroll}px wide"
    );
    assert!(
        left >= 0.0 && right <= inner,
        "the card overflows at {inner}px: {left}..{right}"
    );
}

#[tokio::test]
async fn hosted_login_pages_show_each_brand_and_partner_signup_returns_a_code() {
    let test = "hosted-login";
    let Some((_driver, client)) = start_browser(test).await else {
        return;
    };
    let app = TestApp::builder().demo().spawn().await;
    let base = app.base.clone();
    let http = app.new_browser();

    drive(test, client, move |c| async move {
        // The customers' door.
        let pkce_c = pkce();
        c.goto(&authorize_url(&base, "customers-web", "st-customers", &pkce_c))
            .await
            .unwrap();
        let url = wait_url(&c, "/login", |u| u.path() == "/login").await;
        assert!(url.as_str().starts_with(&format!("{base}/login?tx=")), "{url}");
        let customers = brand_seen(&c).await;
        assert_eq!(customers.title, "Log in · Acme customers");
        assert_eq!(customers.brand_title, "Acme customers");
        assert_eq!(customers.logo, "/static/brands/customers.svg");
        assert_eq!(customers.button_bg, "rgb(31, 111, 235)");
        assert_eq!(customers.heading, "Log in");
        assert!(
            text_of(&c, ".lead").await.contains("Acme for customers"),
            "the page names the application"
        );
        // The logo actually loaded (CSP allows it, the path serves an image).
        let loaded = c
            .execute(
                "const i = document.querySelector('img.logo'); return i.complete && i.naturalWidth > 0;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(loaded, json!(true), "the customers logo did not load");
        screenshot(&c, "customers-login.png").await;

        // The same page on a phone.
        c.set_window_size(390, 844).await.unwrap();
        assert_fits_width(&c).await;
        screenshot(&c, "customers-login-phone.png").await;
        c.set_window_size(1280, 900).await.unwrap();

        // The partners' door: another brand on the same issuer.
        let pkce_p = pkce();
        c.goto(&authorize_url(&base, "partners-web", "st-partners", &pkce_p))
            .await
            .unwrap();
        wait_url(&c, "/login", |u| u.path() == "/login").await;
        let partners = brand_seen(&c).await;
        assert_eq!(partners.title, "Log in · Acme partner network");
        assert_eq!(partners.brand_title, "Acme partner network");
        assert_eq!(partners.logo, "/static/brands/partners.svg");
        assert_eq!(partners.button_bg, "rgb(124, 58, 237)");
        assert_ne!(customers.title, partners.title);
        assert_ne!(customers.button_bg, partners.button_bg);
        screenshot(&c, "partners-login.png").await;

        // Sign up through the partner page, as a person would.
        find(&c, "a#signup-link").await.click().await.unwrap();
        wait_url(&c, "/signup", |u| u.path() == "/signup").await;
        wait_text(&c, "h1", "Sign up as a partner").await;
        let signup = brand_seen(&c).await;
        assert_eq!(signup.title, "Sign up · Acme partner network");
        assert_eq!(signup.button_bg, "rgb(124, 58, 237)");
        fill(&c, "input[name=email][type=email]", "ada@partner.example").await;
        fill(&c, "input[name=password][type=password]", PASSWORD).await;
        screenshot(&c, "partners-signup.png").await;
        // Nothing listens on localhost:4000, so the click may report the failed load.
        let _ = find(&c, "form button[type=submit]").await.click().await;

        // The browser was sent to the partner app's redirect_uri with a code.
        let cb = wait_url(&c, "http://localhost:4000/callback", |u| {
            u.as_str().starts_with("http://localhost:4000/callback?")
        })
        .await;
        assert!(
            cb.as_str().starts_with("http://localhost:4000/callback?code="),
            "{cb}"
        );
        let q = query_of(cb.as_str());
        assert_eq!(q["state"], "st-partners");
        assert_eq!(q["iss"], base);
        assert!(!q["code"].is_empty());

        // And the code is good: the partner app redeems it with its PKCE verifier.
        let r = http
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", "partners-web"),
                    ("code", &q["code"]),
                    ("redirect_uri", "http://localhost:4000/callback"),
                    ("code_verifier", &pkce_p.verifier),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
        let tokens: serde_json::Value = r.json().await.unwrap();
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["email"], "ada@partner.example");
        assert_eq!(id["aud"], "partners-web");
    })
    .await;
    drop(app);
}

#[tokio::test]
async fn the_playground_story_in_a_browser() {
    let test = "playground";
    let Some((_driver, client)) = start_browser(test).await else {
        return;
    };
    let app = TestApp::builder().extra(PLAYGROUND).spawn().await;
    let base = app.base.clone();

    drive(test, client, move |c| async move {
        c.goto(&format!("{base}/playground")).await.unwrap();
        find(&c, "#signed-out").await;
        assert_eq!(
            text_of(&c, "#signup-partner").await,
            "Sign up as a partner →"
        );
        assert_eq!(
            text_of(&c, "#signup-customer").await,
            "Sign up as a customer →"
        );
        screenshot(&c, "playground-start.png").await;

        // The partner door: the branded sign-up form, then back to the playground.
        find(&c, "#signup-partner").await.click().await.unwrap();
        wait_url(&c, "/signup", |u| u.path() == "/signup").await;
        wait_text(&c, "h1", "Sign up as a partner").await;
        assert_eq!(text_of(&c, ".brand-title").await, "Acme partner network");
        fill(&c, "input[name=email]", "pat@partner.example").await;
        fill(&c, "input[name=password]", PASSWORD).await;
        find(&c, "form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();

        find(&c, "#status-partner").await;
        let url = c.current_url().await.unwrap();
        assert_eq!(url.as_str(), format!("{base}/playground"));
        assert_eq!(text_of(&c, "#door").await, "partners-web");
        assert_eq!(text_of(&c, "#email").await, "pat@partner.example");
        assert_eq!(text_of(&c, "#status-me").await, "200");
        assert_eq!(text_of(&c, "#status-partner").await, "200");
        assert_eq!(text_of(&c, "#status-customer").await, "403");
        let roles = text_of(&c, "#roles").await;
        assert!(
            roles.contains("partner") && !roles.contains("customer"),
            "{roles}"
        );
        assert!(
            c.find(Locator::Css("#error")).await.is_err(),
            "an error shows"
        );
        screenshot(&c, "playground-partner.png").await;

        // Log out (RP-initiated logout at the issuer, back to the playground).
        find(&c, "#logout").await.click().await.unwrap();
        find(&c, "#signed-out").await;

        // The customer door with another person.
        find(&c, "#signup-customer").await.click().await.unwrap();
        wait_url(&c, "/signup", |u| u.path() == "/signup").await;
        wait_text(&c, "h1", "Sign up as a customer").await;
        assert_eq!(text_of(&c, ".brand-title").await, "Acme customers");
        fill(&c, "input[name=email]", "cora@customer.example").await;
        fill(&c, "input[name=password]", PASSWORD).await;
        find(&c, "form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();

        find(&c, "#status-customer").await;
        assert_eq!(text_of(&c, "#door").await, "customers-web");
        assert_eq!(text_of(&c, "#email").await, "cora@customer.example");
        assert_eq!(text_of(&c, "#status-customer").await, "200");
        assert_eq!(text_of(&c, "#status-partner").await, "403");
        let roles = text_of(&c, "#roles").await;
        assert!(
            roles.contains("customer") && !roles.contains("partner"),
            "{roles}"
        );
        screenshot(&c, "playground-customer.png").await;

        // On a phone: long e-mails and JSON answers wrap, nothing scrolls sideways.
        c.set_window_size(390, 844).await.unwrap();
        assert_fits_width(&c).await;
        c.execute(
            "document.querySelector('table.results').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
        screenshot(&c, "playground-customer-phone.png").await;
    })
    .await;
    drop(app);
}
