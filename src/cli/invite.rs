//! `portico invite`: invitations that carry roles (create prints the URL, and mails it
//! when `[email]` is set; list; revoke).

use std::sync::Arc;

use clap::Subcommand;

use super::{load, now, rfc3339, ConfigArg, Failure};
use crate::config::{self, Settings};
use crate::domain::Email;
use crate::idp::account::delivery;
use crate::idp::invitations::{self, NewInvitation, DEFAULT_TTL_DAYS};
use crate::idp::users::Actor;
use crate::startup::open_idp;
use crate::store;

#[derive(Subcommand, Debug)]
pub enum InviteAction {
    /// Invite an address through a client (its connection and brand); prints the URL
    Create {
        /// The client whose sign-up page the invitation opens
        #[arg(long)]
        client: String,
        /// The invited e-mail address
        #[arg(long)]
        email: String,
        /// A role the invitation gives (repeat for several)
        #[arg(long = "role")]
        roles: Vec<String>,
        /// How long the invitation stays valid
        #[arg(long, default_value_t = DEFAULT_TTL_DAYS)]
        ttl_days: i64,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List invitations, newest first
    List {
        /// Only this client's
        #[arg(long)]
        client: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Revoke an open invitation
    Revoke {
        /// The invitation's id (inv_…)
        #[arg(long)]
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

impl InviteAction {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::Create { config, .. }
            | Self::List { config, .. }
            | Self::Revoke { config, .. } => config,
        }
    }
}

pub fn run(action: InviteAction, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let s = load(&action.config().config)?;
    let now = now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match action {
        InviteAction::Create {
            client,
            email,
            roles,
            ttl_days,
            ..
        } => {
            if s.client(&client).is_none() {
                let ids: Vec<&str> = s.clients.iter().map(|c| c.client_id.as_str()).collect();
                return Err(Failure(format!(
                    "client \"{client}\" is not defined{}",
                    config::did_you_mean(&client, &ids)
                )));
            }
            let email = Email::parse(&email).map_err(|e| Failure(format!("--email: {e}")))?;
            let idp = open_idp(Arc::new(s), now)?;
            let n = NewInvitation {
                client_id: &client,
                email: &email,
                roles: &roles,
                ttl_days,
                actor: Actor::CommandLine,
            };
            let created = runtime.block_on(invitations::create(&idp, &n, now))?;
            let inv = &created.invitation;
            writeln!(
                out,
                "invitation {} for {} through {} (roles [{}]), valid until {}",
                inv.id,
                inv.email,
                inv.client_id,
                inv.roles.join(", "),
                rfc3339(inv.expires_at)
            )?;
            writeln!(out, "{}", created.url)?;
            if created.mailed {
                runtime.block_on(delivery::run_once(&idp, now))?;
                let sent = idp
                    .store
                    .read_now(|db| store::invitations::get(db, &inv.id))?
                    .is_some_and(|i| i.mailed_at.is_some());
                match sent {
                    true => writeln!(out, "mailed to {}", inv.email)?,
                    false => writeln!(
                        out,
                        "queued for mail to {}; a running server retries",
                        inv.email
                    )?,
                }
            }
        }
        InviteAction::List { client, .. } => list(&s, client.as_deref(), now, out)?,
        InviteAction::Revoke { id, .. } => {
            let idp = open_idp(Arc::new(s), now)?;
            if !runtime.block_on(invitations::revoke(&idp, &id, Actor::CommandLine, now))? {
                return Err(Failure(format!("no open invitation {id}")));
            }
            writeln!(out, "revoked {id}")?;
        }
    }
    Ok(())
}

/// Every invitation (of one client), newest first, a page of 100 at a time.
fn list(
    s: &Settings,
    client: Option<&str>,
    now: i64,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    let (store, _) = crate::startup::open_store_and_secrets(s)?;
    let mut cursor: Option<(i64, String)> = None;
    loop {
        let after = cursor.as_ref().map(|(t, i)| (*t, i.as_str()));
        let page = store.read_now(|db| store::invitations::page(db, client, after, 100))?;
        for i in &page {
            writeln!(
                out,
                "{}\t{}\t{}\troles={}\t{}\texpires {}",
                i.id,
                i.client_id,
                i.email,
                i.roles.join(","),
                i.state(now),
                rfc3339(i.expires_at)
            )?;
        }
        match page.last() {
            Some(last) if page.len() == 100 => cursor = Some((last.created_at, last.id.clone())),
            _ => return Ok(()),
        }
    }
}
