//! Per-IP limiter for failed logins (in memory). Only failures count, so many users
//! behind one address still get in. The per-account lockout lives in the store
//! (store::throttle) so it survives restarts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

pub struct IpLimiter {
    max: u32,
    window: i64,
    failures: Mutex<HashMap<IpAddr, (u32, i64)>>,
}

impl IpLimiter {
    pub fn new(max: u32, window: i64) -> Self {
        Self {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (u32, i64)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when this address has failed too often within the window.
    pub fn is_blocked(&self, ip: Option<IpAddr>, now: i64) -> bool {
        let Some(ip) = ip else { return false };
        self.map()
            .get(&ip)
            .is_some_and(|(n, start)| *n >= self.max && now - start < self.window)
    }

    pub fn record_failure(&self, ip: Option<IpAddr>, now: i64) {
        let Some(ip) = ip else { return };
        let mut m = self.map();
        let e = m.entry(ip).or_insert((0, now));
        if now - e.1 >= self.window {
            *e = (0, now);
        }
        e.0 += 1;
    }

    pub fn forget_old(&self, now: i64) {
        self.map()
            .retain(|_, (_, start)| now - *start < self.window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_within_window() {
        let l = IpLimiter::new(3, 60);
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(!l.is_blocked(ip, 0));
            l.record_failure(ip, 0);
        }
        assert!(l.is_blocked(ip, 10));
        assert!(!l.is_blocked(Some("10.0.0.2".parse().unwrap()), 10));
        assert!(!l.is_blocked(ip, 61));
    }
}
