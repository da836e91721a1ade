//! Newtypes that parse at the edge: once a value has one of these types it is valid.

use std::fmt;

use serde::{Deserialize, Serialize};

mod email;
mod password_policy;

pub use email::{is_hidden_char, Email};
pub use password_policy::{
    normalize as normalize_password, PasswordPolicy, PasswordProblem, MAX_PASSWORD_BYTES,
};

/// Lower-case letters, digits, `-`, `_` and `.`: safe in logs, URLs and templates.
fn is_identifier(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A registered client's identifier.
    ClientId
);
string_newtype!(
    /// The name of a user store.
    ConnectionName
);
string_newtype!(
    /// A redirect URI exactly as registered: compared byte for byte (RFC 9700 4.1.3).
    RedirectUri
);
string_newtype!(
    /// The issuer identifier: an absolute http(s) URL without a trailing slash (OIDC Discovery 3).
    Issuer
);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_identifier(s, 128) {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be 1-128 characters of letters, digits, '-', '_', '.' or ':'".into())
        }
    }
}

impl ConnectionName {
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_identifier(s, 64) {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be 1-64 characters of letters, digits, '-', '_', '.' or ':'".into())
        }
    }
}

impl RedirectUri {
    /// Registered URIs must be absolute and carry no fragment (RFC 6749 3.1.2), and use
    /// http(s) or a private-use scheme in reverse-domain form (RFC 8252 7.1), never
    /// `javascript:`, `data:` or `file:`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(s).map_err(|e| format!("\"{s}\" is not an absolute URI ({e})"))?;
        let scheme = url.scheme();
        if !matches!(scheme, "http" | "https") && !scheme.contains('.') {
            return Err(format!(
                "\"{s}\" must use http, https or a private-use scheme like com.example.app (RFC 8252 7.1)"
            ));
        }
        if url.cannot_be_a_base() {
            return Err(format!("\"{s}\" is not an absolute URI"));
        }
        if url.fragment().is_some() {
            return Err(format!("\"{s}\" must not contain a fragment"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Issuer {
    pub fn parse(s: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(s).map_err(|e| format!("\"{s}\" is not an absolute URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("\"{s}\" must use http or https"));
        }
        if s.ends_with('/') {
            return Err(format!("\"{s}\" must not end with a slash"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("\"{s}\" must not have a query or fragment"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// An endpoint URL under this issuer.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

/// A user's password: never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(s: String) -> Self {
        Self(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A role name as stored on users and put in the `roles` claim.
pub fn valid_role(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
}

/// A space-delimited scope list (RFC 6749 3.3), order kept, duplicates dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(Vec<String>);

impl Scopes {
    pub fn parse(s: &str) -> Self {
        // A set for the duplicates: linear, so a huge scope string costs linear time.
        let mut seen = std::collections::HashSet::new();
        Self(
            s.split(' ')
                .filter(|p| !p.is_empty() && seen.insert(*p))
                .map(str::to_owned)
                .collect(),
        )
    }
    pub fn from_vec(v: Vec<String>) -> Self {
        Self(v)
    }
    pub fn contains(&self, s: &str) -> bool {
        self.0.iter().any(|x| x == s)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// Keep only the scopes `allowed` says yes to.
    pub fn retain(&self, allowed: impl Fn(&str) -> bool) -> Self {
        Self(self.0.iter().filter(|s| allowed(s)).cloned().collect())
    }
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// PKCE code challenge for S256: base64url of a SHA-256 digest, 43 characters (RFC 7636 4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

/// RFC 7636 4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
pub fn valid_code_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_drop_duplicates_and_keep_order() {
        let s = Scopes::parse("openid  email openid profile");
        assert_eq!(s.to_string(), "openid email profile");
        assert!(Scopes::parse("openid").is_subset_of(&s));
        assert!(!Scopes::parse("openid admin").is_subset_of(&s));
    }

    #[test]
    fn redirect_uris_must_be_absolute_without_fragment() {
        assert!(RedirectUri::parse("http://localhost:3000/callback").is_ok());
        assert!(RedirectUri::parse("com.example.app:/cb").is_ok());
        assert!(RedirectUri::parse("/callback").is_err());
        for bad in [
            "javascript://x/%0aalert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "myapp:/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
        assert!(RedirectUri::parse("https://x.io/cb#frag").is_err());
    }

    #[test]
    fn issuer_has_no_trailing_slash() {
        assert!(Issuer::parse("https://id.example.com").is_ok());
        assert!(Issuer::parse("https://id.example.com/").is_err());
        assert!(Issuer::parse("ftp://id.example.com").is_err());
    }

    #[test]
    fn password_debug_is_redacted() {
        assert!(!format!("{:?}", Password::new("hunter22".into())).contains("hunter"));
    }

    #[test]
    fn pkce_shapes() {
        assert!(CodeChallenge::parse_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").is_ok());
        assert!(CodeChallenge::parse_s256("short").is_err());
        assert!(valid_code_verifier(&"a".repeat(43)));
        assert!(!valid_code_verifier(&"a".repeat(42)));
        assert!(!valid_code_verifier(&format!("{}!", "a".repeat(43))));
    }
}
