//! Small cryptographic helpers: random tokens, digests, constant-time comparison.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// 256 random bits, base64url: codes, refresh tokens, session ids, CSRF tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    b64url(&bytes)
}

/// A shorter random identifier (128 bits) for non-secret ids: jti, sub, kid, family.
pub fn random_id(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::rng().random();
    format!("{prefix}{}", b64url(&bytes))
}

/// The stored form of a bearer secret (code, refresh token, session id): hex SHA-256.
/// These are high-entropy random values, so a fast digest is the right tool (not argon2).
pub fn token_hash(token: &str) -> String {
    hex(&sha256(token.as_bytes()))
}

pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// RFC 7636 4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    ct_eq(
        b64url(&sha256(verifier.as_bytes())).as_bytes(),
        challenge.as_bytes(),
    )
}

/// OIDC Core 3.1.3.6 at_hash: left half of SHA-256 of the access token, base64url.
pub fn at_hash(access_token: &str) -> String {
    b64url(&sha256(access_token.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_example_from_rfc7636_appendix_b() {
        assert!(pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn random_tokens_are_256_bits_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }
}
