//! Scope lists (RFC 6749 3.3).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The scopes OpenID Connect defines; every other scope belongs to an API.
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// A space-delimited scope list, order kept, duplicates dropped.
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
    /// Without one scope.
    pub fn without(&self, scope: &str) -> Self {
        self.retain(|s| s != scope)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_drop_duplicates_and_keep_order() {
        let s = Scopes::parse("openid  email openid profile");
        assert_eq!(s.to_string(), "openid email profile");
        assert!(Scopes::parse("openid").is_subset_of(&s));
        assert!(!Scopes::parse("openid admin").is_subset_of(&s));
        assert_eq!(s.without("email").to_string(), "openid profile");
    }
}
