//! Form-encoded parameters (query strings and request bodies) with duplicate detection:
//! RFC 6749 3.1 says a parameter must not appear more than once.

use crate::error::OAuthError;

#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(encoded: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(encoded).into_owned().collect())
    }

    /// The single value of `name`; a repeated parameter is an error, an empty one absent.
    pub fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(OAuthError::invalid_request(format!(
                        "parameter {name} is repeated"
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// At most `count` parameters, each name and value at most `each` long, `total` in all.
    pub fn is_bounded(&self, count: usize, each: usize, total: usize) -> bool {
        self.0.len() <= count
            && self
                .0
                .iter()
                .all(|(k, v)| k.len() <= each && v.len() <= each)
            && self.0.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() <= total
    }

    pub fn is_repeated(&self, name: &str) -> bool {
        self.0.iter().filter(|(k, _)| k == name).count() > 1
    }

    /// Every parameter, the last value winning (what rules see as `event.request.query`).
    pub fn last_wins(&self) -> std::collections::BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        let p = Params::parse(b"a=1&b=2&a=3");
        assert!(p.one("a").is_err());
        assert_eq!(p.one("b").unwrap(), Some("2"));
        assert_eq!(p.one("c").unwrap(), None);
        assert_eq!(p.last_wins()["a"], "3");
    }
}
