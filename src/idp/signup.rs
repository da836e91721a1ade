//! New accounts: one path for the sign-up page and `portico users create`. The password
//! policy, the sign-up budgets (page only, charged before hashing, review M2), the
//! sign-up lane of the hashing queue, the look-alike check and the audit entry.

use std::net::IpAddr;

use super::account::jobs::{self, Job};
use super::new_password;
use super::{Idp, Refusal};
use crate::config::EmailVerification;
use crate::domain::{AuditKind, Email, Password};
use crate::store::{self, audit, users::User};

/// Who creates the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The hosted sign-up page, from this address.
    Page { ip: Option<IpAddr> },
    /// An operator (command line, admin API): no budgets.
    Admin,
}

pub struct NewAccount<'a> {
    pub connection: &'a str,
    pub client_id: Option<&'a str>,
    pub email: &'a Email,
    pub password: &'a Password,
    pub roles: &'a [String],
    pub origin: Origin,
    /// The login the sign-up belongs to (a verification link continues it).
    pub tx: Option<&'a str>,
}

pub use super::new_password::check_policy;

/// Create the account; every budget charge comes back when no account results.
pub async fn create(idp: &Idp, a: &NewAccount<'_>, now: i64) -> Result<User, Refusal> {
    let min_length = new_password::min_length(&idp.settings(), a.connection);
    check_policy(min_length, a.password, a.email).await?;
    let ip = match a.origin {
        Origin::Page { ip } => {
            idp.limits
                .signups
                .charge(ip, now)
                .map_err(|retry_after| Refusal::TooManySignups { retry_after })?;
            Some(ip)
        }
        Origin::Admin => None,
    };
    let refund = || {
        if let Some(ip) = ip {
            idp.limits.signups.refund(ip, now)
        }
    };
    let created = hash_and_store(idp, a, now).await;
    if created.is_err() {
        refund();
    }
    created
}

async fn hash_and_store(idp: &Idp, a: &NewAccount<'_>, now: i64) -> Result<User, Refusal> {
    let hash = new_password::hash(idp, a.password).await?;
    let (kind, ip) = match a.origin {
        Origin::Page { ip } => (AuditKind::Signup, ip.map(|i| i.to_string())),
        Origin::Admin => (AuditKind::UserCreated, None),
    };
    let (conn, email, roles) = (a.connection.to_owned(), a.email.clone(), a.roles.to_vec());
    let cid = a.client_id.map(str::to_owned);
    // The verification mail is queued in the sign-up's own transaction: no account is
    // left without its mail, and no mail goes out for an account that was not made.
    let verify = match (a.origin, a.client_id) {
        (Origin::Page { .. }, Some(c)) if wants_verification(idp, a.connection) => {
            Some((c.to_owned(), a.tx.map(str::to_owned)))
        }
        _ => None,
    };
    let queued = verify.is_some();
    let created = idp
        .store
        .write(move |db| {
            let user = store::users::create(db, &conn, &email, &hash, &roles, now)?;
            if let (Ok(u), Some((client_id, tx))) = (&user, verify) {
                let job = Job::Verify {
                    user_id: u.id.clone(),
                    client_id,
                    tx,
                };
                jobs::enqueue(db, &job, now)?;
            }
            if let Ok(u) = &user {
                let ev = audit::Event {
                    connection: Some(&conn),
                    user_id: Some(&u.id),
                    client_id: cid.as_deref(),
                    ip: ip.as_deref(),
                    detail: (kind == AuditKind::UserCreated).then_some("command line"),
                    ..audit::Event::new(kind)
                };
                audit::record(db, &ev, now)?;
            }
            Ok(user)
        })
        .await?;
    if queued && created.is_ok() {
        idp.mail_queued.notify_one();
    }
    // Taken: lost a race with another sign-up of the address, or a look-alike exists.
    created.map_err(|_| Refusal::NotCreated)
}

/// Sign-ups in this connection are mailed a verification link.
fn wants_verification(idp: &Idp, connection: &str) -> bool {
    idp.mailer().is_some()
        && idp.settings().connections.iter().any(|c| {
            c.name.as_str() == connection && c.email_verification != EmailVerification::Off
        })
}
