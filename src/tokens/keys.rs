//! The stored keys: generated sealed under the server secret, rotated with a
//! publication period, withdrawn at once when compromised.

use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::KeyPair;
use josekit::jws::{EdDSA, ES256, RS256};

use super::KeyError;
use crate::domain::SigningAlg;
use crate::secrets::Secrets;
use crate::store::keys::StoredKey;
use crate::store::{self, Store};

pub(super) fn parse_key_pair(
    alg: SigningAlg,
    pem: &[u8],
) -> Result<Box<dyn KeyPair>, josekit::JoseError> {
    Ok(match alg {
        SigningAlg::Es256 => Box::new(ES256.key_pair_from_pem(pem)?),
        SigningAlg::Rs256 => Box::new(RS256.key_pair_from_pem(pem)?),
        SigningAlg::EdDsa => Box::new(EdDSA.key_pair_from_pem(pem)?),
    })
}

/// How long a rotated key is published before it signs: longer than the JWKS cache
/// (300 s) plus one housekeeping interval (60 s), so verifiers that cache JWKS already
/// know the key when the first token signed with it arrives (review I8).
pub const PUBLISH_AHEAD: i64 = 420;

/// A new private key for `alg`, with a random kid, sealed under the server secret; it
/// signs from `activates_at`.
pub fn generate(
    alg: SigningAlg,
    now: i64,
    activates_at: i64,
    secrets: &Secrets,
) -> Result<StoredKey, KeyError> {
    let pem = match alg {
        SigningAlg::Es256 => ES256.generate_key_pair()?.to_pem_private_key(),
        SigningAlg::Rs256 => RS256.generate_key_pair(2048)?.to_pem_private_key(),
        SigningAlg::EdDsa => EdDSA
            .generate_key_pair(EdCurve::Ed25519)?
            .to_pem_private_key(),
    };
    let kid = crate::crypto::random_id("");
    Ok(StoredKey {
        private_pem: secrets.seal(&pem, kid.as_bytes()),
        kid,
        alg: alg.as_str().to_owned(),
        created_at: now,
        activates_at,
        retired_at: None,
        withdrawn_at: None,
    })
}

/// The PEM of a stored key: sealed ones are opened, bound to their kid.
pub(super) fn private_pem(k: &StoredKey, secrets: &Secrets) -> Result<Vec<u8>, KeyError> {
    if Secrets::is_sealed(&k.private_pem) {
        Ok(secrets.open(&k.private_pem, k.kid.as_bytes())?)
    } else {
        Ok(k.private_pem.as_bytes().to_vec())
    }
}

/// Seal keys stored in clear (versions before sealing) and re-seal keys sealed under a
/// previous server secret. Returns how many changed.
pub fn seal_stored_keys(store: &Store, secrets: &Secrets) -> Result<usize, KeyError> {
    let keys = store.read_now(store::keys::all)?;
    let mut changed = Vec::new();
    for k in &keys {
        if Secrets::is_sealed(&k.private_pem) && secrets.is_current(&k.private_pem) {
            continue;
        }
        if !Secrets::is_sealed(&k.private_pem) {
            tracing::warn!(
                kid = %k.kid,
                "signing key was stored in clear; sealing it under the server secret"
            );
        }
        let pem = private_pem(k, secrets)?;
        changed.push((k.kid.clone(), secrets.seal(&pem, k.kid.as_bytes())));
    }
    if !changed.is_empty() {
        store.write_now(|db| {
            for (kid, sealed) in &changed {
                store::keys::set_private(db, kid, sealed)?;
            }
            Ok(())
        })?;
    }
    Ok(changed.len())
}

/// The key that signs at `now`: the one activated last, unless retired or withdrawn.
pub fn signing_key(stored: &[StoredKey], now: i64) -> Option<&StoredKey> {
    stored
        .iter()
        .filter(|k| k.withdrawn_at.is_none() && k.retired_at.is_none() && k.activates_at <= now)
        .max_by_key(|k| k.activates_at)
}

/// Serialises the writers of the signing keys across replicas (store::Db::exclusive).
const KEYS_LOCK: i64 = 0x706f_7274_6963_6f02;

fn signs_with(keys: &[StoredKey], alg: SigningAlg, now: i64) -> bool {
    signing_key(keys, now).is_some_and(|k| k.alg == alg.as_str())
}

/// Make sure a key of the configured algorithm signs now (first start, or the algorithm
/// changed in the configuration). Exactly one writer: replicas starting together on an
/// empty database make one key, not one each. Returns the stored keys.
pub fn ensure_active_key(
    store: &Store,
    alg: SigningAlg,
    now: i64,
    secrets: &Secrets,
) -> Result<Vec<StoredKey>, KeyError> {
    seal_stored_keys(store, secrets)?;
    let keys = store.read_now(store::keys::all)?;
    if signs_with(&keys, alg, now) {
        return Ok(keys);
    }
    let key = generate(alg, now, now, secrets)?;
    store.write_now(|db| {
        db.exclusive(KEYS_LOCK)?;
        // Another replica may have made one while this one generated its own.
        if !signs_with(&store::keys::all(db)?, alg, now) {
            store::keys::insert(db, &key)?;
        }
        Ok(())
    })?;
    Ok(store.read_now(store::keys::all)?)
}

/// `portico keys rotate`: a new key, published now, signing from `now + PUBLISH_AHEAD`;
/// the current key signs until then and stays published until its tokens expired.
pub fn rotate(
    store: &Store,
    alg: SigningAlg,
    now: i64,
    secrets: &Secrets,
) -> Result<StoredKey, KeyError> {
    let key = generate(alg, now, now + PUBLISH_AHEAD, secrets)?;
    store.write_now(|db| {
        db.exclusive(KEYS_LOCK)?;
        store::keys::insert(db, &key)
    })?;
    Ok(key)
}

/// What signs after a withdrawal.
pub enum Successor {
    /// The withdrawn key was not the signing key: nothing changed.
    Unchanged,
    /// The key announced by `rotate` (already in verifiers' JWKS caches) signs now.
    Promoted(String),
    /// No key was announced: a new one signs now.
    Generated(StoredKey),
}

/// `portico keys retire --now`: withdraw a (compromised) key at once. Tokens it signed
/// stop verifying here; when it was the signing key, a successor signs immediately.
pub fn withdraw(
    store: &Store,
    kid: &str,
    alg: SigningAlg,
    now: i64,
    secrets: &Secrets,
) -> Result<Successor, KeyError> {
    let replacement = generate(alg, now, now, secrets)?;
    let made = store.write_now(|db| {
        db.exclusive(KEYS_LOCK)?;
        if !store::keys::withdraw(db, kid, now)? {
            return Ok(None);
        }
        let keys = store::keys::all(db)?;
        if signing_key(&keys, now).is_some() {
            return Ok(Some(Successor::Unchanged));
        }
        let announced = keys
            .iter()
            .filter(|k| k.withdrawn_at.is_none() && k.activates_at > now);
        if let Some(next) = announced.min_by_key(|k| k.activates_at) {
            store::keys::activate_now(db, &next.kid, now)?;
            return Ok(Some(Successor::Promoted(next.kid.clone())));
        }
        store::keys::insert(db, &replacement)?;
        Ok(Some(Successor::Generated(replacement)))
    })?;
    made.ok_or_else(|| KeyError::NoSuchKey(kid.to_owned()))
}
