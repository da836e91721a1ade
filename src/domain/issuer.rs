//! The issuer identifier (OIDC Discovery 3).

use super::string_newtype;

string_newtype!(
    /// An absolute http(s) URL without a trailing slash, query or fragment.
    Issuer
);

impl Issuer {
    pub fn parse(s: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(s).map_err(|e| format!("\"{s}\" is not an absolute URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("\"{s}\" must use http or https"));
        }
        if s.ends_with('/') {
            return Err(format!("\"{s}\" must not end with a slash"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("\"{s}\" must not have a query or fragment"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// An endpoint URL under this issuer.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }

    /// A loopback host (localhost, 127.0.0.0/8, ::1): plain http is fine there.
    pub fn is_loopback(&self) -> bool {
        is_loopback_url(&self.0)
    }
}

/// Does this URL name a loopback host?
pub fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| {
            h == "localhost"
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_has_no_trailing_slash() {
        assert!(Issuer::parse("https://id.example.com").is_ok());
        assert!(Issuer::parse("https://id.example.com/").is_err());
        assert!(Issuer::parse("ftp://id.example.com").is_err());
    }

    #[test]
    fn loopback_hosts() {
        assert!(Issuer::parse("http://127.0.0.1:8080")
            .unwrap()
            .is_loopback());
        assert!(Issuer::parse("http://[::1]:8080").unwrap().is_loopback());
        assert!(Issuer::parse("http://localhost").unwrap().is_loopback());
        assert!(!Issuer::parse("http://id.example.com")
            .unwrap()
            .is_loopback());
    }
}
