//! `portico users`: the users of a connection, for operators.

use std::io::BufRead;
use std::sync::Arc;

use clap::Subcommand;

use super::{load, now, rfc3339, ConfigArg, Failure};
use crate::config::{self, Settings};
use crate::domain::{valid_role, AuditKind, Email, Password};
use crate::idp::account::delivery;
use crate::idp::account::jobs::{self, Job};
use crate::idp::signup::{self, NewAccount, Origin};
use crate::idp::users as users_core;
use crate::idp::Refusal;
use crate::startup::{open_idp, open_store_and_secrets};
use crate::store::{self, audit, Store};

#[derive(Subcommand, Debug)]
pub enum UsersAction {
    /// Create a user (the password is read from standard input)
    Create {
        /// The connection (user store) to create the user in
        #[arg(long)]
        connection: String,
        /// The user's e-mail address
        #[arg(long)]
        email: String,
        /// Read the password from one line of standard input (never from the command line)
        #[arg(long)]
        password_stdin: bool,
        /// A role to give the user (repeat for several)
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the users of a connection
    List {
        /// The connection to list
        #[arg(long)]
        connection: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Delete a user, their sessions and refresh tokens
    Delete {
        /// The connection the user belongs to
        #[arg(long)]
        connection: String,
        /// The user's e-mail address
        #[arg(long)]
        email: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Replace a user's roles
    SetRoles {
        /// The connection the user belongs to
        #[arg(long)]
        connection: String,
        /// The user's e-mail address
        #[arg(long)]
        email: String,
        /// A role (repeat for several; none clears them)
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Block a user: logins refused, sessions and refresh tokens ended at once
    Block {
        /// The connection the user belongs to
        #[arg(long)]
        connection: String,
        /// The user's e-mail address
        #[arg(long)]
        email: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Unblock a user
    Unblock {
        /// The connection the user belongs to
        #[arg(long)]
        connection: String,
        /// The user's e-mail address
        #[arg(long)]
        email: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Mail a password-reset link, branded for a client (support staff)
    SendReset {
        /// The connection the user belongs to
        #[arg(long)]
        connection: String,
        /// The user's e-mail address
        #[arg(long)]
        email: String,
        /// The client whose brand the mail and the reset page carry
        #[arg(long)]
        client: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

impl UsersAction {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::Create { config, .. }
            | Self::List { config, .. }
            | Self::Delete { config, .. }
            | Self::SetRoles { config, .. }
            | Self::SendReset { config, .. }
            | Self::Block { config, .. }
            | Self::Unblock { config, .. } => config,
        }
    }
}

fn connection_of<'a>(s: &'a Settings, name: &str) -> Result<&'a config::Connection, Failure> {
    s.connections
        .iter()
        .find(|c| c.name.as_str() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = s.connections.iter().map(|c| c.name.as_str()).collect();
            let hint = config::did_you_mean(name, &names);
            Failure(format!(
                "connection \"{name}\" is not defined in the configuration{hint}"
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

fn email(raw: &str) -> Result<Email, Failure> {
    Email::parse(raw).map_err(|e| Failure(format!("--email: {e}")))
}

fn store_of(s: &Settings) -> Result<Store, Failure> {
    Ok(open_store_and_secrets(s)?.0)
}

pub fn run(action: UsersAction, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let s = load(&action.config().config)?;
    let now = now();
    match action {
        UsersAction::Create {
            connection,
            email: e,
            password_stdin,
            roles,
            ..
        } => create_cmd(s, &connection, &e, password_stdin, &roles, now, out)?,
        UsersAction::List { connection, .. } => list_cmd(&s, &connection, out)?,
        UsersAction::Delete {
            connection,
            email: e,
            ..
        } => {
            connection_of(&s, &connection)?;
            let email = email(&e)?;
            change(
                &s,
                &connection,
                &email,
                now,
                AuditKind::UserDeleted,
                "command line",
                |db, u| store::users::delete(db, &connection, &u.email).map(|_| ()),
            )?;
            writeln!(out, "deleted {email} from {connection}")?;
        }
        UsersAction::SetRoles {
            connection,
            email: e,
            roles,
            ..
        } => {
            connection_of(&s, &connection)?;
            check_roles(&roles)?;
            let email = email(&e)?;
            change(
                &s,
                &connection,
                &email,
                now,
                AuditKind::RolesChanged,
                &roles.join(","),
                |db, u| store::users::set_roles(db, &u.id, &roles, now).map(|_| ()),
            )?;
            writeln!(out, "{email}: roles = [{}]", roles.join(", "))?;
        }
        UsersAction::Block {
            connection,
            email: e,
            ..
        } => {
            set_blocked(&s, &connection, &email(&e)?, true, now)?;
            writeln!(
                out,
                "blocked {e} in {connection}: its sessions and refresh tokens ended"
            )?;
        }
        UsersAction::Unblock {
            connection,
            email: e,
            ..
        } => {
            set_blocked(&s, &connection, &email(&e)?, false, now)?;
            writeln!(out, "unblocked {e} in {connection}")?;
        }
        UsersAction::SendReset {
            connection,
            email: e,
            client,
            ..
        } => {
            let email = email(&e)?;
            let sent = send_reset(s, &connection, &email, &client, now)?;
            writeln!(out, "{sent}")?;
        }
    }
    Ok(())
}

/// Queue the reset mail and run the sender once, so no running server is needed (with
/// one running, the job's lease keeps the two from sending it twice).
fn send_reset(
    s: Settings,
    connection: &str,
    email: &Email,
    client_id: &str,
    now: i64,
) -> Result<String, Failure> {
    let conn = connection_of(&s, connection)?;
    if s.email.is_none() {
        return Err(Failure("no [email] section: mail cannot be sent".into()));
    }
    if !conn.password_reset {
        return Err(Failure(format!(
            "connection \"{connection}\" has password_reset = false"
        )));
    }
    let client = s.client(client_id).ok_or_else(|| {
        let ids: Vec<&str> = s.clients.iter().map(|c| c.client_id.as_str()).collect();
        Failure(format!(
            "client \"{client_id}\" is not defined{}",
            config::did_you_mean(client_id, &ids)
        ))
    })?;
    if client.connection.as_ref().map(|c| c.as_str()) != Some(connection) {
        return Err(Failure(format!(
            "client \"{client_id}\" does not use connection \"{connection}\""
        )));
    }
    let idp = open_idp(Arc::new(s), now)?;
    let (conn_name, address) = (connection.to_owned(), email.as_str().to_owned());
    let known = idp
        .store
        .read_now(|db| store::users::find_by_email(db, &conn_name, &address))?;
    if known.is_none() {
        return Err(Failure(format!("{email} does not exist in {connection}")));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let job = Job::Reset {
        connection: connection.to_owned(),
        email: email.as_str().to_owned(),
        client_id: client_id.to_owned(),
        tx: None,
    };
    idp.store.write_now(|db| jobs::enqueue(db, &job, now))?;
    runtime.block_on(delivery::run_once(&idp, now))?;
    let pending = idp.store.read_now(store::mail_jobs::pending)?;
    Ok(match pending {
        0 => format!("sent a reset link to {email} (valid for {} minutes)", idp.settings().email.as_ref().map_or(30, |e| e.reset_ttl / 60)),
        _ => format!("queued a reset link for {email}; the mail relay did not take it yet, a running server retries"),
    })
}

/// `users list`: a line per user of the connection.
fn list_cmd(s: &Settings, connection: &str, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    connection_of(s, connection)?;
    for u in store_of(s)?.read_now(|db| store::users::list(db, connection))? {
        let (roles, created) = (u.roles.join(","), rfc3339(u.created_at));
        let logins = u.logins_count;
        writeln!(
            out,
            "{}\t{}\troles={roles}\tlogins={logins}\tcreated {created}",
            u.id, u.email
        )?;
    }
    Ok(())
}

/// `users create`: the password from one line of standard input, never an argument.
fn create_cmd(
    s: Settings,
    connection: &str,
    e: &str,
    password_stdin: bool,
    roles: &[String],
    now: i64,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    connection_of(&s, connection)?;
    let email = email(e)?;
    check_roles(roles)?;
    if !password_stdin {
        return Err(Failure(
            "give the password with --password-stdin (never on the command line)".into(),
        ));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = Password::new(line.trim_end_matches(['\n', '\r']).to_owned());
    let u = create(s, connection, &email, &password, roles, now)?;
    writeln!(out, "created {} in {} (sub {})", u.email, connection, u.id)?;
    Ok(())
}

/// Block or unblock through the core (the same path as the admin API).
fn set_blocked(
    s: &Settings,
    connection: &str,
    email: &Email,
    blocked: bool,
    now: i64,
) -> Result<(), Failure> {
    connection_of(s, connection)?;
    let (conn, address) = (connection.to_owned(), email.as_str().to_owned());
    let done = store_of(s)?.write_now(|db| {
        let Some(u) = store::users::find_by_email(db, &conn, &address)? else {
            return Ok(None);
        };
        let p = users_core::Patch {
            blocked: Some(blocked),
            ..Default::default()
        };
        users_core::patch(db, &u.id, &p, &users_core::Actor::CommandLine, now)
    })?;
    if done.is_none() {
        return Err(Failure(format!("{email} does not exist in {connection}")));
    }
    Ok(())
}

/// Change one user in one transaction, with its audit entry.
fn change(
    s: &Settings,
    connection: &str,
    email: &Email,
    now: i64,
    kind: AuditKind,
    detail: &str,
    f: impl FnOnce(&mut store::Db<'_>, &store::users::User) -> Result<(), store::StoreError>,
) -> Result<(), Failure> {
    let found = store_of(s)?.write_now(|db| {
        let Some(u) = store::users::find_by_email(db, connection, email.as_str())? else {
            return Ok(false);
        };
        f(db, &u)?;
        let ev = audit::Event {
            connection: Some(connection),
            user_id: Some(&u.id),
            detail: Some(detail),
            ..audit::Event::new(kind)
        };
        audit::record(db, &ev, now)?;
        Ok(true)
    })?;
    if !found {
        return Err(Failure(format!("{email} does not exist in {connection}")));
    }
    Ok(())
}

/// The same path as the sign-up page (policy, look-alikes, audit), without its budgets.
fn create(
    s: Settings,
    connection: &str,
    email: &Email,
    password: &Password,
    roles: &[String],
    now: i64,
) -> Result<store::users::User, Failure> {
    let idp = open_idp(Arc::new(s), now)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let account = NewAccount {
        connection,
        client_id: None,
        email,
        password,
        roles,
        origin: Origin::Admin,
        tx: None,
    };
    runtime
        .block_on(signup::create(&idp, &account, now))
        .map_err(|r| match r {
            Refusal::NotCreated => Failure(format!("{email} already exists in {connection}")),
            Refusal::Invalid(why) => Failure(why.into_owned()),
            other => Failure(format!("{other:?}")),
        })
}
