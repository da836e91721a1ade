//! `[store]`: SQLite in `data_dir` (the default; `synchronous` sets how hard it syncs), or
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
}

pub(super) struct StoreSection {
    pub durability: Durability,
    pub url: Option<String>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table) -> StoreSection {
    let raw: RawStore = c.section(root, "store");
    let durability = match raw.synchronous.as_deref() {
        None | Some("normal") => Durability::Normal,
        Some("full") => Durability::Full,
        Some(other) => {
            c.add(
                "store",
                format!("synchronous \"{other}\" must be \"normal\" or \"full\""),
            );
            Durability::Normal
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
    StoreSection { durability, url }
}
