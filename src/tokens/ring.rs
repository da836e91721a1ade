//! The keys in force: one signs, all published ones verify and make up JWKS. Built once
//! per change (signers, verifiers and JOSE headers prebuilt), swapped atomically.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, RS256};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Digest;

use super::keys::{parse_key_pair, private_pem, signing_key};
use super::{KeyError, TokenError};
use crate::crypto::b64url;
use crate::domain::{AccessClaims, IdClaims, SigningAlg};
use crate::secrets::Secrets;
use crate::store::keys::StoredKey;

#[derive(serde::Deserialize)]
struct IssOnly {
    iss: Option<String>,
}

struct ActiveKey {
    kid: String,
    alg: SigningAlg,
    signer: Signer,
    /// base64url of the JOSE header for `typ: at+jwt` and for `typ: JWT`.
    at_header: String,
    jwt_header: String,
}

/// How the active key signs. ES256, the default, signs the SHA-256 of the input with
/// ECDSA directly: josekit's signer builds an OpenSSL 3 `EVP_DigestSign` context (a
/// provider fetch) and DER-decodes the result on every token, about a tenth of a
/// client_credentials request in the profile (README, Benchmarks). Same key, same
/// JWS (RFC 7518 3.4: R and S as 32 big-endian bytes each); josekit verifies it.
enum Signer {
    Es256(openssl::ec::EcKey<openssl::pkey::Private>),
    Jose(Box<dyn JwsSigner>),
}

impl Signer {
    fn new(alg: SigningAlg, pem: &[u8]) -> Result<Self, KeyError> {
        Ok(match alg {
            SigningAlg::Es256 => Signer::Es256(
                openssl::pkey::PKey::private_key_from_pem(pem)
                    .and_then(|k| k.ec_key())
                    .map_err(|e| KeyError::Jose(josekit::JoseError::InvalidKeyFormat(e.into())))?,
            ),
            SigningAlg::Rs256 => Signer::Jose(Box::new(RS256.signer_from_pem(pem)?)),
            SigningAlg::EdDsa => Signer::Jose(Box::new(EdDSA.signer_from_pem(pem)?)),
        })
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Signer::Es256(key) => {
                let digest = sha2::Sha256::digest(input);
                let fail = |e: openssl::error::ErrorStack| {
                    KeyError::Jose(josekit::JoseError::InvalidSignature(e.into()))
                };
                let sig = openssl::ecdsa::EcdsaSig::sign(&digest, key).map_err(fail)?;
                let mut out = sig.r().to_vec_padded(32).map_err(fail)?;
                out.extend(sig.s().to_vec_padded(32).map_err(fail)?);
                Ok(out)
            }
            Signer::Jose(signer) => Ok(signer.sign(input)?),
        }
    }
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
    verified: std::sync::Mutex<HashMap<[u8; 32], Arc<AccessClaims>>>,
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
                let signer = Signer::new(alg, &pem)?;
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
    pub fn sign_access_token(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        self.sign(&self.active.at_header, claims)
    }

    /// Sign claims as an ID token (`typ: JWT`).
    pub fn sign_id_token(&self, claims: &IdClaims) -> Result<String, KeyError> {
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

    fn sign(&self, header_b64: &str, claims: &impl Serialize) -> Result<String, KeyError> {
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
    ) -> Result<Vec<u8>, TokenError> {
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
        let payload = decode(payload_b64)?;
        // The issuer is checked here, on any payload, before a typed parse.
        let iss: IssOnly = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if iss.iss.as_deref() != Some(issuer) {
            return Err(TokenError::WrongIssuer);
        }
        Ok(payload)
    }

    /// One of our access tokens (RFC 9068 `typ: at+jwt`), unexpired at `now`.
    pub fn verify_access_token(
        &self,
        token: &str,
        issuer: &str,
        now: i64,
    ) -> Result<Arc<AccessClaims>, TokenError> {
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
                let payload = self.verify_ours(token, issuer, |t| {
                    t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
                })?;
                let c: Arc<AccessClaims> =
                    Arc::new(serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?);
                let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= VERIFIED_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(digest, c.clone());
                c
            }
        };
        if claims.iss != issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// One of our ID tokens (`typ: JWT`), for `id_token_hint`; expiry is not checked
    /// (OpenID RP-Initiated Logout 1.0 allows an expired hint).
    pub fn verify_id_token(&self, token: &str, issuer: &str) -> Result<IdClaims, TokenError> {
        let payload = self.verify_ours(token, issuer, |t| t == "JWT")?;
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)
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
    use crate::tokens::{generate, PUBLISH_AHEAD};

    fn secrets() -> Secrets {
        Secrets::from_bytes([4; 32])
    }

    fn key(alg: SigningAlg, at: i64) -> StoredKey {
        generate(alg, at, at, &secrets()).unwrap()
    }

    fn ring(alg: SigningAlg) -> KeyRing {
        KeyRing::build(&[key(alg, 0)], 0, 3600, &secrets()).unwrap()
    }

    fn access(iss: &str, exp: i64) -> AccessClaims {
        AccessClaims {
            iss: iss.into(),
            sub: "usr_1".into(),
            aud: "https://api".into(),
            exp,
            iat: 0,
            nbf: 0,
            jti: "j".into(),
            client_id: "web".into(),
            scope: "openid".into(),
            roles: vec![],
            auth_time: Some(0),
            extra: Map::new(),
        }
    }

    fn id_claims(iss: &str) -> IdClaims {
        IdClaims {
            iss: iss.into(),
            sub: "usr_1".into(),
            aud: "web".into(),
            azp: "web".into(),
            exp: 100,
            iat: 0,
            auth_time: None,
            nonce: None,
            at_hash: None,
            email: None,
            email_verified: None,
            roles: vec![],
            extra: Map::new(),
        }
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
            let r = ring(alg);
            let c = access("https://id.test", 100);
            let t = r.sign_access_token(&c).unwrap();
            assert_eq!(
                r.verify_access_token(&t, "https://id.test", 50)
                    .unwrap()
                    .exp,
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
            let id = r.sign_id_token(&id_claims("https://id.test")).unwrap();
            assert_eq!(
                r.verify_access_token(&id, "https://id.test", 50),
                Err(TokenError::Unsupported)
            );
        }
    }

    #[test]
    fn es256_signatures_are_raw_r_and_s_that_josekit_verifies_from_jwks() {
        let r = ring(SigningAlg::Es256);
        let jwks: Value = serde_json::from_slice(&r.jwks()).unwrap();
        let jwk = Jwk::from_map(jwks["keys"][0].as_object().unwrap().clone()).unwrap();
        let verifier = ES256.verifier_from_jwk(&jwk).unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..50 {
            let t = r
                .sign_access_token(&access("https://id.test", 100 + i))
                .unwrap();
            let (input, sig) = t.rsplit_once('.').unwrap();
            let sig =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
                    .unwrap();
            // RFC 7518 3.4: R || S, 32 bytes each, whatever their leading zeros.
            assert_eq!(sig.len(), 64);
            verifier.verify(input.as_bytes(), &sig).unwrap();
            let mut bad = sig.clone();
            bad[63] ^= 1;
            assert!(verifier.verify(input.as_bytes(), &bad).is_err());
            assert!(seen.insert(sig), "ECDSA nonces must differ");
        }
    }

    #[test]
    fn cached_verifications_still_expire_and_match_whole_tokens_only() {
        let r = ring(SigningAlg::Es256);
        let t = r
            .sign_access_token(&access("https://id.test", 100))
            .unwrap();
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
