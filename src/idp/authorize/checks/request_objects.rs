use crate::idp::params::Params;
use crate::idp::{ErrorCode, OAuthError};

/// OIDC Core 6: request objects are not supported.
pub fn no_request_objects(p: &Params) -> Result<(), OAuthError> {
    if p.one("request")?.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.one("request_uri")?.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::params;

    #[test]
    fn request_and_request_uri_are_refused() {
        assert_eq!(
            no_request_objects(&params("request=eyJ")).unwrap_err().code,
            ErrorCode::RequestNotSupported
        );
        assert_eq!(
            no_request_objects(&params("request_uri=https%3A%2F%2Fx"))
                .unwrap_err()
                .code,
            ErrorCode::RequestUriNotSupported
        );
    }
}
