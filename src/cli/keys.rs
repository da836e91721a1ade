//! `portico keys`: list, rotate (published first, signing 7 minutes later), withdraw.

use clap::Subcommand;

use super::{load, now, rfc3339, ConfigArg, Failure};
use crate::startup::open_store_and_secrets;
use crate::store;
use crate::tokens;

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Publish a new signing key now; it signs 7 minutes later (old keys stay until their tokens expire)
    Rotate(ConfigArg),
    /// List the stored keys with their state and times
    List(ConfigArg),
    /// Withdraw a compromised key at once: gone from JWKS, its tokens refused
    Retire {
        /// The key id (kid) to withdraw
        // Kids are random base64url and may begin with '-': still a value, not an option.
        #[arg(long, allow_hyphen_values = true)]
        kid: String,
        /// Confirm that the key goes now, not after its tokens expire
        #[arg(long, required = true)]
        now: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

impl KeysAction {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::Rotate(c) | Self::List(c) => c,
            Self::Retire { config, .. } => config,
        }
    }
}

pub fn run(action: KeysAction, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let s = load(&action.config().config)?;
    let (store, secrets) = open_store_and_secrets(&s)?;
    let now = now();
    let alg = s.tokens.signing_alg;
    tokens::ensure_active_key(&store, alg, now, &secrets)?;
    match &action {
        KeysAction::Rotate(_) => {
            let k = tokens::rotate(&store, alg, now, &secrets)?;
            writeln!(
                out,
                "new key {} ({}) published now, signs from {}; older keys stay published until their tokens expire",
                k.kid,
                k.alg,
                rfc3339(k.activates_at)
            )?;
        }
        KeysAction::Retire { kid, .. } => {
            let successor = tokens::withdraw(&store, kid, alg, now, &secrets)?;
            writeln!(
                out,
                "withdrew key {kid}: gone from JWKS within a minute, its tokens refused"
            )?;
            match successor {
                tokens::Successor::Unchanged => {}
                tokens::Successor::Promoted(next) => {
                    writeln!(out, "announced key {next} signs now")?;
                }
                tokens::Successor::Generated(k) => {
                    writeln!(out, "new key {} ({}) signs now", k.kid, k.alg)?;
                }
            }
        }
        KeysAction::List(_) => {}
    }
    let all = store.read_now(store::keys::all)?;
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::KeysAction;
    use crate::cli::{Cli, Command};

    #[test]
    fn a_kid_beginning_with_a_hyphen_is_a_value() {
        let cli =
            Cli::try_parse_from(["portico", "keys", "retire", "--now", "--kid", "-pXq3"]).unwrap();
        match cli.command {
            Command::Keys {
                action: KeysAction::Retire { kid, .. },
            } => assert_eq!(kid, "-pXq3"),
            other => panic!("{other:?}"),
        }
    }
}
