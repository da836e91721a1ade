use crate::idp::params::Params;
use crate::idp::OAuthError;

/// RFC 6749 3.1: request and response parameters must not be included more than once.
pub fn no_repeated_parameters(p: &Params) -> Result<(), OAuthError> {
    const OAUTH: &[&str] = &[
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
        "login_hint",
        "screen_hint",
        "resource",
        "audience",
        "response_mode",
        "request",
        "request_uri",
        "display",
        "ui_locales",
        "id_token_hint",
        "acr_values",
        "claims",
    ];
    match OAUTH.iter().find(|n| p.is_repeated(n)) {
        Some(n) => Err(OAuthError::invalid_request(format!(
            "parameter {n} is repeated"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::params;

    #[test]
    fn a_repeated_oauth_parameter_is_refused_others_are_not() {
        assert!(no_repeated_parameters(&params("scope=a&scope=b")).is_err());
        assert!(no_repeated_parameters(&params("utm=a&utm=b&scope=x")).is_ok());
    }
}
