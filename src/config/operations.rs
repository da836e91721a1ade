//! How the server runs: `[secrets]`, `[server]`, `[metrics]`, `[audit]` and `[log]`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::checker::Checker;
use super::clients::hex32;
use super::{LogFormat, MetricsSettings, SecretDigest, ServerSettings};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecrets {
    key_file: Option<String>,
    #[serde(default)]
    previous_key_files: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    max_connections: Option<usize>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    bearer_token_sha256: Option<String>,
    listen: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    retention_days: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    format: Option<String>,
}

/// The sections of round 2's security work: secrets, server limits, metrics, audit, log.
pub(super) struct Extras {
    pub(super) secrets: crate::secrets::SecretSource,
    pub(super) server: ServerSettings,
    pub(super) metrics: MetricsSettings,
    pub(super) audit_retention: i64,
    pub(super) log_format: LogFormat,
}

pub(super) fn parse(
    c: &mut Checker,
    root: &mut toml::Table,
    config_dir: &Path,
    data_dir: &Path,
) -> Extras {
    let raw: RawAudit = c.section(root, "audit");
    let days = raw.retention_days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        c.add("audit", "retention_days must be between 1 and 3650");
    }
    Extras {
        secrets: secrets(c, root, config_dir, data_dir),
        server: server(c, root),
        metrics: metrics(c, root),
        audit_retention: days.clamp(1, 3650) * 86_400,
        log_format: log_format(c, root),
    }
}

fn secrets(
    c: &mut Checker,
    root: &mut toml::Table,
    config_dir: &Path,
    data_dir: &Path,
) -> crate::secrets::SecretSource {
    let resolve = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_relative() {
            config_dir.join(p)
        } else {
            p
        }
    };
    let raw: RawSecrets = c.section(root, "secrets");
    crate::secrets::SecretSource {
        key_file: raw.key_file.as_deref().map(resolve),
        previous_key_files: raw.previous_key_files.iter().map(|p| resolve(p)).collect(),
        data_dir: data_dir.to_owned(),
        allow_generated: true,
    }
}

fn server(c: &mut Checker, root: &mut toml::Table) -> ServerSettings {
    let raw: RawServer = c.section(root, "server");
    let server = ServerSettings {
        max_connections: raw.max_connections.unwrap_or(10_000),
        header_timeout_secs: raw.header_timeout_secs.unwrap_or(5),
        body_timeout_secs: raw.body_timeout_secs.unwrap_or(10),
    };
    if !(16..=1_000_000).contains(&server.max_connections) {
        c.add("server", "max_connections must be between 16 and 1000000");
    }
    for (key, v) in [
        ("header_timeout_secs", server.header_timeout_secs),
        ("body_timeout_secs", server.body_timeout_secs),
    ] {
        if !(1..=300).contains(&v) {
            c.add("server", format!("{key} must be between 1 and 300 seconds"));
        }
    }
    server
}

fn metrics(c: &mut Checker, root: &mut toml::Table) -> MetricsSettings {
    let raw: RawMetrics = c.section(root, "metrics");
    let bearer_token_sha256 = raw.bearer_token_sha256.as_deref().and_then(|h| {
        let d = hex32(&h.to_ascii_lowercase()).map(SecretDigest);
        if d.is_none() {
            c.add(
                "metrics",
                "bearer_token_sha256 must be 64 hexadecimal characters",
            );
        }
        d
    });
    if let Some(l) = &raw.listen {
        if l.parse::<std::net::SocketAddr>().is_err() {
            c.add(
                "metrics",
                format!("listen \"{l}\" must be an address like 127.0.0.1:9090"),
            );
        }
    }
    MetricsSettings {
        bearer_token_sha256,
        listen: raw.listen,
    }
}

fn log_format(c: &mut Checker, root: &mut toml::Table) -> LogFormat {
    let raw: RawLog = c.section(root, "log");
    match raw.format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            c.add(
                "log",
                format!("format \"{other}\" must be \"text\" or \"json\""),
            );
            LogFormat::Text
        }
    }
}
