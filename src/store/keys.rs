//! Signing keys: private keys (sealed under the server secret), when each starts to sign,
//! when it stopped, and whether it was withdrawn.

use super::db::{args, Db};
use super::StoreError;

#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// `sealed:v1:...` (secrets::Secrets::seal) or, before the first start of a version
    /// that seals, a PKCS#8 PEM.
    pub private_pem: String,
    pub created_at: i64,
    /// Published from `created_at`, signs from here (a rotated key is announced first).
    pub activates_at: i64,
    /// Superseded by a newer key: signs no more, published until its tokens expired.
    pub retired_at: Option<i64>,
    /// Withdrawn (`keys retire --now`): neither signs nor verifies, gone from JWKS.
    pub withdrawn_at: Option<i64>,
}

pub fn all(db: &mut Db<'_>) -> Result<Vec<StoredKey>, StoreError> {
    db.query_all(
        "SELECT kid, alg, private_pem, created_at, COALESCE(activates_at, created_at), retired_at, withdrawn_at \
         FROM signing_keys ORDER BY created_at, kid",
        &[],
        |r| {
            Ok(StoredKey {
                kid: r.text(0)?,
                alg: r.text(1)?,
                private_pem: r.text(2)?,
                created_at: r.int(3)?,
                activates_at: r.int(4)?,
                retired_at: r.opt_int(5)?,
                withdrawn_at: r.opt_int(6)?,
            })
        },
    )
}

pub fn insert(db: &mut Db<'_>, key: &StoredKey) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO signing_keys (kid, alg, private_pem, created_at, activates_at) VALUES ($1, $2, $3, $4, $5)",
        args![&key.kid, &key.alg, &key.private_pem, key.created_at, key.activates_at],
    )?;
    Ok(())
}

/// Replace a key's stored private key (sealing it, or re-sealing under a new secret).
pub fn set_private(db: &mut Db<'_>, kid: &str, sealed: &str) -> Result<(), StoreError> {
    db.execute(
        "UPDATE signing_keys SET private_pem = $2 WHERE kid = $1",
        args![kid, sealed],
    )?;
    Ok(())
}

/// Keys that a newer, already active key replaced: retired as of that key's activation.
pub fn retire_superseded(db: &mut Db<'_>, now: i64) -> Result<usize, StoreError> {
    let keys = all(db)?;
    let mut n = 0;
    for k in keys
        .iter()
        .filter(|k| k.retired_at.is_none() && k.withdrawn_at.is_none())
    {
        // The first key activated after this one (and already active) supersedes it.
        let successor = keys
            .iter()
            .filter(|n| n.withdrawn_at.is_none() && n.kid != k.kid)
            .filter(|n| n.activates_at <= now)
            .filter(|n| (n.activates_at, n.created_at) > (k.activates_at, k.created_at))
            .map(|n| n.activates_at)
            .min();
        if let Some(at) = successor {
            n += db.execute(
                "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL",
                args![&k.kid, at],
            )?;
        }
    }
    Ok(n)
}

/// Let an announced key sign from `now`.
pub fn activate_now(db: &mut Db<'_>, kid: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE signing_keys SET activates_at = $2 WHERE kid = $1",
        args![kid, now],
    )?;
    Ok(())
}

/// Withdraw a key at once; false when there is no such key.
pub fn withdraw(db: &mut Db<'_>, kid: &str, now: i64) -> Result<bool, StoreError> {
    Ok(db.execute(
        "UPDATE signing_keys SET withdrawn_at = $2, retired_at = COALESCE(retired_at, $2) WHERE kid = $1 AND withdrawn_at IS NULL",
        args![kid, now],
    )? > 0)
}

/// Forget keys retired before `cutoff`: no token they signed can still be valid.
pub fn delete_retired_before(db: &mut Db<'_>, cutoff: i64) -> Result<usize, StoreError> {
    db.execute(
        "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1",
        args![cutoff],
    )
}
