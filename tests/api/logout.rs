//! RP-Initiated Logout 1.0: the question, the hint, the return address.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn logout_with_a_registered_uri_ends_the_session_and_returns_with_the_state() {
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "bye@example.com").await;
    let p = pkce();
    let r = app
        .authorize("customers-web", &p, &[("prompt", "none")])
        .await;
    assert!(
        query_of(&location(&r)).contains_key("code"),
        "a session exists"
    );

    let q = serde_urlencoded::to_string([
        ("id_token_hint", s(&t, "id_token")),
        ("post_logout_redirect_uri", "http://localhost:3000/"),
        ("state", "bye-1"),
    ])
    .unwrap();
    let r = app.get(&format!("/logout?{q}")).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "http://localhost:3000/?state=bye-1");

    let r = app
        .authorize("customers-web", &p, &[("prompt", "none")])
        .await;
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "login_required");
    assert!(app.audit_kinds().await.iter().any(|k| k == "logout"));
}

#[tokio::test]
async fn logout_refuses_an_unregistered_uri_or_an_invalid_hint_without_redirecting() {
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "stay@example.com").await;
    let id_token = s(&t, "id_token");
    let mut tampered = claims(id_token);
    tampered["sub"] = json!("someone-else");
    let parts: Vec<&str> = id_token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64_json(&tampered), parts[2]);

    let attempts = [
        // Not registered for customers-web (it is backend-app's).
        vec![
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "http://localhost:5000/bye"),
        ],
        vec![
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![("id_token_hint", "garbage")],
        vec![
            ("id_token_hint", tampered.as_str()),
            ("post_logout_redirect_uri", "http://localhost:3000/"),
        ],
    ];
    for params in attempts {
        let q = serde_urlencoded::to_string(&params).unwrap();
        let r = app.get(&format!("/logout?{q}")).await;
        assert_eq!(r.status(), 400, "{params:?}");
        assert!(r.headers().get("location").is_none(), "must never redirect");
    }
    // Nothing was ended.
    let r = app
        .authorize("customers-web", &pkce(), &[("prompt", "none")])
        .await;
    assert!(query_of(&location(&r)).contains_key("code"));
}

/// RP-Initiated Logout 1.0 section 2: without an id_token_hint the user confirms, and a
/// cross-site request (no browser-binding cookie) cannot confirm for them.
#[tokio::test]
async fn logout_without_a_hint_asks_first_and_cannot_be_forged() {
    let app = spawn_app().await;
    app.signup_code("customers-web", "bye@example.com").await;
    let still_signed_in = |b: &Browser| {
        let b = b.clone();
        async move {
            let r = b
                .authorize("customers-web", &pkce(), &[("prompt", "none")])
                .await;
            query_of(&location(&r)).contains_key("code")
        }
    };
    let q = "client_id=customers-web&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A3000%2F&state=s9";
    let r = app.get(&format!("/logout?{q}")).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign out?"));
    assert!(still_signed_in(&app).await, "a GET alone signs nobody out");

    let confirm = hidden(&page, "confirm");
    let form = [
        ("confirm", confirm.as_str()),
        ("client_id", "customers-web"),
        ("post_logout_redirect_uri", "http://localhost:3000/"),
        ("state", "s9"),
    ];
    // Another site replaying the form: no binding cookie, no logout.
    let forged = app.new_browser().post_form("/logout", &form).await;
    assert_eq!(forged.status(), 200);
    assert!(still_signed_in(&app).await);
    let r = app
        .post_form(
            "/logout",
            &[("confirm", "wrong"), ("client_id", "customers-web")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(still_signed_in(&app).await);

    let r = app.post_form("/logout", &form).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "http://localhost:3000/?state=s9");
    assert!(!still_signed_in(&app).await);
}

/// An attacker's own ID token as id_token_hint must not sign a victim out silently.
#[tokio::test]
async fn a_hint_naming_another_user_does_not_skip_the_logout_question() {
    let app = spawn_app().await;
    app.signup_code("customers-web", "victim@example.com").await;
    let attacker = app
        .new_browser()
        .signup_tokens("customers-web", "mallory@example.com")
        .await;
    let hint = attacker["id_token"].as_str().unwrap();
    let q = serde_urlencoded::to_string([
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", "http://localhost:3000/"),
    ])
    .unwrap();
    let r = app.get(&format!("/logout?{q}")).await;
    assert_eq!(r.status(), 200, "a confirmation page, not a redirect");
    assert!(r.text().await.unwrap().contains("Sign out?"));
    let r = app
        .authorize("customers-web", &pkce(), &[("prompt", "none")])
        .await;
    assert!(
        query_of(&location(&r)).contains_key("code"),
        "the victim is still signed in"
    );
}
