//! Abuse in bounded form (the 2026-11-28 review): floods of anonymous requests, password
//! spraying, busy-server lockouts, sign-up floods and slow clients, each run as N
//! requests against the real server with the bound asserted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use portico::idp::hasher::Lane;

use crate::helpers::*;

async fn transactions(app: &TestApp) -> i64 {
    app.scalar("SELECT count(*) FROM login_transactions").await
}

#[tokio::test]
async fn anonymous_authorize_floods_are_capped_per_address_per_browser_and_in_all() {
    // H1: every anonymous /authorize parked a row, without any limit.
    let app = TestApp::builder()
        .behind_proxy()
        .login("max_transactions_per_ip = 40\nmax_transactions_per_browser = 5\nmax_transactions = 120")
        .spawn()
        .await;
    let p = pkce();

    // One address, no cookies kept: every request is a "new browser".
    let flood = app.anonymous_at("203.0.113.7");
    for _ in 0..150 {
        assert_eq!(
            flood.authorize("customers-web", &p, &[]).await.status(),
            303
        );
    }
    assert_eq!(transactions(&app).await, 40, "per address");

    // One browser keeps its cookie: at most 5 live, the newest.
    let browser = app.browser_at("203.0.113.8");
    for _ in 0..20 {
        browser.authorize("customers-web", &p, &[]).await;
    }
    assert_eq!(transactions(&app).await, 45, "per browser");
    let f = browser.begin("customers-web", &[]).await;
    assert!(f.page.contains("name=\"csrf\""), "the newest still works");

    // Many addresses (IPv6 hosts of many /64s): the total cap holds.
    for i in 0..200 {
        let b = app.anonymous_at(&format!("2001:db8:{i:x}::1"));
        b.authorize("customers-web", &p, &[]).await;
    }
    assert!(transactions(&app).await <= 120, "in all");

    // IPv6 hosts of one /64 are one address.
    let before = transactions(&app).await;
    for i in 0..60 {
        let b = app.anonymous_at(&format!("2001:db8:ffff::{i:x}"));
        b.authorize("customers-web", &p, &[]).await;
    }
    assert!(transactions(&app).await <= before.max(120));
}

#[tokio::test]
async fn purged_login_transactions_give_their_space_back() {
    // H1: the database file never shrank after a flood; now freed pages are returned.
    let app = TestApp::builder()
        .sqlite()
        .behind_proxy()
        .login("max_transactions_per_ip = 5000")
        .spawn()
        .await;
    let p = pkce();
    let pad = "x".repeat(1800);
    let mut work = Vec::new();
    for i in 0..8 {
        let b = app.anonymous_at(&format!("198.51.100.{i}"));
        let (p, pad) = (&p, &pad);
        work.push(async move {
            for _ in 0..150 {
                b.authorize("customers-web", p, &[("pad", pad)]).await;
            }
        });
    }
    futures_util::future::join_all(work).await;
    let full = app.scalar("PRAGMA page_count").await;
    assert!(transactions(&app).await >= 1000);
    app.state.clock.advance(3600);
    portico::startup::run_housekeeping(&app.state)
        .await
        .unwrap();
    assert_eq!(transactions(&app).await, 0);
    assert_eq!(
        app.scalar("PRAGMA freelist_count").await,
        0,
        "no free pages kept"
    );
    let after = app.scalar("PRAGMA page_count").await;
    assert!(after * 2 < full, "the file shrank: {full} -> {after} pages");
}

#[tokio::test]
async fn a_device_cookie_spares_only_its_own_account_from_the_address_limit() {
    // H2: any account's "trusted browser" switched the per-address limit off for every
    // account. Now the exemption is bound to the account and to this browser.
    let app = TestApp::builder()
        .behind_proxy()
        .login("max_failures_per_ip = 5")
        .spawn()
        .await;
    for i in 0..20 {
        app.create_user("staff-db", &format!("staff{i}@example.com"), PASSWORD, &[])
            .await;
    }
    // The attacker signs up (a password login): the browser gets its device cookie.
    let attacker = app.browser_at("192.0.2.66");
    attacker
        .signup_code("customers-web", "attacker@example.com")
        .await;

    let f = attacker.begin("staff-web", &[]).await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let r = attacker
            .login(&f, &format!("staff{i}@example.com"), "spray-password-1")
            .await;
        statuses.push(r.status().as_u16());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 6,
        "5 failures plus one in the slow lane, got {checked} checked: {statuses:?}"
    );
    assert!(statuses.ends_with(&[429, 429, 429]), "{statuses:?}");

    // Another browser behind the address is limited too (a copied device cookie would
    // not help it: the MAC covers the browser id, see login::device's tests).
    let newcomer = app.browser_at("192.0.2.66");
    let f = newcomer.begin("staff-web", &[]).await;
    assert_eq!(
        newcomer
            .login(&f, "staff0@example.com", "spray-password-2")
            .await
            .status(),
        429
    );
    // But it still spares its own account: the attacker's next login gets in.
    let own = attacker
        .begin("customers-web", &[("prompt", "login")])
        .await;
    assert_eq!(
        attacker
            .login(&own, "attacker@example.com", PASSWORD)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn a_busy_hashing_queue_charges_neither_the_account_nor_the_address() {
    // M1: 503 answers counted as failures, so load alone locked users out.
    let app = TestApp::builder()
        .behind_proxy()
        .login("hash_concurrency = 1\nhash_queue = 0\nmax_failures_per_ip = 3")
        .spawn()
        .await;
    app.create_user("customers-db", "victim@example.com", PASSWORD, &[])
        .await;
    let victim = app.browser_at("192.0.2.10");
    let f = victim.begin("customers-web", &[]).await;

    // The only hashing slot is taken: every login is answered 503 at once.
    let held = app.state.idp.hasher.admit(Lane::Login).unwrap();
    for _ in 0..15 {
        let r = victim.login(&f, "victim@example.com", PASSWORD).await;
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
    }
    drop(held);
    assert_eq!(
        app.scalar("SELECT CAST(coalesce(sum(failures), 0) AS BIGINT) FROM login_failures")
            .await,
        0,
        "no account was charged"
    );
    let ip = "192.0.2.10".parse().unwrap();
    assert_eq!(
        app.state.idp.limits.ip.failures(ip, app.now()),
        0,
        "nor the address"
    );
    assert_eq!(
        victim
            .login(&f, "victim@example.com", PASSWORD)
            .await
            .status(),
        303,
        "the victim gets in as soon as the server has room"
    );
}

#[tokio::test]
async fn sign_ups_have_budgets_per_address_and_overall() {
    // M2: an anonymous client could create accounts as fast as it could hash.
    let app = TestApp::builder()
        .behind_proxy()
        .login("max_signups_per_ip = 3\nmax_signups_per_minute = 5")
        .spawn()
        .await;
    for i in 0..3 {
        app.browser_at("192.0.2.20")
            .signup_code("customers-web", &format!("bulk{i}@example.com"))
            .await;
    }
    let one = app.browser_at("192.0.2.20");
    let f = one
        .begin("customers-web", &[("screen_hint", "signup")])
        .await;
    let r = one.signup(&f, "bulk3@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429, "per address");
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many accounts"));

    for i in 0..2 {
        app.browser_at("192.0.2.21")
            .signup_code("customers-web", &format!("other{i}@example.com"))
            .await;
    }
    let third = app.browser_at("192.0.2.22");
    let f = third
        .begin("customers-web", &[("screen_hint", "signup")])
        .await;
    assert_eq!(
        third
            .signup(&f, "third@example.com", PASSWORD)
            .await
            .status(),
        429,
        "5 a minute in all"
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM users").await,
        5,
        "refused sign-ups created nothing"
    );
    app.state.clock.advance(61);
    assert_eq!(
        third
            .signup(&f, "third@example.com", PASSWORD)
            .await
            .status(),
        303,
        "the next minute"
    );
}

#[tokio::test]
async fn a_sign_up_flood_leaves_logins_their_share_of_the_hashing_queue() {
    // M2: sign-ups filled the whole queue and every login got 503.
    let app = TestApp::builder()
        .behind_proxy()
        .login("hash_concurrency = 1\nhash_queue = 7")
        .spawn()
        .await;
    app.create_user("customers-db", "regular@example.com", PASSWORD, &[])
        .await;
    // Sign-ups own at most a quarter of the 8 places: the flood holds both.
    let flood: Vec<_> = (0..2)
        .map(|_| app.state.idp.hasher.admit(Lane::Signup).unwrap())
        .collect();
    let b = app.browser_at("192.0.2.30");
    let f = b.begin("customers-web", &[("screen_hint", "signup")]).await;
    assert_eq!(
        b.signup(&f, "flood@example.com", PASSWORD).await.status(),
        503,
        "another sign-up waits its turn"
    );
    let user = app.browser_at("192.0.2.31");
    let f = user.begin("customers-web", &[]).await;
    assert_eq!(
        user.login(&f, "regular@example.com", PASSWORD)
            .await
            .status(),
        303,
        "a login still gets a place"
    );
    drop(flood);
}

#[tokio::test]
async fn slow_request_bodies_are_cut_and_the_server_keeps_answering() {
    // M5: a body trickling in was never cut; enough of them exhausted the descriptors.
    let app = TestApp::builder()
        .extra("[server]\nbody_timeout_secs = 1\nheader_timeout_secs = 1")
        .spawn()
        .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=",
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        slow.push(s);
    }
    assert_eq!(app.get("/healthz").await.status(), 200, "still answering");
    // Each slow request is answered 408 and its connection closed, without more bytes.
    let answers = tokio::task::spawn_blocking(move || {
        slow.into_iter()
            .map(|mut s| {
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 408"), "{a:?}");
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn failed_client_authentication_is_throttled_per_client_and_address() {
    // I3: wrong client secrets were answered as fast as they came.
    let app = TestApp::builder()
        .behind_proxy()
        .login("max_client_auth_failures = 5")
        .spawn()
        .await;
    let from = |ip: &str| app.browser_at(ip);
    let guesser = from("192.0.2.40");
    let token = |b: &Browser, secret: &str| {
        let req = b
            .http
            .post(format!("{}/token", b.base))
            .basic_auth("orders-worker", Some(secret))
            .form(&[("grant_type", "client_credentials")]);
        async move { req.send().await.unwrap() }
    };
    for i in 0..5 {
        assert_eq!(token(&guesser, &format!("guess-{i}")).await.status(), 401);
    }
    let r = token(&guesser, "worker-secret-0123456789").await;
    assert_eq!(r.status(), 429, "that client from that address is refused");
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // The real worker, elsewhere, is not affected.
    let worker = from("192.0.2.41");
    assert_eq!(
        token(&worker, "worker-secret-0123456789").await.status(),
        200
    );
}

#[tokio::test]
async fn audit_events_expire_and_logouts_that_end_nothing_write_nothing() {
    // M4: the audit table grew forever, also from anonymous logout POSTs.
    let app = TestApp::builder()
        .extra("[audit]\nretention_days = 30")
        .spawn()
        .await;
    for _ in 0..20 {
        let b = app.new_browser();
        let page = b
            .get("/logout?client_id=customers-web")
            .await
            .text()
            .await
            .unwrap();
        let confirm = hidden(&page, "confirm");
        let r = b
            .post_form(
                "/logout",
                &[
                    ("confirm", confirm.as_str()),
                    ("client_id", "customers-web"),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    assert!(
        !app.audit_kinds().await.iter().any(|k| k == "logout"),
        "nothing was ended, nothing is written"
    );
    app.signup_code("customers-web", "audited@example.com")
        .await;
    let n = app.scalar("SELECT count(*) FROM audit_events").await;
    assert!(n >= 2);
    app.state.clock.advance(31 * 86_400);
    portico::startup::run_housekeeping(&app.state)
        .await
        .unwrap();
    assert_eq!(app.scalar("SELECT count(*) FROM audit_events").await, 0);
}

#[tokio::test]
async fn live_refresh_families_per_user_and_client_are_capped() {
    // M4: a self-registered user could mint refresh families without end.
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "hoarder@example.com")
        .await;
    let first = t["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..25 {
        let p = pkce();
        let r = app.authorize("customers-web", &p, &[]).await;
        let code = query_of(&location(&r))["code"].clone();
        let r = app
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", "customers-web"),
                    ("code", &code),
                    ("redirect_uri", redirect_of("customers-web")),
                    ("code_verifier", &p.verifier),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        app.scalar("SELECT count(DISTINCT family_id) FROM refresh_tokens")
            .await,
        20,
        "the default cap"
    );
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "customers-web"),
                ("refresh_token", &first),
            ],
        )
        .await;
    assert_eq!(r.status(), 400, "the oldest family was evicted");
    let r = app
        .http
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "with the access token it issued");
}

#[tokio::test]
async fn sessions_per_user_are_capped() {
    let app = spawn_app().await;
    let uid = app
        .create_user("customers-db", "many@example.com", PASSWORD, &[])
        .await;
    app.state
        .idp
        .store
        .write(move |tx| {
            for i in 0..60 {
                portico::store::sessions::create(
                    tx,
                    &format!("h{i}"),
                    &uid,
                    "customers-db",
                    i,
                    i64::MAX / 2,
                    None,
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        app.scalar("SELECT count(*) FROM sessions").await,
        portico::store::sessions::MAX_PER_USER
    );
}
