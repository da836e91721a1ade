//! `[[connection]]`: the user stores.

use serde::Deserialize;

use super::checker::Checker;
use super::Connection;
use crate::domain::ConnectionName;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnection {
    name: String,
    #[serde(default)]
    signup: bool,
    password_min_length: Option<usize>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table) -> Vec<Connection> {
    let mut connections: Vec<Connection> = Vec::new();
    for (label, rc) in c.entries::<RawConnection>(root, "connection", "name", &[]) {
        let name = match ConnectionName::parse(&rc.name) {
            Ok(n) => n,
            Err(e) => {
                c.add(&label, format!("name {e}"));
                continue;
            }
        };
        if connections.iter().any(|x| x.name == name) {
            c.add(&label, format!("duplicate connection name \"{name}\""));
            continue;
        }
        let min = rc.password_min_length.unwrap_or(10);
        if !(8..=128).contains(&min) {
            c.add(
                &label,
                "password_min_length must be between 8 and 128 (NIST SP 800-63B)",
            );
        }
        connections.push(Connection {
            name,
            signup: rc.signup,
            password_min_length: min,
        });
    }

    connections
}
