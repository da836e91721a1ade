//! PKCE (RFC 7636): the S256 challenge sent to /authorize and the verifier sent to /token.

use serde::{Deserialize, Serialize};

use crate::crypto::{b64url, ct_eq, sha256};

/// base64url of a SHA-256 digest, 43 characters (RFC 7636 4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse_s256(s: &str) -> Result<Self, &'static str> {
        if s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err("code_challenge must be the 43-character base64url SHA-256 of the verifier")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
    pub fn is_met_by(&self, verifier: &CodeVerifier) -> bool {
        ct_eq(
            b64url(&sha256(verifier.0.as_bytes())).as_bytes(),
            self.0.as_bytes(),
        )
    }
}

/// RFC 7636 4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    pub fn parse(v: &str) -> Result<Self, &'static str> {
        let ok = (43..=128).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if ok {
            Ok(Self(v.to_owned()))
        } else {
            Err("code_verifier is malformed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_of_rfc7636_appendix_b() {
        let c = CodeChallenge::parse_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert!(c.is_met_by(
            &CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap()
        ));
        assert!(!c.is_met_by(
            &CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx").unwrap()
        ));
    }

    #[test]
    fn pkce_shapes() {
        assert!(CodeChallenge::parse_s256("short").is_err());
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&format!("{}!", "a".repeat(43))).is_err());
    }
}
