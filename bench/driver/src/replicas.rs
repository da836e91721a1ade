//! PostgreSQL: one replica measured against this run's SQLite figures, then two replicas
//! (one per core) on the same database. The database comes from `BENCH_POSTGRES_URL`
//! (bench/run creates a fresh one on a private, durable cluster); it is emptied first.

use super::*;

/// CPU seconds (user + system) used so far by these processes and by every `postgres`
/// process: where the cores went during a phase.
fn cpu_secs(pids: &[u32]) -> (Vec<f64>, f64) {
    let ticks = |pid: &str| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (n(11) + n(12)) / 100.0
    };
    let ours = pids.iter().map(|p| ticks(&p.to_string())).collect();
    let mut pg = 0.0;
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.bytes().all(|b| b.is_ascii_digit()) {
                let comm =
                    std::fs::read_to_string(format!("/proc/{name}/comm")).unwrap_or_default();
                if comm.trim() == "postgres" {
                    pg += ticks(&name);
                }
            }
        }
    }
    (ours, pg)
}

/// The value of an earlier figure of this run.
fn figure(figures: &[Figure], name: &str) -> Option<f64> {
    figures
        .iter()
        .find(|f| f.name == name && f.errors == 0 && f.value > 0.0)
        .map(|f| f.value)
}

/// A rate against a reference rate: it must reach `floor` times it (0: informational).
fn ratio_figure(name: &str, s: &Stats, reference: Option<(f64, &str)>, floor: f64) -> Figure {
    let mut f = rate_figure(name, s, 0.0, "");
    match reference {
        Some((base, what)) if floor > 0.0 => {
            let min = floor * base;
            f.target = format!(">= {min:.1}/s ({:.0}% of {what})", floor * 100.0);
            f.pass = Some(f.pass == Some(true) && s.rate() >= min);
            f.note = format!("{:.0}% of {what} ({base:.1}/s)", 100.0 * s.rate() / base);
        }
        Some((base, what)) => {
            f.target = "-".into();
            f.pass = None;
            f.note = format!("{:.0}% of {what} ({base:.1}/s)", 100.0 * s.rate() / base);
        }
        None => {
            f.target = "-".into();
            f.pass = None;
        }
    }
    if let Some(e) = &s.first_error {
        f.note = format!("{}; first error: {e}", f.note);
    }
    f
}

pub(crate) async fn postgres_phase(
    env: &Env,
    config: &Path,
    load_cpus: Option<&str>,
    figures: &mut Vec<Figure>,
    info: &mut BTreeMap<String, Value>,
) -> Res<()> {
    let Some(url) = std::env::var("BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        say("PostgreSQL: skipped (no BENCH_POSTGRES_URL and no local PostgreSQL)");
        info.insert("postgres".into(), json!("skipped: no BENCH_POSTGRES_URL"));
        return Ok(());
    };
    let secs = env_num("BENCH_SECS", 10);
    let concurrency = env_num("BENCH_CONCURRENCY", 8) as usize;
    let n_codes = env_num("BENCH_CODES", 20_000) as usize;
    let sqlite_refresh = figure(figures, "refresh_token rotation");
    let sqlite_cc = figure(figures, "client_credentials ES256");
    let sqlite_login = figure(figures, &format!("password login c={LOGIN_CONCURRENCY}"));
    info.insert(
        "postgres".into(),
        json!({ "url": url, "note": "a private cluster with PostgreSQL's default durability (fsync, synchronous_commit on)" }),
    );

    let one = Env {
        store_url: Some(url),
        port: env.port + 10,
        ..env.clone()
    };
    let data = env.repo.join("target/bench-data/postgres");
    say("PostgreSQL: creating users");
    one.create_users(config, &data)?;
    say("PostgreSQL: one replica");
    let mut a = one.start("postgres-a", config, &data).await?;
    let http = client();

    let cc_body = "grant_type=client_credentials&scope=bench%3Aread";
    let worker_auth = basic(WORKER_CLIENT, WORKER_SECRET);
    let mut cc = wrk_figure(
        &one,
        "PG 1 replica: client_credentials",
        "/token",
        Some(cc_body),
        Some(&worker_auth),
        0.0,
        "client_secret_basic, ES256; stateless (the database only at start)",
    );
    if let Some(base) = sqlite_cc {
        cc.note = format!("{}; {:.0}% of SQLite", cc.note, 100.0 * cc.value / base);
    }
    cc.pass = None;
    cc.target = "-".into();
    figures.push(cc);

    let bases_a = [a.base.clone()];
    let _ = logins_for(&bases_a, LOGIN_CONCURRENCY, 1.0).await; // warm-up
    let login1 = logins_for(&bases_a, LOGIN_CONCURRENCY, secs as f64).await;
    figures.push(ratio_figure(
        "PG 1 replica: password login",
        &login1,
        sqlite_login.map(|v| (v, "SQLite")),
        0.0,
    ));
    let login1_rate = login1.rate();

    say(&format!(
        "PostgreSQL: {n_codes} codes, exchange, refresh rotation"
    ));
    let (_, codes) = mint_codes(&http, &a.base, n_codes, concurrency).await?;
    let (exchange, issued) = exchange_codes(&http, &a.base, codes, concurrency).await;
    figures.push(ratio_figure(
        "PG 1 replica: authorization_code exchange",
        &exchange,
        figure(figures, "authorization_code exchange").map(|v| (v, "SQLite")),
        0.0,
    ));
    let tokens: Vec<String> = issued.into_iter().map(|(r, _)| r).collect();
    let refresh1 = refresh_all(&http, &bases_a, tokens, concurrency).await;
    figures.push(ratio_figure(
        "PG 1 replica: refresh_token rotation",
        &refresh1,
        sqlite_refresh.map(|v| (v, "SQLite")),
        0.5,
    ));
    let refresh1_rate = refresh1.rate();

    say("PostgreSQL: two replicas, one per core");
    let two = Env {
        port: one.port + 1,
        server_cpus: load_cpus.map(str::to_owned),
        ..one.clone()
    };
    let mut b = two.start("postgres-b", config, &data).await?;
    let both = [a.base.clone(), b.base.clone()];
    let _ = logins_for(&both, LOGIN_CONCURRENCY, 1.0).await;
    let pids = [a.pid(), b.pid(), std::process::id()];
    let (before, pg_before) = cpu_secs(&pids);
    let login2 = logins_for(&both, LOGIN_CONCURRENCY, secs as f64).await;
    let (after, pg_after) = cpu_secs(&pids);
    let share = |i: usize| 100.0 * (after[i] - before[i]) / login2.secs.max(1e-9);
    let pg_share = 100.0 * (pg_after - pg_before) / login2.secs.max(1e-9);
    let mut f = ratio_figure(
        "PG 2 replicas: password login",
        &login2,
        Some((login1_rate, "1 replica")).filter(|(v, _)| *v > 0.0),
        1.5,
    );
    f.note = format!(
        "{}; CPU of the 2 cores: replica A {:.0}%, replica B {:.0}%, postgres {:.0}%, driver {:.0}%",
        f.note,
        share(0),
        share(1),
        pg_share,
        share(2)
    );
    info.insert(
        "postgres_2_replica_login_cpu_pct".into(),
        json!({"replica_a": round2(share(0)), "replica_b": round2(share(1)), "postgres": round2(pg_share), "driver": round2(share(2))}),
    );
    figures.push(f);
    let (_, codes) = mint_codes(&http, &a.base, n_codes, concurrency).await?;
    let (_, issued) = exchange_codes(&http, &b.base, codes, concurrency).await;
    let tokens: Vec<String> = issued.into_iter().map(|(r, _)| r).collect();
    let refresh2 = refresh_all(&http, &both, tokens, concurrency).await;
    let mut f = ratio_figure(
        "PG 2 replicas: refresh_token rotation",
        &refresh2,
        Some((refresh1_rate, "1 replica")).filter(|(v, _)| *v > 0.0),
        0.0,
    );
    f.note = format!("{}; alternating replicas, {concurrency} in flight", f.note);
    figures.push(f);
    b.stop();
    a.stop();
    Ok(())
}
