//! The server secret: one 256-bit key that encrypts the signing keys at rest
//! (ChaCha20-Poly1305) and keys the MACs on browser ids and device cookies. Without it a
//! copy of `portico.db` (a backup, a stray file permission) holds nothing that signs
//! tokens (Hydra's SECRETS_SYSTEM plays the same part).
//!
//! Where it comes from, first match wins:
//! 1. `PORTICO_SECRET_KEY`: 64 hex digits, 32 bytes of base64, or a passphrase of at
//!    least 32 characters (hashed to 32 bytes);
//! 2. `[secrets] key_file`: a file holding the same;
//! 3. `<data_dir>/secret.key`, generated on first use with mode 0600 (the demo's way:
//!    it protects a copied database, not a copied data directory).
//!
//! Rotation: set the new key and list the old one in `PORTICO_SECRET_KEY_PREVIOUS`
//! (comma-separated) or `[secrets] previous_key_files`; at start every sealed value is
//! re-encrypted under the new key, after which the old one may go.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::Sha256;

use crate::crypto::{hex, sha256};

const SEALED_PREFIX: &str = "sealed:v1:";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{source_name}: {reason}")]
    BadKey { source_name: String, reason: String },
    #[error("cannot read the secret key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the secret key file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "a stored secret was sealed with key {key_id}, which is not configured (set PORTICO_SECRET_KEY, or list the old key in PORTICO_SECRET_KEY_PREVIOUS)"
    )]
    UnknownKey { key_id: String },
    #[error("a stored secret is corrupt or was tampered with")]
    Corrupt,
}

/// Where the secret comes from (the parts of the configuration that name it).
#[derive(Debug, Clone, Default)]
pub struct SecretSource {
    pub key_file: Option<PathBuf>,
    pub previous_key_files: Vec<PathBuf>,
    pub data_dir: PathBuf,
    /// Generate `<data_dir>/secret.key` when no key is given (not with PostgreSQL, where
    /// every replica must hold the same key).
    pub allow_generated: bool,
}

#[derive(Clone)]
struct Key {
    id: String,
    bytes: [u8; 32],
}

impl Key {
    fn new(bytes: [u8; 32]) -> Self {
        let mut tagged = b"portico key id\0".to_vec();
        tagged.extend_from_slice(&bytes);
        Self {
            id: hex(&sha256(&tagged))[..8].to_owned(),
            bytes,
        }
    }

    /// 64 hex digits, 32 bytes of base64 (standard or URL-safe), or a long passphrase.
    fn parse(text: &str, source_name: &str) -> Result<Self, SecretError> {
        let t = text.trim();
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = [0u8; 32];
            for (i, o) in out.iter_mut().enumerate() {
                *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap_or_default();
            }
            return Ok(Self::new(out));
        }
        for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(t) {
                if let Ok(b) = <[u8; 32]>::try_from(bytes.as_slice()) {
                    return Ok(Self::new(b));
                }
            }
        }
        if t.chars().count() >= 32 {
            return Ok(Self::new(sha256(t.as_bytes())));
        }
        Err(SecretError::BadKey {
            source_name: source_name.to_owned(),
            reason: "must be 64 hex digits, 32 bytes of base64, or a passphrase of at least 32 characters".into(),
        })
    }
}

/// The current key (seals and MACs) and the previous ones (only open).
#[derive(Clone)]
pub struct Secrets {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("current", &self.current.id)
            .finish_non_exhaustive()
    }
}

fn read_key_file(path: &Path) -> Result<Key, SecretError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Key::parse(&text, &path.display().to_string())
}

/// Create the key file with mode 0600 and 256 random bits; an existing one is read.
fn generated_key_file(path: &Path) -> Result<Key, SecretError> {
    if path.exists() {
        return read_key_file(path);
    }
    let bytes: [u8; 32] = rand::rng().random();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let created = opts
        .open(path)
        .and_then(|mut f| {
            f.write_all(format!("{}\n", hex(&bytes)).as_bytes())
                .map(|_| f)
        })
        .and_then(|f| f.sync_all());
    match created {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "generated a new server secret key; keep it out of backups of the database, \
                 or set PORTICO_SECRET_KEY"
            );
            Ok(Key::new(bytes))
        }
        // Another process (a CLI command beside the server) created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(source) => Err(SecretError::Create {
            path: path.display().to_string(),
            source,
        }),
    }
}

impl Secrets {
    /// Load the key as the module documentation says.
    pub fn load(src: &SecretSource) -> Result<Self, SecretError> {
        let current = match std::env::var("PORTICO_SECRET_KEY") {
            Ok(v) if !v.trim().is_empty() => Key::parse(&v, "PORTICO_SECRET_KEY")?,
            _ => match &src.key_file {
                Some(p) => read_key_file(p)?,
                None if src.allow_generated => generated_key_file(&src.data_dir.join("secret.key"))?,
                None => {
                    return Err(SecretError::BadKey {
                        source_name: "the server secret".into(),
                        reason: "with [store] url every replica needs the same key: set PORTICO_SECRET_KEY or [secrets] key_file".into(),
                    })
                }
            },
        };
        let mut previous = Vec::new();
        if let Ok(v) = std::env::var("PORTICO_SECRET_KEY_PREVIOUS") {
            for part in v.split(',').filter(|p| !p.trim().is_empty()) {
                previous.push(Key::parse(part, "PORTICO_SECRET_KEY_PREVIOUS")?);
            }
        }
        for p in &src.previous_key_files {
            previous.push(read_key_file(p)?);
        }
        Ok(Self { current, previous })
    }

    /// A fixed key (tests, benchmarks).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            current: Key::new(bytes),
            previous: Vec::new(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// HMAC-SHA256 under a key derived for `purpose`, over length-prefixed parts (so
    /// ("ab","c") and ("a","bc") differ).
    pub fn mac(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        let derived = hmac_sha256(&self.current.bytes, &[b"portico/v1/", purpose.as_bytes()]);
        let mut framed: Vec<&[u8]> = Vec::with_capacity(parts.len() * 2);
        let lens: Vec<[u8; 8]> = parts
            .iter()
            .map(|p| (p.len() as u64).to_be_bytes())
            .collect();
        for (p, l) in parts.iter().zip(&lens) {
            framed.push(l);
            framed.push(p);
        }
        hmac_sha256(&derived, &framed)
    }

    /// Encrypt and authenticate; `aad` binds the value to where it is stored (a key's kid).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let cipher = ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&self.current.bytes));
        let nonce: [u8; 12] = rand::rng().random();
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        out.extend(
            cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: plaintext,
                        aad,
                    },
                )
                .unwrap_or_default(),
        );
        format!(
            "{SEALED_PREFIX}{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(out)
        )
    }

    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(SEALED_PREFIX)
    }

    /// Sealed under the current key (nothing to re-encrypt).
    pub fn is_current(&self, value: &str) -> bool {
        value
            .strip_prefix(SEALED_PREFIX)
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(id, _)| id == self.current.id)
    }

    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SecretError> {
        let (id, body) = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|r| r.split_once(':'))
            .ok_or(SecretError::Corrupt)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SecretError::UnknownKey {
                key_id: id.to_owned(),
            })?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Corrupt)?;
        if raw.len() < 12 {
            return Err(SecretError::Corrupt);
        }
        let (nonce, ct) = raw.split_at(12);
        ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key.bytes))
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| SecretError::Corrupt)
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_their_aad() {
        let s = Secrets::from_bytes([7; 32]);
        let sealed = s.seal(b"-----BEGIN PRIVATE KEY-----", b"kid-1");
        assert!(Secrets::is_sealed(&sealed) && s.is_current(&sealed));
        assert!(!sealed.contains("BEGIN"));
        assert_eq!(
            s.open(&sealed, b"kid-1").unwrap(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        assert!(matches!(
            s.open(&sealed, b"kid-2"),
            Err(SecretError::Corrupt)
        ));
        let other = Secrets::from_bytes([8; 32]);
        assert!(matches!(
            other.open(&sealed, b"kid-1"),
            Err(SecretError::UnknownKey { .. })
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(s.open(&tampered, b"kid-1").is_err());
    }

    #[test]
    fn previous_keys_still_open_after_a_rotation() {
        let old = Secrets::from_bytes([1; 32]);
        let sealed = old.seal(b"pem", b"k");
        let new = Secrets {
            current: Key::new([2; 32]),
            previous: vec![Key::new([1; 32])],
        };
        assert!(!new.is_current(&sealed));
        assert_eq!(new.open(&sealed, b"k").unwrap(), b"pem");
    }

    #[test]
    fn keys_parse_from_hex_base64_or_a_long_passphrase() {
        let hex64 = "11".repeat(32);
        assert_eq!(Key::parse(&hex64, "t").unwrap().bytes, [0x11; 32]);
        let b64 = STANDARD.encode([0x22u8; 32]);
        assert_eq!(Key::parse(&b64, "t").unwrap().bytes, [0x22; 32]);
        assert!(Key::parse("correct horse battery staple, and more words", "t").is_ok());
        assert!(Key::parse("too short", "t").is_err());
    }

    #[test]
    fn macs_depend_on_purpose_and_framing() {
        let s = Secrets::from_bytes([3; 32]);
        assert_ne!(s.mac("a", &[b"x"]), s.mac("b", &[b"x"]));
        assert_ne!(s.mac("a", &[b"ab", b"c"]), s.mac("a", &[b"a", b"bc"]));
        assert_eq!(s.mac("a", &[b"x"]), s.mac("a", &[b"x"]));
    }

    #[test]
    fn a_generated_key_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.key");
        let a = generated_key_file(&p).unwrap();
        let b = generated_key_file(&p).unwrap();
        assert_eq!(a.bytes, b.bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
