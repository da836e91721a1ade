//! The asymmetric JWS algorithms a resource server may accept, and how a JWK becomes a
//! verifier for exactly one of them.
//!
//! The enum has no `none` and no `HS*` member on purpose: an API holds only the issuer's
//! public keys, so a symmetric algorithm could only ever be "verified" with public key
//! bytes as the HMAC secret, the classic algorithm-confusion forgery
//! (RFC 8725 section 2.1 and 3.1). Making them unrepresentable means no configuration can
//! turn them on.

use std::fmt;

use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use josekit::JoseError;

/// A JWS `alg` value (RFC 7518 section 3.1, RFC 8037 section 3.1) this crate can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256: what Portico signs with by default.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// EdDSA (Ed25519 or Ed448).
    EdDsa,
}

impl Algorithm {
    /// The allow-list used when the builder is given none.
    pub const DEFAULT_ALLOWED: [Algorithm; 4] = [
        Algorithm::Es256,
        Algorithm::Rs256,
        Algorithm::EdDsa,
        Algorithm::Ps256,
    ];

    /// The registered `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses an `alg` value. Names are case-sensitive (RFC 7515 section 4.1.1), so
    /// `es256` is not `ES256`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "ES256" => Algorithm::Es256,
            "ES384" => Algorithm::Es384,
            "ES512" => Algorithm::Es512,
            "RS256" => Algorithm::Rs256,
            "RS384" => Algorithm::Rs384,
            "RS512" => Algorithm::Rs512,
            "PS256" => Algorithm::Ps256,
            "PS384" => Algorithm::Ps384,
            "PS512" => Algorithm::Ps512,
            "EdDSA" => Algorithm::EdDsa,
            _ => return None,
        })
    }

    /// The one algorithm a JWK without an `alg` member is taken to be for.
    ///
    /// RFC 7517 section 4.4 makes `alg` optional. Curves name their algorithm
    /// unambiguously; a bare RSA key is taken as RS256, the OpenID Connect default
    /// (Discovery 1.0 section 3), and is then never accepted for PS256 as well.
    pub(crate) fn infer_from_jwk(jwk: &Jwk) -> Option<Algorithm> {
        match (jwk.key_type(), jwk.curve()) {
            ("EC", Some("P-256")) => Some(Algorithm::Es256),
            ("EC", Some("P-384")) => Some(Algorithm::Es384),
            ("EC", Some("P-521")) => Some(Algorithm::Es512),
            ("OKP", Some("Ed25519" | "Ed448")) => Some(Algorithm::EdDsa),
            ("RSA", _) => Some(Algorithm::Rs256),
            _ => None,
        }
    }

    /// Builds the verifier for this algorithm from a public JWK. josekit itself refuses
    /// a JWK whose `kty`, `crv`, `use` or `alg` does not fit the algorithm, and RSA keys
    /// shorter than 2048 bits (RFC 7518 section 3.3: "a key of size 2048 bits or larger
    /// MUST be used").
    pub(crate) fn verifier_from_jwk(self, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, JoseError> {
        Ok(match self {
            Algorithm::Es256 => Box::new(jws::ES256.verifier_from_jwk(jwk)?),
            Algorithm::Es384 => Box::new(jws::ES384.verifier_from_jwk(jwk)?),
            Algorithm::Es512 => Box::new(jws::ES512.verifier_from_jwk(jwk)?),
            Algorithm::Rs256 => Box::new(jws::RS256.verifier_from_jwk(jwk)?),
            Algorithm::Rs384 => Box::new(jws::RS384.verifier_from_jwk(jwk)?),
            Algorithm::Rs512 => Box::new(jws::RS512.verifier_from_jwk(jwk)?),
            Algorithm::Ps256 => Box::new(jws::PS256.verifier_from_jwk(jwk)?),
            Algorithm::Ps384 => Box::new(jws::PS384.verifier_from_jwk(jwk)?),
            Algorithm::Ps512 => Box::new(jws::PS512.verifier_from_jwk(jwk)?),
            Algorithm::EdDsa => Box::new(jws::EdDSA.verifier_from_jwk(jwk)?),
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
