use crate::config::{Client, Settings};
use crate::domain::{resolve_audience, AudienceError};
use crate::idp::params::Params;
use crate::idp::{ErrorCode, OAuthError};

/// RFC 8707 2: `resource` (or Auth0-style `audience`) must name a configured API this
/// client may get tokens for (its `apis`); without one the client's default audience.
pub fn audience(s: &Settings, client: &Client, p: &Params) -> Result<Option<String>, OAuthError> {
    target(s, client, p.one("resource")?, p.one("audience")?)
}

/// Shared by /authorize and /token.
pub fn target(
    s: &Settings,
    client: &Client,
    resource: Option<&str>,
    audience: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    resolve_audience(
        resource,
        audience,
        client.audience.as_deref(),
        &client.apis,
        |a| s.api(a).is_some(),
    )
    .map_err(|e| match e {
        AudienceError::Conflicting => OAuthError::invalid_request(e.description()),
        _ => OAuthError::new(ErrorCode::InvalidTarget, e.description()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::{params, settings};

    #[test]
    fn only_the_clients_own_apis() {
        let s = settings();
        let web = s.client("web").unwrap();
        assert_eq!(
            audience(&s, web, &params("")).unwrap().as_deref(),
            Some("https://api.test")
        );
        let e = audience(&s, web, &params("resource=https%3A%2F%2Fadmin.test")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        let e = audience(&s, web, &params("resource=https%3A%2F%2Fevil.test")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
    }
}
