//! The mails' text: askama templates (HTML auto-escaped, text not), branded from the
//! client the user came through. Every URL in a mail is absolute and on the issuer.

use askama::Template;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::config::Client;
use crate::domain::Issuer;

/// Which mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Verify,
    Reset,
    Invitation,
}

/// A client's brand as a mail shows it: absolute logo URL, colour, title.
pub struct MailBrand {
    pub title: String,
    pub logo: Option<String>,
    pub color: String,
}

impl MailBrand {
    pub fn of(client: &Client, issuer: &Issuer) -> Self {
        let logo = client.branding.logo.as_deref().map(|l| {
            if l.starts_with('/') {
                issuer.join(l)
            } else {
                l.to_owned()
            }
        });
        Self {
            title: one_line(&client.branding.title),
            logo,
            color: client.branding.primary_color.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "mail/verify.html")]
struct VerifyHtml<'a> {
    brand: &'a MailBrand,
    link: &'a str,
    hours: i64,
}

#[derive(Template)]
#[template(path = "mail/verify.txt")]
struct VerifyText<'a> {
    brand: &'a MailBrand,
    link: &'a str,
    hours: i64,
}

#[derive(Template)]
#[template(path = "mail/reset.html")]
struct ResetHtml<'a> {
    brand: &'a MailBrand,
    link: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/reset.txt")]
struct ResetText<'a> {
    brand: &'a MailBrand,
    link: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InvitationHtml<'a> {
    brand: &'a MailBrand,
    link: &'a str,
    days: i64,
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InvitationText<'a> {
    brand: &'a MailBrand,
    link: &'a str,
    days: i64,
}

/// A mail's subject and bodies.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Rendered {
    pub fn new(
        kind: MailKind,
        brand: &MailBrand,
        link: &str,
        ttl_secs: i64,
    ) -> Result<Self, askama::Error> {
        Ok(match kind {
            MailKind::Verify => {
                let hours = (ttl_secs / 3600).max(1);
                Self {
                    subject: format!("Confirm your email address for {}", brand.title),
                    text: VerifyText { brand, link, hours }.render()?,
                    html: VerifyHtml { brand, link, hours }.render()?,
                }
            }
            MailKind::Invitation => {
                let days = (ttl_secs / 86_400).max(1);
                Self {
                    subject: format!("You are invited to {}", brand.title),
                    text: InvitationText { brand, link, days }.render()?,
                    html: InvitationHtml { brand, link, days }.render()?,
                }
            }
            MailKind::Reset => {
                let minutes = (ttl_secs / 60).max(1);
                Self {
                    subject: format!("Reset your {} password", brand.title),
                    text: ResetText {
                        brand,
                        link,
                        minutes,
                    }
                    .render()?,
                    html: ResetHtml {
                        brand,
                        link,
                        minutes,
                    }
                    .render()?,
                }
            }
        })
    }
}

/// Control characters (a newline in a configured title) never reach a header.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The message: From, To, Subject, Date, Message-ID, and text + HTML alternatives.
/// lettre encodes every header (RFC 2047) and the bodies (quoted-printable/base64).
pub fn compose(from: &Mailbox, to: &str, r: &Rendered) -> Result<Message, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("the address cannot receive mail: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(one_line(&r.subject))
        .date_now()
        .message_id(None)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(r.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(r.html.clone()),
                ),
        )
        .map_err(|e| format!("cannot build the message: {e}"))
}
