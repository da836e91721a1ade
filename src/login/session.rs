//! Cookies: one SSO session cookie per connection (HttpOnly, SameSite=Lax, Secure on
//! https) and the browser-binding cookie that ties a login transaction to one browser.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::crypto::{hex, sha256};

pub const BROWSER_COOKIE: &str = "portico_browser";

/// Connection names may hold characters cookie names may not; hash them instead.
pub fn session_cookie_name(connection: &str) -> String {
    format!(
        "portico_session_{}",
        &hex(&sha256(connection.as_bytes()))[..12]
    )
}

pub fn cookie(name: String, value: String, max_age: Option<i64>, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    if let Some(s) = max_age {
        c.set_max_age(CookieDuration::seconds(s));
    }
    c
}

pub fn removal(name: String, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), Some(0), secure);
    c.make_removal();
    c
}

pub fn read(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// The client's address: the socket peer, or, when the peer is one of the configured
/// `trusted_proxies`, the right-most address in X-Forwarded-For that is not a trusted
/// proxy (left-most entries are whatever the client claimed).
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(format!("{peer}:1234").parse().unwrap());
        if let Some(x) = xff {
            r = r.insert_header(("x-forwarded-for", x));
        }
        r.to_http_request()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        // Not a trusted proxy: the header is the client's claim, ignored.
        assert_eq!(
            client_ip(&req("203.0.113.9", Some("1.2.3.4")), &[proxy]),
            Some("203.0.113.9".parse().unwrap())
        );
        // Behind the proxy: the right-most untrusted entry, not the spoofable left-most.
        assert_eq!(
            client_ip(&req("10.0.0.1", Some("6.6.6.6, 198.51.100.7")), &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(client_ip(&req("10.0.0.1", None), &[proxy]), Some(proxy));
        assert_eq!(
            client_ip(&req("10.0.0.1", Some("garbage")), &[proxy]),
            Some(proxy)
        );
    }
}
