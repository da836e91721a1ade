//! One password check against one account, with everything that throttles it: only a
//! verified wrong password is charged, to the account and to the address.

use std::net::IpAddr;

use super::hasher::Busy;
use super::throttle::IpGate;
use super::{Idp, Refusal};
use crate::domain::{AuditKind, Email, Password};
use crate::store::{self, audit, throttle::Attempt, users::User};

pub struct PasswordCheck<'a> {
    pub connection: &'a str,
    pub client_id: &'a str,
    pub email: &'a Email,
    pub password: &'a Password,
    pub ip: Option<IpAddr>,
    /// The browser holds a device cookie for this very account (idp::device).
    pub device_trusted: bool,
}

/// The password was right: the user, and whether to store a fresh hash.
pub struct Verified {
    pub user: User,
    pub rehash: bool,
}

/// A place in the hashing queue comes first (503 otherwise, review M1), then the address
/// (skipped for this account's own device, review H2; past its limit only the slow lane,
/// review M3), then the account's reservation. `Ok(None)`: wrong e-mail or password.
pub async fn check(
    idp: &Idp,
    a: &PasswordCheck<'_>,
    now: i64,
) -> Result<Option<Verified>, Refusal> {
    let ticket = idp
        .hasher
        .admit(super::hasher::Lane::Login)
        .map_err(|_| Refusal::Busy)?;
    let gate = if a.device_trusted {
        IpGate::Unlimited
    } else {
        idp.limits.ip.gate(a.ip, now)
    };
    if let IpGate::Refused { retry_after } = gate {
        return Err(Refusal::TooManyAttempts { retry_after });
    }
    let release_ip = || idp.limits.ip.release(a.ip, now);
    let (conn, em) = (a.connection.to_owned(), a.email.to_string());
    let (window, max) = (
        idp.settings().login.failure_window,
        idp.settings().login.max_failures,
    );
    let reserved = idp
        .store
        .write(move |db| {
            let user = store::users::find_by_email(db, &conn, &em)?;
            let attempt = store::throttle::reserve(db, &conn, &em, now, window, max)?;
            Ok((user, attempt))
        })
        .await;
    let (user, locks) = match reserved {
        Ok((user, Attempt::Allowed { locks })) => (user, locks),
        // The right password does not get through a lockout.
        Ok((_, Attempt::Locked(until))) => {
            release_ip();
            return Err(Refusal::TooManyAttempts {
                retry_after: until - now,
            });
        }
        Err(e) => {
            release_ip();
            return Err(e.into());
        }
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = match ticket.verify(a.password, stored).await {
        Ok(v) => v,
        Err(Busy) => {
            release_ip();
            let (conn, em) = (a.connection.to_owned(), a.email.to_string());
            let _ = idp
                .store
                .write(move |db| store::throttle::unreserve(db, &conn, &em, locks))
                .await;
            return Err(Refusal::Busy);
        }
    };
    match user {
        Some(user) if verified.matched => {
            release_ip();
            Ok(Some(Verified {
                user,
                rehash: verified.rehash,
            }))
        }
        other => {
            audit_failure(idp, a, other.map(|u| u.id), locks, now).await;
            Ok(None)
        }
    }
}

/// Audit a failed attempt (already counted), and the lockout it caused.
async fn audit_failure(
    idp: &Idp,
    a: &PasswordCheck<'_>,
    user_id: Option<String>,
    locks: Option<i64>,
    now: i64,
) {
    let (conn, cid, ip) = (
        a.connection.to_owned(),
        a.client_id.to_owned(),
        a.ip.map(|i| i.to_string()),
    );
    let res = idp
        .store
        .write(move |db| {
            let ev = audit::Event {
                connection: Some(&conn),
                user_id: user_id.as_deref(),
                client_id: Some(&cid),
                ip: ip.as_deref(),
                detail: Some(if user_id.is_some() {
                    "wrong password"
                } else {
                    "unknown email"
                }),
                ..audit::Event::new(AuditKind::LoginFailed)
            };
            audit::record(db, &ev, now)?;
            if let Some(until) = locks {
                let detail = format!("locked until {until}");
                let locked = audit::Event {
                    kind: AuditKind::AccountLocked,
                    detail: Some(&detail),
                    ..ev
                };
                audit::record(db, &locked, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "cannot record a failed login");
    }
}
