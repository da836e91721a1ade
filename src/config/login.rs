//! `[login]`: the hashing pool, lifetimes, and every throttle of the hosted pages.

use serde::Deserialize;

use super::checker::Checker;
use super::{LoginSettings, MAX_TTL};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogin {
    hash_concurrency: Option<usize>,
    hash_queue: Option<usize>,
    session_ttl_secs: Option<i64>,
    transaction_ttl_secs: Option<i64>,
    max_failures: Option<u32>,
    failure_window_secs: Option<i64>,
    max_failures_per_ip: Option<u32>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    max_signups_per_ip: Option<u32>,
    signup_window_secs: Option<i64>,
    max_signups_per_minute: Option<u32>,
    max_transactions_per_browser: Option<usize>,
    max_transactions_per_ip: Option<usize>,
    max_transactions: Option<usize>,
    max_client_auth_failures: Option<u32>,
    max_sso_per_minute: Option<u32>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table) -> LoginSettings {
    let raw_login: RawLogin = c.section(root, "login");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let login = LoginSettings {
        hash_concurrency: raw_login.hash_concurrency.unwrap_or(cores).max(1),
        hash_queue: raw_login.hash_queue.unwrap_or(64),
        session_ttl: raw_login.session_ttl_secs.unwrap_or(86_400),
        transaction_ttl: raw_login.transaction_ttl_secs.unwrap_or(900),
        max_failures: raw_login.max_failures.unwrap_or(10).max(1),
        failure_window: raw_login.failure_window_secs.unwrap_or(900),
        max_failures_per_ip: raw_login.max_failures_per_ip.unwrap_or(100).max(1),
        trusted_proxies: raw_login
            .trusted_proxies
            .iter()
            .filter_map(|p| match p.parse() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    c.add(
                        "login",
                        format!("trusted_proxies: \"{p}\" is not an IP address"),
                    );
                    None
                }
            })
            .map(crate::domain::normalise_ip)
            .collect(),
        max_signups_per_ip: raw_login.max_signups_per_ip.unwrap_or(20).max(1),
        signup_window: raw_login.signup_window_secs.unwrap_or(3600),
        max_signups_per_minute: raw_login.max_signups_per_minute.unwrap_or(300).max(1),
        max_transactions_per_browser: raw_login.max_transactions_per_browser.unwrap_or(10).max(1),
        max_transactions_per_ip: raw_login.max_transactions_per_ip.unwrap_or(500).max(1),
        max_transactions: raw_login.max_transactions.unwrap_or(100_000).max(1),
        max_client_auth_failures: raw_login.max_client_auth_failures.unwrap_or(20).max(1),
        max_sso_per_minute: raw_login.max_sso_per_minute.unwrap_or(120).max(1),
    };
    for (key, v) in [
        ("session_ttl_secs", login.session_ttl),
        ("transaction_ttl_secs", login.transaction_ttl),
        ("failure_window_secs", login.failure_window),
        ("signup_window_secs", login.signup_window),
    ] {
        if v <= 0 || v > MAX_TTL {
            c.add(
                "login",
                format!("{key} must be between 1 and {MAX_TTL} seconds (10 years)"),
            );
        }
    }

    login
}
