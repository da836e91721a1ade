//! Hosted login and sign-up: the attacks first, then the happy paths.

use crate::helpers::*;

#[tokio::test]
async fn a_login_needs_the_transactions_csrf_token_and_browser() {
    let app = spawn_app().await;
    app.create_user("customers-db", "ann@example.com", PASSWORD, &[])
        .await;
    let f = app.begin("customers-web", &[]).await;

    // Missing CSRF field.
    let r = app
        .post_form(
            "/login",
            &[
                ("tx", &f.tx),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    // A forged one.
    let r = app
        .post_form(
            "/login",
            &[
                ("tx", &f.tx),
                ("csrf", "forged"),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    // The CSRF token of another transaction.
    let other = app.begin("customers-web", &[]).await;
    let r = app
        .post_form(
            "/login",
            &[
                ("tx", &f.tx),
                ("csrf", &other.csrf),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    // The right token from another browser (a cross-site POST carries no binding cookie).
    let attacker = app.new_browser();
    let r = attacker.login(&f, "ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), 400);
    // Nothing was changed: the transaction still works for its own browser.
    let r = app.login(&f, "ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert!(query_of(&location(&r)).contains_key("code"));
}

#[tokio::test]
async fn sign_up_forms_need_csrf_too() {
    let app = spawn_app().await;
    let f = app
        .begin("partners-web", &[("screen_hint", "signup")])
        .await;
    let r = app
        .post_form(
            "/signup",
            &[
                ("tx", &f.tx),
                ("csrf", "nope"),
                ("email", "p@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let users = app
        .state
        .idp
        .store
        .read(|c| portico::store::users::list(c, "partners-db"))
        .await
        .unwrap();
    assert!(users.is_empty(), "a refused form changes nothing");
}

#[tokio::test]
async fn a_user_of_one_connection_cannot_log_in_through_a_client_of_another() {
    let app = spawn_app().await;
    app.signup_code("partners-web", "pat@example.com").await;
    let other = app.new_browser();
    let f = other.begin("customers-web", &[]).await;
    let r = other.login(&f, "pat@example.com", PASSWORD).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Wrong email or password."));
}

#[tokio::test]
async fn the_same_email_in_two_connections_is_two_users_with_two_subs() {
    let app = spawn_app().await;
    let partner = app.signup_tokens("partners-web", "sam@example.com").await;
    let customer = app
        .new_browser()
        .signup_tokens("customers-web", "sam@example.com")
        .await;
    let a = claims(partner["id_token"].as_str().unwrap());
    let b = claims(customer["id_token"].as_str().unwrap());
    assert_eq!(a["email"], b["email"]);
    assert_ne!(a["sub"], b["sub"]);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
    let app = spawn_app().await;
    app.create_user("customers-db", "known@example.com", PASSWORD, &[])
        .await;
    let f1 = app.begin("customers-web", &[]).await;
    let wrong = app
        .login(&f1, "known@example.com", "not-the-password")
        .await;
    let f2 = app.begin("customers-web", &[]).await;
    let unknown = app
        .login(&f2, "unknown@example.com", "not-the-password")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.status(), unknown.status());
    let normalise = |body: String, f: &Flow, email: &str| {
        body.replace(&f.tx, "TX")
            .replace(&f.csrf, "CSRF")
            .replace(email, "EMAIL")
    };
    let a = normalise(wrong.text().await.unwrap(), &f1, "known@example.com");
    let b = normalise(unknown.text().await.unwrap(), &f2, "unknown@example.com");
    assert_eq!(a, b);
}

#[tokio::test]
async fn lockout_holds_even_against_the_right_password_and_grows() {
    let app = spawn_app().await;
    app.create_user("customers-db", "victim@example.com", PASSWORD, &[])
        .await;
    let f = app.begin("customers-web", &[]).await;
    for _ in 0..10 {
        assert_eq!(
            app.login(&f, "victim@example.com", "guess-guess-guess")
                .await
                .status(),
            401
        );
    }
    let r = app.login(&f, "victim@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains("too many attempts, try again later"));
    // Another browser (another IP would do the same) is refused too: it is the account.
    let other = app.new_browser();
    let g = other.begin("customers-web", &[]).await;
    assert_eq!(
        other
            .login(&g, "victim@example.com", PASSWORD)
            .await
            .status(),
        429
    );

    // After the first delay one more failure locks for longer.
    app.state.clock.advance(61);
    assert_eq!(
        app.login(&f, "victim@example.com", "guess-again-again")
            .await
            .status(),
        401
    );
    app.state.clock.advance(61);
    assert_eq!(
        app.login(&f, "victim@example.com", PASSWORD).await.status(),
        429,
        "the second lockout is longer"
    );
    app.state.clock.advance(120);
    let r = app.login(&f, "victim@example.com", PASSWORD).await;
    assert_eq!(
        r.status(),
        303,
        "the right password works once the lockout ends"
    );
    let kinds = app.audit_kinds().await;
    assert!(kinds.iter().any(|k| k == "account_locked"));
    assert!(kinds.iter().filter(|k| *k == "login_failed").count() >= 11);
}

#[tokio::test]
async fn the_ip_limiter_stops_password_spraying_but_never_successful_logins() {
    let app = TestApp::builder()
        .login("max_failures_per_ip = 3")
        .spawn()
        .await;
    for i in 0..5 {
        app.create_user("customers-db", &format!("u{i}@example.com"), PASSWORD, &[])
            .await;
    }
    // Many users behind one address: successful logins are never limited.
    for i in 0..5 {
        let b = app.new_browser();
        b.login_code("customers-web", &format!("u{i}@example.com"), PASSWORD)
            .await;
    }
    // Spraying one guess over several accounts from one address.
    let f = app.begin("customers-web", &[]).await;
    for i in 0..3 {
        assert_eq!(
            app.login(&f, &format!("u{i}@example.com"), "spray-password-1")
                .await
                .status(),
            401
        );
    }
    // Past the limit only a slow lane is left: one guess per window / max (300 s here),
    // the rate the limit allows anyway, and it is checked, so a right password gets in.
    assert_eq!(
        app.login(&f, "u3@example.com", "spray-password-1")
            .await
            .status(),
        401,
        "the slow lane checks one guess"
    );
    let r = app.login(&f, "u4@example.com", PASSWORD).await;
    assert_eq!(
        r.status(),
        429,
        "the address is limited, whatever the account, until the slow lane has room"
    );
    // The slow lane's next slot, in whole seconds: 300, or 299 when the clock crossed a
    // second between the guess and this request.
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((299..=300).contains(&wait), "retry after {wait}");
    app.state.clock.advance(300);
    let newcomer = app.new_browser();
    let f = newcomer.begin("customers-web", &[]).await;
    assert_eq!(
        newcomer
            .login(&f, "u4@example.com", PASSWORD)
            .await
            .status(),
        303,
        "a right password from a new browser behind the address gets in (review M3)"
    );
}

#[tokio::test]
async fn success_redirects_with_code_state_and_iss_and_sets_a_safe_session_cookie() {
    let app = spawn_app().await;
    let f = app
        .begin("partners-web", &[("screen_hint", "signup")])
        .await;
    assert!(f.page_url.starts_with("/signup"));
    let r = app.signup(&f, "new@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portico_session_"))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let loc = location(&r);
    assert!(loc.starts_with("http://localhost:4000/callback?"));
    let q = query_of(&loc);
    assert_eq!(q["code"].len(), 43);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], app.base);
    let kinds = app.audit_kinds().await;
    assert!(kinds.contains(&"signup".to_owned()) && kinds.contains(&"signup_login".to_owned()));
}

#[tokio::test]
async fn a_double_submit_does_not_mint_two_codes() {
    let app = spawn_app().await;
    app.create_user("customers-db", "dbl@example.com", PASSWORD, &[])
        .await;
    let f = app.begin("customers-web", &[]).await;
    assert_eq!(
        app.login(&f, "dbl@example.com", PASSWORD).await.status(),
        303
    );
    assert_eq!(
        app.login(&f, "dbl@example.com", PASSWORD).await.status(),
        400
    );
}

#[tokio::test]
async fn sign_up_enforces_the_password_policy_with_reasons() {
    let app = spawn_app().await;
    let f = app
        .begin("customers-web", &[("screen_hint", "signup")])
        .await;
    let r = app.signup(&f, "p@example.com", "short").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("at least 10 characters"));
    let r = app.signup(&f, "p@example.com", "password123").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("too common"));
    let r = app.signup(&f, "not-an-email", PASSWORD).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.signup(&f, "P@Example.com", PASSWORD).await.status(),
        303
    );
    let users = app
        .state
        .idp
        .store
        .read(|c| portico::store::users::list(c, "customers-db"))
        .await
        .unwrap();
    assert_eq!(users[0].email, "p@example.com", "emails are normalised");
    assert!(users[0].password_hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn signing_up_with_an_existing_email_logs_in_the_owner_or_reveals_nothing() {
    let app = spawn_app().await;
    let first = app
        .signup_tokens("customers-web", "taken@example.com")
        .await;
    let b = app.new_browser();
    let f = b.begin("customers-web", &[("screen_hint", "signup")]).await;
    let r = b
        .signup(&f, "taken@example.com", "another-long-password")
        .await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("If you already have an account, log in instead"));
    // The owner, with the right password, is simply logged in: same sub.
    let f = b.begin("customers-web", &[("screen_hint", "signup")]).await;
    let r = b.signup(&f, "taken@example.com", PASSWORD).await;
    let code = query_of(&location(&r))["code"].clone();
    let again: serde_json::Value = b.exchange(&f, &code).await.json().await.unwrap();
    assert_eq!(
        claims(again["id_token"].as_str().unwrap())["sub"],
        claims(first["id_token"].as_str().unwrap())["sub"]
    );
}

#[tokio::test]
async fn a_connection_without_signup_shows_the_login_form() {
    let app = spawn_app().await;
    let f = app.begin("staff-web", &[("screen_hint", "signup")]).await;
    assert!(f.page_url.starts_with("/login"));
    assert!(!f.page.contains("Create an account"));
    let r = app.signup(&f, "x@example.com", PASSWORD).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn pages_are_branded_per_client_and_carry_the_security_headers() {
    let app = spawn_app().await;
    let partner = app.begin("partners-web", &[]).await;
    assert!(partner.page.contains("Acme partner network"));
    assert!(partner.page.contains("/static/brands/partners.svg"));
    assert!(partner.page.contains("/branding/partners-web.css"));
    assert!(partner.page.contains("name=\"email\" type=\"email\""));
    assert!(partner.page.contains("name=\"password\" type=\"password\""));
    assert!(partner.page.contains("<label for=\"email\">"));
    assert!(partner.page.contains("href=\"/signup?tx="));
    let customer = app.begin("customers-web", &[]).await;
    assert!(customer.page.contains("Acme customers") && !customer.page.contains("partner"));

    let r = app.get(&partner.page_url).await;
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let css = app
        .get("/branding/partners-web.css")
        .await
        .text()
        .await
        .unwrap();
    assert!(css.contains("--brand: #7c3aed"));
    let logo = app.get("/static/brands/partners.svg").await;
    assert!(logo.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
}

#[tokio::test]
async fn a_login_page_with_an_unknown_transaction_is_a_neutral_400() {
    let app = spawn_app().await;
    let r = app.get("/login?tx=does-not-exist").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("expired"));
    // Transactions expire.
    let f = app.begin("customers-web", &[]).await;
    app.state.clock.advance(3600);
    assert_eq!(app.get(&f.page_url).await.status(), 400);
}

#[tokio::test]
async fn password_hashes_are_upgraded_on_login() {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
    let app = spawn_app().await;
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8192, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes())
    .unwrap()
    .to_string();
    app.state
        .idp
        .store
        .read(move |c| {
            portico::store::users::create(
                c,
                "customers-db",
                &portico::domain::Email::parse("old@example.com").unwrap(),
                &weak,
                &[],
                0,
            )
        })
        .await
        .unwrap()
        .unwrap();
    app.login_code("customers-web", "old@example.com", PASSWORD)
        .await;
    let u = app
        .state
        .idp
        .store
        .read(|c| portico::store::users::find_by_email(c, "customers-db", "old@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        u.password_hash.contains("m=19456,t=2,p=1"),
        "{}",
        u.password_hash
    );
}

#[tokio::test]
async fn a_saturated_hashing_pool_refuses_at_once() {
    // Concurrency 1, no queue: while one hash runs, the others are refused.
    let hasher = portico::idp::hasher::Hasher::new(1, 0);
    let pw = portico::domain::Password::new(PASSWORD.into());
    let results = futures_util::future::join_all((0..8).map(|_| hasher.verify(&pw, None))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one runs"
    );
}

#[tokio::test]
async fn logins_beyond_the_hashing_queue_get_a_fast_503_with_retry_after() {
    let app = TestApp::builder()
        .login("hash_concurrency = 1\nhash_queue = 0")
        .spawn()
        .await;
    app.create_user("customers-db", "busy@example.com", PASSWORD, &[])
        .await;
    let mut flows = Vec::new();
    for _ in 0..16 {
        let b = app.new_browser();
        let f = b.begin("customers-web", &[]).await;
        flows.push((b, f));
    }
    let responses = futures_util::future::join_all(
        flows
            .iter()
            .map(|(b, f)| b.login(f, "busy@example.com", PASSWORD)),
    )
    .await;
    let busy: Vec<_> = responses.iter().filter(|r| r.status() == 503).collect();
    assert!(!busy.is_empty(), "some logins must be refused");
    assert!(busy.iter().all(|r| r.headers().contains_key("retry-after")));
    assert!(
        responses.iter().any(|r| r.status() == 303),
        "admitted logins succeed"
    );
}

#[tokio::test]
async fn parallel_guesses_cannot_get_past_the_account_limit() {
    let app = spawn_app().await;
    app.create_user("customers-db", "target@example.com", PASSWORD, &[])
        .await;
    let f = app.begin("customers-web", &[]).await;
    let guesses = (0..30).map(|i| {
        let (b, f) = (&app, &f);
        async move {
            b.login(f, "target@example.com", &format!("guess-number-{i:03}"))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 10,
        "only 10 guesses may be checked, got {checked}: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_browser_that_logged_in_before_is_not_stopped_by_the_ip_limit() {
    let app = TestApp::builder()
        .login("max_failures_per_ip = 3")
        .spawn()
        .await;
    app.create_user("customers-db", "regular@example.com", PASSWORD, &[])
        .await;
    app.login_code("customers-web", "regular@example.com", PASSWORD)
        .await;

    // An attacker behind the same address exhausts its failures.
    let attacker = app.new_browser();
    let f = attacker.begin("customers-web", &[]).await;
    for i in 0..4 {
        attacker
            .login(&f, &format!("nobody{i}@example.com"), "spray-password-1")
            .await;
    }
    assert_eq!(
        attacker
            .login(&f, "regular@example.com", "spray-password-1")
            .await
            .status(),
        429
    );
    // The regular user's browser still gets in with the password.
    let again = app.begin("customers-web", &[("prompt", "login")]).await;
    assert_eq!(
        app.login(&again, "regular@example.com", PASSWORD)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn single_sign_on_does_not_lift_a_lockout() {
    let app = spawn_app().await;
    app.signup_code("customers-web", "owner@example.com").await;
    let attacker = app.new_browser();
    let f = attacker.begin("customers-web", &[]).await;
    for _ in 0..10 {
        attacker
            .login(&f, "owner@example.com", "guess-guess-guess")
            .await;
    }
    assert_eq!(
        attacker
            .login(&f, "owner@example.com", "guess-guess-guess")
            .await
            .status(),
        429
    );
    // The owner's browser passes through SSO (no password checked)...
    let r = app.authorize("customers-admin", &pkce(), &[]).await;
    assert!(query_of(&location(&r)).contains_key("code"));
    // ...and the attacker is still locked out.
    assert_eq!(
        attacker
            .login(&f, "owner@example.com", "guess-guess-guess")
            .await
            .status(),
        429
    );
}

// --- The 2026-11-28 review ---

/// Sign up with `email` in a fresh browser: the redirect's status and the page's alert.
async fn try_signup(app: &TestApp, email: &str, password: &str) -> (u16, String) {
    let b = app.new_browser();
    let f = b.begin("customers-web", &[("screen_hint", "signup")]).await;
    let r = b.signup(&f, email, password).await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn look_alike_and_invisible_addresses_never_become_accounts() {
    // M8: invisible characters bypassed a domain rule and made look-alike accounts.
    let app = TestApp::builder()
        .extra(
            r#"
[[rule]]
name = "no-blocked-domain"
script = '''
if event.user.email.ends_with("@blocked.example") { api.deny("this domain may not sign in"); }
'''
"#,
        )
        .spawn()
        .await;
    assert_eq!(try_signup(&app, "alice@example.com", PASSWORD).await.0, 303);
    assert_eq!(try_signup(&app, "ase@example.com", PASSWORD).await.0, 303);
    for bad in [
        "eve3@blocked.example\u{200b}",
        "eve4@blocked.exam\u{00ad}ple",
        "eve5@blocked.example\u{2060}",
        "alice\u{200b}@example.com",
        "\u{202e}moc.elpmaxe@nimda",
        "\u{0430}lice@example.com",
        "\u{ff41}lice@example.com",
        "\u{feff}alice@example.com",
        "alice\u{0}@example.com",
    ] {
        let (status, page) = try_signup(&app, bad, PASSWORD).await;
        assert_eq!(status, 400, "{bad:?}");
        assert!(page.contains("Enter a valid email address."), "{bad:?}");
    }
    // An all-Cyrillic local part is one script, but looks exactly like ase@: refused.
    let (status, page) = try_signup(&app, "\u{0430}\u{0455}\u{0435}@example.com", PASSWORD).await;
    assert_eq!(status, 400);
    assert!(page.contains("could not create an account"), "{page}");
    // Upper case and full-width domains are the same address, and the rule still sees it.
    let b = app.new_browser();
    let f = b.begin("customers-web", &[("screen_hint", "signup")]).await;
    let r = b.signup(&f, "Eve@BLOCKED.\u{ff45}xample", PASSWORD).await;
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 3);
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE email = 'eve@blocked.example'")
            .await,
        1
    );
}

#[tokio::test]
async fn forms_that_are_not_utf8_are_refused_and_store_nothing() {
    // M8: invalid UTF-8 became U+FFFD and was stored.
    let app = spawn_app().await;
    let f = app
        .begin("customers-web", &[("screen_hint", "signup")])
        .await;
    let body = format!(
        "tx={}&csrf={}&email=%FF%FEann@example.com&password=a-long-unusual-passphrase",
        f.tx, f.csrf
    );
    let r = app
        .http
        .post(format!("{}/signup", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn weak_blank_and_invisible_passwords_are_refused() {
    // L5: a 209-word list, and blank or invisible passwords were accepted.
    let app = spawn_app().await;
    for (pw, why) in [
        ("Password123!", "too common"),
        ("qwerty123456", "too common"),
        ("aaaaaaaaab", "too common"),
        ("          ", "only spaces"),
        (
            "\u{200b}\u{200b}\u{200b}\u{200b}\u{200b}\u{200b}\u{200b}\u{200b}\u{200b}\u{200b}",
            "invisible",
        ),
    ] {
        let (status, page) = try_signup(&app, "pw@example.com", pw).await;
        assert_eq!(status, 400, "{pw:?}");
        assert!(page.contains(why), "{pw:?}: {page}");
    }
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
    // NFKC: the full-width form of a password is the same password.
    let full_width: String = PASSWORD
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                char::from_u32(c as u32 - 0x61 + 0xff41).unwrap()
            } else {
                c
            }
        })
        .collect();
    assert_eq!(
        try_signup(&app, "nfkc@example.com", &full_width).await.0,
        303
    );
    let b = app.new_browser();
    b.login_code("customers-web", "nfkc@example.com", PASSWORD)
        .await;
}

#[tokio::test]
async fn a_new_login_ends_the_browsers_previous_session_and_logout_ends_them_all() {
    // L3: the old session survived a re-login and a logout.
    let app = spawn_app().await;
    app.signup_code("customers-web", "sess@example.com").await;
    app.signup_code("partners-web", "sess@example.com").await;
    assert_eq!(app.scalar("SELECT count(*) FROM sessions").await, 2);
    let f = app.begin("customers-web", &[("prompt", "login")]).await;
    assert_eq!(
        app.login(&f, "sess@example.com", PASSWORD).await.status(),
        303
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM sessions").await,
        2,
        "the customers session was replaced, not added"
    );
    // Logout through one door ends the sessions of every door in this browser.
    let page = app
        .get("/logout?client_id=customers-web")
        .await
        .text()
        .await
        .unwrap();
    let confirm = hidden(&page, "confirm");
    let r = app
        .post_form(
            "/logout",
            &[
                ("confirm", confirm.as_str()),
                ("client_id", "customers-web"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.scalar("SELECT count(*) FROM sessions").await, 0);
    let r = app.authorize("partners-web", &pkce(), &[]).await;
    assert!(
        location(&r).starts_with("/login?tx="),
        "partners session gone too"
    );
}

#[tokio::test]
async fn browser_ids_are_minted_by_the_server_only() {
    // S3: any 43-character cookie was adopted as the browser id.
    let app = spawn_app().await;
    let planted = portico::crypto::random_token();
    let r = app
        .http
        .get(format!(
            "{}/authorize?client_id=customers-web&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code&scope=openid&code_challenge={}&code_challenge_method=S256",
            app.base,
            pkce().challenge
        ))
        .header("cookie", format!("portico_browser={planted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let minted = set
        .iter()
        .find(|c| c.starts_with("portico_browser="))
        .expect("a server-minted id replaces the planted one");
    assert!(!minted.contains(&planted));
}

#[tokio::test]
async fn https_issuers_use_host_prefixed_secure_cookies() {
    // S3: `__Host-` names cannot be set by a sibling subdomain or over plain http.
    let app = spawn_app().await;
    let text = std::fs::read_to_string(&app.config_path).unwrap().replace(
        &format!("issuer = \"{}\"", app.base),
        "issuer = \"https://id.example.com\"",
    );
    let settings =
        portico::config::parse(&text, &app.config_path, &[]).unwrap_or_else(|e| panic!("{e}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = portico::startup::Application::build_on(
        settings,
        portico::clock::Clock::default(),
        listener,
    )
    .await
    .unwrap();
    tokio::spawn(server.run_until_stopped());
    let r = new_http()
        .get(format!(
            "http://127.0.0.1:{port}/authorize?client_id=customers-web&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code&scope=openid&code_challenge={}&code_challenge_method=S256",
            pkce().challenge
        ))
        .send()
        .await
        .unwrap();
    let c = r.headers()["set-cookie"].to_str().unwrap();
    assert!(c.starts_with("__Host-portico_browser="), "{c}");
    assert!(
        c.contains("Secure") && c.contains("Path=/") && !c.contains("Domain"),
        "{c}"
    );
}
