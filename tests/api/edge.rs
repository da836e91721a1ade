//! The HTTP edge: health and metrics, malformed input, CORS, body limits.

use crate::helpers::*;

#[tokio::test]
async fn health_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.get("/.well-known/jwks.json").await;
    let m = app.get("/metrics").await.text().await.unwrap();
    assert!(m.contains("portico_http_requests_total{method=\"GET\",route=\"/.well-known/jwks.json\",status=\"200\"}"), "{m}");
    assert!(m.contains("process_resident_memory_bytes"));
}

#[tokio::test]
async fn bad_input_never_gets_a_5xx() {
    let app = spawn_app().await;
    let big = "x".repeat(70 * 1024);
    let r = app
        .http
        .post(format!("{}/token", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    for path in [
        "/authorize?%zz",
        "/login?tx=%00",
        "/token",
        "/userinfo",
        "/logout?id_token_hint=abc",
        "/static/../../etc/passwd",
        "/branding/x.css",
    ] {
        let r = app.get(path).await;
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
    }
    for path in [
        "/login",
        "/signup",
        "/authorize",
        "/token",
        "/revoke",
        "/introspect",
        "/userinfo",
        "/logout",
    ] {
        for (ctype, body) in [
            ("application/json", "{\"a\":1}".to_owned()),
            (
                "application/x-www-form-urlencoded",
                "%ff%fe=%00&&&==".to_owned(),
            ),
            ("application/x-www-form-urlencoded", "x=".repeat(40_000)),
            ("text/plain", String::new()),
        ] {
            let r = app
                .http
                .post(format!("{}{path}", app.base))
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                r.status().as_u16() < 500,
                "POST {path} ({ctype}): {}",
                r.status()
            );
        }
    }
    if let Ok(r) = app
        .http
        .get(format!("{}/authorize", app.base))
        .header("x-huge", "h".repeat(64 * 1024))
        .send()
        .await
    {
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let r = app
        .http
        .post(format!("{}/token", app.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn single_page_apps_get_cors_only_from_registered_origins() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/token", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let r = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let r = preflight("http://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let r = app
        .http
        .post(format!("{}/token", app.base))
        .header("origin", "http://localhost:4000")
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "partners-web"),
            ("code", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:4000"
    );
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn oversized_oauth_bodies_get_a_json_error_and_odd_methods_share_one_metric_label() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(format!("{}/token", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("x=".repeat(40_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_request"
    );

    for i in 0..3 {
        let m = reqwest::Method::from_bytes(format!("ZZ{i}").as_bytes()).unwrap();
        app.http
            .request(m, format!("{}/token", app.base))
            .send()
            .await
            .unwrap();
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(!metrics.contains("ZZ0"));
    assert!(metrics.contains("method=\"other\""));
}
