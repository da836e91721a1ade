//! `[[connection]]`: the user stores: a database of Portico's own (the default kind), or
//! an upstream OpenID provider (`kind = "oidc"`: "Continue with …").

use serde::Deserialize;

use super::checker::Checker;
use super::{Connection, EmailVerification, Signup, Upstream};
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
    kind: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_env: Option<String>,
    scopes: Option<Vec<String>>,
    button_label: Option<String>,
    icon: Option<String>,
    #[serde(default)]
    trust_email: bool,
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
        let email_verification = email_verification(c, &label, &rc, mail);
        let signup = signup(c, &label, rc.signup.as_ref());
        let upstream = match rc.kind.as_deref() {
            None | Some("database") => None,
            Some("oidc") => upstream(c, &label, &rc, &name),
            Some(other) => {
                c.add(
                    &label,
                    format!("kind \"{other}\" must be \"database\" or \"oidc\""),
                );
                None
            }
        };
        if rc.kind.as_deref() == Some("oidc") && upstream.is_none() {
            continue;
        }
        // Passwords and addresses of upstream users are the upstream's business.
        let local = upstream.is_none();
        connections.push(Connection {
            upstream,
            name,
            signup,
            password_min_length: min,
            email_verification: if local {
                email_verification
            } else {
                EmailVerification::Off
            },
            password_reset: local && rc.password_reset.unwrap_or(true) && mail,
        });
    }

    connections
}

/// With mail, verification is optional and reset on unless the entry says otherwise
/// (Auth0's and Keycloak's defaults); without it both are off.
fn email_verification(
    c: &mut Checker,
    label: &str,
    rc: &RawConnection,
    mail: bool,
) -> EmailVerification {
    let v = match rc.email_verification.as_deref() {
        None if mail => EmailVerification::Optional,
        None | Some("off") => EmailVerification::Off,
        Some("optional") => EmailVerification::Optional,
        Some("required") => EmailVerification::Required,
        Some(other) => {
            c.add(
                label,
                format!(
                    "email_verification \"{other}\" must be \"off\", \"optional\" or \"required\""
                ),
            );
            EmailVerification::Off
        }
    };
    if v != EmailVerification::Off && !mail {
        c.add(
            label,
            "email_verification needs an [email] section to send the links",
        );
    }
    if rc.password_reset == Some(true) && !mail {
        c.add(
            label,
            "password_reset needs an [email] section to send the links",
        );
    }
    v
}

/// `signup`: "open", "invite" or "off" (true and false still mean open and off).
fn signup(c: &mut Checker, label: &str, v: Option<&toml::Value>) -> Signup {
    match v {
        None | Some(toml::Value::Boolean(false)) => Signup::Off,
        Some(toml::Value::Boolean(true)) => Signup::Open,
        Some(toml::Value::String(v)) if v == "open" => Signup::Open,
        Some(toml::Value::String(v)) if v == "invite" => Signup::Invite,
        Some(toml::Value::String(v)) if v == "off" => Signup::Off,
        Some(other) => {
            c.add(
                label,
                format!(
                    "signup {other} must be \"open\", \"invite\" or \"off\" (true/false also work)"
                ),
            );
            Signup::Off
        }
    }
}

/// The relying-party side of an upstream connection; every problem named by key.
fn upstream(
    c: &mut Checker,
    label: &str,
    rc: &RawConnection,
    name: &ConnectionName,
) -> Option<Upstream> {
    if rc.password_min_length.is_some() || rc.password_reset == Some(true) {
        c.add(
            label,
            "password_min_length and password_reset are for database connections",
        );
    }
    let issuer = match rc.issuer.as_deref() {
        Some(i) => match url::Url::parse(i) {
            Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.query().is_none() => {
                Some(i.trim_end_matches('/').to_owned())
            }
            _ => {
                c.add(label, format!("issuer \"{i}\" must be an http(s) URL"));
                None
            }
        },
        None => {
            c.add(label, "issuer is required for kind = \"oidc\"");
            None
        }
    };
    let client_id = rc.client_id.clone().filter(|s| !s.is_empty());
    if client_id.is_none() {
        c.add(
            label,
            "client_id is required for kind = \"oidc\" (Portico's id at the upstream)",
        );
    }
    let secret = secret(c, label, rc);
    let scopes = rc
        .scopes
        .clone()
        .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    if !scopes.iter().any(|s| s == "openid") {
        c.add(label, "scopes must include \"openid\"");
    }
    if let Some(icon) = &rc.icon {
        let safe = icon
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>'));
        if !safe || !(icon.starts_with("/static/") || icon.starts_with("https://")) {
            c.add(
                label,
                format!("icon \"{icon}\" must be a /static/ path or an https URL"),
            );
        }
    }
    Some(Upstream {
        issuer: issuer?,
        client_id: client_id?,
        client_secret: secret?,
        scopes,
        button_label: rc
            .button_label
            .clone()
            .unwrap_or_else(|| format!("Continue with {name}")),
        icon: rc.icon.clone(),
        trust_email: rc.trust_email,
    })
}

/// `client_secret`, or the environment variable `client_secret_env` names (kept out of
/// the file).
fn secret(c: &mut Checker, label: &str, rc: &RawConnection) -> Option<String> {
    match (&rc.client_secret, &rc.client_secret_env) {
        (Some(_), Some(_)) => {
            c.add(label, "give client_secret or client_secret_env, not both");
            None
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => {
                c.add(
                    label,
                    format!("client_secret_env: the environment variable {var} is not set"),
                );
                None
            }
        },
        (None, None) => {
            c.add(
                label,
                "client_secret (or client_secret_env) is required for kind = \"oidc\"",
            );
            None
        }
    }
}
