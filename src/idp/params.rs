//! Form-encoded parameters (query strings and request bodies) with duplicate detection:
//! RFC 6749 3.1 says a parameter must not appear more than once.

use super::OAuthError;

/// A form or query that is not UTF-8 once decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request is not valid UTF-8 once percent-decoded")]
pub struct NotUtf8;

fn decode(raw: &[u8]) -> Result<String, NotUtf8> {
    let plus: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_encoding::percent_decode(&plus).collect()).map_err(|_| NotUtf8)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decode `application/x-www-form-urlencoded` strictly: a name or value that is not
    /// UTF-8 once percent-decoded is an error, never silently replaced by U+FFFD (which
    /// would store, say, an e-mail address nobody typed).
    pub fn parse(encoded: &[u8]) -> Result<Self, NotUtf8> {
        let mut out = Vec::new();
        for pair in encoded.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            out.push((decode(k)?, decode(v)?));
        }
        Ok(Self(out))
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
        let p = Params::parse(b"a=1&b=2&a=3").unwrap();
        assert!(p.one("a").is_err());
        assert_eq!(p.one("b").unwrap(), Some("2"));
        assert_eq!(p.one("c").unwrap(), None);
        assert_eq!(p.last_wins()["a"], "3");
    }

    #[test]
    fn decoding_is_strict_about_utf8() {
        let p = Params::parse(b"email=ann%40x.io&name=J%C3%BCrgen+M&flag").unwrap();
        assert_eq!(p.one("email").unwrap(), Some("ann@x.io"));
        assert_eq!(p.one("name").unwrap(), Some("J\u{fc}rgen M"));
        assert_eq!(p.one("flag").unwrap(), None);
        assert_eq!(Params::parse(b"email=%FF@x.io"), Err(NotUtf8));
        assert_eq!(Params::parse(b"%C0=1"), Err(NotUtf8));
    }
}
