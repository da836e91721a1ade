//! `portico rules test`: dry-run the rules against a synthetic login.

use std::collections::BTreeMap;

use clap::Subcommand;

use super::{load, now, ConfigArg, Failure};
use crate::config;
use crate::domain::{valid_role, Email};
use crate::rules::{EventClient, EventConnection, EventRequest, EventUser, RuleEvent};

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// Dry-run the rules against a synthetic login; touches no database
    Test {
        /// The client the login goes through
        #[arg(long)]
        client: String,
        /// The user's e-mail address
        #[arg(long)]
        email: String,
        /// The login directly follows a sign-up (event.signup)
        #[arg(long)]
        signup: bool,
        /// A role the user has before the rules run (repeat for several)
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A query parameter of the authorization request, as key=value (repeat for several)
        #[arg(long = "query")]
        query: Vec<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

impl RulesAction {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::Test { config, .. } => config,
        }
    }
}

pub fn run(action: RulesAction, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let RulesAction::Test {
        client,
        email,
        signup,
        roles,
        query,
        config,
    } = action;
    let s = load(&config.config)?;
    let c = s.client(&client).ok_or_else(|| {
        let ids: Vec<&str> = s.clients.iter().map(|c| c.client_id.as_str()).collect();
        Failure(format!(
            "client \"{client}\" is not defined{}",
            config::did_you_mean(&client, &ids)
        ))
    })?;
    let conn = c
        .connection
        .as_ref()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let email = Email::parse(&email).map_err(|e| Failure(format!("--email: {e}")))?;
    if let Some(r) = roles.iter().find(|r| !valid_role(r)) {
        return Err(Failure(format!(
            "role \"{r}\" must be 1-64 letters, digits or -_.:/"
        )));
    }
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
        connection: EventConnection {
            name: conn,
            kind: "database".into(),
        },
        signup,
        request: EventRequest {
            ip: "127.0.0.1".into(),
            query: q,
        },
        invitation: None,
        upstream: None,
    };
    report(s.rules.run(&event), out)
}

fn report(
    outcome: Result<crate::rules::Outcome, crate::rules::RuleFailure>,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    match outcome {
        Ok(o) => {
            if let Some(reason) = o.denied {
                writeln!(out, "denied: {reason}")?;
                return Err(Failure(String::new()));
            }
            writeln!(out, "roles: {}", serde_json::to_string(&o.roles)?)?;
            let access = serde_json::to_string(&o.access_token_claims)?;
            writeln!(out, "access_token claims: {access}")?;
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
