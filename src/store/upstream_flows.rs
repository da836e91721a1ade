//! Round trips to upstream providers: created when the browser leaves for the upstream,
//! taken (deleted) once by the callback whose `state` names it.

use super::db::{args, Db};
use super::StoreError;

#[derive(Debug, Clone)]
pub struct Flow {
    pub connection: String,
    pub tx_id: String,
    pub nonce: String,
    /// The PKCE verifier, sealed under the server secret.
    pub verifier: String,
    /// SHA-256 of the browser id that left for the upstream.
    pub browser: String,
    pub expires_at: i64,
}

pub fn insert(db: &mut Db<'_>, state_hash: &str, f: &Flow, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO upstream_flows (state_hash, connection, tx_id, nonce, verifier, browser, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            state_hash,
            &f.connection,
            &f.tx_id,
            &f.nonce,
            &f.verifier,
            &f.browser,
            now,
            f.expires_at
        ],
    )?;
    Ok(())
}

/// The flow of this `state`, removed: a second callback with it finds nothing.
pub fn take(db: &mut Db<'_>, state_hash: &str) -> Result<Option<Flow>, StoreError> {
    let found = db.query_opt(
        "SELECT connection, tx_id, nonce, verifier, browser, expires_at FROM upstream_flows \
         WHERE state_hash = $1",
        args![state_hash],
        |r| {
            Ok(Flow {
                connection: r.text(0)?,
                tx_id: r.text(1)?,
                nonce: r.text(2)?,
                verifier: r.text(3)?,
                browser: r.text(4)?,
                expires_at: r.int(5)?,
            })
        },
    )?;
    if found.is_some()
        && db.execute(
            "DELETE FROM upstream_flows WHERE state_hash = $1",
            args![state_hash],
        )? != 1
    {
        return Ok(None);
    }
    Ok(found)
}
