//! `[email]`: who sends the account mails and how (`smtp` through lettre, or `outbox`:
//! `.eml` files under `<data_dir>/outbox`, for the demo and for development).
//! `PORTICO_SMTP_URL` overrides `smtp_url`, so credentials stay out of the file.

use std::path::Path;

use lettre::message::Mailbox;
use serde::Deserialize;

use super::checker::Checker;
use super::MAX_TTL;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    from: Option<String>,
    transport: Option<String>,
    smtp_url: Option<String>,
    verification_ttl_secs: Option<i64>,
    reset_ttl_secs: Option<i64>,
}

/// How mails leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// An SMTP relay, in lettre's URL syntax (`smtp://`, `smtps://`, `?tls=required`).
    Smtp { url: String },
    /// `.eml` files in this directory.
    Outbox { dir: std::path::PathBuf },
}

#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub from: Mailbox,
    pub transport: MailTransport,
    pub verification_ttl: i64,
    pub reset_ttl: i64,
}

/// `None` when there is no `[email]` table: no mail is sent at all.
pub(super) fn parse(
    c: &mut Checker,
    root: &mut toml::Table,
    data_dir: &Path,
) -> Option<EmailSettings> {
    if !root.contains_key("email") {
        return None;
    }
    let raw: RawEmail = c.section(root, "email");
    let from = match raw.from.as_deref().map(str::parse::<Mailbox>) {
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            c.add(
                "email",
                format!("from is not a mailbox (\"Name <a@b.example>\"): {e}"),
            );
            None
        }
        None => {
            c.add(
                "email",
                "from is required (\"Name <accounts@example.com>\")",
            );
            None
        }
    };
    let transport = match raw.transport.as_deref() {
        None | Some("smtp") => match raw.smtp_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => match lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
            {
                Ok(_) => Some(MailTransport::Smtp { url }),
                Err(e) => {
                    c.add("email", format!("smtp_url is not an SMTP URL: {e}"));
                    None
                }
            },
            None => {
                c.add(
                    "email",
                    "smtp_url is required with transport \"smtp\" (or set PORTICO_SMTP_URL, or transport = \"outbox\")",
                );
                None
            }
        },
        Some("outbox") => Some(MailTransport::Outbox {
            dir: data_dir.join("outbox"),
        }),
        Some(other) => {
            c.add(
                "email",
                format!("transport \"{other}\" must be \"smtp\" or \"outbox\""),
            );
            None
        }
    };
    let ttl = |c: &mut Checker, key: &str, v: Option<i64>, default: i64| {
        let v = v.unwrap_or(default);
        if !(60..=MAX_TTL).contains(&v) {
            c.add("email", format!("{key} must be between 60 and {MAX_TTL}"));
        }
        v
    };
    let verification_ttl = ttl(
        c,
        "verification_ttl_secs",
        raw.verification_ttl_secs,
        86_400,
    );
    let reset_ttl = ttl(c, "reset_ttl_secs", raw.reset_ttl_secs, 1_800);
    Some(EmailSettings {
        from: from?,
        transport: transport?,
        verification_ttl,
        reset_ttl,
    })
}
