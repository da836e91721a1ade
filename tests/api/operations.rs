//! Running Portico: secrets at rest, file permissions, metrics access, key withdrawal,
//! `check`'s warnings and log formats (the operational findings of the 2026-11-28 review).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::helpers::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

async fn stored_pems(app: &TestApp) -> Vec<String> {
    app.state
        .idp
        .store
        .read(|c| {
            Ok(portico::store::keys::all(c)?
                .into_iter()
                .map(|k| k.private_pem)
                .collect())
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn the_data_directory_is_private_and_signing_keys_are_sealed() {
    // M7: data_dir 0755, portico.db 0644, PEM private keys in clear.
    let app = TestApp::builder().sqlite().spawn().await;
    let data = app.config_path.parent().unwrap().join("data");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("portico.db")), 0o600);
    assert_eq!(mode(&data.join("secret.key")), 0o600);
    for pem in stored_pems(&app).await {
        assert!(
            pem.starts_with("sealed:v1:") && !pem.contains("PRIVATE KEY"),
            "{pem}"
        );
    }
    let raw = std::fs::read(data.join("portico.db")).unwrap();
    assert!(
        !raw.windows(11).any(|w| w == b"PRIVATE KEY"),
        "no private key in the database file"
    );
}

#[tokio::test]
async fn an_older_data_directory_is_tightened_and_its_plaintext_keys_sealed() {
    let app = TestApp::builder().sqlite().spawn().await;
    let data = app.config_path.parent().unwrap().join("data");
    // What an older version left: a clear PEM and world-readable files.
    let pem = String::from_utf8(
        josekit::jws::ES256
            .generate_key_pair()
            .unwrap()
            .to_pem_private_key(),
    )
    .unwrap();
    app.state
        .idp
        .store
        .write(move |tx| {
            tx.execute(
                "UPDATE signing_keys SET private_pem = $1",
                &[portico::store::db::Value::Text(&pem)],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let config = app.config_path.clone();
    let dir = app.into_dir();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("portico.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (ok, out, err) = portico(&["keys", "list"], &config);
    assert!(ok, "{err}");
    assert!(out.contains("active"), "{out}");
    assert!(err.contains("readable by others"), "{err}");
    assert!(err.contains("stored in clear"), "{err}");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("portico.db")), 0o600);
    let again = TestApp::builder().sqlite().reuse(Some(dir)).spawn().await;
    for pem in stored_pems(&again).await {
        assert!(pem.starts_with("sealed:v1:"), "{pem}");
    }
}

#[tokio::test]
async fn the_server_secret_can_be_rotated_and_a_wrong_one_is_refused() {
    let app = TestApp::builder().sqlite().spawn().await;
    let root = app.config_path.parent().unwrap().to_owned();
    let config = app.config_path.clone();
    let original = std::fs::read_to_string(&config).unwrap();
    let dir = app.into_dir();
    let old = root.join("data/secret.key");
    let new = root.join("new.key");
    std::fs::write(&new, format!("{}\n", "ab".repeat(32))).unwrap();
    let with = |extra: &str| {
        std::fs::write(&config, format!("{original}\n[secrets]\n{extra}\n")).unwrap();
    };
    // Rotation: the new key, with the old one listed to open what it sealed.
    with(&format!(
        "key_file = \"{}\"\nprevious_key_files = [\"{}\"]",
        new.display(),
        old.display()
    ));
    let (ok, _, err) = portico(&["keys", "list"], &config);
    assert!(ok, "{err}");
    // Everything was re-sealed: the new key alone now suffices.
    with(&format!("key_file = \"{}\"", new.display()));
    let (ok, out, err) = portico(&["keys", "list"], &config);
    assert!(ok && out.contains("active"), "{err}");
    // A wrong key opens nothing, and says which key is missing.
    let wrong = root.join("wrong.key");
    std::fs::write(&wrong, "cd".repeat(32)).unwrap();
    with(&format!("key_file = \"{}\"", wrong.display()));
    let (ok, _, err) = portico(&["keys", "list"], &config);
    assert!(!ok);
    assert!(err.contains("PORTICO_SECRET_KEY"), "{err}");
    drop(dir);
}

#[tokio::test]
async fn a_compromised_key_is_withdrawn_at_once() {
    // I8: there was no way to stop trusting a key before its tokens expired.
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "k@example.com").await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let kid = app.state.idp.keys.current().active_kid().to_owned();
    let (ok, out, err) = portico(
        &["keys", "retire", "--now", "--kid", &kid],
        &app.config_path,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("withdrew") && out.contains("signs now"),
        "{out}"
    );
    portico::startup::run_housekeeping(&app.state)
        .await
        .unwrap();
    assert_ne!(app.state.idp.keys.current().active_kid(), kid);
    let jwks: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str()),
        "gone from JWKS"
    );
    let r = app
        .http
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "its tokens are refused");
    // Without --now nothing happens.
    let (ok, _, _) = portico(&["keys", "retire", "--kid", "x"], &app.config_path);
    assert!(!ok);
}

#[tokio::test]
async fn withdrawing_the_signing_key_promotes_the_announced_one() {
    // Red-team: the key `rotate` announced is already in verifiers' JWKS caches, so it
    // should take over, not a brand-new key they must fetch first.
    let app = spawn_app().await;
    let old = app.state.idp.keys.current().active_kid().to_owned();
    let (ok, out, err) = portico(&["keys", "rotate"], &app.config_path);
    assert!(ok, "{err}");
    let next = out.split_whitespace().nth(2).unwrap().to_owned();
    let (ok, out, err) = portico(
        &["keys", "retire", "--now", "--kid", &old],
        &app.config_path,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("announced key {next} signs now")),
        "{out}"
    );
    portico::startup::run_housekeeping(&app.state)
        .await
        .unwrap();
    assert_eq!(app.state.idp.keys.current().active_kid(), next);
    let jwks = jwks(&app).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "{jwks}");
    let t = app.signup_tokens("customers-web", "next@example.com").await;
    assert_eq!(header_of(s(&t, "access_token"))["kid"], next.as_str());
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token_or_live_on_their_own_address() {
    // I1: /metrics showed live failure rates to anyone.
    let token = "metrics-token-0123456789";
    let digest = portico::crypto::hex(&portico::crypto::sha256(token.as_bytes()));
    let app = TestApp::builder()
        .extra(&format!("[metrics]\nbearer_token_sha256 = \"{digest}\""))
        .spawn()
        .await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::builder()
        .extra(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\""))
        .spawn()
        .await;
    assert_eq!(app.get("/metrics").await.status(), 404, "not on the issuer");
    let r = new_http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("process_resident_memory_bytes"));
}

#[test]
fn check_refuses_script_redirects_and_warns_about_risky_settings() {
    // I3: javascript: redirect URIs, an http issuer in public and open metrics passed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portico.toml");
    let base = r#"
issuer = "http://id.example.com"
data_dir = "data"
[[connection]]
name = "db"
[[client]]
client_id = "web"
type = "public"
redirect_uris = ["REDIRECT"]
connection = "db"
"#;
    std::fs::write(
        &path,
        base.replace("REDIRECT", "javascript://x/%0aalert(1)"),
    )
    .unwrap();
    let (ok, _, err) = portico(&["check"], &path);
    assert!(!ok);
    assert!(err.contains("private-use scheme"), "{err}");
    std::fs::write(&path, base.replace("REDIRECT", "http://app.example.com/cb")).unwrap();
    let (ok, out, err) = portico(&["check"], &path);
    assert!(ok, "{err}");
    for w in [
        "warning: issuer",
        "warning: metrics",
        "redirect URI \"http://app.example.com/cb\" is http",
    ] {
        assert!(out.contains(w), "{w}: {out}");
    }
}

#[test]
fn logs_can_be_json_and_carry_no_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portico.toml");
    std::fs::write(
        &path,
        "issuer = \"http://127.0.0.1:1\"\ndata_dir = \"data\"\n[[connection]]\nname = \"db\"\n",
    )
    .unwrap();
    // The first command generates the server secret and says so (a warning).
    let (ok, _, err) = portico(&["keys", "list", "--log-format", "json"], &path);
    assert!(ok, "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|_| panic!("{l}"));
        assert!(v["level"].is_string(), "{l}");
    }
    std::fs::write(
        &path,
        "issuer = \"http://127.0.0.1:1\"\ndata_dir = \"data2\"\n[log]\nformat = \"text\"\n[[connection]]\nname = \"db\"\n",
    )
    .unwrap();
    let (ok, _, err) = portico(&["keys", "list"], &path);
    assert!(ok, "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no ANSI codes into a pipe: {err:?}"
    );
    assert!(err.contains("WARN"), "{err}");
}
