use std::collections::BTreeMap;

use crate::idp::auth_request::TYPED;
use crate::idp::params::Params;
use crate::idp::OAuthError;

const MAX_PARAMETERS: usize = 50;
const MAX_VALUE_LEN: usize = 2048;
const MAX_QUERY_LEN: usize = 8192;
/// What a parked request may hold beyond its typed fields (names and values together).
const MAX_EXTRA_LEN: usize = 2048;

/// Bounded sizes for what we store and echo, so an unauthenticated request cannot park
/// much in a login transaction (review H1).
pub fn lengths(p: &Params) -> Result<(), OAuthError> {
    if !p.is_bounded(MAX_PARAMETERS, MAX_VALUE_LEN, MAX_QUERY_LEN) {
        return Err(OAuthError::invalid_request(format!(
            "at most {MAX_PARAMETERS} parameters of at most {MAX_VALUE_LEN} characters, {MAX_QUERY_LEN} in all"
        )));
    }
    for (name, max) in [
        ("state", 2048),
        ("nonce", 512),
        ("login_hint", 320),
        ("scope", 2048),
    ] {
        if p.one(name)?.is_some_and(|v| v.len() > max) {
            return Err(OAuthError::invalid_request(format!(
                "{name} is longer than {max} characters"
            )));
        }
    }
    if extra(p)
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>()
        > MAX_EXTRA_LEN
    {
        return Err(OAuthError::invalid_request(format!(
            "the parameters other than the OAuth ones exceed {MAX_EXTRA_LEN} characters"
        )));
    }
    Ok(())
}

/// The parameters the typed request does not hold, the last value winning.
pub fn extra(p: &Params) -> BTreeMap<String, String> {
    let mut q = p.last_wins();
    q.retain(|k, _| !TYPED.contains(&k.as_str()));
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::params;

    #[test]
    fn sizes_are_bounded() {
        assert!(lengths(&params("state=abc&foo=bar")).is_ok());
        assert!(lengths(&params(&format!("nonce={}", "n".repeat(513)))).is_err());
        assert!(lengths(&params(&format!("junk={}", "x".repeat(2100)))).is_err());
        let many: String = (0..60).map(|i| format!("p{i}=v&")).collect();
        assert!(lengths(&params(&many)).is_err());
        assert_eq!(extra(&params("state=s&foo=bar"))["foo"], "bar");
        assert!(!extra(&params("state=s")).contains_key("state"));
    }
}
