//! E-mail verification: the mail after sign-up (or when a `required` connection's login
//! finds the address unconfirmed), its resend button, and the confirming POST.

use super::jobs::{self, Job};
use super::links;
use crate::config::{Connection, EmailVerification};
use crate::domain::AuditKind;
use crate::idp::Idp;
use crate::store::email_tokens::{self, Purpose};
use crate::store::users::User;
use crate::store::{audit, users, StoreError};

/// A login of this connection must wait until the user confirms their address.
pub fn must_wait(connection: &Connection, user: &User) -> bool {
    connection.email_verification == EmailVerification::Required && !user.email_verified
}

/// A resend waits this long after the previous mail.
pub const RESEND_AFTER: i64 = 60;

pub enum Requested {
    Queued,
    /// A mail went out moments ago: try again in so many seconds.
    TooSoon(i64),
}

/// Mail (again) a verification link for the user, in the client's brand; `tx` is the
/// login it continues.
pub async fn request(
    idp: &Idp,
    user_id: &str,
    client_id: &str,
    tx: Option<&str>,
    now: i64,
) -> Result<Requested, StoreError> {
    let job = Job::Verify {
        user_id: user_id.to_owned(),
        client_id: client_id.to_owned(),
        tx: tx.map(str::to_owned),
    };
    let uid = user_id.to_owned();
    let done = idp
        .store
        .write(move |db| {
            let since = now - RESEND_AFTER;
            if email_tokens::count_since(db, &uid, Purpose::Verify, since)? > 0 {
                return Ok(Requested::TooSoon(RESEND_AFTER));
            }
            jobs::enqueue(db, &job, now)?;
            Ok(Requested::Queued)
        })
        .await?;
    if matches!(done, Requested::Queued) {
        idp.mail_queued.notify_one();
    }
    Ok(done)
}

/// A used verification link: who, through which client, continuing which login.
pub struct Confirmed {
    pub user: User,
    pub client_id: String,
    pub tx_id: Option<String>,
}

/// Use the link: the address is verified from now on (new ID tokens, userinfo, rules).
pub async fn confirm(idp: &Idp, token: &str, now: i64) -> Result<Option<Confirmed>, StoreError> {
    let (secrets, token) = (idp.secrets.clone(), token.to_owned());
    idp.store
        .write(move |db| {
            let Some((t, mut user)) = links::consume(db, &secrets, Purpose::Verify, &token, now)?
            else {
                return Ok(None);
            };
            users::set_email_verified(db, &user.id, now)?;
            user.email_verified = true;
            let ev = audit::Event {
                connection: Some(&user.connection),
                user_id: Some(&user.id),
                client_id: Some(&t.client_id),
                ..audit::Event::new(AuditKind::EmailVerified)
            };
            audit::record(db, &ev, now)?;
            Ok(Some(Confirmed {
                user,
                client_id: t.client_id,
                tx_id: t.tx_id,
            }))
        })
        .await
}
