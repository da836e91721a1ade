//! Signing keys and JWTs: key generation and rotation, the prebuilt JWKS document,
//! signing with the active key and verifying our own tokens.
//!
//! Keys are parsed once into signers and verifiers when the ring is built; the hot path
//! only serialises claims and signs. The JOSE header of each key is prebuilt too.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, RS256};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::config::SigningAlg;
use crate::crypto::b64url;
use crate::secrets::Secrets;
use crate::store::keys::StoredKey;
use crate::store::{self, Conn, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key error: {0}")]
    Jose(#[from] josekit::JoseError),
    #[error("stored key {kid} has unsupported algorithm {alg}")]
    UnknownAlg { kid: String, alg: String },
    #[error("cannot serialise claims: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no signing key")]
    NoActiveKey,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("no signing key {0}")]
    NoSuchKey(String),
}

/// Why one of our tokens was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported token type or algorithm")]
    Unsupported,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token issued by another issuer")]
    WrongIssuer,
}

fn parse_key_pair(alg: SigningAlg, pem: &[u8]) -> Result<Box<dyn KeyPair>, josekit::JoseError> {
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
fn private_pem(k: &StoredKey, secrets: &Secrets) -> Result<Vec<u8>, KeyError> {
    if Secrets::is_sealed(&k.private_pem) {
        Ok(secrets.open(&k.private_pem, k.kid.as_bytes())?)
    } else {
        Ok(k.private_pem.as_bytes().to_vec())
    }
}

/// Seal keys stored in clear (versions before sealing) and re-seal keys sealed under a
/// previous server secret. Returns how many changed.
pub fn seal_stored_keys(conn: &mut Conn, secrets: &Secrets) -> Result<usize, KeyError> {
    let keys = store::keys::all(conn)?;
    let mut changed = Vec::new();
    for k in &keys {
        if Secrets::is_sealed(&k.private_pem) && secrets.is_current(&k.private_pem) {
            continue;
        }
        if !Secrets::is_sealed(&k.private_pem) {
            tracing::warn!(kid = %k.kid, "signing key was stored in clear; sealing it under the server secret");
        }
        let pem = private_pem(k, secrets)?;
        changed.push((k.kid.clone(), secrets.seal(&pem, k.kid.as_bytes())));
    }
    if !changed.is_empty() {
        store::write_tx(conn, |tx| {
            for (kid, sealed) in &changed {
                store::keys::set_private(tx, kid, sealed)?;
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

/// Make sure a key of the configured algorithm signs now (first start, or the algorithm
/// changed in the configuration). Returns the stored keys.
pub fn ensure_active_key(
    conn: &mut Conn,
    alg: SigningAlg,
    now: i64,
    secrets: &Secrets,
) -> Result<Vec<StoredKey>, KeyError> {
    seal_stored_keys(conn, secrets)?;
    let keys = store::keys::all(conn)?;
    if signing_key(&keys, now).is_some_and(|k| k.alg == alg.as_str()) {
        return Ok(keys);
    }
    let key = generate(alg, now, now, secrets)?;
    store::write_tx(conn, |tx| store::keys::insert(tx, &key))?;
    Ok(store::keys::all(conn)?)
}

/// `portico keys rotate`: a new key, published now, signing from `now + PUBLISH_AHEAD`;
/// the current key signs until then and stays published until its tokens expired.
pub fn rotate(
    conn: &mut Conn,
    alg: SigningAlg,
    now: i64,
    secrets: &Secrets,
) -> Result<StoredKey, KeyError> {
    let key = generate(alg, now, now + PUBLISH_AHEAD, secrets)?;
    store::write_tx(conn, |tx| store::keys::insert(tx, &key))?;
    Ok(key)
}

/// `portico keys retire --now`: withdraw a (compromised) key at once. Tokens it signed
/// stop verifying here; a replacement signs immediately when it was the signing key.
/// Returns the replacement, if one was made.
pub fn withdraw(
    conn: &mut Conn,
    kid: &str,
    alg: SigningAlg,
    now: i64,
    secrets: &Secrets,
) -> Result<Option<StoredKey>, KeyError> {
    let replacement = generate(alg, now, now, secrets)?;
    let made = store::write_tx(conn, |tx| {
        if !store::keys::withdraw(tx, kid, now)? {
            return Ok(None);
        }
        let keys = store::keys::all(tx)?;
        if signing_key(&keys, now).is_some() {
            return Ok(Some(false));
        }
        store::keys::insert(tx, &replacement)?;
        Ok(Some(true))
    })?;
    match made {
        None => Err(KeyError::NoSuchKey(kid.to_owned())),
        Some(true) => Ok(Some(replacement)),
        Some(false) => Ok(None),
    }
}

struct ActiveKey {
    kid: String,
    alg: SigningAlg,
    signer: Box<dyn JwsSigner>,
    /// base64url of the JOSE header for `typ: at+jwt` and for `typ: JWT`.
    at_header: String,
    jwt_header: String,
}

struct PublicKey {
    alg: SigningAlg,
    verifier: Box<dyn JwsVerifier>,
}

/// The keys in force: one signs, all unexpired ones verify and are published.
pub struct KeyRing {
    active: ActiveKey,
    verifiers: HashMap<String, PublicKey>,
    jwks: bytes::Bytes,
    fingerprint: Vec<Fingerprint>,
    /// Access tokens whose signature this ring already checked, by the SHA-256 of the
    /// whole token: an API introspecting the same token again costs a hash, not an
    /// ECDSA verification. Only tokens that verified get in; expiry (and, by the callers,
    /// revocation) is still checked on every use; a new ring (rotation) starts empty.
    verified: std::sync::Mutex<HashMap<[u8; 32], Arc<Claims>>>,
}

/// What a ring was built from: a reload rebuilds when any of it changed.
type Fingerprint = (String, i64, Option<i64>, Option<i64>);

fn fingerprint(stored: &[StoredKey]) -> Vec<Fingerprint> {
    stored
        .iter()
        .map(|k| (k.kid.clone(), k.activates_at, k.retired_at, k.withdrawn_at))
        .collect()
}

/// Until when a key is published: withdrawn never; retired (or superseded by the signing
/// key) until its tokens expired; otherwise (signing, or announced) always.
fn published(k: &StoredKey, active: &StoredKey, now: i64, publish_for: i64) -> bool {
    if k.withdrawn_at.is_some() {
        return false;
    }
    let retired = k
        .retired_at
        .or_else(|| (k.kid != active.kid && k.activates_at <= now).then_some(active.activates_at));
    retired.is_none_or(|r| r + publish_for >= now)
}

/// The claims of a verified token.
pub type Claims = Map<String, Value>;

/// Bound on the verified-token cache; when full it is emptied (no eviction bookkeeping
/// on the hot path; at most a few MB).
const VERIFIED_CACHE_MAX: usize = 4096;

impl KeyRing {
    /// `publish_for`: how long a retired key stays in JWKS (the longest token lifetime).
    pub fn build(
        stored: &[StoredKey],
        now: i64,
        publish_for: i64,
        secrets: &Secrets,
    ) -> Result<Self, KeyError> {
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        let mut active = None;
        let signing = signing_key(stored, now).ok_or(KeyError::NoActiveKey)?;
        for k in stored {
            if !published(k, signing, now, publish_for) {
                continue;
            }
            let alg = SigningAlg::parse(&k.alg).ok_or_else(|| KeyError::UnknownAlg {
                kid: k.kid.clone(),
                alg: k.alg.clone(),
            })?;
            let pem = private_pem(k, secrets)?;
            let pair = parse_key_pair(alg, &pem)?;
            let mut public: Jwk = pair.to_jwk_public_key();
            public.set_key_id(&k.kid);
            public.set_algorithm(alg.as_str());
            public.set_key_use("sig");
            let verifier: Box<dyn JwsVerifier> = match alg {
                SigningAlg::Es256 => Box::new(ES256.verifier_from_jwk(&public)?),
                SigningAlg::Rs256 => Box::new(RS256.verifier_from_jwk(&public)?),
                SigningAlg::EdDsa => Box::new(EdDSA.verifier_from_jwk(&public)?),
            };
            if k.kid == signing.kid {
                let pem = pem.as_slice();
                let signer: Box<dyn JwsSigner> = match alg {
                    SigningAlg::Es256 => Box::new(ES256.signer_from_pem(pem)?),
                    SigningAlg::Rs256 => Box::new(RS256.signer_from_pem(pem)?),
                    SigningAlg::EdDsa => Box::new(EdDSA.signer_from_pem(pem)?),
                };
                let header = |typ: &str| {
                    b64url(
                        serde_json::json!({"alg": alg.as_str(), "typ": typ, "kid": k.kid})
                            .to_string()
                            .as_bytes(),
                    )
                };
                active = Some(ActiveKey {
                    kid: k.kid.clone(),
                    alg,
                    at_header: header("at+jwt"),
                    jwt_header: header("JWT"),
                    signer,
                });
            }
            jwks.push(Value::Object(public.as_ref().clone()));
            verifiers.insert(k.kid.clone(), PublicKey { alg, verifier });
        }
        let active = active.ok_or(KeyError::NoActiveKey)?;
        // Newest first: clients that take the first key get the active one.
        jwks.reverse();
        let jwks =
            serde_json::to_vec(&serde_json::json!({ "keys": jwks })).map_err(KeyError::Json)?;
        Ok(Self {
            active,
            verifiers,
            verified: std::sync::Mutex::new(HashMap::new()),
            jwks: jwks.into(),
            fingerprint: fingerprint(stored),
        })
    }

    pub fn active_kid(&self) -> &str {
        &self.active.kid
    }

    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    pub fn published_kids(&self) -> impl Iterator<Item = &str> {
        self.verifiers.keys().map(String::as_str)
    }

    /// Sign claims as an RFC 9068 access token (`typ: at+jwt`).
    pub fn sign_access_token(&self, claims: &Map<String, Value>) -> Result<String, KeyError> {
        self.sign(&self.active.at_header, claims)
    }

    /// Sign claims as an ID token (`typ: JWT`).
    pub fn sign_id_token(&self, claims: &Map<String, Value>) -> Result<String, KeyError> {
        self.sign(&self.active.jwt_header, claims)
    }

    /// OIDC Core 3.1.3.6 at_hash: the left half of the access token's hash under the hash
    /// of the ID token's `alg`; for EdDSA (Ed25519) that is SHA-512 (OIDC Core errata 2).
    pub fn at_hash(&self, access_token: &str) -> String {
        match self.active.alg {
            SigningAlg::EdDsa => b64url(&sha2::Sha512::digest(access_token.as_bytes())[..32]),
            SigningAlg::Es256 | SigningAlg::Rs256 => crate::crypto::at_hash(access_token),
        }
    }

    fn sign(&self, header_b64: &str, claims: &Map<String, Value>) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(KeyError::Json)?;
        let mut out = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 120);
        out.push_str(header_b64);
        out.push('.');
        base64::Engine::encode_string(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &payload,
            &mut out,
        );
        let sig = self.active.signer.sign(out.as_bytes())?;
        out.push('.');
        base64::Engine::encode_string(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &sig,
            &mut out,
        );
        Ok(out)
    }

    /// Verify a JWT we signed: a known kid whose key's algorithm equals the header's
    /// (never `none`, never HMAC), the expected `typ`, the signature and the issuer.
    fn verify_ours(
        &self,
        token: &str,
        issuer: &str,
        typ_ok: fn(&str) -> bool,
    ) -> Result<Map<String, Value>, TokenError> {
        let (signed, sig_b64) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header_b64, payload_b64) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        let decode = |s: &str| {
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s)
                .map_err(|_| TokenError::Malformed)
        };
        let header: Map<String, Value> =
            serde_json::from_slice(&decode(header_b64)?).map_err(|_| TokenError::Malformed)?;
        if !typ_ok(header.get("typ").and_then(Value::as_str).unwrap_or("")) {
            return Err(TokenError::Unsupported);
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(TokenError::UnknownKey)?;
        let key = self.verifiers.get(kid).ok_or(TokenError::UnknownKey)?;
        if header.get("alg").and_then(Value::as_str) != Some(key.alg.as_str()) {
            return Err(TokenError::Unsupported);
        }
        key.verifier
            .verify(signed.as_bytes(), &decode(sig_b64)?)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&decode(payload_b64)?).map_err(|_| TokenError::Malformed)?;
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(TokenError::WrongIssuer);
        }
        Ok(claims)
    }

    /// One of our access tokens (RFC 9068 `typ: at+jwt`), unexpired at `now`.
    pub fn verify_access_token(
        &self,
        token: &str,
        issuer: &str,
        now: i64,
    ) -> Result<Arc<Claims>, TokenError> {
        let digest = crate::crypto::sha256(token.as_bytes());
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
            .cloned();
        let claims = match cached {
            Some(c) => c,
            None => {
                let c = Arc::new(self.verify_ours(token, issuer, |t| {
                    t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
                })?);
                let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= VERIFIED_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(digest, c.clone());
                c
            }
        };
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(TokenError::WrongIssuer);
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now => Ok(claims),
            Some(_) => Err(TokenError::Expired),
            None => Err(TokenError::Malformed),
        }
    }

    /// One of our ID tokens (`typ: JWT`), for `id_token_hint`; expiry is not checked
    /// (OpenID RP-Initiated Logout 1.0 allows an expired hint).
    pub fn verify_id_token(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<Map<String, Value>, TokenError> {
        self.verify_ours(token, issuer, |t| t == "JWT")
    }
}

/// The shared, swappable key ring: the server reloads it when `keys rotate` ran.
#[derive(Clone)]
pub struct Keys(Arc<RwLock<Arc<KeyRing>>>);

impl Keys {
    pub fn new(ring: KeyRing) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(ring))))
    }

    pub fn current(&self) -> Arc<KeyRing> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Rebuild from the store if the stored keys changed, or time moved a key in or out
    /// of signing or publication; true if it did.
    pub fn reload(
        &self,
        stored: &[StoredKey],
        now: i64,
        publish_for: i64,
        secrets: &Secrets,
    ) -> Result<bool, KeyError> {
        let cur = self.current();
        let signing = signing_key(stored, now).ok_or(KeyError::NoActiveKey)?;
        let still_published = stored
            .iter()
            .filter(|k| published(k, signing, now, publish_for))
            .count();
        if cur.fingerprint == fingerprint(stored)
            && cur.active.kid == signing.kid
            && still_published == cur.verifiers.len()
        {
            return Ok(false);
        }
        let ring = KeyRing::build(stored, now, publish_for, secrets)?;
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::from_bytes([4; 32])
    }

    fn key(alg: SigningAlg, at: i64) -> StoredKey {
        generate(alg, at, at, &secrets()).unwrap()
    }

    fn ring(alg: SigningAlg) -> KeyRing {
        KeyRing::build(&[key(alg, 0)], 0, 3600, &secrets()).unwrap()
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
            let r = ring(alg);
            let mut c = Map::new();
            c.insert("iss".into(), "https://id.test".into());
            c.insert("exp".into(), 100.into());
            let t = r.sign_access_token(&c).unwrap();
            assert_eq!(
                r.verify_access_token(&t, "https://id.test", 50).unwrap()["exp"],
                100
            );
            assert_eq!(
                r.verify_access_token(&t, "https://id.test", 100),
                Err(TokenError::Expired)
            );
            assert_eq!(
                r.verify_access_token(&t, "https://other", 50),
                Err(TokenError::WrongIssuer)
            );
            // An ID token is not an access token.
            let id = r.sign_id_token(&c).unwrap();
            assert_eq!(
                r.verify_access_token(&id, "https://id.test", 50),
                Err(TokenError::Unsupported)
            );
        }
    }

    #[test]
    fn cached_verifications_still_expire_and_match_whole_tokens_only() {
        let r = ring(SigningAlg::Es256);
        let mut c = Map::new();
        c.insert("iss".into(), "https://id.test".into());
        c.insert("exp".into(), 100.into());
        let t = r.sign_access_token(&c).unwrap();
        assert!(r.verify_access_token(&t, "https://id.test", 50).is_ok());
        assert!(
            r.verify_access_token(&t, "https://id.test", 60).is_ok(),
            "served from the cache"
        );
        assert_eq!(
            r.verify_access_token(&t, "https://id.test", 100),
            Err(TokenError::Expired)
        );
        assert_eq!(
            r.verify_access_token(&t, "https://other", 50),
            Err(TokenError::WrongIssuer)
        );
        // Flip the payload's first character (always "e", from `{"`): a different token.
        let dot = t.find('.').unwrap();
        let tampered = format!("{}.f{}", &t[..dot], &t[dot + 2..]);
        assert!(r
            .verify_access_token(&tampered, "https://id.test", 50)
            .is_err());
    }

    #[test]
    fn jwks_has_public_members_only() {
        let r = ring(SigningAlg::Es256);
        let jwks: Value = serde_json::from_slice(&r.jwks()).unwrap();
        let k = &jwks["keys"][0];
        assert_eq!(k["kid"], r.active_kid());
        assert_eq!(k["alg"], "ES256");
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none());
    }

    #[test]
    fn retired_keys_leave_jwks_after_their_tokens_expired() {
        let old = StoredKey {
            retired_at: Some(100),
            ..key(SigningAlg::Es256, 0)
        };
        let new = key(SigningAlg::Es256, 100);
        let keys = [old.clone(), new.clone()];
        let s = secrets();
        assert_eq!(
            KeyRing::build(&keys, 150, 3600, &s)
                .unwrap()
                .verifiers
                .len(),
            2
        );
        assert_eq!(
            KeyRing::build(&keys, 100 + 3601, 3600, &s)
                .unwrap()
                .verifiers
                .len(),
            1
        );
    }

    #[test]
    fn a_rotated_key_is_published_before_it_signs() {
        let s = secrets();
        let old = key(SigningAlg::Es256, 0);
        let next = generate(SigningAlg::Es256, 100, 100 + PUBLISH_AHEAD, &s).unwrap();
        let keys = [old.clone(), next.clone()];
        let before = KeyRing::build(&keys, 150, 3600, &s).unwrap();
        assert_eq!(before.active_kid(), old.kid, "the old key still signs");
        assert!(
            before.published_kids().any(|k| k == next.kid),
            "the next one is announced"
        );
        let after = KeyRing::build(&keys, 100 + PUBLISH_AHEAD, 3600, &s).unwrap();
        assert_eq!(after.active_kid(), next.kid);
        assert!(
            after.published_kids().any(|k| k == old.kid),
            "its tokens still verify"
        );
        let later = KeyRing::build(&keys, 100 + PUBLISH_AHEAD + 3601, 3600, &s).unwrap();
        assert!(!later.published_kids().any(|k| k == old.kid));
    }

    #[test]
    fn a_withdrawn_key_neither_signs_nor_verifies() {
        let s = secrets();
        let bad = StoredKey {
            withdrawn_at: Some(50),
            retired_at: Some(50),
            ..key(SigningAlg::Es256, 0)
        };
        let fresh = key(SigningAlg::Es256, 50);
        let ring = KeyRing::build(&[bad.clone(), fresh.clone()], 60, 3600, &s).unwrap();
        assert_eq!(ring.active_kid(), fresh.kid);
        assert!(!ring.published_kids().any(|k| k == bad.kid));
    }

    #[test]
    fn private_keys_are_sealed_at_rest() {
        let k = key(SigningAlg::Es256, 0);
        assert!(k.private_pem.starts_with("sealed:v1:") && !k.private_pem.contains("PRIVATE"));
        assert!(KeyRing::build(
            std::slice::from_ref(&k),
            0,
            60,
            &Secrets::from_bytes([5; 32])
        )
        .is_err());
    }
}
