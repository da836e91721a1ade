//! The command line of interface.md: serve, check, keys, users, secret, rules test.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Settings};
use crate::domain::{valid_role, Email, PasswordPolicy};
use crate::rules::{EventClient, EventConnection, EventRequest, EventUser, RuleEvent};
use crate::startup::{open_store, open_store_and_secrets, Application};
use crate::store::{self, Store};
use crate::{crypto, login, tokens};

#[derive(Parser, Debug)]
#[command(
    name = "portico",
    version,
    about = "Self-hosted OpenID Connect provider: one issuer, many branded doors, one API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr: text (default) or json (one object per line, for log
    /// shippers); overrides `[log] format`.
    #[arg(long, global = true, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

impl Cli {
    /// The configuration file this command reads, if any.
    pub fn config_path(&self) -> Option<&Path> {
        let c = match &self.command {
            Command::Serve(c) | Command::Check(c) => c,
            Command::Keys { action } => match action {
                KeysAction::Rotate(c) | KeysAction::List(c) => c,
                KeysAction::Retire { config, .. } => config,
            },
            Command::Users { action } => match action {
                UsersAction::Create { config, .. }
                | UsersAction::List { config, .. }
                | UsersAction::Delete { config, .. }
                | UsersAction::SetRoles { config, .. } => config,
            },
            Command::Rules {
                action: RulesAction::Test { config, .. },
            } => config,
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

#[derive(Args, Debug, Clone)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, default_value = "portico.toml", global = true)]
    pub config: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ConfigArg),
    /// Validate the configuration; print every problem.
    Check(ConfigArg),
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Users of a connection.
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Print a new client secret and its client_secret_sha256.
    Secret,
    /// Post-login rules.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Publish a new signing key now; it signs after 7 minutes, and older keys stay in
    /// JWKS until their tokens expire.
    Rotate(ConfigArg),
    /// List the stored keys.
    List(ConfigArg),
    /// Withdraw a compromised key at once: gone from JWKS, its tokens refused here.
    Retire {
        /// The key id (kid) to withdraw.
        #[arg(long)]
        kid: String,
        /// Confirm that the key goes now, not after its tokens expire.
        #[arg(long, required = true)]
        now: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsersAction {
    Create {
        #[arg(long)]
        connection: String,
        #[arg(long)]
        email: String,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    List {
        #[arg(long)]
        connection: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    Delete {
        #[arg(long)]
        connection: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    SetRoles {
        #[arg(long)]
        connection: String,
        #[arg(long)]
        email: String,
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// Dry-run the rules against a synthetic login; touches no database.
    Test {
        #[arg(long)]
        client: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        signup: bool,
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A query parameter of the authorization request, as key=value.
        #[arg(long = "query")]
        query: Vec<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
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

fn connection_of<'a>(s: &'a Settings, name: &str) -> Result<&'a config::Connection, Failure> {
    s.connections
        .iter()
        .find(|c| c.name.as_str() == name)
        .ok_or_else(|| {
            Failure(format!(
                "connection \"{name}\" is not defined in the configuration"
            ))
        })
}

fn check_roles(roles: &[String]) -> Result<(), Failure> {
    match roles.iter().find(|r| !valid_role(r)) {
        Some(r) => Err(Failure(format!(
            "role \"{r}\" must be 1-64 letters, digits or -_.:/"
        ))),
        None => Ok(()),
    }
}

/// Run one command; output goes to `out`.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(c) => {
            let settings = load(&c.config)?;
            // Every connection is a descriptor: take the hard limit, not the soft 1024
            // (review M5); `[server] max_connections` bounds what is used.
            match rlimit::increase_nofile_limit(u64::MAX) {
                Ok(n) => tracing::debug!(limit = n, "open-file limit"),
                Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
            }
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(settings.clone()).await?;
                tracing::info!(issuer = %settings.issuer, port = app.port(), "Portico listening on {}", settings.listen);
                app.run_until_stopped().await?;
                Ok::<(), Failure>(())
            })
        }
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
        Command::Keys { action } => keys(action, out),
        Command::Users { action } => users(action, out),
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
        Command::Rules {
            action:
                RulesAction::Test {
                    client,
                    email,
                    signup,
                    roles,
                    query,
                    config,
                },
        } => {
            let s = load(&config.config)?;
            let c = s
                .client(&client)
                .ok_or_else(|| Failure(format!("client \"{client}\" is not defined")))?;
            let conn = c
                .connection
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_default();
            let email = Email::parse(&email).map_err(|e| Failure(e.to_owned()))?;
            check_roles(&roles)?;
            let mut q = BTreeMap::new();
            for kv in &query {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| Failure(format!("--query \"{kv}\" must be key=value")))?;
                q.insert(k.to_owned(), v.to_owned());
            }
            let event = RuleEvent {
                user: EventUser {
                    id: "usr_dry_run".into(),
                    email: email.to_string(),
                    email_verified: false,
                    connection: conn.clone(),
                    roles,
                    logins_count: 1,
                    created_at: now(),
                },
                client: EventClient {
                    id: c.client_id.to_string(),
                    name: c.name.clone(),
                },
                connection: EventConnection { name: conn },
                signup,
                request: EventRequest {
                    ip: "127.0.0.1".into(),
                    query: q,
                },
            };
            match s.rules.run(&event) {
                Ok(o) => {
                    if let Some(reason) = o.denied {
                        writeln!(out, "denied: {reason}")?;
                        return Err(Failure(String::new()));
                    }
                    writeln!(out, "roles: {}", serde_json::to_string(&o.roles)?)?;
                    writeln!(
                        out,
                        "access_token claims: {}",
                        serde_json::to_string(&o.access_token_claims)?
                    )?;
                    writeln!(
                        out,
                        "id_token claims: {}",
                        serde_json::to_string(&o.id_token_claims)?
                    )?;
                    Ok(())
                }
                Err(f) => {
                    writeln!(out, "denied (rule error): {f}")?;
                    Err(Failure(String::new()))
                }
            }
        }
    }
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

fn keys(action: KeysAction, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let (c, op) = match action {
        KeysAction::Rotate(c) => (c, Some(None)),
        KeysAction::List(c) => (c, None),
        KeysAction::Retire { kid, config, .. } => (config, Some(Some(kid))),
    };
    let s = load(&c.config)?;
    let (store, secrets) = open_store_and_secrets(&s)?;
    let mut conn = store.conn()?;
    let now = now();
    let alg = s.tokens.signing_alg;
    tokens::ensure_active_key(&mut conn, alg, now, &secrets)?;
    match op {
        Some(None) => {
            let k = tokens::rotate(&mut conn, alg, now, &secrets)?;
            writeln!(
                out,
                "new key {} ({}) published now, signs from {}; older keys stay published until their tokens expire",
                k.kid,
                k.alg,
                rfc3339(k.activates_at)
            )?;
        }
        Some(Some(kid)) => {
            let replacement = tokens::withdraw(&mut conn, &kid, alg, now, &secrets)?;
            writeln!(
                out,
                "withdrew key {kid}: gone from JWKS within a minute, its tokens refused"
            )?;
            if let Some(k) = replacement {
                writeln!(out, "new key {} ({}) signs now", k.kid, k.alg)?;
            }
        }
        None => {}
    }
    let all = store::keys::all(&conn)?;
    let signing = tokens::signing_key(&all, now).map(|k| k.kid.clone());
    for k in &all {
        let status = if let Some(t) = k.withdrawn_at {
            format!("withdrawn {}", rfc3339(t))
        } else if signing.as_deref() == Some(k.kid.as_str()) {
            "active".to_owned()
        } else if k.activates_at > now {
            format!("next, signs from {}", rfc3339(k.activates_at))
        } else {
            match k.retired_at {
                Some(t) => format!("retired {}", rfc3339(t)),
                None => "retired".to_owned(),
            }
        };
        writeln!(
            out,
            "{}\t{}\tcreated {}\t{}",
            k.kid,
            k.alg,
            rfc3339(k.created_at),
            status
        )?;
    }
    Ok(())
}

fn users(action: UsersAction, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let now = now();
    match action {
        UsersAction::Create {
            connection,
            email,
            password_stdin,
            roles,
            config,
        } => {
            let s = load(&config.config)?;
            let conn_cfg = connection_of(&s, &connection)?;
            let email = Email::parse(&email).map_err(|e| Failure(e.to_owned()))?;
            check_roles(&roles)?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\n', '\r']).to_owned()
            } else {
                return Err(Failure(
                    "give the password with --password-stdin (never on the command line)".into(),
                ));
            };
            PasswordPolicy {
                min_length: conn_cfg.password_min_length,
            }
            .check(&password, &email)?;
            let hash = login::password::hash_now(&password)?;
            let store: Store = open_store(&s)?;
            let mut c = store.conn()?;
            let created = store::write_tx(&mut c, |tx| {
                let u = store::users::create(tx, &connection, &email, &hash, &roles, now)?;
                if let Ok(u) = &u {
                    store::audit::record(
                        tx,
                        &store::audit::Event {
                            kind: "user_created",
                            connection: Some(&connection),
                            user_id: Some(&u.id),
                            detail: Some("command line"),
                            ..Default::default()
                        },
                        now,
                    )?;
                }
                Ok(u)
            })?;
            match created {
                Ok(u) => {
                    writeln!(out, "created {} in {} (sub {})", u.email, connection, u.id)?;
                    Ok(())
                }
                Err(_) => Err(Failure(format!("{email} already exists in {connection}"))),
            }
        }
        UsersAction::List { connection, config } => {
            let s = load(&config.config)?;
            connection_of(&s, &connection)?;
            let store = open_store(&s)?;
            for u in store::users::list(&*store.conn()?, &connection)? {
                writeln!(
                    out,
                    "{}\t{}\troles={}\tlogins={}",
                    u.id,
                    u.email,
                    u.roles.join(","),
                    u.logins_count
                )?;
            }
            Ok(())
        }
        UsersAction::Delete {
            connection,
            email,
            config,
        } => {
            let s = load(&config.config)?;
            connection_of(&s, &connection)?;
            let email = Email::parse(&email).map_err(|e| Failure(e.to_owned()))?;
            let store = open_store(&s)?;
            if store::users::delete(&*store.conn()?, &connection, email.as_str())? {
                writeln!(out, "deleted {email} from {connection}")?;
                Ok(())
            } else {
                Err(Failure(format!("{email} does not exist in {connection}")))
            }
        }
        UsersAction::SetRoles {
            connection,
            email,
            roles,
            config,
        } => {
            let s = load(&config.config)?;
            connection_of(&s, &connection)?;
            check_roles(&roles)?;
            let email = Email::parse(&email).map_err(|e| Failure(e.to_owned()))?;
            let store = open_store(&s)?;
            let conn = store.conn()?;
            let user = store::users::find_by_email(&conn, &connection, email.as_str())?
                .ok_or_else(|| Failure(format!("{email} does not exist in {connection}")))?;
            store::users::set_roles(&conn, &user.id, &roles, now)?;
            writeln!(out, "{email}: roles = [{}]", roles.join(", "))?;
            Ok(())
        }
    }
}
