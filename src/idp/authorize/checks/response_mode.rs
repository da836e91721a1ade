use crate::idp::params::Params;
use crate::idp::OAuthError;

/// OAuth 2.0 Multiple Response Types 2.1: only the query response mode.
pub fn response_mode(p: &Params) -> Result<(), OAuthError> {
    match p.one("response_mode")? {
        None | Some("query") => Ok(()),
        Some(_) => Err(OAuthError::invalid_request(
            "only response_mode=query is supported",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::params;

    #[test]
    fn only_query() {
        assert!(response_mode(&params("")).is_ok());
        assert!(response_mode(&params("response_mode=query")).is_ok());
        for m in ["fragment", "form_post", "web_message"] {
            assert!(
                response_mode(&params(&format!("response_mode={m}"))).is_err(),
                "{m}"
            );
        }
    }
}
