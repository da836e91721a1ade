//! Discovery, JWKS, health and metrics, read by a real OIDC client library.

use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;

use crate::helpers::{spawn_app, TestApp};

fn rp_http() -> reqwest::Client {
    crate::helpers::http_builder().build().unwrap()
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
        let app = TestApp::builder().alg(alg).spawn().await;
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
    let again = TestApp::builder().reuse(Some(dir)).spawn().await;
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
