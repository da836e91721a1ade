use crate::domain::Prompt;
use crate::idp::params::Params;
use crate::idp::OAuthError;

/// OIDC Core 3.1.2.1: prompt is a space-separated list; `none` stands alone.
pub fn prompt(p: &Params) -> Result<Prompt, OAuthError> {
    Prompt::parse(p.one("prompt")?.unwrap_or("")).map_err(OAuthError::invalid_request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::params;

    #[test]
    fn none_stands_alone() {
        assert!(prompt(&params("prompt=none")).unwrap().none);
        assert!(prompt(&params("prompt=none+login")).is_err());
    }
}
