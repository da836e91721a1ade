//! `[store]`: SQLite in `data_dir` (the default; `synchronous` sets how hard it syncs,
//! `write_queue` how many writes may wait for its one writer), or
//! PostgreSQL at `url` (`PORTICO_STORE_URL` overrides it, so credentials stay out of the
//! file).

use serde::Deserialize;

use super::checker::Checker;
use crate::store::Durability;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    synchronous: Option<String>,
    url: Option<String>,
    write_queue: Option<usize>,
}

pub(super) struct StoreSection {
    pub durability: Durability,
    pub url: Option<String>,
    pub write_queue: usize,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table) -> StoreSection {
    let raw: RawStore = c.section(root, "store");
    let durability = match raw.synchronous.as_deref() {
        // FULL: a commit is on disk before anything it wrote is acknowledged, so a power
        // loss loses nothing acknowledged; group commit pays for the fsync (store::writer).
        None | Some("full") => Durability::Full,
        Some("normal") => Durability::Normal,
        Some(other) => {
            c.add(
                "store",
                format!("synchronous \"{other}\" must be \"normal\" or \"full\""),
            );
            Durability::Full
        }
    };
    let url = raw.url.filter(|u| !u.trim().is_empty());
    if let Some(u) = &url {
        if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
            c.add(
                "store",
                "url must be a PostgreSQL URL (postgres://user@host:port/database)",
            );
        } else if let Err(e) = u.parse::<::postgres::Config>() {
            c.add("store", format!("url is not a valid PostgreSQL URL: {e}"));
        }
    }
    let write_queue = raw.write_queue.unwrap_or(1024);
    if write_queue == 0 {
        c.add("store", "write_queue must be at least 1");
    }
    StoreSection {
        durability,
        url,
        write_queue,
    }
}
