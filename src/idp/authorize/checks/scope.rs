use crate::config::Settings;
use crate::domain::Scopes;
use crate::idp::params::Params;
use crate::idp::OAuthError;

/// RFC 6749 3.3: unknown scopes are dropped (interface.md), and so are the scopes of
/// APIs other than the token's audience.
pub fn scope(s: &Settings, p: &Params, audience: Option<&str>) -> Result<Scopes, OAuthError> {
    let requested = Scopes::parse(p.one("scope")?.unwrap_or(""));
    Ok(s.granted_scopes(&requested, audience))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::{params, settings};

    #[test]
    fn unknown_and_other_apis_scopes_are_dropped() {
        let s = settings();
        let got = scope(
            &s,
            &params("scope=openid+admin+admin:all+orders:read"),
            Some("https://api.test"),
        );
        assert_eq!(got.unwrap().to_string(), "openid orders:read");
    }
}
