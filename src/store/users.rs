//! The users table: one row per user per connection.

use super::db::{args, Db, Row};
use super::StoreError;
use crate::domain::Email;

#[derive(Clone)]
pub struct User {
    pub id: String,
    pub connection: String,
    pub email: String,
    pub email_verified: bool,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub logins_count: i64,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// Logins refused after the password check; sessions and refresh tokens ended.
    pub blocked: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("connection", &self.connection)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, connection, email, email_verified, password_hash, roles, logins_count, \
     created_at, last_login_at, blocked";

fn from_row(r: &Row<'_, '_>) -> Result<User, StoreError> {
    Ok(User {
        id: r.text(0)?,
        connection: r.text(1)?,
        email: r.text(2)?,
        email_verified: r.flag(3)?,
        password_hash: r.text(4)?,
        roles: serde_json::from_str(&r.text(5)?).unwrap_or_default(),
        logins_count: r.int(6)?,
        created_at: r.int(7)?,
        last_login_at: r.opt_int(8)?,
        blocked: r.flag(9)?,
    })
}

/// The e-mail, or a look-alike of it, is already registered in that connection.
#[derive(Debug)]
pub struct EmailTaken;

fn roles_json(roles: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(roles).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A new user. The address, and any look-alike of it (`Email::key`), must be free in
/// that connection.
pub fn create(
    db: &mut Db<'_>,
    connection: &str,
    email: &Email,
    password_hash: &str,
    roles: &[String],
    now: i64,
) -> Result<Result<User, EmailTaken>, StoreError> {
    let id = crate::crypto::random_id("usr_");
    let key = email.key();
    let taken = db.query_opt(
        "SELECT 1 FROM users WHERE connection = $1 AND (email = $2 OR email_key = $3)",
        args![connection, email.as_str(), &key],
        |_| Ok(()),
    )?;
    if taken.is_some() {
        return Ok(Err(EmailTaken));
    }
    // A concurrent sign-up of the same address wins the race: nothing is inserted.
    let inserted = db.query_opt(
        "INSERT INTO users (id, connection, email, email_key, password_hash, roles, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING RETURNING id",
        args![&id, connection, email.as_str(), &key, password_hash, &roles_json(roles)?, now],
        |_| Ok(()),
    )?;
    if inserted.is_none() {
        return Ok(Err(EmailTaken));
    }
    Ok(Ok(User {
        id,
        connection: connection.to_owned(),
        email: email.to_string(),
        email_verified: false,
        password_hash: password_hash.to_owned(),
        roles: roles.to_vec(),
        logins_count: 0,
        created_at: now,
        last_login_at: None,
        blocked: false,
    }))
}

pub fn find_by_email(
    db: &mut Db<'_>,
    connection: &str,
    email: &str,
) -> Result<Option<User>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE connection = $1 AND email = $2"),
        args![connection, email],
        from_row,
    )
}

pub fn get(db: &mut Db<'_>, id: &str) -> Result<Option<User>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
        args![id],
        from_row,
    )
}

pub fn list(db: &mut Db<'_>, connection: &str) -> Result<Vec<User>, StoreError> {
    db.query_all(
        &format!("SELECT {COLUMNS} FROM users WHERE connection = $1 ORDER BY email"),
        args![connection],
        from_row,
    )
}

pub fn delete(db: &mut Db<'_>, connection: &str, email: &str) -> Result<bool, StoreError> {
    Ok(db.execute(
        "DELETE FROM users WHERE connection = $1 AND email = $2",
        args![connection, email],
    )? > 0)
}

pub fn set_roles(
    db: &mut Db<'_>,
    id: &str,
    roles: &[String],
    now: i64,
) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE users SET roles = $2, updated_at = $3 WHERE id = $1",
        args![id, &roles_json(roles)?, now],
    )? > 0)
}

pub fn set_password_hash(
    db: &mut Db<'_>,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
        args![id, hash, now],
    )?;
    Ok(())
}

/// Give users from before migration 0002 their look-alike key (the migration left their
/// id as a placeholder). Two existing look-alikes keep the placeholder on the second one,
/// with a warning: nothing is merged or lost.
pub fn backfill_email_keys(db: &mut Db<'_>) -> Result<usize, StoreError> {
    let pending = db.query_all(
        "SELECT id, connection, email FROM users WHERE email_key = id",
        &[],
        |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)),
    )?;
    let mut done = 0;
    for (id, connection, email) in &pending {
        let key = Email::parse(email)
            .map(|e| e.key())
            .unwrap_or_else(|_| email.to_lowercase());
        let clash = db.query_opt(
            "SELECT 1 FROM users WHERE connection = $1 AND email_key = $2",
            args![connection, &key],
            |_| Ok(()),
        )?;
        if clash.is_some() {
            tracing::warn!(
                user = %id,
                "this user's e-mail looks like another user's in the same connection; \
                 left as it is"
            );
            continue;
        }
        db.execute(
            "UPDATE users SET email_key = $2 WHERE id = $1",
            args![id, &key],
        )?;
        done += 1;
    }
    Ok(done)
}

/// Count a successful login; returns the new logins_count.
pub fn record_login(db: &mut Db<'_>, id: &str, now: i64) -> Result<i64, StoreError> {
    db.query_one(
        "UPDATE users SET logins_count = logins_count + 1, last_login_at = $2 WHERE id = $1 \
         RETURNING logins_count",
        args![id, now],
        |r| r.int(0),
    )
}

/// The address is confirmed (a verification link was used).
pub fn set_email_verified(db: &mut Db<'_>, id: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE users SET email_verified = 1, updated_at = $2 WHERE id = $1",
        args![id, now],
    )?;
    Ok(())
}

/// Block or unblock; false when there is no such user.
pub fn set_blocked(db: &mut Db<'_>, id: &str, blocked: bool, now: i64) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE users SET blocked = $2, updated_at = $3 WHERE id = $1",
        args![id, blocked, now],
    )? == 1)
}

/// A page of users in creation order after the cursor `(created_at, id)`, optionally of
/// one connection and one address.
pub fn page(
    db: &mut Db<'_>,
    connection: Option<&str>,
    email: Option<&str>,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    let (at, id) = after.unwrap_or((i64::MIN, ""));
    db.query_all(
        &format!(
            "SELECT {COLUMNS} FROM users WHERE (created_at > $1 OR (created_at = $1 AND id > $2)) \
             AND ($3 = '' OR connection = $3) AND ($4 = '' OR email = $4) \
             ORDER BY created_at, id LIMIT $5"
        ),
        args![at, id, connection.unwrap_or(""), email.unwrap_or(""), limit],
        from_row,
    )
}

/// The user of an upstream connection with this (issuer, subject) key.
pub fn find_by_upstream(
    db: &mut Db<'_>,
    connection: &str,
    subject: &str,
) -> Result<Option<User>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE connection = $1 AND upstream_subject = $2"),
        args![connection, subject],
        from_row,
    )
}

/// A user of an upstream connection: keyed by the upstream's (issuer, subject), with the
/// address it gave (it may be empty, and two upstream users may share one). No password.
pub fn create_upstream(
    db: &mut Db<'_>,
    connection: &str,
    subject: &str,
    email: &str,
    email_verified: bool,
    roles: &[String],
    now: i64,
) -> Result<User, StoreError> {
    let id = crate::crypto::random_id("usr_");
    db.execute(
        "INSERT INTO users (id, connection, email, email_key, email_verified, password_hash, roles, \
         created_at, updated_at, upstream_subject) VALUES ($1, $2, $3, $1, $4, '!', $5, $6, $6, $7)",
        args![&id, connection, email, email_verified, &roles_json(roles)?, now, subject],
    )?;
    get(db, &id)?.ok_or(StoreError::Aborted("the new user vanished"))
}

/// What the upstream says now about the user's address.
pub fn set_upstream_profile(
    db: &mut Db<'_>,
    id: &str,
    email: &str,
    email_verified: bool,
    now: i64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE users SET email = $2, email_verified = $3, updated_at = $4 WHERE id = $1",
        args![id, email, email_verified, now],
    )?;
    Ok(())
}
