//! The users table: one row per user per connection.

use rusqlite::{params, OptionalExtension, Row};

use super::{Conn, StoreError};
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

const COLUMNS: &str =
    "id, connection, email, email_verified, password_hash, roles, logins_count, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let roles: String = r.get(5)?;
    Ok(User {
        id: r.get(0)?,
        connection: r.get(1)?,
        email: r.get(2)?,
        email_verified: r.get::<_, i64>(3)? != 0,
        password_hash: r.get(4)?,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        logins_count: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// The e-mail is already registered in that connection.
#[derive(Debug)]
pub struct EmailTaken;

/// A new user. The address, and any look-alike of it (`Email::key`), must be free in
/// that connection.
pub fn create(
    conn: &Conn,
    connection: &str,
    email: &Email,
    password_hash: &str,
    roles: &[String],
    now: i64,
) -> Result<Result<User, EmailTaken>, StoreError> {
    let id = crate::crypto::random_id("usr_");
    let roles_json =
        serde_json::to_string(roles).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let res = conn.prepare_cached(
        "INSERT INTO users (id, connection, email, email_key, password_hash, roles, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![id, connection, email.as_str(), email.key(), password_hash, roles_json, now]);
    let email = email.as_str();
    match res {
        Ok(_) => Ok(Ok(User {
            id,
            connection: connection.to_owned(),
            email: email.to_owned(),
            email_verified: false,
            password_hash: password_hash.to_owned(),
            roles: roles.to_vec(),
            logins_count: 0,
            created_at: now,
        })),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Ok(Err(EmailTaken))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn find_by_email(
    conn: &Conn,
    connection: &str,
    email: &str,
) -> Result<Option<User>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM users WHERE connection = ?1 AND email = ?2 COLLATE NOCASE"
        ))?
        .query_row(params![connection, email], from_row)
        .optional()?)
}

pub fn get(conn: &Conn, id: &str) -> Result<Option<User>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn list(conn: &Conn, connection: &str) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE connection = ?1 ORDER BY email"
    ))?;
    let rows = stmt.query_map([connection], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete(conn: &Conn, connection: &str, email: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "DELETE FROM users WHERE connection = ?1 AND email = ?2 COLLATE NOCASE",
        params![connection, email],
    )? > 0)
}

pub fn set_roles(conn: &Conn, id: &str, roles: &[String], now: i64) -> Result<bool, StoreError> {
    let roles_json =
        serde_json::to_string(roles).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(conn
        .prepare_cached("UPDATE users SET roles = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, roles_json, now])?
        > 0)
}

pub fn set_password_hash(conn: &Conn, id: &str, hash: &str, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, hash, now])?;
    Ok(())
}

/// Give users from before migration 0002 their look-alike key (the migration left their
/// id as a placeholder). Two existing look-alikes keep the placeholder on the second one,
/// with a warning: nothing is merged or lost.
pub fn backfill_email_keys(conn: &mut Conn) -> Result<usize, StoreError> {
    let pending: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT id, email FROM users WHERE email_key = id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    if pending.is_empty() {
        return Ok(0);
    }
    super::write_tx(conn, |tx| {
        let mut done = 0;
        for (id, email) in &pending {
            let key = Email::parse(email)
                .map(|e| e.key())
                .unwrap_or_else(|_| email.to_lowercase());
            match tx.execute(
                "UPDATE users SET email_key = ?2 WHERE id = ?1",
                params![id, key],
            ) {
                Ok(_) => done += 1,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    tracing::warn!(user = %id, "this user's e-mail looks like another user's in the same connection; left as it is");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    })
}

/// Count a successful login; returns the new logins_count.
pub fn record_login(conn: &Conn, id: &str, now: i64) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET logins_count = logins_count + 1, last_login_at = ?2 WHERE id = ?1 \
             RETURNING logins_count",
        )?
        .query_row(params![id, now], |r| r.get(0))?)
}
