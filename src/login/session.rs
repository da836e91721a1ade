//! Cookies: one SSO session cookie per connection (HttpOnly, SameSite=Lax, Secure on
//! https) and the browser-binding cookie that ties a login transaction to one browser.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
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

/// The client's address as seen on the socket (no proxy headers are trusted).
pub fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}
