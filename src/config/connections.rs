//! `[[connection]]`: the user stores.

use serde::Deserialize;

use super::checker::Checker;
use super::{Connection, EmailVerification, Signup};
use crate::domain::ConnectionName;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnection {
    name: String,
    #[serde(default)]
    signup: Option<toml::Value>,
    password_min_length: Option<usize>,
    email_verification: Option<String>,
    password_reset: Option<bool>,
}

/// `mail`: whether `[email]` is configured; the account mails need it.
pub(super) fn parse(c: &mut Checker, root: &mut toml::Table, mail: bool) -> Vec<Connection> {
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
        // With mail, verification is optional and reset on unless the entry says
        // otherwise (Auth0's and Keycloak's defaults); without it both are off.
        let email_verification = match rc.email_verification.as_deref() {
            None if mail => EmailVerification::Optional,
            None | Some("off") => EmailVerification::Off,
            Some("optional") => EmailVerification::Optional,
            Some("required") => EmailVerification::Required,
            Some(other) => {
                c.add(
                    &label,
                    format!("email_verification \"{other}\" must be \"off\", \"optional\" or \"required\""),
                );
                EmailVerification::Off
            }
        };
        if email_verification != EmailVerification::Off && !mail {
            c.add(
                &label,
                "email_verification needs an [email] section to send the links",
            );
        }
        if rc.password_reset == Some(true) && !mail {
            c.add(
                &label,
                "password_reset needs an [email] section to send the links",
            );
        }
        let signup = match &rc.signup {
            None | Some(toml::Value::Boolean(false)) => Signup::Off,
            Some(toml::Value::Boolean(true)) => Signup::Open,
            Some(toml::Value::String(v)) if v == "open" => Signup::Open,
            Some(toml::Value::String(v)) if v == "invite" => Signup::Invite,
            Some(toml::Value::String(v)) if v == "off" => Signup::Off,
            Some(other) => {
                c.add(
                    &label,
                    format!("signup {other} must be \"open\", \"invite\" or \"off\" (true/false also work)"),
                );
                Signup::Off
            }
        };
        connections.push(Connection {
            name,
            signup,
            password_min_length: min,
            email_verification,
            password_reset: rc.password_reset.unwrap_or(true) && mail,
        });
    }

    connections
}
