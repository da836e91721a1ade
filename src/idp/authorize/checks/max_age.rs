use crate::idp::params::Params;
use crate::idp::OAuthError;

/// OIDC Core 3.1.2.1: max_age is a non-negative number of seconds.
pub fn max_age(p: &Params) -> Result<Option<i64>, OAuthError> {
    match p.one("max_age")? {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::params;

    #[test]
    fn a_non_negative_number() {
        assert_eq!(max_age(&params("max_age=60")).unwrap(), Some(60));
        assert_eq!(max_age(&params("")).unwrap(), None);
        assert!(max_age(&params("max_age=-1")).is_err());
        assert!(max_age(&params("max_age=soon")).is_err());
        assert!(max_age(&params("max_age=9223372036854775807")).is_ok());
    }
}
