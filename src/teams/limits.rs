//! Rate limits per key: `rpm` (requests) and `tpm` (tokens) per minute, as
//! GCRA buckets ("generic cell rate algorithm") on one `AtomicU64` each.
//! Owns the arithmetic and the `x-ratelimit-*` numbers; must not know about
//! keys' names, HTTP, or the clock (every call takes `now` so tests never
//! sleep), and never takes a lock: the request path only does CAS loops.
//!
//! Hand-written rather than the `governor` crate: governor's GCRA decides
//! before the fact and cannot charge a cost afterwards nor go into debt,
//! which `tpm` needs (a request's tokens are known only when it ends). One
//! small GCRA serves both limits: `rpm` takes one unit on admission, `tpm`
//! admits while the bucket is not empty and is charged the real usage later.
//!
//! The state is a "theoretical arrival time" (TAT): the instant the bucket is
//! full again. `tat - now` is how much of the window is used; a bucket in
//! debt has `tat - now` beyond the window, and waits until it is back inside.

use crate::config::RateLimit;
use http::{HeaderName, HeaderValue};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const NANOS_PER_MINUTE: u64 = 60_000_000_000;

/// How far into debt a bucket may go: an hour of refill, so one huge reply
/// delays a key for at most an hour instead of locking it out for days.
const MAX_DEBT_NS: u64 = 60 * NANOS_PER_MINUTE;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Monotonic nanoseconds since the first call (u64 nanoseconds last 584
/// years, so no wrap in practice; saturates rather than wraps).
pub fn now_ns() -> u64 {
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed().as_nanos();
    u64::try_from(elapsed).unwrap_or(u64::MAX)
}

/// A bucket's numbers, as the `x-ratelimit-*` headers show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub limit: u64,
    pub remaining: u64,
    /// Until the bucket is full again.
    pub reset: Duration,
}

/// The fixed parameters of a bucket; the state lives in an `AtomicU64`
/// beside it (one per key, or one per client address in `per_ip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rate {
    limit: u64,
    /// Refill time of one unit.
    interval_ns: u64,
    /// Capacity in time: `limit * interval_ns`. Not exactly 60 s, so that a
    /// full bucket holds exactly `limit` units despite the integer interval
    /// (the refill runs faster by under `limit` ns per minute).
    window_ns: u64,
}

impl Rate {
    /// `limit` units per minute, at least one. Limits above 60 billion per
    /// minute refill at one unit per nanosecond (effectively unlimited).
    pub(super) fn per_minute(limit: u64) -> Self {
        let limit = limit.max(1);
        let interval_ns = (NANOS_PER_MINUTE / limit).max(1);
        Self {
            limit,
            interval_ns,
            window_ns: limit.saturating_mul(interval_ns),
        }
    }

    /// The window's used part at `now` (beyond `window_ns` when in debt).
    fn used(self, tat: u64, now: u64) -> u64 {
        tat.saturating_sub(now)
    }

    /// How long until one unit fits, if it does not now.
    fn wait_for_one(self, used: u64) -> Option<Duration> {
        let needed = used.saturating_add(self.interval_ns);
        (needed > self.window_ns).then(|| Duration::from_nanos(needed - self.window_ns))
    }

    fn snapshot_of(self, used: u64) -> Snapshot {
        Snapshot {
            limit: self.limit,
            remaining: self.window_ns.saturating_sub(used) / self.interval_ns,
            reset: Duration::from_nanos(used),
        }
    }

    pub(super) fn snapshot(self, tat: &AtomicU64, now: u64) -> Snapshot {
        self.snapshot_of(self.used(tat.load(Ordering::Acquire), now))
    }

    /// Takes one unit, or says how long until one is there.
    pub(super) fn take(self, tat: &AtomicU64, now: u64) -> Result<Snapshot, Duration> {
        let mut current = tat.load(Ordering::Acquire);
        loop {
            let used = self.used(current, now);
            if let Some(wait) = self.wait_for_one(used) {
                return Err(wait);
            }
            let next = current.max(now).saturating_add(self.interval_ns);
            match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(self.snapshot_of(self.used(next, now))),
                Err(actual) => current = actual,
            }
        }
    }

    /// Admits while at least one unit is left; takes nothing.
    fn open(self, tat: &AtomicU64, now: u64) -> Result<Snapshot, Duration> {
        let used = self.used(tat.load(Ordering::Acquire), now);
        match self.wait_for_one(used) {
            Some(wait) => Err(wait),
            None => Ok(self.snapshot_of(used)),
        }
    }

    /// Takes `units` after the fact, into debt if need be (capped).
    fn charge(self, tat: &AtomicU64, units: u64, now: u64) {
        if units == 0 {
            return;
        }
        let cost = units.saturating_mul(self.interval_ns);
        let ceiling = now
            .saturating_add(self.window_ns)
            .saturating_add(MAX_DEBT_NS);
        let mut current = tat.load(Ordering::Acquire);
        loop {
            let next = current.max(now).saturating_add(cost).min(ceiling);
            if next <= current {
                return; // already at the cap
            }
            match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Whether the bucket is full at `now`: its state then carries nothing
    /// and may be forgotten.
    pub(super) fn is_full(self, tat: &AtomicU64, now: u64) -> bool {
        tat.load(Ordering::Acquire) <= now
    }
}

/// One bucket: capacity `limit` per 60 s window, refilled continuously.
#[derive(Debug)]
pub struct Gcra {
    rate: Rate,
    tat: AtomicU64,
}

impl Gcra {
    /// A full bucket of `limit` units a minute (a limit of 0 counts as 1;
    /// config validation refuses 0 before it gets here).
    pub fn per_minute(limit: u64) -> Self {
        Self {
            rate: Rate::per_minute(limit),
            tat: AtomicU64::new(0),
        }
    }

    /// Takes one unit (`rpm`); `Err` is the wait until one is there.
    pub fn take(&self, now_ns: u64) -> Result<Snapshot, Duration> {
        self.rate.take(&self.tat, now_ns)
    }

    /// Admits while the bucket is not empty and takes nothing (`tpm`: the
    /// tokens are charged when the request ends).
    pub fn open(&self, now_ns: u64) -> Result<Snapshot, Duration> {
        self.rate.open(&self.tat, now_ns)
    }

    /// Takes `n` units after the fact; the bucket may go into debt (at most
    /// an hour of refill), which delays later requests.
    pub fn charge(&self, n: u64, now_ns: u64) {
        self.rate.charge(&self.tat, n, now_ns);
    }

    pub fn snapshot(&self, now_ns: u64) -> Snapshot {
        self.rate.snapshot(&self.tat, now_ns)
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Requests,
    Tokens,
}

const LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
const REMAINING_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-requests");
const RESET_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-reset-requests");
const LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-limit-tokens");
const REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-tokens");
const RESET_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-reset-tokens");

/// The `x-ratelimit-*` numbers of a limited key (each `None` when that limit
/// is not set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<Snapshot>,
    pub tokens: Option<Snapshot>,
}

impl RateHeaders {
    pub fn is_empty(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }

    /// Calls `f` with each header's name and value, in OpenAI's names,
    /// ready for the wire: names built at compile time, counts written
    /// straight into header values (these go on every response to a
    /// limited key).
    pub fn each(&self, mut f: impl FnMut(HeaderName, HeaderValue)) {
        let duration = |d: Duration| {
            HeaderValue::from_str(&go_duration(d)).unwrap_or(HeaderValue::from_static("0s"))
        };
        if let Some(s) = self.requests {
            f(LIMIT_REQUESTS, HeaderValue::from(s.limit));
            f(REMAINING_REQUESTS, HeaderValue::from(s.remaining));
            f(RESET_REQUESTS, duration(s.reset));
        }
        if let Some(s) = self.tokens {
            f(LIMIT_TOKENS, HeaderValue::from(s.limit));
            f(REMAINING_TOKENS, HeaderValue::from(s.remaining));
            f(RESET_TOKENS, duration(s.reset));
        }
    }
}

/// A request refused by a key's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub kind: LimitKind,
    pub retry_after: Duration,
    pub headers: RateHeaders,
}

impl Limited {
    /// `Retry-After` in whole seconds, rounded up and at least 1, so a client
    /// that waits that long is not refused again for the same reason.
    pub fn retry_after_secs(&self) -> u64 {
        retry_after_secs(self.retry_after)
    }
}

/// Whole seconds, rounded up, at least 1 (what `Retry-After` shows).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// A key's `rpm` and `tpm` buckets.
#[derive(Debug)]
pub struct KeyLimiter {
    rpm: Option<Gcra>,
    tpm: Option<Gcra>,
}

impl KeyLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            rpm: limit.rpm.map(|rpm| Gcra::per_minute(u64::from(rpm))),
            tpm: limit.tpm.map(Gcra::per_minute),
        }
    }

    /// Whether any limit is set (only then are headers sent).
    pub fn is_limited(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some()
    }

    /// Lets a request in, or says why not. `tpm` is checked first (it takes
    /// nothing), then one request is taken from `rpm`: a refused request
    /// takes nothing. When refused, the wait covers both limits, so a client
    /// that honours `Retry-After` is not refused again by the other one.
    pub fn admit(&self, now_ns: u64) -> Result<RateHeaders, Limited> {
        let tokens = match &self.tpm {
            Some(tpm) => match tpm.open(now_ns) {
                Ok(snapshot) => Some(snapshot),
                Err(wait) => return Err(self.limited(LimitKind::Tokens, wait, now_ns)),
            },
            None => None,
        };
        let requests = match &self.rpm {
            Some(rpm) => match rpm.take(now_ns) {
                Ok(snapshot) => Some(snapshot),
                Err(wait) => return Err(self.limited(LimitKind::Requests, wait, now_ns)),
            },
            None => None,
        };
        Ok(RateHeaders { requests, tokens })
    }

    fn limited(&self, kind: LimitKind, wait: Duration, now_ns: u64) -> Limited {
        let other = match kind {
            LimitKind::Tokens => self.rpm.as_ref().and_then(|rpm| rpm.open(now_ns).err()),
            LimitKind::Requests => None, // tpm was open a moment ago
        };
        Limited {
            kind,
            retry_after: other.map_or(wait, |other| other.max(wait)),
            headers: self.headers(now_ns),
        }
    }

    /// Charges a finished request's real token usage to `tpm`.
    pub fn charge_tokens(&self, n: u64, now_ns: u64) {
        if let Some(tpm) = &self.tpm {
            tpm.charge(n, now_ns);
        }
    }

    pub fn headers(&self, now_ns: u64) -> RateHeaders {
        RateHeaders {
            requests: self.rpm.as_ref().map(|g| g.snapshot(now_ns)),
            tokens: self.tpm.as_ref().map(|g| g.snapshot(now_ns)),
        }
    }
}

/// A duration the way OpenAI's `x-ratelimit-reset-*` show it (Go's
/// `Duration.String`: "20ms", "1s", "1.5s", "6m0s", "1h0m0s"), rounded up to
/// the millisecond so the digits stay short and never promise too early.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000);
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (hours, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&seconds.to_string());
    if millis > 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('s');
    out
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
