//! Where mail goes: an SMTP relay (lettre: STARTTLS or TLS per the URL, AUTH from its
//! user info, a timeout), or `.eml` files in an outbox directory.

use std::time::Duration;

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailTransport;

/// A delivery that did not happen, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The relay refused for good (5xx): retrying sends the same refusal.
    Permanent(String),
    /// Down, busy, a timeout, a 4xx: the queue tries again later.
    Transient(String),
}

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    /// The transport of `[email]`. Nothing connects yet: a relay that is down at start
    /// only delays the queue.
    pub fn new(t: &MailTransport) -> Result<Self, String> {
        match t {
            MailTransport::Smtp { url } => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("smtp_url: {e}"))?;
                Ok(Self::Smtp(
                    builder.timeout(Some(Duration::from_secs(30))).build(),
                ))
            }
            MailTransport::Outbox { dir } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create the outbox {}: {e}", dir.display()))?;
                Ok(Self::Outbox(AsyncFileTransport::new(dir)))
            }
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Self::Smtp(t) => t.send(message).await.map(drop).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
            Self::Outbox(t) => t
                .send(message)
                .await
                .map(drop)
                .map_err(|e| SendError::Transient(e.to_string())),
        }
    }
}
