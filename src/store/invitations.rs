//! Invitations: one client, one address, roles and a lifetime; the link's token stored as
//! a keyed hash; accepted once (an atomic update), revocable.

use super::db::{args, Db, Row};
use super::StoreError;

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: String,
    pub client_id: String,
    pub connection: String,
    pub email: String,
    pub roles: Vec<String>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub accepted_by: Option<String>,
    pub revoked_at: Option<i64>,
    /// When Portico's mail with the link went out.
    pub mailed_at: Option<i64>,
}

impl Invitation {
    /// Not accepted, not revoked, not expired.
    pub fn is_open(&self, now: i64) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }

    pub fn state(&self, now: i64) -> &'static str {
        if self.accepted_at.is_some() {
            "accepted"
        } else if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "open"
        }
    }
}

const COLUMNS: &str = "id, client_id, connection, email, roles, created_by, created_at, \
     expires_at, accepted_at, accepted_by, revoked_at, mailed_at";

fn from_row(r: &Row<'_, '_>) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        id: r.text(0)?,
        client_id: r.text(1)?,
        connection: r.text(2)?,
        email: r.text(3)?,
        roles: serde_json::from_str(&r.text(4)?).unwrap_or_default(),
        created_by: r.text(5)?,
        created_at: r.int(6)?,
        expires_at: r.int(7)?,
        accepted_at: r.opt_int(8)?,
        accepted_by: r.opt_text(9)?,
        revoked_at: r.opt_int(10)?,
        mailed_at: r.opt_int(11)?,
    })
}

pub fn insert(db: &mut Db<'_>, inv: &Invitation, token_hash: &str) -> Result<(), StoreError> {
    let roles =
        serde_json::to_string(&inv.roles).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    db.execute(
        "INSERT INTO invitations (id, token_hash, client_id, connection, email, roles, created_by, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            &inv.id,
            token_hash,
            &inv.client_id,
            &inv.connection,
            &inv.email,
            &roles,
            &inv.created_by,
            inv.created_at,
            inv.expires_at
        ],
    )?;
    Ok(())
}

pub fn get(db: &mut Db<'_>, id: &str) -> Result<Option<Invitation>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM invitations WHERE id = $1"),
        args![id],
        from_row,
    )
}

pub fn by_token(db: &mut Db<'_>, token_hash: &str) -> Result<Option<Invitation>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM invitations WHERE token_hash = $1"),
        args![token_hash],
        from_row,
    )
}

/// An open invitation for this address in this connection (invite-only sign-up).
pub fn open_for(
    db: &mut Db<'_>,
    connection: &str,
    email: &str,
    now: i64,
) -> Result<Option<Invitation>, StoreError> {
    db.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM invitations WHERE connection = $1 AND email = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3 \
             ORDER BY created_at DESC LIMIT 1"
        ),
        args![connection, email, now],
        from_row,
    )
}

/// Accept: true for exactly one caller while the invitation is open.
pub fn accept(db: &mut Db<'_>, id: &str, user_id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE invitations SET accepted_at = $3, accepted_by = $2 \
         WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
        args![id, user_id, now],
    )? == 1)
}

/// Revoke an open invitation; false when there is none with this id (or it is closed).
pub fn revoke(db: &mut Db<'_>, id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE invitations SET revoked_at = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
        args![id, now],
    )? == 1)
}

/// A page of invitations, newest first, after the cursor `(created_at, id)`.
pub fn page(
    db: &mut Db<'_>,
    client_id: Option<&str>,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<Invitation>, StoreError> {
    let (at, id) = after.unwrap_or((i64::MAX, ""));
    let order = "ORDER BY created_at DESC, id DESC LIMIT $3";
    let newer = "(created_at < $1 OR (created_at = $1 AND id < $2))";
    match client_id {
        Some(c) => db.query_all(
            &format!("SELECT {COLUMNS} FROM invitations WHERE {newer} AND client_id = $4 {order}"),
            args![at, id, limit, c],
            from_row,
        ),
        None => db.query_all(
            &format!("SELECT {COLUMNS} FROM invitations WHERE {newer} {order}"),
            args![at, id, limit],
            from_row,
        ),
    }
}

/// The invitation's mail went out.
pub fn set_mailed(db: &mut Db<'_>, id: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE invitations SET mailed_at = $2 WHERE id = $1",
        args![id, now],
    )?;
    Ok(())
}
