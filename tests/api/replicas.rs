//! Stateless replicas on one PostgreSQL database: every piece of security state holds
//! across them (sessions, codes, refresh families, revocations, lockouts, keys), and the
//! SQLite store moves over with `portico store copy`.

use std::path::Path;
use std::process::Command;

use crate::helpers::*;

/// Two replicas of one deployment: one database, one server secret, one issuer.
async fn two_replicas(server: &str) -> (TestApp, TestApp, tempfile::TempDir) {
    let db = new_database(server);
    let shared = tempfile::tempdir().unwrap();
    let key = shared.path().join("secret.key");
    std::fs::write(&key, "42".repeat(32)).unwrap();
    let a = TestApp::builder().replica_of(&db, &key).spawn().await;
    let b = TestApp::builder()
        .replica_of(&db, &key)
        .issuer(&a.base)
        .spawn()
        .await;
    (a, b, shared)
}

/// The same browser (cookie jar) talking to another replica.
fn at(browser: &Browser, replica: &TestApp) -> Browser {
    Browser {
        http: browser.http.clone(),
        base: replica.base.clone(),
    }
}

fn portico(args: &[&str], config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn two_replicas_share_sessions_codes_refresh_families_revocations_and_lockouts() {
    let Some(server) = postgres_server() else {
        return;
    };
    let (a, b, _shared) = two_replicas(&server).await;
    // Sign up on A; the SSO session works on B.
    let browser = a.new_browser();
    let (code, f) = browser
        .signup_code("customers-web", "both@example.com")
        .await;
    let on_b = at(&browser, &b);
    let r = on_b.authorize("customers-admin", &pkce(), &[]).await;
    assert!(query_of(&location(&r)).contains_key("code"), "SSO on B");

    // Exchange on A, refresh on B, reuse the rotated token on A: the family dies on both.
    let t = ok_json(browser.exchange(&f, &code).await).await;
    let first = s(&t, "refresh_token").to_owned();
    let t2 = ok_json(refresh(&on_b, "customers-web", &first, &[]).await).await;
    let r = refresh(&browser, "customers-web", &first, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    let r = refresh(&on_b, "customers-web", s(&t2, "refresh_token"), &[]).await;
    assert_eq!(
        oauth_error(r, 400).await,
        "invalid_grant",
        "revoked on B too"
    );

    // Revoke an access token on B: inactive on A.
    let t3 = a.signup_tokens("customers-web", "rev@example.com").await;
    let at_token = s(&t3, "access_token");
    assert!(is_active(&a, at_token).await);
    assert_eq!(revoke(&b, "customers-web", at_token).await.status(), 200);
    assert!(
        !is_active(&a, at_token).await,
        "revoked on B, inactive on A"
    );

    // Failures spread over both lock the account on both.
    a.create_user("customers-db", "target@example.com", PASSWORD, &[])
        .await;
    for i in 0..10 {
        let replica = if i % 2 == 0 { &a } else { &b };
        let guesser = replica.new_browser();
        let f = guesser.begin("customers-web", &[]).await;
        guesser
            .login(&f, "target@example.com", "guess-guess-guess")
            .await;
    }
    for replica in [&a, &b] {
        let owner = replica.new_browser();
        let f = owner.begin("customers-web", &[]).await;
        assert_eq!(
            owner
                .login(&f, "target@example.com", PASSWORD)
                .await
                .status(),
            429,
            "locked on every replica"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_signs_on_every_replica() {
    let Some(server) = postgres_server() else {
        return;
    };
    let (a, b, _shared) = two_replicas(&server).await;
    let before = a.state.idp.keys.current().active_kid().to_owned();
    assert_eq!(b.state.idp.keys.current().active_kid(), before);
    let out = portico(&["keys", "rotate"], &a.config_path);
    assert!(out.contains("signs from"), "{out}");
    for replica in [&a, &b] {
        replica.state.clock.advance(portico::tokens::PUBLISH_AHEAD);
        portico::startup::run_housekeeping(&replica.state)
            .await
            .unwrap();
    }
    let after = a.state.idp.keys.current().active_kid().to_owned();
    assert_ne!(after, before);
    assert_eq!(
        b.state.idp.keys.current().active_kid(),
        after,
        "both sign with it"
    );
    let t = b.signup_tokens("customers-web", "kid@example.com").await;
    assert_eq!(header_of(s(&t, "access_token"))["kid"], after.as_str());
}

#[tokio::test]
async fn replicas_starting_together_on_an_empty_database_make_one_key() {
    let Some(server) = postgres_server() else {
        return;
    };
    for _ in 0..3 {
        let db = new_database(&server);
        let shared = tempfile::tempdir().unwrap();
        let key = shared.path().join("secret.key");
        std::fs::write(&key, "43".repeat(32)).unwrap();
        let (a, b) = tokio::join!(
            TestApp::builder().replica_of(&db, &key).spawn(),
            TestApp::builder().replica_of(&db, &key).spawn()
        );
        assert_eq!(
            a.scalar("SELECT count(*) FROM signing_keys").await,
            1,
            "one active key, not one each"
        );
        assert_eq!(
            a.state.idp.keys.current().active_kid(),
            b.state.idp.keys.current().active_kid()
        );
    }
}

#[tokio::test]
async fn store_copy_moves_sqlite_into_postgres_with_passwords_and_refresh_tokens() {
    let Some(server) = postgres_server() else {
        return;
    };
    let lite = TestApp::builder().sqlite().spawn().await;
    let t = lite
        .signup_tokens("customers-web", "moved@example.com")
        .await;
    let refresh_token = s(&t, "refresh_token").to_owned();
    let config = lite.config_path.clone();
    let issuer = lite.base.clone();
    let dir = lite.into_dir();
    let key = dir.path().join("data/secret.key");

    let db = new_database(&server);
    let out = portico(&["store", "copy", "--to", &db], &config);
    assert!(
        out.contains("users: 1 rows") && out.contains("signing_keys: 1 rows"),
        "{out}"
    );
    // A second copy into the same database is refused: it is not empty any more.
    let again = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["store", "copy", "--to", &db, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let pg = TestApp::builder()
        .replica_of(&db, &key)
        .issuer(&issuer)
        .spawn()
        .await;
    pg.login_code("customers-web", "moved@example.com", PASSWORD)
        .await;
    let r = refresh(&pg, "customers-web", &refresh_token, &[]).await;
    ok_json(r).await;
    drop(dir);
}
