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

/// Sign-ups and refreshes in flight when the process is killed: every one the server
/// acknowledged is there after the restart (and nothing half-done is).
#[tokio::test]
async fn a_burst_of_writes_killed_midway_keeps_every_acknowledged_one() {
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
        .replace(
            "{LOGIN}",
            "max_signups_per_ip = 1000\nmax_signups_per_minute = 1000",
        )
        .replace("{EXTRA}", "");
    let config = dir.path().join("portico.toml");
    std::fs::write(&config, text).unwrap();
    let mut server = start(&config, &base).await;
    // Refresh tokens to rotate during the burst.
    let mut families = Vec::new();
    for i in 0..4 {
        let b = Browser {
            http: new_http(),
            base: base.clone(),
        };
        let t = b
            .signup_tokens("customers-web", &format!("fam{i}@example.com"))
            .await;
        families.push(t["refresh_token"].as_str().unwrap().to_owned());
    }
    let acked_signups = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let acked_refresh = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (base, signups) = (base.clone(), acked_signups.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let b = Browser {
                    http: new_http(),
                    base: base.clone(),
                };
                let email = format!("burst{w}-{i}@example.com");
                let f = b.begin("customers-web", &[("screen_hint", "signup")]).await;
                match b.signup(&f, &email, PASSWORD).await.status().as_u16() {
                    303 => signups.lock().unwrap().push(email),
                    _ => return,
                }
            }
        }));
    }
    for (family, mut rt) in families.into_iter().enumerate() {
        let (base, acked) = (base.clone(), acked_refresh.clone());
        tasks.push(tokio::spawn(async move {
            let b = Browser {
                http: new_http(),
                base,
            };
            loop {
                let r = b
                    .post_form(
                        "/token",
                        &[
                            ("grant_type", "refresh_token"),
                            ("client_id", "customers-web"),
                            ("refresh_token", &rt),
                        ],
                    )
                    .await;
                if r.status() != 200 {
                    return;
                }
                let v: serde_json::Value = r.json().await.unwrap();
                rt = v["refresh_token"].as_str().unwrap().to_owned();
                acked.lock().unwrap().push((family, rt.clone()));
            }
        }));
    }
    // Let the burst run, then kill -9 in the middle of it.
    for _ in 0..100 {
        if acked_signups.lock().unwrap().len() >= 8 && acked_refresh.lock().unwrap().len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    drop(server);
    let signups = acked_signups.lock().unwrap().clone();
    let rotated = acked_refresh.lock().unwrap().clone();
    assert!(
        signups.len() >= 8 && rotated.len() >= 20,
        "the burst ran: {} {}",
        signups.len(),
        rotated.len()
    );

    let _server = start(&config, &base).await;
    let fresh = Browser {
        http: new_http(),
        base: base.clone(),
    };
    // Every acknowledged sign-up can log in.
    for email in &signups {
        let b = Browser {
            http: new_http(),
            base: base.clone(),
        };
        b.login_code("customers-web", email, PASSWORD).await;
    }
    // Each family's last acknowledged rotation was committed: its new token is stored.
    // (Using it could legitimately fail: a rotation committed just before the kill, whose
    // answer never arrived, makes it a replay. Older ones may be pruned: a family keeps
    // its newest rotated tokens only.)
    let store = portico::store::Store::open(&portico::store::Location::Sqlite {
        data_dir: dir.path().join("data"),
        durability: portico::store::Durability::Full,
        write_queue: 16,
    })
    .unwrap();
    let mut last: std::collections::BTreeMap<usize, &String> = Default::default();
    for (family, rt) in &rotated {
        last.insert(*family, rt);
    }
    for rt in last.values() {
        let hash = portico::crypto::token_hash(rt);
        let found = store
            .read_now(|db| portico::store::refresh::get(db, &hash))
            .unwrap();
        assert!(found.is_some(), "an acknowledged refresh token was lost");
    }
    let _ = fresh;
}

#[tokio::test]
async fn a_failing_write_in_a_group_commit_rolls_back_alone() {
    let app = TestApp::builder().sqlite().spawn().await;
    let store = app.state.idp.store.clone();
    let stats = store.writer_stats().expect("SQLite has a writer");
    // Hold the writer, so the next writes queue up and share one transaction.
    let (held, release) = std::sync::mpsc::channel::<()>();
    let gate = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |_| {
                    let _ = release.recv_timeout(Duration::from_secs(10));
                    Ok(())
                })
                .await
        })
    };
    while stats.queued.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let batches_before = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    let mut writes = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            store
                .write(move |db| {
                    db.execute(
                        "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2)",
                        &[
                            portico::store::db::Value::Text(&format!("ok-{i}")),
                            portico::store::db::Value::Int(9_999_999_999),
                        ],
                    )?;
                    // The fifth writes a row, then breaks a constraint: all of it goes.
                    if i == 4 {
                        db.execute(
                            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2)",
                            &[
                                portico::store::db::Value::Text("ok-4"),
                                portico::store::db::Value::Int(1),
                            ],
                        )?;
                        db.execute("INSERT INTO users (id) VALUES ('broken')", &[])?;
                    }
                    Ok(i)
                })
                .await
        }));
    }
    while stats.queued.load(std::sync::atomic::Ordering::Relaxed) < 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    held.send(()).unwrap();
    gate.await.unwrap().unwrap();
    let mut failed = Vec::new();
    for (i, w) in writes.into_iter().enumerate() {
        match w.await.unwrap() {
            Ok(n) => assert_eq!(n, i),
            Err(e) => failed.push((i, e.to_string())),
        }
    }
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, 4);
    let batches_after = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        batches_after - batches_before,
        2,
        "the gate, then the ten in one transaction"
    );
    let kept = app
        .scalar("SELECT count(*) FROM revoked_access_tokens WHERE jti LIKE 'ok-%'")
        .await;
    assert_eq!(kept, 9, "nine committed, the broken one's rows gone");
    assert_eq!(
        app.scalar("SELECT count(*) FROM revoked_access_tokens WHERE jti = 'ok-4'")
            .await,
        0
    );
}

#[tokio::test]
async fn answers_follow_their_commit_and_commits_are_full_syncs() {
    let app = TestApp::builder().sqlite().spawn().await;
    let store = app.state.idp.store.clone();
    let stats = store.writer_stats().unwrap();
    let mut writes = Vec::new();
    for _ in 0..50 {
        let (store, stats) = (store.clone(), stats.clone());
        writes.push(tokio::spawn(async move {
            let s2 = stats.clone();
            let (batch, sync) = store
                .write(move |db| {
                    // This write's batch is the one after the last committed.
                    let batch = s2.committed.load(std::sync::atomic::Ordering::Acquire) + 1;
                    Ok((batch, db.scalar("PRAGMA synchronous", &[])?))
                })
                .await
                .unwrap();
            // By the time the answer arrives, its batch is committed.
            assert!(stats.committed.load(std::sync::atomic::Ordering::Acquire) >= batch);
            sync
        }));
    }
    for w in writes {
        assert_eq!(
            w.await.unwrap(),
            2,
            "PRAGMA synchronous = FULL (2) on the writer"
        );
    }
}

#[tokio::test]
async fn a_full_write_queue_answers_busy_at_once() {
    let app = TestApp::builder()
        .sqlite()
        .extra("[store]\nwrite_queue = 2")
        .spawn()
        .await;
    let t = app
        .signup_tokens("customers-web", "queued@example.com")
        .await;
    let store = app.state.idp.store.clone();
    let stats = store.writer_stats().unwrap();
    let (held, release) = std::sync::mpsc::channel::<()>();
    let gate = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |_| {
                    let _ = release.recv_timeout(Duration::from_secs(10));
                    Ok(())
                })
                .await
        })
    };
    while stats.queued.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Two writes fill the queue while the writer is held.
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let store = store.clone();
        waiting.push(tokio::spawn(async move { store.write(|_| Ok(())).await }));
    }
    while stats.queued.load(std::sync::atomic::Ordering::Relaxed) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The next one is refused while the writer is still held: it did not wait.
    let busy = store.write(|_| Ok(())).await;
    assert!(
        matches!(busy, Err(portico::store::StoreError::Busy)),
        "{busy:?}"
    );
    // Over HTTP: a refresh gets 503 temporarily_unavailable with Retry-After.
    let r = refresh(&app, "customers-web", s(&t, "refresh_token"), &[]).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    held.send(()).unwrap();
    gate.await.unwrap().unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    // And once the queue drains, the same refresh works.
    let r = refresh(&app, "customers-web", s(&t, "refresh_token"), &[]).await;
    assert_eq!(r.status(), 200);
}
