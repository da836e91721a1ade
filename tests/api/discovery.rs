//! Discovery, JWKS, health and metrics, read by a real OIDC client library.

use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;

use crate::helpers::{location, pkce, query_of, spawn, spawn_app};

fn rp_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn discover(base: &str) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(base.to_owned()).unwrap(), &rp_http())
        .await
        .unwrap_or_else(|e| panic!("discovery failed: {e:?}"))
}

async fn kids(base: &str) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_oidc_client_library_reads_discovery_and_jwks() {
    let app = spawn_app().await;
    let meta = discover(&app.base).await;
    assert_eq!(meta.issuer().as_str(), app.base);
    assert_eq!(
        meta.token_endpoint().unwrap().as_str(),
        format!("{}/token", app.base)
    );
    assert_eq!(meta.jwks().keys().len(), 1);

    let raw: serde_json::Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        raw["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(raw["authorization_response_iss_parameter_supported"], true);
    for k in [
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
        "userinfo_endpoint",
    ] {
        assert!(raw[k].as_str().unwrap().starts_with(&app.base), "{k}");
    }
    let methods = raw["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert_eq!(methods.len(), 3);
    let scopes = raw["scopes_supported"].as_array().unwrap();
    assert!(scopes.iter().any(|s| s == "orders:read"));

    let same: serde_json::Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same, raw);
}

#[tokio::test]
async fn jwks_publishes_public_members_with_kid_alg_use() {
    let app = spawn_app().await;
    let r = app.get("/.well-known/jwks.json").await;
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let jwks: serde_json::Value = r.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kty"], "EC");
    assert!(key["kid"].as_str().is_some());
    assert!(key.get("d").is_none(), "private member leaked");
}

#[tokio::test]
async fn rs256_and_eddsa_are_selectable() {
    for (alg, kty) in [("RS256", "RSA"), ("EdDSA", "OKP")] {
        let app = spawn("", alg, None).await;
        let jwks: serde_json::Value = app
            .get("/.well-known/jwks.json")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(jwks["keys"][0]["alg"], alg);
        assert_eq!(jwks["keys"][0]["kty"], kty);
        assert!(jwks["keys"][0].get("d").is_none() && jwks["keys"][0].get("p").is_none());
    }
}

#[tokio::test]
async fn keys_survive_a_restart_and_rotation_publishes_both() {
    let app = spawn_app().await;
    let before = kids(&app.base).await;
    let config_path = app.config_path.clone();
    let dir = app.into_dir();

    // A second server on the same data directory sees the same key.
    let again = spawn("", "ES256", Some(dir)).await;
    assert_eq!(kids(&again.base).await, before);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["keys", "rotate", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    portico::startup::run_housekeeping(&again.state)
        .await
        .unwrap();
    let after = kids(&again.base).await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.contains(&before[0]));
    let new_kid = after.iter().find(|k| **k != before[0]).unwrap();
    // Review I8: the next key is published before it signs, for verifiers' JWKS caches.
    assert_eq!(again.state.idp.keys.current().active_kid(), before[0]);
    again.state.clock.advance(portico::tokens::PUBLISH_AHEAD);
    portico::startup::run_housekeeping(&again.state)
        .await
        .unwrap();
    assert_eq!(again.state.idp.keys.current().active_kid(), new_kid);
    assert_eq!(discover(&again.base).await.jwks().keys().len(), 2);

    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["keys", "list", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(&before[0])
            && text.contains(new_kid.as_str())
            && text.contains("next, signs from"),
        "{text}"
    );
}

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
