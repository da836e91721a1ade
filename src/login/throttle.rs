//! Per-IP limiter for failed logins (in memory). Only failures count, and browsers that
//! completed a password login recently (a "device cookie", OWASP) are not limited at all,
//! so many users behind one address (a proxy, an office) still get in while an attacker
//! spraying guesses from it is stopped. The per-account lockout lives in the store
//! (store::throttle) so it survives restarts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

/// Bounds the maps: an attacker cannot grow them without limit.
const MAX_ENTRIES: usize = 100_000;

pub struct IpLimiter {
    max: u32,
    window: i64,
    failures: Mutex<HashMap<IpAddr, (u32, i64)>>,
    /// SHA-256 of browser-binding cookies that logged in with a password, and until when.
    trusted: Mutex<HashMap<String, i64>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl IpLimiter {
    pub fn new(max: u32, window: i64) -> Self {
        Self {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
            trusted: Mutex::new(HashMap::new()),
        }
    }

    /// Count an attempt from `ip` before the password is checked; false (and nothing
    /// counted) when the address already failed `max` times within the window.
    pub fn reserve(&self, ip: Option<IpAddr>, now: i64) -> bool {
        let Some(ip) = ip else { return true };
        let mut m = lock(&self.failures);
        if m.len() >= MAX_ENTRIES && !m.contains_key(&ip) {
            let window = self.window;
            m.retain(|_, (_, start)| now - *start < window);
        }
        let e = m.entry(ip).or_insert((0, now));
        if now - e.1 >= self.window {
            *e = (0, now);
        }
        if e.0 >= self.max {
            return false;
        }
        e.0 += 1;
        true
    }

    /// The attempt succeeded: it was not a failure after all.
    pub fn release(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        if let Some(e) = lock(&self.failures).get_mut(&ip) {
            e.0 = e.0.saturating_sub(1);
        }
    }

    pub fn trust_browser(&self, browser_hash: &str, until: i64) {
        let mut t = lock(&self.trusted);
        if t.len() >= MAX_ENTRIES {
            t.clear();
        }
        t.insert(browser_hash.to_owned(), until);
    }

    pub fn is_trusted(&self, browser_hash: &str, now: i64) -> bool {
        lock(&self.trusted)
            .get(browser_hash)
            .is_some_and(|until| *until > now)
    }

    pub fn forget_old(&self, now: i64) {
        let window = self.window;
        lock(&self.failures).retain(|_, (_, start)| now - *start < window);
        lock(&self.trusted).retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_max_failures_within_window() {
        let l = IpLimiter::new(3, 60);
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(l.reserve(ip, 0));
        }
        assert!(!l.reserve(ip, 10));
        assert!(l.reserve(Some("10.0.0.2".parse().unwrap()), 10));
        assert!(l.reserve(ip, 61), "a new window");
    }

    #[test]
    fn successes_do_not_count_and_trusted_browsers_are_remembered() {
        let l = IpLimiter::new(1, 60);
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..5 {
            assert!(l.reserve(ip, 0));
            l.release(ip);
        }
        l.trust_browser("b", 100);
        assert!(l.is_trusted("b", 99));
        assert!(!l.is_trusted("b", 100));
        assert!(!l.is_trusted("c", 0));
    }
}
