//! `portico store copy --to URL`: the SQLite store into an empty PostgreSQL database.

use clap::Subcommand;

use super::{load, ConfigArg, Failure};
use crate::startup::open_store_and_secrets;
use crate::store::copy;

#[derive(Subcommand, Debug)]
pub enum StoreAction {
    /// Copy the SQLite store into an empty PostgreSQL database (refuses a non-empty one)
    Copy {
        /// The PostgreSQL URL to copy into, e.g. postgres://portico@db.internal/portico
        #[arg(long)]
        to: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

impl StoreAction {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::Copy { config, .. } => config,
        }
    }
}

pub fn run(action: StoreAction, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let StoreAction::Copy { to, config } = action;
    let s = load(&config.config)?;
    if s.store_url.is_some() {
        return Err(Failure(
            "this configuration uses PostgreSQL already ([store] url); copy from the SQLite one"
                .into(),
        ));
    }
    let (store, _) = open_store_and_secrets(&s)?;
    let copied = copy::to_postgres(&store, &to)?;
    for (table, rows) in &copied {
        writeln!(out, "{table}: {rows} rows")?;
    }
    writeln!(
        out,
        "copied. Point every replica at it with [store] url (or PORTICO_STORE_URL) and the same server secret: \
         PORTICO_SECRET_KEY or [secrets] key_file = the key in {}",
        s.data_dir.join("secret.key").display()
    )?;
    Ok(())
}
