//! `[store]`: how hard SQLite syncs each commit.

use serde::Deserialize;

use super::checker::Checker;
use crate::store::Durability;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    synchronous: Option<String>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table) -> Durability {
    let raw: RawStore = c.section(root, "store");
    match raw.synchronous.as_deref() {
        None | Some("normal") => Durability::Normal,
        Some("full") => Durability::Full,
        Some(other) => {
            c.add(
                "store",
                format!("synchronous \"{other}\" must be \"normal\" or \"full\""),
            );
            Durability::Normal
        }
    }
}
