//! The validated authorization request: typed, parked in the login transaction, and
//! the way errors go back to its redirect_uri. Shared by /authorize, the hosted pages
//! and the completion of a login.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::OAuthError;
use crate::config::Settings;
use crate::domain::{ClientId, CodeChallenge, Prompt, RedirectUri, Scopes};

/// What /authorize accepted. `scope` holds the granted scopes (unknown ones dropped);
/// `extra` the parameters not typed here (bounded), for the rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthRequest {
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: Scopes,
    pub code_challenge: Option<CodeChallenge>,
    pub audience: Option<String>,
    #[serde(flatten)]
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub screen_hint_signup: bool,
    pub extra: BTreeMap<String, String>,
}

/// Parameters kept as typed fields above, so the parked row holds each value once;
/// `rule_query` puts them back for the rules.
pub(crate) const TYPED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
];

impl AuthRequest {
    /// Every parameter of the request, the last value winning (`event.request.query`).
    pub fn rule_query(&self) -> BTreeMap<String, String> {
        let mut q = self.extra.clone();
        q.insert("client_id".into(), self.client_id.to_string());
        q.insert("redirect_uri".into(), self.redirect_uri.to_string());
        q.insert("response_type".into(), "code".into());
        let optional = [
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("login_hint", &self.login_hint),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                q.insert(k.into(), v.clone());
            }
        }
        if let Some(c) = &self.code_challenge {
            q.insert("code_challenge".into(), c.as_str().to_owned());
            q.insert("code_challenge_method".into(), "S256".into());
        }
        q
    }

    /// An existing session authenticated at `auth_time` is fresh enough (OIDC max_age).
    pub fn accepts_auth_time(&self, auth_time: i64, now: i64) -> bool {
        self.max_age.is_none_or(|m| now - auth_time <= m)
    }
}

/// The error response of RFC 6749 4.1.2.1 with `iss` (RFC 9207).
pub fn error_location(
    s: &Settings,
    redirect_uri: &RedirectUri,
    state: Option<&str>,
    e: &OAuthError,
) -> String {
    let mut params = vec![
        ("error", e.code.as_str()),
        ("error_description", e.description.as_ref()),
    ];
    if let Some(st) = state {
        params.push(("state", st));
    }
    params.push(("iss", s.issuer.as_str()));
    redirect_uri.with_params(&params)
}
