//! What operators do to a user (the command line and the admin API alike): block and
//! unblock, end every session, change roles or the verified flag, delete. Each change is
//! one transaction with its audit entry naming who acted.

use crate::domain::AuditKind;
use crate::store::users::User;
use crate::store::{self, audit, refresh, sessions, users, Db, StoreError};

use super::Idp;

/// Who acts: the command line, or an admin-API client (its id goes to the audit trail).
#[derive(Debug, Clone)]
pub enum Actor {
    CommandLine,
    Client(String),
}

impl Actor {
    /// The admin client acting, if any.
    pub fn client(&self) -> Option<&str> {
        match self {
            Actor::CommandLine => None,
            Actor::Client(c) => Some(c),
        }
    }

    fn record(
        &self,
        db: &mut Db<'_>,
        kind: AuditKind,
        user: &User,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (client, default_detail) = match self {
            Actor::CommandLine => (None, "command line"),
            Actor::Client(c) => (Some(c.as_str()), "admin API"),
        };
        let ev = audit::Event {
            connection: Some(&user.connection),
            user_id: Some(&user.id),
            client_id: client,
            detail: Some(detail.unwrap_or(default_detail)),
            ..audit::Event::new(kind)
        };
        audit::record(db, &ev, now)
    }
}

/// End every session and refresh family of the user (their access tokens die with them).
fn end_everything(db: &mut Db<'_>, user_id: &str, now: i64) -> Result<(usize, usize), StoreError> {
    Ok((
        sessions::delete_for_user(db, user_id)?,
        refresh::revoke_user(db, user_id, now)?,
    ))
}

/// What may change on a user.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub roles: Option<Vec<String>>,
    pub blocked: Option<bool>,
    pub email_verified: Option<bool>,
}

/// Apply a patch in one transaction; the user after it, or none when there is no such user.
pub fn patch(
    db: &mut Db<'_>,
    id: &str,
    p: &Patch,
    actor: &Actor,
    now: i64,
) -> Result<Option<User>, StoreError> {
    let Some(user) = users::get(db, id)? else {
        return Ok(None);
    };
    if let Some(roles) = &p.roles {
        users::set_roles(db, id, roles, now)?;
        actor.record(
            db,
            AuditKind::RolesChanged,
            &user,
            Some(&roles.join(",")),
            now,
        )?;
    }
    if let Some(blocked) = p.blocked.filter(|b| *b != user.blocked) {
        users::set_blocked(db, id, blocked, now)?;
        let kind = if blocked {
            // A block takes effect at once: no session signs in, no refresh token works.
            end_everything(db, id, now)?;
            AuditKind::UserBlocked
        } else {
            AuditKind::UserUnblocked
        };
        actor.record(db, kind, &user, None, now)?;
    }
    if let Some(v) = p.email_verified.filter(|v| *v != user.email_verified) {
        db.execute(
            "UPDATE users SET email_verified = $2, updated_at = $3 WHERE id = $1",
            store::db::args![id, v, now],
        )?;
        let detail = if v { "verified" } else { "unverified" };
        actor.record(db, AuditKind::EmailVerified, &user, Some(detail), now)?;
    }
    users::get(db, id)
}

pub async fn apply(
    idp: &Idp,
    id: &str,
    p: Patch,
    actor: Actor,
    now: i64,
) -> Result<Option<User>, StoreError> {
    let id = id.to_owned();
    idp.store
        .write(move |db| patch(db, &id, &p, &actor, now))
        .await
}

/// End every session and refresh token of the user; false when there is no such user.
pub fn end_sessions(
    db: &mut Db<'_>,
    id: &str,
    actor: &Actor,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(user) = users::get(db, id)? else {
        return Ok(false);
    };
    let (s, f) = end_everything(db, id, now)?;
    let detail = format!("{s} session(s) ended, {f} refresh family(ies) revoked");
    actor.record(db, AuditKind::SessionsEnded, &user, Some(&detail), now)?;
    Ok(true)
}

/// Delete the user (sessions, refresh tokens, links go with it); false when absent.
pub fn delete(db: &mut Db<'_>, id: &str, actor: &Actor, now: i64) -> Result<bool, StoreError> {
    let Some(user) = users::get(db, id)? else {
        return Ok(false);
    };
    end_everything(db, id, now)?;
    users::delete(db, &user.connection, &user.email)?;
    actor.record(db, AuditKind::UserDeleted, &user, None, now)?;
    Ok(true)
}
