//! The command line of interface.md: serve, check, keys, users, invite, secret, rules test,
//! store copy.
//! Every subcommand and flag carries a one-line help text.

mod invite;
mod keys;
mod rules;
mod store;
mod users;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Settings};
use crate::crypto;
use crate::startup::Application;

#[derive(Parser, Debug)]
#[command(
    name = "portico",
    version,
    about = "Self-hosted OpenID Connect provider: one issuer, many branded doors, one API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr: text (default) or json, one object per line; overrides [log] format
    #[arg(long, global = true, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ConfigArg {
    /// The configuration file
    #[arg(long, default_value = "portico.toml", global = true)]
    pub config: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server
    Serve(ConfigArg),
    /// Validate the configuration; print every problem and warning
    Check(ConfigArg),
    /// Signing keys: list, rotate, withdraw
    Keys {
        #[command(subcommand)]
        action: keys::KeysAction,
    },
    /// Users of a connection: create, list, delete, set roles
    Users {
        #[command(subcommand)]
        action: users::UsersAction,
    },
    /// Invitations that carry roles: create, list, revoke
    Invite {
        #[command(subcommand)]
        action: invite::InviteAction,
    },
    /// Print a new client secret and its client_secret_sha256
    Secret,
    /// Post-login rules: dry-run them
    Rules {
        #[command(subcommand)]
        action: rules::RulesAction,
    },
    /// The store: copy SQLite into PostgreSQL
    Store {
        #[command(subcommand)]
        action: store::StoreAction,
    },
}

impl Cli {
    /// The configuration file this command reads, if any.
    pub fn config_path(&self) -> Option<&Path> {
        let c = match &self.command {
            Command::Serve(c) | Command::Check(c) => c,
            Command::Keys { action } => action.config(),
            Command::Users { action } => action.config(),
            Command::Invite { action } => action.config(),
            Command::Rules { action } => action.config(),
            Command::Store { action } => action.config(),
            Command::Secret => return None,
        };
        Some(&c.config)
    }

    /// `--log-format`, else the configuration's `[log] format`, else text. Read before
    /// the configuration is validated, so a broken file still logs in the chosen format.
    pub fn log_format(&self) -> config::LogFormat {
        let named = self.log_format.clone().or_else(|| {
            let text = std::fs::read_to_string(self.config_path()?).ok()?;
            let table: toml::Table = text.parse().ok()?;
            table.get("log")?.get("format")?.as_str().map(str::to_owned)
        });
        match named.as_deref() {
            Some("json") => config::LogFormat::Json,
            _ => config::LogFormat::Text,
        }
    }
}

/// A command failed: the message is printed and the exit code is 1.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

fn load(path: &Path) -> Result<Settings, Failure> {
    config::load(path).map_err(|e| Failure(e.to_string()))
}

fn now() -> i64 {
    crate::clock::Clock::default().now()
}

/// Unix seconds as RFC 3339 (UTC).
fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Run one command; output goes to `out`.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(c) => serve(&c.config),
        Command::Check(c) => {
            let s = load(&c.config)?;
            writeln!(
                out,
                "{}: OK ({} clients, {} connections, {} APIs, {} rules)",
                c.config.display(),
                s.clients.len(),
                s.connections.len(),
                s.apis.len(),
                s.rules.names().count()
            )?;
            for w in &s.warnings {
                writeln!(out, "  warning: {w}")?;
            }
            Ok(())
        }
        Command::Keys { action } => keys::run(action, out),
        Command::Users { action } => users::run(action, out),
        Command::Invite { action } => invite::run(action, out),
        Command::Secret => {
            let secret = crypto::random_token();
            writeln!(out, "client_secret        = \"{secret}\"")?;
            writeln!(
                out,
                "client_secret_sha256 = \"{}\"",
                crypto::hex(&crypto::sha256(secret.as_bytes()))
            )?;
            Ok(())
        }
        Command::Rules { action } => rules::run(action, out),
        Command::Store { action } => store::run(action, out),
    }
}

fn serve(config: &Path) -> Result<(), Failure> {
    let settings = load(config)?;
    // Every connection is a descriptor: take the hard limit, not the soft 1024 (review
    // M5); `[server] max_connections` bounds what is used.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings.clone()).await?;
        tracing::info!(
            issuer = %settings.issuer,
            port = app.port(),
            "Portico listening on {}",
            settings.listen
        );
        actix_web::rt::spawn(crate::startup::reload_on_sighup(
            app.state(),
            config.to_owned(),
        ));
        app.run_until_stopped().await?;
        Ok::<(), Failure>(())
    })
}
