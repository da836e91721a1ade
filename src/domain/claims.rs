//! The claims of the tokens we issue, typed: RFC 9068 access tokens and OIDC ID tokens.
//! Claims set by rules ride in `extra` (flattened); rules cannot set the registered ones
//! (rules::PROTECTED_CLAIMS), so `extra` never shadows a field here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An access token (RFC 9068 2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Set for tokens of a user (not of a client acting for itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AccessClaims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }

    /// The user the token speaks for; `None` for client_credentials tokens.
    pub fn user_id(&self) -> Option<&str> {
        self.auth_time.map(|_| self.sub.as_str())
    }
}

/// An ID token (OIDC Core 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// With the `email` scope only (OIDC Core 5.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_claims_are_flattened_beside_the_registered_ones() {
        let mut extra = Map::new();
        extra.insert("tier".into(), "gold".into());
        let c = AccessClaims {
            iss: "https://id".into(),
            sub: "usr_1".into(),
            aud: "https://api".into(),
            exp: 2,
            iat: 1,
            nbf: 1,
            jti: "j".into(),
            client_id: "web".into(),
            scope: "openid orders:read".into(),
            roles: vec!["partner".into()],
            auth_time: Some(1),
            extra,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["tier"], "gold");
        assert_eq!(v["roles"][0], "partner");
        let back: AccessClaims = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
        assert!(back.has_scope("orders:read") && !back.has_scope("orders"));
        assert_eq!(back.user_id(), Some("usr_1"));
    }
}
