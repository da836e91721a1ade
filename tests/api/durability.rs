//! What the server acknowledges is committed: kill -9 the real binary right after a
//! sign-up and a token exchange, restart it, and everything acknowledged is there.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(config: &std::path::Path, base: &str) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
            if r.status() == 200 {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

#[tokio::test]
async fn acknowledged_writes_survive_a_kill_9() {
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
    std::fs::write(&config, text).unwrap();

    let mut server = start(&config, &base).await;
    let browser = Browser {
        http: new_http(),
        base: base.clone(),
    };
    let tokens = browser
        .signup_tokens("customers-web", "durable@example.com")
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Kill without any chance to flush or shut down.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);

    let _server = start(&config, &base).await;
    // The user signed up before the kill logs in; the refresh token issued before it works.
    let fresh = Browser {
        http: new_http(),
        base: base.clone(),
    };
    fresh
        .login_code("customers-web", "durable@example.com", PASSWORD)
        .await;
    let r = fresh
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "customers-web"),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
}
