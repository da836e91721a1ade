//! Cookies: one SSO session cookie per connection (HttpOnly, SameSite=Lax, Secure on
//! https), the browser-binding cookie that ties a login transaction to one browser, and
//! the device cookie (idp::device); and the client's address. On https every name
//! carries the `__Host-` prefix,
//! so a sibling subdomain or a plain-http attacker cannot plant them (RFC 6265bis 4.1.3).
//!
//! The browser id is minted by this server only: random bits plus a MAC under the
//! server secret. An id the browser made up is ignored and replaced, so nobody can fix a
//! victim's browser id in advance and compute what it binds (S3 of the 2026-11-28 review).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::crypto::{b64url, ct_eq, hex, random_token, sha256};
use crate::domain::normalise_ip as normalise;
use crate::secrets::Secrets;

/// How long a browser keeps its id (and so its device trust): a year.
const BROWSER_ID_SECS: i64 = 365 * 86_400;

fn prefixed(name: &str, https: bool) -> String {
    if https {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

pub fn device_cookie_name(https: bool) -> String {
    prefixed("portico_device", https)
}

pub fn browser_cookie_name(https: bool) -> String {
    prefixed("portico_browser", https)
}

/// Connection names may hold characters cookie names may not; hash them instead.
pub fn session_cookie_name(connection: &str, https: bool) -> String {
    prefixed(
        &format!(
            "portico_session_{}",
            &hex(&sha256(connection.as_bytes()))[..12]
        ),
        https,
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

fn browser_mac(secrets: &Secrets, random: &str) -> String {
    b64url(&secrets.mac("browser-id", &[random.as_bytes()])[..16])
}

/// A new browser id: `<256 random bits>.<MAC>`.
pub fn mint_browser_id(secrets: &Secrets) -> String {
    let random = random_token();
    let mac = browser_mac(secrets, &random);
    format!("{random}.{mac}")
}

/// The browser's id if this server minted it.
pub fn browser_id(req: &HttpRequest, secrets: &Secrets, https: bool) -> Option<String> {
    let v = read(req, &browser_cookie_name(https))?;
    let (random, mac) = v.split_once('.')?;
    (random.len() == 43 && ct_eq(browser_mac(secrets, random).as_bytes(), mac.as_bytes()))
        .then_some(v)
}

/// The browser's id, or a new one with the cookie that sets it.
pub fn browser_id_or_new(
    req: &HttpRequest,
    secrets: &Secrets,
    https: bool,
) -> (String, Option<Cookie<'static>>) {
    match browser_id(req, secrets, https) {
        Some(id) => (id, None),
        None => {
            let id = mint_browser_id(secrets);
            let c = cookie(
                browser_cookie_name(https),
                id.clone(),
                Some(BROWSER_ID_SECS),
                https,
            );
            (id, Some(c))
        }
    }
}

/// The CSRF field of a form that has no login transaction (a mailed link's page): a MAC
/// of the browser id and the form's name, so only a page this server showed to this
/// browser can post it.
pub fn form_csrf(secrets: &Secrets, browser: &str, form: &str) -> String {
    b64url(&secrets.mac("form-csrf", &[browser.as_bytes(), form.as_bytes()]))
}

/// The browser's (server-minted) id when `field` is its CSRF token for `form`.
pub fn form_csrf_ok(
    req: &HttpRequest,
    secrets: &Secrets,
    https: bool,
    form: &str,
    field: Option<&str>,
) -> Option<String> {
    let browser = browser_id(req, secrets, https)?;
    let expected = form_csrf(secrets, &browser, form);
    field
        .is_some_and(|f| ct_eq(f.as_bytes(), expected.as_bytes()))
        .then_some(browser)
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
    let peer = normalise(req.peer_addr().map(|a| a.ip())?);
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
        match entry.parse::<IpAddr>().map(normalise) {
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

    #[test]
    fn ipv4_mapped_peers_match_ipv4_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped = TestRequest::default()
            .peer_addr("[::ffff:10.0.0.1]:1234".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.7"))
            .to_http_request();
        assert_eq!(
            client_ip(&mapped, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
    }

    #[test]
    fn only_server_minted_browser_ids_are_accepted() {
        let secrets = Secrets::from_bytes([9; 32]);
        let minted = mint_browser_id(&secrets);
        let with = |v: &str| {
            TestRequest::default()
                .cookie(Cookie::new("portico_browser", v.to_owned()))
                .to_http_request()
        };
        assert_eq!(
            browser_id(&with(&minted), &secrets, false),
            Some(minted.clone())
        );
        let forged = format!("{}.{}", random_token(), "A".repeat(22));
        assert_eq!(browser_id(&with(&forged), &secrets, false), None);
        assert_eq!(browser_id(&with(&random_token()), &secrets, false), None);
        assert_eq!(
            browser_id(&with(&minted), &Secrets::from_bytes([8; 32]), false),
            None
        );
        assert_eq!(browser_cookie_name(true), "__Host-portico_browser");
    }
}
