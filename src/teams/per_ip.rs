//! Requests per minute per client address (`per_ip.rpm`), checked before
//! authentication. Owns the map of addresses to buckets and its memory
//! bound; must not know about keys, HTTP, or where the address came from.
//!
//! Addresses are grouped the way hosts hold them: an IPv4 address as is, an
//! IPv4-mapped IPv6 address as its IPv4 address (a dual-stack listener sees
//! v4 clients that way), and any other IPv6 address by its /64, since one
//! host is routinely given a whole /64 and a limit per single v6 address
//! would be bypassed by changing the low bits.
//!
//! Memory stays bounded: a bucket that is full again carries no state, so
//! those entries are swept (at most once a second, only once the map is
//! large). Past a hard cap of tracked prefixes, new addresses are admitted
//! without tracking and a warning is logged at most once a minute: refusing
//! them instead would let an attacker holding many prefixes lock out every
//! new client.

use super::limits::Rate;
use dashmap::DashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The most prefixes tracked at once (about 100 bytes each in the map).
const MAX_TRACKED: usize = 100_000;
/// Below this many entries the map is never swept: it is small anyway.
const SWEEP_ABOVE: usize = 1024;
const SWEEP_EVERY_NS: u64 = 1_000_000_000;
const WARN_EVERY_NS: u64 = 60_000_000_000;

/// A bucket per client prefix.
#[derive(Debug)]
pub struct PerIpLimiter {
    rate: Rate,
    buckets: DashMap<IpAddr, AtomicU64>,
    /// `now + 1` at the last sweep / warning (0: never).
    last_sweep: AtomicU64,
    last_warning: AtomicU64,
}

impl PerIpLimiter {
    pub fn new(rpm: u32) -> Self {
        Self {
            rate: Rate::per_minute(u64::from(rpm)),
            buckets: DashMap::new(),
            last_sweep: AtomicU64::new(0),
            last_warning: AtomicU64::new(0),
        }
    }

    /// Takes one request from `ip`'s prefix; `Err` is the wait until one
    /// is there.
    pub fn admit(&self, ip: IpAddr, now_ns: u64) -> Result<(), Duration> {
        self.maybe_sweep(now_ns);
        let prefix = prefix_of(ip);
        if let Some(bucket) = self.buckets.get(&prefix) {
            return self.rate.take(&bucket, now_ns).map(drop);
        }
        if self.buckets.len() >= MAX_TRACKED {
            self.warn_untracked(now_ns);
            return Ok(());
        }
        let bucket = self.buckets.entry(prefix).or_insert(AtomicU64::new(0));
        self.rate.take(&bucket, now_ns).map(drop)
    }

    /// How many prefixes are tracked now.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Drops the entries whose bucket is full again, at most once a second
    /// and only once the map is large.
    fn maybe_sweep(&self, now_ns: u64) {
        if !once_per(&self.last_sweep, SWEEP_EVERY_NS, now_ns, || {
            self.buckets.len() > SWEEP_ABOVE
        }) {
            return;
        }
        self.sweep(now_ns);
    }

    fn sweep(&self, now_ns: u64) {
        let rate = self.rate;
        self.buckets
            .retain(|_, bucket| !rate.is_full(bucket, now_ns));
    }

    fn warn_untracked(&self, now_ns: u64) {
        if once_per(&self.last_warning, WARN_EVERY_NS, now_ns, || true) {
            log::warn!(
                "per_ip: {MAX_TRACKED} client prefixes are tracked; new ones are let in without a limit until old ones refill"
            );
        }
    }
}

/// Whether to act now: `due()` holds and `every` has passed since the last
/// time `last` (holding `now + 1`, 0 for never) was claimed. One caller wins
/// the claim; the others go on without waiting.
fn once_per(last: &AtomicU64, every: u64, now_ns: u64, due: impl FnOnce() -> bool) -> bool {
    let previous = last.load(Ordering::Acquire);
    if previous != 0 && now_ns.saturating_add(1) < previous.saturating_add(every) {
        return false;
    }
    due()
        && last
            .compare_exchange(
                previous,
                now_ns.saturating_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
}

/// The prefix an address is limited by: IPv4 as is, IPv4-mapped IPv6 as
/// IPv4, other IPv6 by its /64.
fn prefix_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;
    const T0: u64 = 5_000 * SECOND;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_v6_64_shares_a_bucket_and_another_64_does_not() {
        let limiter = PerIpLimiter::new(2);
        assert!(limiter.admit(ip("2001:db8:1:2::1"), T0).is_ok());
        assert!(limiter
            .admit(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), T0)
            .is_ok());
        assert_eq!(
            limiter.admit(ip("2001:db8:1:2:abcd::9"), T0),
            Err(Duration::from_secs(30))
        );
        assert!(limiter.admit(ip("2001:db8:1:3::1"), T0).is_ok());
        assert_eq!(limiter.tracked(), 2);
    }

    #[test]
    fn v4_mapped_v6_is_the_v4_address() {
        let limiter = PerIpLimiter::new(1);
        assert!(limiter.admit(ip("192.0.2.7"), T0).is_ok());
        assert!(limiter.admit(ip("::ffff:192.0.2.7"), T0).is_err());
        assert!(limiter.admit(ip("192.0.2.8"), T0).is_ok());
        assert_eq!(limiter.tracked(), 2);
        assert_eq!(prefix_of(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(prefix_of(ip("2001:db8::1:2:3:4")), ip("2001:db8::"));
    }

    #[test]
    fn refills_like_a_gcra() {
        let limiter = PerIpLimiter::new(60);
        for _ in 0..60 {
            limiter.admit(ip("198.51.100.1"), T0).unwrap();
        }
        assert_eq!(
            limiter.admit(ip("198.51.100.1"), T0),
            Err(Duration::from_secs(1))
        );
        assert!(limiter.admit(ip("198.51.100.1"), T0 + SECOND).is_ok());
    }

    #[test]
    fn sweep_drops_full_buckets_and_keeps_the_others() {
        let limiter = PerIpLimiter::new(60); // one request refills in 1 s
        for n in 0..SWEEP_ABOVE as u32 + 10 {
            let address = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            limiter.admit(address, T0).unwrap();
        }
        // One busy address whose bucket is not full 2 s later.
        for _ in 0..10 {
            limiter.admit(ip("192.0.2.1"), T0).unwrap();
        }
        assert_eq!(limiter.tracked(), SWEEP_ABOVE + 11);
        // Once past the threshold an admit at T0 swept, dropping nothing
        // (every bucket was just used). 2 s later the next admit sweeps
        // again: every one-request bucket is full by then.
        limiter.admit(ip("203.0.113.5"), T0 + 2 * SECOND).unwrap();
        assert_eq!(limiter.tracked(), 2);
        // The busy address kept its state: 8 of 60 still used.
        assert!(limiter
            .buckets
            .get(&ip("192.0.2.1"))
            .is_some_and(|b| !limiter.rate.is_full(&b, T0 + 2 * SECOND)));
    }

    #[test]
    fn no_sweep_twice_within_a_second() {
        let limiter = PerIpLimiter::new(60);
        assert!(once_per(&limiter.last_sweep, SWEEP_EVERY_NS, T0, || true));
        assert!(!once_per(
            &limiter.last_sweep,
            SWEEP_EVERY_NS,
            T0 + SECOND / 2,
            || true
        ));
        assert!(once_per(
            &limiter.last_sweep,
            SWEEP_EVERY_NS,
            T0 + SECOND,
            || true
        ));
        // Not due (a small map): nothing is claimed.
        assert!(!once_per(
            &limiter.last_sweep,
            SWEEP_EVERY_NS,
            T0 + 3 * SECOND,
            || false
        ));
        assert!(once_per(
            &limiter.last_sweep,
            SWEEP_EVERY_NS,
            T0 + 3 * SECOND,
            || true
        ));
    }

    #[test]
    fn past_the_cap_new_addresses_are_admitted_untracked() {
        let limiter = PerIpLimiter::new(1);
        for n in 0..MAX_TRACKED as u32 {
            limiter.buckets.insert(
                IpAddr::from(std::net::Ipv4Addr::from(n)),
                AtomicU64::new(u64::MAX),
            );
        }
        let newcomer = ip("203.0.113.9");
        assert!(limiter.admit(newcomer, T0).is_ok());
        assert!(limiter.admit(newcomer, T0).is_ok());
        assert_eq!(limiter.tracked(), MAX_TRACKED);
        // A tracked address is still limited.
        assert!(limiter.admit(ip("0.0.0.5"), T0).is_err());
    }
}
