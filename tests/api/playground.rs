//! The single API trusts every door: the sample Orders API with real tokens over HTTP,
//! and the playground's relying-party flow.

use actix_web::{web, App, HttpServer};
use portico_verify::Verifier;

use crate::helpers::*;

/// The sample Orders API as an outside process would run it: its own server, trusting
/// the issuer through discovery and JWKS over HTTP.
async fn spawn_orders_api(issuer: &str) -> String {
    let verifier = web::Data::new(
        Verifier::builder()
            .issuer(issuer, "https://api.example.com")
            .realm("orders-api")
            .build()
            .unwrap(),
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .configure(portico::demo::demo_api::configure)
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}")
}

async fn call(api: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{api}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn one_api_serves_partners_and_customers_by_role() {
    let app = TestApp::builder().extra(PLAYGROUND).spawn().await;
    let api = spawn_orders_api(&app.base).await;
    let partner = app.signup_tokens("partners-web", "p@example.com").await;
    let customer = app
        .new_browser()
        .signup_tokens("customers-web", "c@example.com")
        .await;
    let pt = partner["access_token"].as_str().unwrap();
    let ct = customer["access_token"].as_str().unwrap();

    let me: serde_json::Value = call(&api, "/me", Some(pt)).await.json().await.unwrap();
    assert_eq!(me["client_id"], "partners-web");
    assert_eq!(me["roles"], serde_json::json!(["partner"]));
    assert_eq!(call(&api, "/partner/reports", Some(pt)).await.status(), 200);
    assert_eq!(call(&api, "/customer/orders", Some(pt)).await.status(), 403);
    assert_eq!(call(&api, "/customer/orders", Some(ct)).await.status(), 200);
    assert_eq!(call(&api, "/partner/reports", Some(ct)).await.status(), 403);

    // RFC 6750 3.1: no token → 401 with a bare challenge; a bad one → invalid_token.
    let r = call(&api, "/me", None).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let r = call(&api, "/me", Some("not.a.token")).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    // A machine client's token is accepted too, and has no user roles.
    let r = app
        .http
        .post(format!("{}/token", app.base))
        .basic_auth("orders-worker", Some("worker-secret-0123456789"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let w: serde_json::Value = r.json().await.unwrap();
    let me: serde_json::Value = call(&api, "/me", Some(w["access_token"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "orders-worker");
}

#[tokio::test]
async fn the_playground_signs_up_a_partner_and_shows_which_api_routes_answer() {
    let app = TestApp::builder().extra(PLAYGROUND).spawn().await;
    let page = app.get("/playground").await.text().await.unwrap();
    assert!(
        page.contains("Sign up as a partner →") && page.contains("Sign up as a customer →"),
        "{page}"
    );

    // Follow the partner door: the playground starts a code flow with PKCE.
    let r = app
        .get("/playground/start?client=partners-web&mode=signup")
        .await;
    assert_eq!(r.status(), 303);
    let authorize = location(&r);
    let q = query_of(&authorize);
    assert_eq!(q["client_id"], "partners-web");
    assert_eq!(
        q["redirect_uri"],
        format!("{}/playground/callback", app.base)
    );
    assert_eq!(q["code_challenge_method"], "S256");
    let r = app.get(&authorize).await;
    let signup_url = location(&r);
    assert!(signup_url.starts_with("/signup?tx="));
    let page = app.get(&signup_url).await.text().await.unwrap();
    let r = app
        .post_form(
            "/signup",
            &[
                ("tx", &hidden(&page, "tx")),
                ("csrf", &hidden(&page, "csrf")),
                ("email", "pg@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let callback = location(&r);
    assert!(
        callback.starts_with(&format!("{}/playground/callback?code=", app.base)),
        "{callback}"
    );
    let r = app.get(&callback).await;
    assert_eq!(location(&r), "/playground");
    let page = app.get("/playground").await.text().await.unwrap();
    assert!(page.contains("id=\"status-partner\">200<"), "{page}");
    assert!(page.contains("id=\"status-customer\">403<"), "{page}");
    assert!(page.contains("id=\"status-me\">200<"));
    let roles = page
        .split("id=\"roles\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(
        roles.contains("partner") && !roles.contains("customer"),
        "{roles}"
    );

    // Log out: RP-initiated logout back to the playground.
    let r = app.get("/playground/logout").await;
    let logout = location(&r);
    assert!(logout.starts_with(&format!("{}/logout?id_token_hint=", app.base)));
    let r = app.get(&logout).await;
    assert_eq!(location(&r), format!("{}/playground", app.base));
    assert!(app
        .get("/playground")
        .await
        .text()
        .await
        .unwrap()
        .contains("Not signed in"));
}

#[tokio::test]
async fn the_playground_callback_refuses_a_forged_state() {
    let app = TestApp::builder().extra(PLAYGROUND).spawn().await;
    let r = app
        .get("/playground/start?client=customers-web&mode=login")
        .await;
    assert_eq!(r.status(), 303);
    let r = app
        .get(&format!(
            "/playground/callback?code=x&state=forged&iss={}",
            app.base
        ))
        .await;
    assert_eq!(location(&r), "/playground");
    let page = app.get("/playground").await.text().await.unwrap();
    assert!(page.contains("state mismatch"), "{page}");
    assert!(
        !app.get("/playground")
            .await
            .text()
            .await
            .unwrap()
            .contains("state mismatch"),
        "shown once"
    );
}

#[tokio::test]
async fn the_playground_shows_no_text_from_its_url() {
    // Review L7: a link must not put words on the issuer's origin.
    let app = TestApp::builder().extra(PLAYGROUND).spawn().await;
    let page = app
        .get("/playground?error=Your+account+was+suspended&error_description=Call+%2B1-555-0100")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("suspended") && !page.contains("555"),
        "{page}"
    );
}

#[tokio::test]
async fn the_playground_is_off_unless_configured() {
    let app = spawn_app().await;
    assert_eq!(app.get("/playground").await.status(), 404);
    assert_eq!(app.get("/demo-api/me").await.status(), 404);
}
