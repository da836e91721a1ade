use crate::idp::params::Params;
use crate::idp::{ErrorCode, OAuthError};

/// RFC 6749 3.1.1 and 4.1.1: only the code flow.
pub fn response_type(p: &Params) -> Result<(), OAuthError> {
    match p.one("response_type")? {
        Some("code") => Ok(()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "only response_type=code is supported",
        )),
        None => Err(OAuthError::invalid_request("response_type is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::params;

    #[test]
    fn only_code() {
        assert!(response_type(&params("response_type=code")).is_ok());
        assert_eq!(
            response_type(&params("response_type=token"))
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedResponseType
        );
        assert_eq!(
            response_type(&params("")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }
}
