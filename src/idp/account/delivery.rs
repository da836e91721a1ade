//! The sender: claims due jobs, turns each into a message (the link's token is made
//! here), hands it to the transport and records the outcome. A relay that is down means
//! retries with backoff for a day; a permanent refusal is given up at once, logged and
//! audited. Jobs survive restarts (they are rows), and a lease keeps two replicas from
//! sending one job at the same time.

use lettre::Message;

use super::jobs::Job;
use super::links::{self, LinkFor};
use crate::config::{Client, EmailSettings, Settings};
use crate::domain::{AuditKind, Issuer};
use crate::idp::Idp;
use crate::mail::{compose, MailBrand, MailKind, Rendered, SendError};
use crate::secrets::Secrets;
use crate::store::email_tokens::{self, Purpose};
use crate::store::mail_jobs::{self, Outcome};
use crate::store::{audit, invitations, users, Db, StoreError};

/// How long a claimed job is left to its sender before another may try.
const LEASE_SECS: i64 = 300;
/// Jobs claimed per pass.
const BATCH: i64 = 20;
/// Retries stop this long after the request.
const GIVE_UP_AFTER: i64 = 86_400;
/// Mails of one kind per account per hour, whatever asks for them (page, resend, CLI).
const PER_ACCOUNT_PER_HOUR: i64 = 5;

/// Seconds before attempt `attempts + 1`: 30 s doubling, at most an hour.
pub fn backoff(attempts: i64) -> i64 {
    (30_i64 << attempts.clamp(0, 7)).min(3600)
}

/// What a job became: a message (and the stored hash of its link's token), or nothing.
enum Prepared {
    Mail(Box<Message>, Option<String>),
    Drop(String),
}

/// Deliver what is due now; the number of jobs handled.
pub async fn run_once(idp: &Idp, now: i64) -> Result<usize, StoreError> {
    let settings = idp.settings();
    let (Some(mailer), Some(email)) = (idp.mailer(), &settings.email) else {
        return Ok(0);
    };
    let claimed = idp
        .store
        .write(move |db| mail_jobs::claim_due(db, now, now + LEASE_SECS, BATCH))
        .await?;
    let n = claimed.len();
    for job in claimed {
        let outcome = match prepare(idp, email, &job, now).await {
            Ok(Prepared::Drop(why)) => Outcome::Dropped(why),
            Ok(Prepared::Mail(message, token_hash)) => match mailer.send(*message).await {
                Ok(()) => Outcome::Sent,
                Err(e) => {
                    // The link never left: forget it, so retries do not count against
                    // the account's hourly limit.
                    if let Some(h) = token_hash {
                        idp.store
                            .write(move |db| email_tokens::delete(db, &h))
                            .await?;
                    }
                    failed(&job, e, now)
                }
            },
            Err(e) => Outcome::Retry {
                at: now + backoff(job.attempts),
                error: e.to_string(),
            },
        };
        record(idp, &job, outcome, now).await?;
    }
    Ok(n)
}

fn failed(job: &mail_jobs::Job, e: SendError, now: i64) -> Outcome {
    match e {
        SendError::Permanent(why) => Outcome::Failed(why),
        SendError::Transient(why) if now - job.created_at >= GIVE_UP_AFTER => Outcome::Failed(
            format!("gave up after {} attempts: {why}", job.attempts + 1),
        ),
        SendError::Transient(why) => Outcome::Retry {
            at: now + backoff(job.attempts),
            error: why,
        },
    }
}

async fn record(
    idp: &Idp,
    job: &mail_jobs::Job,
    outcome: Outcome,
    now: i64,
) -> Result<(), StoreError> {
    match &outcome {
        Outcome::Failed(why) => {
            tracing::error!(job = job.id, kind = %job.kind, error = %why, "mail given up")
        }
        Outcome::Retry { error, .. } => {
            tracing::warn!(job = job.id, kind = %job.kind, error = %error, "mail not sent; will retry")
        }
        _ => {}
    }
    let (id, kind) = (job.id, job.kind.clone());
    let invitation = match serde_json::from_str(&job.payload) {
        Ok(Job::Invitation { invitation_id, .. }) => Some(invitation_id),
        _ => None,
    };
    idp.store
        .write(move |db| {
            mail_jobs::finish(db, id, &outcome, now)?;
            if let (Outcome::Sent, Some(inv)) = (&outcome, &invitation) {
                invitations::set_mailed(db, inv, now)?;
            }
            if let Outcome::Failed(why) = &outcome {
                let detail = format!("{kind} mail (job {id}): {why}");
                let ev = audit::Event {
                    detail: Some(&detail),
                    ..audit::Event::new(AuditKind::MailFailed)
                };
                audit::record(db, &ev, now)?;
            }
            Ok(())
        })
        .await
}

/// The message for a job (its link stored), or why there is none.
async fn prepare(
    idp: &Idp,
    email: &EmailSettings,
    job: &mail_jobs::Job,
    now: i64,
) -> Result<Prepared, StoreError> {
    let parsed: Job = match serde_json::from_str(&job.payload) {
        Ok(j) => j,
        Err(e) => return Ok(Prepared::Drop(format!("unreadable job: {e}"))),
    };
    let client_id = match &parsed {
        Job::Verify { client_id, .. } | Job::Reset { client_id, .. } => client_id.clone(),
        Job::Invitation {
            invitation_id,
            sealed_token,
        } => return invitation_mail(idp, email, invitation_id, sealed_token, now).await,
    };
    let Some(client) = idp.settings().client(&client_id).cloned() else {
        return Ok(Prepared::Drop(format!(
            "client {client_id} is no longer configured"
        )));
    };
    let (settings, secrets) = (idp.settings(), idp.secrets.clone());
    let made = idp
        .store
        .write(move |db| link_for(db, &settings, &secrets, &parsed, now))
        .await?;
    let link = match made {
        Ok(v) => v,
        Err(why) => return Ok(Prepared::Drop(why)),
    };
    Ok(message(&client, &idp.settings().issuer, email, link))
}

fn message(client: &Client, issuer: &Issuer, email: &EmailSettings, link: NewLink) -> Prepared {
    let (kind, ttl) = match link.purpose {
        Purpose::Verify => (MailKind::Verify, email.verification_ttl),
        Purpose::Reset => (MailKind::Reset, email.reset_ttl),
    };
    let brand = MailBrand::of(client, issuer);
    let rendered = match Rendered::new(kind, &brand, &link.url, ttl) {
        Ok(r) => r,
        Err(e) => return Prepared::Drop(format!("template failed: {e}")),
    };
    let from = client.branding.email_from.as_ref().unwrap_or(&email.from);
    match compose(from, &link.to, &rendered) {
        Ok(m) => Prepared::Mail(Box::new(m), Some(link.token_hash)),
        Err(why) => Prepared::Drop(why),
    }
}

/// An invitation's mail: its sealed token opened, in the inviting client's brand.
async fn invitation_mail(
    idp: &Idp,
    email: &EmailSettings,
    id: &str,
    sealed: &str,
    now: i64,
) -> Result<Prepared, StoreError> {
    let key = id.to_owned();
    let Some(inv) = idp.store.read(move |db| invitations::get(db, &key)).await? else {
        return Ok(Prepared::Drop("the invitation no longer exists".into()));
    };
    if !inv.is_open(now) {
        return Ok(Prepared::Drop(format!(
            "the invitation is {}",
            inv.state(now)
        )));
    }
    let settings = idp.settings();
    let Some(client) = settings.client(&inv.client_id) else {
        return Ok(Prepared::Drop(format!(
            "client {} is no longer configured",
            inv.client_id
        )));
    };
    let token = match idp.secrets.open(sealed, id.as_bytes()) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) => {
            return Ok(Prepared::Drop(format!(
                "cannot open the invitation's token: {e}"
            )))
        }
    };
    let url = idp
        .settings()
        .issuer
        .join(&format!("/invitation?token={token}"));
    let brand = MailBrand::of(client, &settings.issuer);
    let rendered = match Rendered::new(MailKind::Invitation, &brand, &url, inv.expires_at - now) {
        Ok(r) => r,
        Err(e) => return Ok(Prepared::Drop(format!("template failed: {e}"))),
    };
    let from = client.branding.email_from.as_ref().unwrap_or(&email.from);
    Ok(match compose(from, &inv.email, &rendered) {
        Ok(m) => Prepared::Mail(Box::new(m), None),
        Err(why) => Prepared::Drop(why),
    })
}

/// A link made for a mail: where it goes and what it is.
struct NewLink {
    purpose: Purpose,
    url: String,
    token_hash: String,
    to: String,
}

/// In the store: find the user, apply the per-account limit, make the link (or say why
/// there is no mail to send).
fn link_for(
    db: &mut Db<'_>,
    settings: &Settings,
    secrets: &Secrets,
    job: &Job,
    now: i64,
) -> Result<Result<NewLink, String>, StoreError> {
    let Some(email) = &settings.email else {
        return Ok(Err("no [email] section".into()));
    };
    let (purpose, user, client_id, tx, ttl) = match job {
        Job::Verify {
            user_id,
            client_id,
            tx,
        } => {
            let Some(u) = users::get(db, user_id)? else {
                return Ok(Err("the user no longer exists".into()));
            };
            if u.email_verified {
                return Ok(Err("the address is verified already".into()));
            }
            (Purpose::Verify, u, client_id, tx, email.verification_ttl)
        }
        Job::Invitation { .. } => return Ok(Err("not a link job".into())),
        Job::Reset {
            connection,
            email: address,
            client_id,
            tx,
        } => {
            let Some(u) = users::find_by_email(db, connection, address)? else {
                return Ok(Err("no account with this address".into()));
            };
            if u.blocked {
                return Ok(Err("the account is blocked".into()));
            }
            (Purpose::Reset, u, client_id, tx, email.reset_ttl)
        }
    };
    let recent = email_tokens::count_since(db, &user.id, purpose, now - 3600)?;
    if recent >= PER_ACCOUNT_PER_HOUR {
        return Ok(Err(format!(
            "{recent} {} mails for this account in the last hour",
            purpose.as_str()
        )));
    }
    let l = LinkFor {
        purpose,
        user: &user,
        client_id,
        tx_id: tx.as_deref(),
        ttl,
    };
    let (url, token_hash) = links::issue(db, secrets, &settings.issuer, &l, now)?;
    if purpose == Purpose::Reset {
        let ev = audit::Event {
            connection: Some(&user.connection),
            user_id: Some(&user.id),
            client_id: Some(client_id),
            ..audit::Event::new(AuditKind::ResetRequested)
        };
        audit::record(db, &ev, now)?;
    }
    Ok(Ok(NewLink {
        purpose,
        url,
        token_hash,
        to: user.email,
    }))
}
