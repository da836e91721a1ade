//! Device cookies (OWASP "Slow down online guessing attacks with device cookies"): after
//! a password login, the browser receives proof that *this account* logged in from
//! *this browser*. It exempts only that account's own logins from the per-address limit,
//! so a sprayer who logs into their own account gains nothing against anybody else's.
//!
//! One cookie holds up to `MAX_ENTRIES` accounts, each `expiry~MAC`, where the MAC (under
//! the server secret) covers the server-minted browser id, the connection, the e-mail and
//! the expiry. Nothing in it names the account; copied to another browser it is worthless.

use crate::crypto::{b64url, ct_eq};
use crate::secrets::Secrets;

/// How long a device stays trusted for an account after a password login.
pub const TRUST_SECS: i64 = 30 * 86_400;
const MAX_ENTRIES: usize = 8;

fn mac(secrets: &Secrets, browser: &str, connection: &str, email: &str, exp: i64) -> String {
    let exp = exp.to_string();
    b64url(
        &secrets.mac(
            "device",
            &[
                browser.as_bytes(),
                connection.as_bytes(),
                email.as_bytes(),
                exp.as_bytes(),
            ],
        )[..16],
    )
}

fn entries(cookie: Option<&str>) -> impl Iterator<Item = (i64, &str)> {
    cookie
        .unwrap_or("")
        .split('.')
        .take(MAX_ENTRIES)
        .filter_map(|e| e.split_once('~'))
        .filter_map(|(exp, m)| exp.parse().ok().map(|exp| (exp, m)))
}

/// Does this browser hold proof of a password login to `connection`/`email`?
pub fn trusted(
    secrets: &Secrets,
    browser: &str,
    cookie: Option<&str>,
    connection: &str,
    email: &str,
    now: i64,
) -> bool {
    entries(cookie).any(|(exp, m)| {
        exp > now
            && ct_eq(
                mac(secrets, browser, connection, email, exp).as_bytes(),
                m.as_bytes(),
            )
    })
}

/// The cookie value after a password login to `connection`/`email`: its entry first,
/// then the other live ones, at most `MAX_ENTRIES`.
pub fn with_login(
    secrets: &Secrets,
    browser: &str,
    cookie: Option<&str>,
    connection: &str,
    email: &str,
    now: i64,
) -> String {
    let exp = now + TRUST_SECS;
    let mut out = vec![format!(
        "{exp}~{}",
        mac(secrets, browser, connection, email, exp)
    )];
    out.extend(
        entries(cookie)
            .filter(|(e, m)| {
                *e > now
                    && !ct_eq(
                        mac(secrets, browser, connection, email, *e).as_bytes(),
                        m.as_bytes(),
                    )
            })
            .take(MAX_ENTRIES - 1)
            .map(|(e, m)| format!("{e}~{m}")),
    );
    out.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_per_account_per_browser_and_expires() {
        let s = Secrets::from_bytes([5; 32]);
        let c = with_login(&s, "browser-a", None, "customers-db", "ann@x.io", 0);
        assert!(trusted(
            &s,
            "browser-a",
            Some(&c),
            "customers-db",
            "ann@x.io",
            10
        ));
        assert!(
            !trusted(&s, "browser-a", Some(&c), "customers-db", "bob@x.io", 10),
            "another account"
        );
        assert!(
            !trusted(&s, "browser-a", Some(&c), "staff-db", "ann@x.io", 10),
            "another connection"
        );
        assert!(
            !trusted(&s, "browser-b", Some(&c), "customers-db", "ann@x.io", 10),
            "copied elsewhere"
        );
        assert!(!trusted(
            &s,
            "browser-a",
            Some(&c),
            "customers-db",
            "ann@x.io",
            TRUST_SECS
        ));
        assert!(!trusted(
            &Secrets::from_bytes([6; 32]),
            "browser-a",
            Some(&c),
            "customers-db",
            "ann@x.io",
            10
        ));
    }

    #[test]
    fn one_cookie_remembers_a_few_accounts() {
        let s = Secrets::from_bytes([5; 32]);
        let mut c: Option<String> = None;
        for i in 0..10 {
            c = Some(with_login(
                &s,
                "b",
                c.as_deref(),
                "db",
                &format!("u{i}@x.io"),
                i,
            ));
        }
        let c = c.unwrap();
        assert!(trusted(&s, "b", Some(&c), "db", "u9@x.io", 20));
        assert!(trusted(&s, "b", Some(&c), "db", "u2@x.io", 20));
        assert!(
            !trusted(&s, "b", Some(&c), "db", "u1@x.io", 20),
            "only the newest 8"
        );
        // Logging in again refreshes, never duplicates.
        let again = with_login(&s, "b", Some(&c), "db", "u5@x.io", 30);
        assert_eq!(again.split('.').count(), 8);
    }
}
