//! Per-address limits, in memory and bounded: failed logins per address (with a slow
//! lane past the limit), sign-ups per address and overall, and failed client
//! authentications per client and address. The per-account lockout lives in the store
//! (store::throttle) so it survives restarts.
//!
//! Addresses are bucketed: IPv4 (and IPv4-mapped IPv6) by address, other IPv6 by /64,
//! the smallest block one subscriber gets; otherwise one host would hold 2^64 budgets.
//! The tables hold at most `MAX_ENTRIES` buckets; when full, the bucket whose window
//! started longest ago makes room (never a wholesale flush that resets everyone).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;

pub use crate::domain::normalise_ip as normalise;
use std::sync::{Mutex, MutexGuard};

const MAX_ENTRIES: usize = 100_000;

/// The unit an address limit counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpBucket {
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6([u8; 8]),
}

impl IpBucket {
    pub fn of(ip: IpAddr) -> Self {
        match normalise(ip) {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut prefix = [0u8; 8];
                prefix.copy_from_slice(&v6.octets()[..8]);
                Self::V6(prefix)
            }
        }
    }
}

impl std::fmt::Display for IpBucket {
    /// The stored form (login transactions are capped per bucket).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4(o) => write!(f, "{}.{}.{}.{}", o[0], o[1], o[2], o[3]),
            Self::V6(p) => {
                let mut full = [0u8; 16];
                full[..8].copy_from_slice(p);
                write!(f, "{}/64", std::net::Ipv6Addr::from(full))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Clone, Copy)]
struct Window {
    count: u32,
    start: i64,
    /// Past the limit: the earliest time the slow lane admits the next attempt.
    next_slow: i64,
}

/// Fixed-window counters keyed by `K`, bounded by evicting the oldest window.
struct Windows<K> {
    window: i64,
    map: HashMap<K, Window>,
    /// Keys in the order their windows started; stale duplicates are skipped lazily.
    order: VecDeque<(K, i64)>,
}

impl<K: Copy + Eq + Hash> Windows<K> {
    fn new(window: i64) -> Self {
        Self {
            window,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The live window of `key`, started now if there was none (or it ended).
    fn entry(&mut self, key: K, now: i64) -> &mut Window {
        let fresh = self
            .map
            .get(&key)
            .is_none_or(|w| now - w.start >= self.window);
        if fresh {
            if !self.map.contains_key(&key) {
                self.make_room(now);
            }
            self.map.insert(
                key,
                Window {
                    count: 0,
                    start: now,
                    next_slow: now,
                },
            );
            self.order.push_back((key, now));
            if self.order.len() > 2 * MAX_ENTRIES {
                let map = &self.map;
                self.order
                    .retain(|(k, start)| map.get(k).is_some_and(|w| w.start == *start));
            }
        }
        self.map.entry(key).or_insert(Window {
            count: 0,
            start: now,
            next_slow: now,
        })
    }

    fn make_room(&mut self, now: i64) {
        while self.map.len() >= MAX_ENTRIES {
            let Some((k, start)) = self.order.pop_front() else {
                return;
            };
            // Only the entry this queue slot describes; a restarted window has a newer slot.
            if self.map.get(&k).is_some_and(|w| w.start == start) {
                self.map.remove(&k);
            }
        }
        // Expired windows at the front go too: cheap, and keeps memory near the live set.
        while let Some((k, start)) = self.order.front().copied() {
            if now - start < self.window {
                break;
            }
            self.order.pop_front();
            if self.map.get(&k).is_some_and(|w| w.start == start) {
                self.map.remove(&k);
            }
        }
    }

    fn get(&self, key: &K, now: i64) -> Option<&Window> {
        self.map.get(key).filter(|w| now - w.start < self.window)
    }

    fn get_mut(&mut self, key: &K, now: i64) -> Option<&mut Window> {
        let window = self.window;
        self.map.get_mut(key).filter(|w| now - w.start < window)
    }

    fn forget_old(&mut self, now: i64) {
        let window = self.window;
        self.map.retain(|_, w| now - w.start < window);
        let map = &self.map;
        self.order
            .retain(|(k, start)| map.get(k).is_some_and(|w| w.start == *start));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// What the address limit says about one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpGate {
    /// Under the limit: verify the password; the attempt counts as a failure unless
    /// `release`d after a success.
    Counted,
    /// Past the limit, but the slow lane has room: verify this one too, so a right
    /// password from a new browser still gets in, while a sprayer gets one guess per
    /// `window / max` seconds — the rate the limit allows anyway.
    Slow,
    /// Past the limit and the slow lane is taken: refused unverified, retry after so many seconds.
    Refused { retry_after: i64 },
    /// No address known (or the address is exempt): nothing counted.
    Unlimited,
}

/// Failed logins per address.
pub struct IpLimiter {
    max: u32,
    pace: i64,
    failures: Mutex<Windows<IpBucket>>,
}

impl IpLimiter {
    pub fn new(max: u32, window: i64) -> Self {
        let max = max.max(1);
        Self {
            max,
            pace: (window / i64::from(max)).max(1),
            failures: Mutex::new(Windows::new(window)),
        }
    }

    /// Count an attempt from `ip` before its password is checked.
    pub fn gate(&self, ip: Option<IpAddr>, now: i64) -> IpGate {
        let Some(ip) = ip else {
            return IpGate::Unlimited;
        };
        let mut m = lock(&self.failures);
        let w = m.entry(IpBucket::of(ip), now);
        if w.count < self.max {
            w.count += 1;
            return IpGate::Counted;
        }
        if now >= w.next_slow {
            w.next_slow = now + self.pace;
            w.count = w.count.saturating_add(1);
            return IpGate::Slow;
        }
        IpGate::Refused {
            retry_after: w.next_slow - now,
        }
    }

    /// The attempt succeeded (or was never checked): it was not a failure after all.
    pub fn release(&self, ip: Option<IpAddr>, now: i64) {
        let Some(ip) = ip else { return };
        if let Some(w) = lock(&self.failures).get_mut(&IpBucket::of(ip), now) {
            w.count = w.count.saturating_sub(1);
        }
    }

    pub fn failures(&self, ip: IpAddr, now: i64) -> u32 {
        lock(&self.failures)
            .get(&IpBucket::of(ip), now)
            .map_or(0, |w| w.count)
    }

    pub fn forget_old(&self, now: i64) {
        lock(&self.failures).forget_old(now);
    }
}

/// A plain budget: at most `max` events per key per window.
pub struct Budget<K> {
    max: u32,
    counts: Mutex<Windows<K>>,
}

impl<K: Copy + Eq + Hash> Budget<K> {
    pub fn new(max: u32, window: i64) -> Self {
        Self {
            max,
            counts: Mutex::new(Windows::new(window)),
        }
    }

    /// Charge one event; `Err(retry_after)` when the budget is spent (nothing charged).
    pub fn charge(&self, key: K, now: i64) -> Result<(), i64> {
        let mut m = lock(&self.counts);
        let window = m.window;
        let w = m.entry(key, now);
        if w.count >= self.max {
            return Err((w.start + window - now).max(1));
        }
        w.count += 1;
        Ok(())
    }

    /// Is the budget of `key` spent (without charging)?
    pub fn is_spent(&self, key: &K, now: i64) -> Option<i64> {
        let m = lock(&self.counts);
        let w = m.get(key, now)?;
        (w.count >= self.max).then(|| (w.start + m.window - now).max(1))
    }

    /// Give back one charged event (the work it paid for never happened).
    pub fn refund(&self, key: &K, now: i64) {
        if let Some(w) = lock(&self.counts).get_mut(key, now) {
            w.count = w.count.saturating_sub(1);
        }
    }

    pub fn forget_old(&self, now: i64) {
        lock(&self.counts).forget_old(now);
    }
}

/// Sign-ups: a budget per address and one for the whole server, charged before hashing
/// (OWASP OAT-019). Both keep a flood of new accounts from one source, or many, bounded.
pub struct SignupLimiter {
    per_ip: Budget<IpBucket>,
    global: Budget<()>,
}

impl SignupLimiter {
    pub fn new(per_ip: u32, per_ip_window: i64, global_per_minute: u32) -> Self {
        Self {
            per_ip: Budget::new(per_ip, per_ip_window),
            global: Budget::new(global_per_minute, 60),
        }
    }

    pub fn charge(&self, ip: Option<IpAddr>, now: i64) -> Result<(), i64> {
        if let Some(ip) = ip {
            self.per_ip.charge(IpBucket::of(ip), now)?;
        }
        if let Err(retry) = self.global.charge((), now) {
            if let Some(ip) = ip {
                self.per_ip.refund(&IpBucket::of(ip), now);
            }
            return Err(retry);
        }
        Ok(())
    }

    /// The sign-up did not happen (busy, or the address was taken): give it back.
    pub fn refund(&self, ip: Option<IpAddr>, now: i64) {
        if let Some(ip) = ip {
            self.per_ip.refund(&IpBucket::of(ip), now);
        }
        self.global.refund(&(), now);
    }

    pub fn forget_old(&self, now: i64) {
        self.per_ip.forget_old(now);
        self.global.forget_old(now);
    }
}

/// Failed client authentications per (client_id, address): secrets are random, so this
/// is not about guessing them but about the cost and noise of a flood.
pub struct ClientAuthLimiter {
    budget: Budget<(u64, IpBucket)>,
}

impl ClientAuthLimiter {
    pub fn new(max: u32, window: i64) -> Self {
        Self {
            budget: Budget::new(max, window),
        }
    }

    fn key(client_id: &str, ip: IpAddr) -> (u64, IpBucket) {
        let digest = crate::crypto::sha256(client_id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first), IpBucket::of(ip))
    }

    /// Refused: too many failures from this address for this client lately.
    pub fn blocked(&self, client_id: &str, ip: Option<IpAddr>, now: i64) -> Option<i64> {
        self.budget.is_spent(&Self::key(client_id, ip?), now)
    }

    pub fn failed(&self, client_id: &str, ip: Option<IpAddr>, now: i64) {
        if let Some(ip) = ip {
            let _ = self.budget.charge(Self::key(client_id, ip), now);
        }
    }

    pub fn forget_old(&self, now: i64) {
        self.budget.forget_old(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    /// Not a real address: the IPv6 documentation prefix.
    fn doc_v6(host: u16, net: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, net, 0, 0, 0, host))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn counts_failures_then_only_a_slow_lane() {
        let l = IpLimiter::new(3, 60);
        let a = ip("10.0.0.1");
        for _ in 0..3 {
            assert_eq!(l.gate(a, 0), IpGate::Counted);
        }
        assert_eq!(l.gate(a, 1), IpGate::Slow, "past the limit: one every 20 s");
        assert_eq!(l.gate(a, 2), IpGate::Refused { retry_after: 19 });
        assert_eq!(l.gate(a, 21), IpGate::Slow);
        assert_eq!(l.gate(ip("10.0.0.2"), 21), IpGate::Counted);
        assert_eq!(l.gate(a, 61), IpGate::Counted, "a new window");
    }

    #[test]
    fn successes_are_released() {
        let l = IpLimiter::new(1, 60);
        let a = ip("10.0.0.1");
        for _ in 0..5 {
            assert_eq!(l.gate(a, 0), IpGate::Counted);
            l.release(a, 0);
        }
        assert_eq!(l.failures(a.unwrap(), 0), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_is_ipv4() {
        let l = IpLimiter::new(2, 60);
        assert_eq!(l.gate(Some(doc_v6(1, 7)), 0), IpGate::Counted);
        assert_eq!(l.gate(Some(doc_v6(2, 7)), 0), IpGate::Counted);
        assert!(
            matches!(l.gate(Some(doc_v6(3, 7)), 0), IpGate::Slow),
            "same /64"
        );
        assert_eq!(
            l.gate(Some(doc_v6(3, 8)), 0),
            IpGate::Counted,
            "another /64"
        );
        assert_eq!(
            IpBucket::of("::ffff:10.0.0.1".parse().unwrap()),
            IpBucket::of("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn tables_are_bounded_by_evicting_the_oldest_not_by_flushing() {
        let mut w: Windows<u32> = Windows::new(1000);
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            w.entry(i, i64::from(i / 1000)).count += 1;
        }
        assert_eq!(w.len(), MAX_ENTRIES);
        assert!(w.get(&0, 200).is_none(), "the oldest went");
        assert!(
            w.get(&(MAX_ENTRIES as u32 + 9), 200).is_some(),
            "the newest stays"
        );
        assert!(
            w.get(&(MAX_ENTRIES as u32 / 2), 200).is_some(),
            "the middle stays"
        );
    }

    #[test]
    fn sign_up_budgets_per_address_and_overall() {
        let s = SignupLimiter::new(2, 3600, 3);
        let (a, b, c) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"));
        assert!(s.charge(a, 0).is_ok() && s.charge(a, 0).is_ok());
        assert!(s.charge(a, 0).is_err(), "per address");
        assert!(s.charge(b, 0).is_ok());
        assert!(s.charge(c, 0).is_err(), "global, 3 a minute");
        assert!(s.charge(c, 60).is_ok(), "the next minute");
        s.refund(a, 60);
        assert!(s.charge(a, 60).is_ok(), "refunded");
    }

    #[test]
    fn client_auth_failures_block_that_client_from_that_address_only() {
        let l = ClientAuthLimiter::new(2, 300);
        let a = ip("10.0.0.1");
        l.failed("worker", a, 0);
        assert!(l.blocked("worker", a, 0).is_none());
        l.failed("worker", a, 0);
        assert!(l.blocked("worker", a, 0).is_some());
        assert!(l.blocked("other", a, 0).is_none());
        assert!(l.blocked("worker", ip("10.0.0.2"), 0).is_none());
        assert!(l.blocked("worker", a, 300).is_none(), "window over");
    }
}
