//! Configuration changes without downtime: the file is re-read on SIGHUP (or
//! `startup::reload`), validated like `portico check`, and swapped whole for new
//! requests; a broken file leaves the running configuration serving.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use portico::startup::{reload, Reloaded};

use crate::helpers::*;

const NEW_CLIENT: &str = r##"
[[client]]
client_id = "new-web"
name = "A door added by a reload"
type = "public"
redirect_uris = ["http://localhost:9100/callback"]
connection = "partners-db"
grant_types = ["authorization_code"]
"##;

/// The configuration file with a new client and the partners' colour changed.
fn edited(text: &str) -> String {
    let text = text.replace("primary_color = \"#7c3aed\"", "primary_color = \"#e11d48\"");
    format!("{text}\n{NEW_CLIENT}")
}

fn authorize_path(client: &str, redirect: &str) -> String {
    let p = pkce();
    let q = serde_urlencoded::to_string([
        ("client_id", client),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    format!("/authorize?{q}")
}

async fn health(b: &Browser) -> String {
    let v: serde_json::Value = b.get("/healthz").await.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    v["config"].as_str().unwrap().to_owned()
}

/// The brand stylesheet a page links, and its body.
async fn partner_css(b: &Browser) -> (String, String) {
    let f = b.begin("partners-web", &[]).await;
    let start = f
        .page
        .find("/branding/partners-web.css?v=")
        .expect("a versioned stylesheet");
    let href = f.page[start..].split('"').next().unwrap().to_owned();
    let css = b.get(&href).await.text().await.unwrap();
    (href, css)
}

#[tokio::test]
async fn a_reload_adds_a_client_and_changes_a_colour_for_new_requests() {
    let app = spawn_app().await;
    let before = health(&app).await;
    let (href, css) = partner_css(&app).await;
    assert!(css.contains("#7c3aed"));
    let r = app
        .get(&authorize_path("new-web", "http://localhost:9100/callback"))
        .await;
    assert_eq!(r.status(), 400, "no such client yet");

    let text = std::fs::read_to_string(&app.config_path).unwrap();
    std::fs::write(&app.config_path, edited(&text)).unwrap();
    match reload(&app.state, &app.config_path).unwrap() {
        Reloaded::Applied { needs_restart, .. } => {
            assert!(needs_restart.is_empty(), "{needs_restart:?}")
        }
        other => panic!("{other:?}"),
    }
    let after = health(&app).await;
    assert_ne!(before, after, "/healthz shows the new configuration");
    let r = app
        .get(&authorize_path("new-web", "http://localhost:9100/callback"))
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?tx="));
    let (new_href, css) = partner_css(&app).await;
    assert!(css.contains("#e11d48"), "{css}");
    assert_ne!(href, new_href, "the stylesheet URL changed with the colour");
    // The same file again: nothing to do.
    assert!(matches!(
        reload(&app.state, &app.config_path).unwrap(),
        Reloaded::Unchanged
    ));

    // A broken file is refused, with the key and the reason; the running one stays.
    let broken = format!(
        "{}\n[[client]]\nclient_id = \"bad\"\ntype = \"public\"\nconnection = \"no-such-db\"\n",
        edited(&text)
    );
    std::fs::write(&app.config_path, broken).unwrap();
    let e = reload(&app.state, &app.config_path).unwrap_err();
    assert!(e.to_string().contains("no-such-db"), "{e}");
    assert_eq!(health(&app).await, after);
    let r = app
        .get(&authorize_path("new-web", "http://localhost:9100/callback"))
        .await;
    assert_eq!(r.status(), 303, "the reloaded client still works");
    // Settings read once at start are reported, not silently ignored.
    let text = edited(&text).replace("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:1\"");
    std::fs::write(&app.config_path, text).unwrap();
    match reload(&app.state, &app.config_path).unwrap() {
        Reloaded::Applied { needs_restart, .. } => assert_eq!(needs_restart, vec!["listen"]),
        other => panic!("{other:?}"),
    }
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn sighup_reloads_the_real_server_without_dropping_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let text = BASE_CONFIG
        .replace("{ISSUER}", &base)
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace("{DATA}", &dir.path().join("data").display().to_string())
        .replace("{ALG}", "ES256")
        .replace("{LOGIN}", "")
        .replace("{EXTRA}", "");
    let config = dir.path().join("portico.toml");
    std::fs::write(&config, &text).unwrap();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_portico"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let b = Browser {
        http: new_http(),
        base: base.clone(),
    };
    let mut up = false;
    for _ in 0..200 {
        if let Ok(r) = b.http.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start");
    let before = health(&b).await;

    // Load while the configuration changes: every answer must be the expected one.
    let (stop, done, failures) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, done, failures, b) = (stop.clone(), done.clone(), failures.clone(), b.clone());
        load.push(tokio::spawn(async move {
            let path = authorize_path("partners-web", "http://localhost:4000/callback");
            while !stop.load(Ordering::Relaxed) {
                let ok = match b.http.get(format!("{}{path}", b.base)).send().await {
                    Ok(r) => r.status() == 303,
                    Err(_) => false,
                };
                done.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hup = |pid: u32| {
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    std::fs::write(&config, edited(&text)).unwrap();
    hup(server.0.id());
    let mut after = before.clone();
    for _ in 0..100 {
        after = health(&b).await;
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(after, before, "SIGHUP did not reload");
    let r = b
        .get(&authorize_path("new-web", "http://localhost:9100/callback"))
        .await;
    assert_eq!(r.status(), 303, "the new client works without a restart");
    let (_, css) = partner_css(&b).await;
    assert!(css.contains("#e11d48"));

    // A broken file and SIGHUP: refused, the old configuration keeps serving.
    std::fs::write(&config, "issuer = \"not a url\"\n").unwrap();
    hup(server.0.id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(health(&b).await, after);
    assert_eq!(
        b.get(&authorize_path("new-web", "http://localhost:9100/callback"))
            .await
            .status(),
        303
    );

    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let (done, failed) = (
        done.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    );
    assert!(done > 20, "the load ran ({done} requests)");
    assert_eq!(
        failed, 0,
        "{failed} of {done} requests failed during the reloads"
    );
}
