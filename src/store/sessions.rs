//! Single-sign-on sessions, keyed by the SHA-256 of the cookie value.

use super::db::{args, Db};
use super::StoreError;

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub connection: String,
    pub auth_time: i64,
    /// The invitation this session accepted, until the next login through it, and
    /// whether accepting it created the user.
    pub invitation: Option<(String, bool)>,
}

/// Live sessions kept per user; a new one evicts the oldest beyond (review M4).
pub const MAX_PER_USER: i64 = 50;

/// A new session. `replaces` is the session the same browser held in this connection:
/// it ends here, so an earlier (perhaps stolen) cookie stops working (review L3).
pub fn create(
    db: &mut Db<'_>,
    id_hash: &str,
    user_id: &str,
    connection: &str,
    auth_time: i64,
    expires_at: i64,
    replaces: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(old) = replaces {
        delete(db, old)?;
    }
    db.execute(
        "INSERT INTO sessions (id_hash, user_id, connection, auth_time, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5)",
        args![id_hash, user_id, connection, auth_time, expires_at],
    )?;
    db.execute(
        "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE user_id = $1 \
         ORDER BY created_at DESC, rowid DESC LIMIT ALL OFFSET $2)",
        args![user_id, MAX_PER_USER],
    )?;
    Ok(())
}

/// A live session of that connection, or none.
pub fn get(
    db: &mut Db<'_>,
    id_hash: &str,
    connection: &str,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    db.query_opt(
        "SELECT user_id, connection, auth_time, invitation_id, invitation_signup FROM sessions \
         WHERE id_hash = $1 AND connection = $2 AND expires_at > $3",
        args![id_hash, connection, now],
        |r| {
            let signup = r.flag(4)?;
            Ok(Session {
                user_id: r.text(0)?,
                connection: r.text(1)?,
                auth_time: r.int(2)?,
                invitation: r.opt_text(3)?.map(|i| (i, signup)),
            })
        },
    )
}

pub fn delete(db: &mut Db<'_>, id_hash: &str) -> Result<(), StoreError> {
    db.execute("DELETE FROM sessions WHERE id_hash = $1", args![id_hash])?;
    Ok(())
}

/// The user of a session, live or not.
pub fn user_of(db: &mut Db<'_>, id_hash: &str) -> Result<Option<String>, StoreError> {
    db.query_opt(
        "SELECT user_id FROM sessions WHERE id_hash = $1",
        args![id_hash],
        |r| r.text(0),
    )
}

/// End every session of the user (a password reset, a block, the admin API).
pub fn delete_for_user(db: &mut Db<'_>, user_id: &str) -> Result<usize, StoreError> {
    db.execute("DELETE FROM sessions WHERE user_id = $1", args![user_id])
}

/// Remember on the session the invitation it accepted (its next login carries it).
pub fn set_invitation(
    db: &mut Db<'_>,
    id_hash: &str,
    invitation_id: &str,
    signup: bool,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE sessions SET invitation_id = $2, invitation_signup = $3 WHERE id_hash = $1",
        args![id_hash, invitation_id, signup],
    )?;
    Ok(())
}

/// The login that carried the invitation is done.
pub fn clear_invitation(db: &mut Db<'_>, id_hash: &str) -> Result<(), StoreError> {
    db.execute(
        "UPDATE sessions SET invitation_id = NULL, invitation_signup = 0 WHERE id_hash = $1",
        args![id_hash],
    )?;
    Ok(())
}
