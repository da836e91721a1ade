//! Password reset: the request (one queued job whatever the address, so known, unknown
//! and blocked addresses take the same path in the same time), and the new password (the
//! sign-up policy; then every session and refresh token of the user ends, the lockout
//! clears, other reset links die, and the audit trail says so).

use std::net::IpAddr;

use super::jobs::{self, Job};
use super::links;
use crate::domain::{AuditKind, Email, Password};
use crate::idp::new_password::{self, check_policy};
use crate::idp::throttle::IpBucket;
use crate::idp::{Idp, Refusal};
use crate::store::email_tokens::{self, EmailToken, Purpose};
use crate::store::users::User;
use crate::store::{audit, refresh, sessions, throttle, users, StoreError};

pub struct ResetRequest<'a> {
    pub connection: &'a str,
    pub client_id: &'a str,
    pub email: &'a Email,
    pub tx: Option<&'a str>,
    pub ip: Option<IpAddr>,
}

/// Queue the reset mail. The answer never depends on the address: only the per-address
/// budget (which counts every request alike) can refuse.
pub async fn request(idp: &Idp, r: &ResetRequest<'_>, now: i64) -> Result<(), Refusal> {
    if let Some(ip) = r.ip {
        idp.limits
            .resets
            .charge(IpBucket::of(ip), now)
            .map_err(|retry_after| Refusal::TooManyAttempts { retry_after })?;
    }
    let job = Job::Reset {
        connection: r.connection.to_owned(),
        email: r.email.as_str().to_owned(),
        client_id: r.client_id.to_owned(),
        tx: r.tx.map(str::to_owned),
    };
    idp.store
        .write(move |db| jobs::enqueue(db, &job, now))
        .await?;
    idp.mail_queued.notify_one();
    Ok(())
}

/// The live reset link and its user (the GET of the link: nothing is used).
pub async fn peek(
    idp: &Idp,
    token: &str,
    now: i64,
) -> Result<Option<(EmailToken, User)>, StoreError> {
    let (secrets, token) = (idp.secrets.clone(), token.to_owned());
    idp.store
        .read(move |db| links::peek(db, &secrets, Purpose::Reset, &token, now))
        .await
}

/// A completed reset: the user (with the new password), the client and the login to
/// continue.
pub struct ResetDone {
    pub user: User,
    pub client_id: String,
    pub tx_id: Option<String>,
}

/// Set the new password through the link.
pub async fn complete(
    idp: &Idp,
    token: &str,
    password: &Password,
    now: i64,
) -> Result<ResetDone, Refusal> {
    let (_, user) = peek(idp, token, now).await?.ok_or(Refusal::LinkInvalid)?;
    let min_length = new_password::min_length(&idp.settings(), &user.connection);
    let email = Email::parse(&user.email).map_err(|_| Refusal::ServerError)?;
    check_policy(min_length, password, &email).await?;
    let hash = new_password::hash(idp, password).await?;
    let (secrets, token) = (idp.secrets.clone(), token.to_owned());
    let done = idp
        .store
        .write(move |db| {
            // Used once: of two tabs posting the same link, one sets the password.
            let Some((t, mut user)) = links::consume(db, &secrets, Purpose::Reset, &token, now)?
            else {
                return Ok(None);
            };
            users::set_password_hash(db, &user.id, &hash, now)?;
            user.password_hash = hash;
            // The link came through the mailbox: the address is the user's.
            users::set_email_verified(db, &user.id, now)?;
            user.email_verified = true;
            let ended = sessions::delete_for_user(db, &user.id)?;
            let families = refresh::revoke_user(db, &user.id, now)?;
            throttle::clear(db, &user.connection, &user.email)?;
            email_tokens::void_for_user(db, &user.id, Purpose::Reset, now)?;
            let detail =
                format!("{ended} session(s) ended, {families} refresh family(ies) revoked");
            let ev = audit::Event {
                connection: Some(&user.connection),
                user_id: Some(&user.id),
                client_id: Some(&t.client_id),
                detail: Some(&detail),
                ..audit::Event::new(AuditKind::PasswordReset)
            };
            audit::record(db, &ev, now)?;
            Ok(Some(ResetDone {
                user,
                client_id: t.client_id,
                tx_id: t.tx_id,
            }))
        })
        .await?;
    done.ok_or(Refusal::LinkInvalid)
}
