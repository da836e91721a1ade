//! A password being set (sign-up, reset, invitation, the command line): the connection's
//! policy, checked off the async executor (zxcvbn takes milliseconds), then its argon2id
//! hash on the sign-up lane of the hashing pool.

use super::hasher::{Busy, Lane};
use super::{Idp, Refusal};
use crate::config::Settings;
use crate::domain::{Email, Password, PasswordPolicy};

/// The connection's minimum length (10 for a connection no longer configured).
pub fn min_length(s: &Settings, connection: &str) -> usize {
    s.connections
        .iter()
        .find(|c| c.name.as_str() == connection)
        .map_or(10, |c| c.password_min_length)
}

/// Check a new password against the connection's policy.
pub async fn check_policy(
    min_length: usize,
    password: &Password,
    email: &Email,
) -> Result<(), Refusal> {
    let (p, e) = (password.clone(), email.clone());
    tokio::task::spawn_blocking(move || PasswordPolicy { min_length }.check(p.expose(), &e))
        .await
        .map_err(|_| Refusal::ServerError)?
        .map_err(|problem| Refusal::Invalid(problem.to_string().into()))
}

/// Its hash, on the sign-up lane (a flood of new passwords never starves logins).
pub async fn hash(idp: &Idp, password: &Password) -> Result<String, Refusal> {
    let ticket = idp.hasher.admit(Lane::Signup).map_err(|_| Refusal::Busy)?;
    match ticket.hash(password).await {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "hashing failed");
            Err(Refusal::ServerError)
        }
        Err(Busy) => Err(Refusal::Busy),
    }
}
