//! Signing keys and JWTs: key generation, sealing and rotation (`keys`), and the ring of
//! keys in force that signs our tokens, verifies them and serves JWKS (`ring`).

mod keys;
mod ring;

pub use keys::{
    ensure_active_key, generate, rotate, seal_stored_keys, signing_key, withdraw, Successor,
    PUBLISH_AHEAD,
};
pub use ring::{KeyRing, Keys};

use crate::store::StoreError;

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
