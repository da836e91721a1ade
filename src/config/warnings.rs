//! Valid but risky settings: `check` prints them, `serve` logs them.

use super::{Client, MetricsSettings, Playground, Problem};
use crate::domain::{is_loopback_url, ClientId, Issuer};

/// Valid but risky: `check` prints these, `serve` logs them.
pub(super) fn collect(
    issuer: &Issuer,
    clients: &[Client],
    playground: &Playground,
    metrics: &MetricsSettings,
) -> Vec<Problem> {
    let mut w = Vec::new();
    let mut add = |entry: &str, message: String| {
        w.push(Problem {
            entry: entry.to_owned(),
            message,
        })
    };
    let loopback = is_loopback_url(issuer.as_str());
    if !issuer.is_https() && !loopback {
        add(
            "issuer",
            format!("\"{issuer}\" is http on a non-loopback host: cookies are not Secure and tokens travel in clear; use https"),
        );
    }
    if !loopback && metrics.bearer_token_sha256.is_none() && metrics.listen.is_none() {
        add(
            "metrics",
            "/metrics is open to anyone who can reach the issuer; set [metrics] bearer_token_sha256 or listen".into(),
        );
    }
    if playground.enabled {
        let ids: Vec<&str> = playground.clients.iter().map(ClientId::as_str).collect();
        add(
            "playground",
            format!(
                "enabled: {} and {} are registered for {}",
                issuer.join(Playground::CALLBACK_PATH),
                issuer.join(Playground::HOME_PATH),
                if ids.is_empty() {
                    "no client".to_owned()
                } else {
                    ids.join(", ")
                }
            ),
        );
        if !loopback {
            add(
                "playground",
                "the demo relying party is on at a non-loopback issuer".into(),
            );
        }
    }
    for c in clients {
        for r in c
            .redirect_uris
            .iter()
            .filter(|r| r.as_str().starts_with("http://"))
        {
            if !is_loopback_url(r.as_str()) {
                add(
                    &format!("client \"{}\"", c.client_id),
                    format!("redirect URI \"{r}\" is http on a non-loopback host: codes travel in clear"),
                );
            }
        }
    }
    w
}
