//! Single-sign-on sessions, keyed by the SHA-256 of the cookie value.

use super::db::{args, Db};
use super::StoreError;

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub connection: String,
    pub auth_time: i64,
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
        "SELECT user_id, connection, auth_time FROM sessions \
         WHERE id_hash = $1 AND connection = $2 AND expires_at > $3",
        args![id_hash, connection, now],
        |r| {
            Ok(Session {
                user_id: r.text(0)?,
                connection: r.text(1)?,
                auth_time: r.int(2)?,
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
