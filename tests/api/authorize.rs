//! The authorization endpoint: its checks as the browser meets them, error pages versus
//! redirected errors, single sign-on and prompt.

use crate::helpers::*;

async fn page_error(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none(), "must never redirect");
    r.text().await.unwrap()
}

#[tokio::test]
async fn unregistered_redirect_uri_variants_get_an_error_page_and_no_redirect() {
    let app = spawn_app().await;
    let p = pkce();
    for bad in [
        "http://evil.example/callback",       // other host
        "http://localhost:3000/other",        // other path
        "http://localhost:3000/callback?x=1", // extra query
        "http://localhost:3000/callback/",    // trailing slash
        "http://LOCALHOST:3000/callback",     // different case
        "http://localhost:3000/Callback",
        "https://localhost:3000/callback", // other scheme
        "http://localhost:3001/callback",  // other port (another client's URI)
        "http://localhost:3000/callback#frag",
    ] {
        let q = serde_urlencoded::to_string([
            ("client_id", "customers-web"),
            ("redirect_uri", bad),
            ("response_type", "code"),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        let body = page_error(app.get(&format!("/authorize?{q}")).await).await;
        assert!(body.contains("redirect_uri is not registered"), "{bad}");
    }
}

#[tokio::test]
async fn unknown_or_missing_client_gets_a_neutral_error_page() {
    let app = spawn_app().await;
    let body = page_error(app.get("/authorize?client_id=nope&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code").await).await;
    assert!(body.contains("not registered"));
    assert!(
        !body.contains("Acme"),
        "an unknown client gets the neutral page"
    );
    page_error(app.get("/authorize?response_type=code").await).await;
    // A repeated client_id is refused before anything is trusted.
    page_error(
        app.get("/authorize?client_id=customers-web&client_id=partners-web&response_type=code")
            .await,
    )
    .await;
}

#[tokio::test]
async fn pkce_missing_or_plain_is_refused_with_a_redirected_error() {
    let app = spawn_app().await;
    let base = [
        ("client_id", "customers-web"),
        ("redirect_uri", "http://localhost:3000/callback"),
        ("response_type", "code"),
        ("state", "s1"),
    ];
    let missing = serde_urlencoded::to_string(base).unwrap();
    let mut plain = base.to_vec();
    plain.push((
        "code_challenge",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    ));
    plain.push(("code_challenge_method", "plain"));
    let plain = serde_urlencoded::to_string(plain).unwrap();
    for q in [missing, plain] {
        let r = app.get(&format!("/authorize?{q}")).await;
        assert_eq!(r.status(), 303);
        let loc = location(&r);
        assert!(loc.starts_with("http://localhost:3000/callback?"), "{loc}");
        let q = query_of(&loc);
        assert_eq!(q["error"], "invalid_request");
        assert_eq!(q["state"], "s1");
        assert_eq!(q["iss"], app.base);
        assert!(!q.contains_key("code"));
    }
}

#[tokio::test]
async fn authorize_errors_follow_rfc6749_once_the_redirect_is_trusted() {
    let app = spawn_app().await;
    let p = pkce();
    let r = app
        .authorize("customers-web", &p, &[("resource", "https://evil.example")])
        .await;
    assert_eq!(query_of(&location(&r))["error"], "invalid_target");
    let r = app
        .authorize("customers-web", &p, &[("prompt", "none login")])
        .await;
    assert_eq!(query_of(&location(&r))["error"], "invalid_request");
    let r = app
        .authorize("customers-web", &p, &[("state", "again")])
        .await;
    assert_eq!(
        query_of(&location(&r))["error"],
        "invalid_request",
        "a repeated state is an error"
    );
}

#[tokio::test]
async fn post_authorize_works_like_get() {
    let app = spawn_app().await;
    let p = pkce();
    let r = app
        .post_form(
            "/authorize",
            &[
                ("client_id", "customers-web"),
                ("redirect_uri", "http://localhost:3000/callback"),
                ("response_type", "code"),
                ("code_challenge", &p.challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?tx="));
}

#[tokio::test]
async fn prompt_none_without_a_session_of_that_connection_is_login_required() {
    let app = spawn_app().await;
    let p = pkce();
    let r = app
        .authorize("customers-web", &p, &[("prompt", "none")])
        .await;
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-123");

    // A partner session does not count for a customer client.
    app.signup_code("partners-web", "pia@example.com").await;
    let r = app
        .authorize("customers-web", &p, &[("prompt", "none")])
        .await;
    assert_eq!(query_of(&location(&r))["error"], "login_required");
    // But it does for a partner client: a code at once.
    let r = app
        .authorize("partners-web", &p, &[("prompt", "none")])
        .await;
    assert!(query_of(&location(&r)).contains_key("code"));
}

#[tokio::test]
async fn single_sign_on_within_a_connection_unless_prompt_login_or_max_age() {
    let app = spawn_app().await;
    app.signup_code("customers-web", "sso@example.com").await;
    let p = pkce();
    // Another client of the same connection: no form.
    let r = app.authorize("customers-admin", &p, &[]).await;
    let loc = location(&r);
    assert!(
        loc.starts_with("http://localhost:3001/callback?code="),
        "{loc}"
    );
    // prompt=login shows the form.
    let r = app
        .authorize("customers-admin", &p, &[("prompt", "login")])
        .await;
    assert!(location(&r).starts_with("/login?tx="));
    // max_age shorter than the session's age shows the form.
    app.state.clock.advance(30);
    let r = app
        .authorize("customers-admin", &p, &[("max_age", "10")])
        .await;
    assert!(location(&r).starts_with("/login?tx="));
    let r = app
        .authorize("customers-admin", &p, &[("max_age", "60")])
        .await;
    assert!(query_of(&location(&r)).contains_key("code"));
    // A partner client still asks.
    let r = app.authorize("partners-web", &p, &[]).await;
    assert!(location(&r).starts_with("/login?tx="));
}

#[tokio::test]
async fn a_stolen_session_cookie_cannot_mint_codes_without_bound() {
    // Red-team M4: single sign-on costs no password, so each session gets a budget of
    // codes per minute; the rest are a redirected temporarily_unavailable.
    let app = TestApp::builder()
        .login("max_sso_per_minute = 3")
        .spawn()
        .await;
    app.signup_code("customers-web", "budget@example.com").await;
    let p = pkce();
    for _ in 0..3 {
        let r = app.authorize("customers-admin", &p, &[]).await;
        assert!(query_of(&location(&r)).contains_key("code"));
    }
    let r = app.authorize("customers-admin", &p, &[]).await;
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "temporarily_unavailable");
    assert_eq!(q["state"], "st-123");
    // The minute passes: the session signs in again.
    app.state.clock.advance(61);
    let r = app.authorize("customers-admin", &p, &[]).await;
    assert!(query_of(&location(&r)).contains_key("code"));
}

#[tokio::test]
async fn an_authorization_request_cannot_park_megabytes() {
    let app = spawn_app().await;
    let p = pkce();
    let big = "x".repeat(3000);
    let r = app
        .authorize("customers-web", &p, &[("junk", big.as_str())])
        .await;
    assert_eq!(query_of(&location(&r))["error"], "invalid_request");
    let many: Vec<(String, String)> = (0..60).map(|i| (format!("p{i}"), "v".to_owned())).collect();
    let extra: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app.authorize("customers-web", &p, &extra).await;
    assert_eq!(query_of(&location(&r))["error"], "invalid_request");
}
