//! Invitations that carry roles: made by an operator for one client (hence its connection
//! and brand) and one address; mailed when `[email]` is set (the mail then verifies the
//! address); accepted once through `/invitation?token=…` by signing up there, or, when
//! the address has an account in that connection, by logging in, which adds the roles.
//! The accepting browser gets an SSO session that remembers the invitation, so the next
//! login through it (the client's own, from `initiate_login_uri`) shows it to the rules.

use super::account::jobs::{self, Job};
use super::new_password::{self, check_policy};
use super::users::Actor;
use super::{Idp, Refusal};
use crate::crypto::{hex, random_id, random_token, token_hash};
use crate::domain::{valid_role, AuditKind, Email, Password};
use crate::secrets::Secrets;
use crate::store::invitations::{self, Invitation};
use crate::store::users::{self, User};
use crate::store::{audit, sessions, Db, StoreError};

pub const DEFAULT_TTL_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("client \"{0}\" is not defined")]
    UnknownClient(String),
    #[error("client \"{0}\" has no connection to sign up in")]
    NoConnection(String),
    #[error("role \"{0}\" must be 1-64 letters, digits or -_.:/")]
    BadRole(String),
    #[error("the lifetime must be 1 to 365 days")]
    BadTtl,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored form of an invitation link's token.
pub fn token_hash_of(secrets: &Secrets, token: &str) -> String {
    hex(&secrets.mac("invitation-link", &[token.as_bytes()]))
}

pub struct NewInvitation<'a> {
    pub client_id: &'a str,
    pub email: &'a Email,
    pub roles: &'a [String],
    pub ttl_days: i64,
    pub actor: Actor,
}

pub struct Created {
    pub invitation: Invitation,
    pub url: String,
    /// Queued for mail (`[email]` is set).
    pub mailed: bool,
}

pub async fn create(idp: &Idp, n: &NewInvitation<'_>, now: i64) -> Result<Created, InviteError> {
    let s = &idp.settings();
    let client = s
        .client(n.client_id)
        .ok_or_else(|| InviteError::UnknownClient(n.client_id.to_owned()))?;
    let connection = client
        .connection
        .clone()
        .ok_or_else(|| InviteError::NoConnection(n.client_id.to_owned()))?;
    if let Some(r) = n.roles.iter().find(|r| !valid_role(r)) {
        return Err(InviteError::BadRole(r.clone()));
    }
    if !(1..=365).contains(&n.ttl_days) {
        return Err(InviteError::BadTtl);
    }
    let token = random_token();
    let inv = Invitation {
        id: random_id("inv_"),
        client_id: client.client_id.to_string(),
        connection: connection.to_string(),
        email: n.email.as_str().to_owned(),
        roles: n.roles.to_vec(),
        created_by: n.actor.client().unwrap_or("command line").to_owned(),
        created_at: now,
        expires_at: now + n.ttl_days * 86_400,
        accepted_at: None,
        accepted_by: None,
        revoked_at: None,
        mailed_at: None,
    };
    let mailed = idp.mailer().is_some();
    // The mail job carries the token sealed under the server secret (the sender needs the
    // link; the database never holds it in clear), and is emptied once sent.
    let sealed = mailed.then(|| idp.secrets.seal(token.as_bytes(), inv.id.as_bytes()));
    let hash = token_hash_of(&idp.secrets, &token);
    let (row, api_client) = (inv.clone(), n.actor.client().map(str::to_owned));
    idp.store
        .write(move |db| {
            invitations::insert(db, &row, &hash)?;
            let detail = format!(
                "{} for {} with roles [{}]",
                row.id,
                row.email,
                row.roles.join(",")
            );
            let ev = audit::Event {
                connection: Some(&row.connection),
                client_id: Some(api_client.as_deref().unwrap_or(&row.client_id)),
                detail: Some(&detail),
                ..audit::Event::new(AuditKind::InvitationCreated)
            };
            audit::record(db, &ev, now)?;
            if let Some(sealed) = sealed {
                let job = Job::Invitation {
                    invitation_id: row.id.clone(),
                    sealed_token: sealed,
                };
                jobs::enqueue(db, &job, now)?;
            }
            Ok(())
        })
        .await?;
    if mailed {
        idp.mail_queued.notify_one();
    }
    let url = s.issuer.join(&format!("/invitation?token={token}"));
    Ok(Created {
        invitation: inv,
        url,
        mailed,
    })
}

/// Revoke an open invitation; false when there is no open one with this id.
pub async fn revoke(idp: &Idp, id: &str, actor: Actor, now: i64) -> Result<bool, StoreError> {
    let id = id.to_owned();
    idp.store
        .write(move |db| {
            let Some(inv) = invitations::get(db, &id)? else {
                return Ok(false);
            };
            if !invitations::revoke(db, &id, now)? {
                return Ok(false);
            }
            let ev = audit::Event {
                connection: Some(&inv.connection),
                client_id: Some(actor.client().unwrap_or(&inv.client_id)),
                detail: Some(&inv.id),
                ..audit::Event::new(AuditKind::InvitationRevoked)
            };
            audit::record(db, &ev, now)?;
            Ok(true)
        })
        .await
}

/// The open invitation behind a link's token.
pub async fn open(idp: &Idp, token: &str, now: i64) -> Result<Option<Invitation>, StoreError> {
    if !super::account::links::well_formed(token) {
        return Ok(None);
    }
    let hash = token_hash_of(&idp.secrets, token);
    let found = idp
        .store
        .read(move |db| invitations::by_token(db, &hash))
        .await?;
    Ok(found.filter(|i| i.is_open(now)))
}

/// A new SSO session for the accepting browser, remembering the invitation.
pub struct NewSession {
    /// The cookie value.
    pub id: String,
}

/// Accept in one transaction: the invitation (once), the roles, the session, the audit.
fn accept_in(
    db: &mut Db<'_>,
    inv: &Invitation,
    user: &User,
    signup: bool,
    session_id: &str,
    session_ttl: i64,
    now: i64,
) -> Result<(), StoreError> {
    if !invitations::accept(db, &inv.id, &user.id, now)? {
        return Err(StoreError::Aborted(
            "the invitation was used, revoked or expired",
        ));
    }
    let mut roles = user.roles.clone();
    for r in &inv.roles {
        if !roles.contains(r) {
            roles.push(r.clone());
        }
    }
    if roles != user.roles {
        users::set_roles(db, &user.id, &roles, now)?;
    }
    // Portico mailed it: whoever holds the link holds the mailbox.
    let mailed = invitations::get(db, &inv.id)?.is_some_and(|i| i.mailed_at.is_some());
    if mailed && !user.email_verified {
        users::set_email_verified(db, &user.id, now)?;
    }
    let hash = token_hash(session_id);
    sessions::create(
        db,
        &hash,
        &user.id,
        &user.connection,
        now,
        now + session_ttl,
        None,
    )?;
    sessions::set_invitation(db, &hash, &inv.id, signup)?;
    let detail = format!("{} roles [{}]", inv.id, inv.roles.join(","));
    let ev = audit::Event {
        connection: Some(&user.connection),
        user_id: Some(&user.id),
        client_id: Some(&inv.client_id),
        detail: Some(&detail),
        ..audit::Event::new(AuditKind::InvitationAccepted)
    };
    audit::record(db, &ev, now)
}

fn closed(e: StoreError) -> Refusal {
    match e {
        StoreError::Aborted(_) => Refusal::LinkInvalid,
        other => other.into(),
    }
}

/// An existing user (whose password was just verified) accepts: they gain the roles.
pub async fn accept_existing(
    idp: &Idp,
    inv: &Invitation,
    user: &User,
    now: i64,
) -> Result<NewSession, Refusal> {
    let id = random_token();
    let (inv, user, sid, ttl) = (
        inv.clone(),
        user.clone(),
        id.clone(),
        idp.settings().login.session_ttl,
    );
    idp.store
        .write(move |db| accept_in(db, &inv, &user, false, &sid, ttl, now))
        .await
        .map_err(closed)?;
    Ok(NewSession { id })
}

/// Sign up through the invitation: the sign-up password policy, the invitation's roles,
/// and the account, acceptance and session in one transaction.
pub async fn accept_new(
    idp: &Idp,
    inv: &Invitation,
    password: &Password,
    now: i64,
) -> Result<(User, NewSession), Refusal> {
    let email = Email::parse(&inv.email).map_err(|_| Refusal::ServerError)?;
    let min_length = new_password::min_length(&idp.settings(), &inv.connection);
    check_policy(min_length, password, &email).await?;
    let hash = new_password::hash(idp, password).await?;
    let id = random_token();
    let (inv, sid, ttl) = (inv.clone(), id.clone(), idp.settings().login.session_ttl);
    let user = idp
        .store
        .write(move |db| {
            let user = match users::create(db, &inv.connection, &email, &hash, &inv.roles, now)? {
                Ok(u) => u,
                Err(_) => return Err(StoreError::Aborted("the address has an account already")),
            };
            let ev = audit::Event {
                connection: Some(&inv.connection),
                user_id: Some(&user.id),
                client_id: Some(&inv.client_id),
                detail: Some("invitation"),
                ..audit::Event::new(AuditKind::Signup)
            };
            audit::record(db, &ev, now)?;
            accept_in(db, &inv, &user, true, &sid, ttl, now)?;
            users::get(db, &user.id)?.ok_or(StoreError::Aborted("the user vanished"))
        })
        .await
        .map_err(|e| match e {
            StoreError::Aborted("the address has an account already") => Refusal::NotCreated,
            other => closed(other),
        })?;
    Ok((user, NewSession { id }))
}

/// Invite-only sign-up: is there an open invitation for this address in this connection?
pub fn invited(
    db: &mut Db<'_>,
    connection: &str,
    email: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(invitations::open_for(db, connection, email, now)?.is_some())
}
