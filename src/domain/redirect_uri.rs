//! Redirect URIs as registered (RFC 6749 3.1.2, RFC 8252 7.1).

use super::string_newtype;

string_newtype!(
    /// A redirect URI exactly as registered: compared byte for byte (RFC 9700 4.1.3).
    RedirectUri
);

impl RedirectUri {
    /// Registered URIs must be absolute and carry no fragment (RFC 6749 3.1.2), and use
    /// http(s) or a private-use scheme in reverse-domain form (RFC 8252 7.1), never
    /// `javascript:`, `data:` or `file:`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(s).map_err(|e| format!("\"{s}\" is not an absolute URI ({e})"))?;
        let scheme = url.scheme();
        if !matches!(scheme, "http" | "https") && !scheme.contains('.') {
            return Err(format!(
                "\"{s}\" must use http, https or a private-use scheme like com.example.app (RFC 8252 7.1)"
            ));
        }
        if url.cannot_be_a_base() {
            return Err(format!("\"{s}\" is not an absolute URI"));
        }
        if url.fragment().is_some() {
            return Err(format!("\"{s}\" must not contain a fragment"));
        }
        Ok(Self(s.to_owned()))
    }

    /// `self` plus response parameters, keeping any query it already has.
    pub fn with_params(&self, params: &[(&str, &str)]) -> String {
        append_params(&self.0, params)
    }
}

/// `url` plus form-encoded parameters, keeping any query it already has.
pub fn append_params(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    out.push(if url.contains('?') { '&' } else { '?' });
    out.push_str(&ser.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_absolute_without_fragment() {
        assert!(RedirectUri::parse("http://localhost:3000/callback").is_ok());
        assert!(RedirectUri::parse("com.example.app:/cb").is_ok());
        assert!(RedirectUri::parse("/callback").is_err());
        assert!(RedirectUri::parse("https://x.io/cb#frag").is_err());
        for bad in [
            "javascript://x/%0aalert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "myapp:/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn response_parameters_keep_the_registered_query() {
        let r = RedirectUri::parse("https://a.test/cb?x=1").unwrap();
        assert_eq!(
            r.with_params(&[("code", "c d"), ("iss", "https://id.test")]),
            "https://a.test/cb?x=1&code=c+d&iss=https%3A%2F%2Fid.test"
        );
    }
}
