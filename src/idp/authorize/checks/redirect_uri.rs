use crate::config::Client;
use crate::domain::RedirectUri;
use crate::idp::authorize::Rejection;
use crate::idp::params::Params;

/// RFC 6749 3.1.2.3 and RFC 9700 4.1.3: exact string comparison with a registered URI.
/// OpenID Connect requires the parameter (OIDC Core 3.1.2.1).
pub fn redirect_uri(client: &Client, p: &Params) -> Result<RedirectUri, Rejection> {
    let uri = p
        .one("redirect_uri")
        .map_err(|_| Rejection::Page("The redirect_uri parameter is repeated."))?
        .ok_or(Rejection::Page("The request has no redirect_uri."))?;
    client
        .redirect_uris
        .iter()
        .find(|r| r.as_str() == uri)
        .cloned()
        .ok_or(Rejection::Page(
            "The redirect_uri is not registered for this application.",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::settings;

    #[test]
    fn only_the_registered_uri_byte_for_byte() {
        let s = settings();
        let web = s.client("web").unwrap();
        let p = |u: &str| {
            crate::idp::params::Params::parse(
                format!(
                    "redirect_uri={}",
                    url::form_urlencoded::byte_serialize(u.as_bytes()).collect::<String>()
                )
                .as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(
            redirect_uri(web, &p("https://app.test/cb"))
                .unwrap()
                .as_str(),
            "https://app.test/cb"
        );
        for bad in [
            "https://evil.test/cb",
            "https://app.test/cb/",
            "https://app.test/cb?x=1",
            "https://APP.test/cb",
            "https://app.test:443/cb",
        ] {
            assert!(redirect_uri(web, &p(bad)).is_err(), "{bad}");
        }
    }
}
