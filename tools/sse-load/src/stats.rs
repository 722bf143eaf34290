//! Counting and percentiles: one `Recorder` per worker (no sharing on the hot
//! path), merged at the end. Must not do I/O.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::Exchange;

/// Highest latency the histograms hold, in µs (an hour); larger values are
/// clamped to it.
const MAX_US: u64 = 3_600_000_000;

pub fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, MAX_US, 3).map_err(|e| format!("histogram: {e}"))
}

/// What a worker saw in the measured window.
pub struct Recorder {
    pub ttfb: Histogram<u64>,
    pub total: Histogram<u64>,
    /// Responses read to the end, whatever their status.
    pub requests: u64,
    pub non_2xx: u64,
    /// Connect failures, resets, malformed responses.
    pub socket_errors: u64,
    pub timeouts: u64,
    /// Event streams that ended without `data: [DONE]`.
    pub incomplete: u64,
    /// Responses whose `x-modelgate-attempts` was above 1 (a failover).
    pub retried: u64,
    pub bytes: u64,
    pub last_done: Option<Instant>,
    /// The first socket error or timeout, to tell a broken setup from load.
    pub first_error: Option<String>,
}

impl Recorder {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            ttfb: histogram()?,
            total: histogram()?,
            requests: 0,
            non_2xx: 0,
            socket_errors: 0,
            timeouts: 0,
            incomplete: 0,
            retried: 0,
            bytes: 0,
            last_done: None,
            first_error: None,
        })
    }

    pub fn record(&mut self, x: &Exchange) {
        self.requests += 1;
        self.non_2xx += u64::from(!(200..300).contains(&x.status));
        self.incomplete += u64::from(!x.complete);
        self.retried += u64::from(x.attempts.is_some_and(|n| n > 1));
        self.bytes += x.bytes;
        self.ttfb.saturating_record(micros(x.ttfb));
        self.total.saturating_record(micros(x.total));
        self.last_done = Some(Instant::now());
    }

    /// A socket error or timeout (`what` says which).
    pub fn fail(&mut self, timeout: bool, what: impl FnOnce() -> String) {
        if timeout {
            self.timeouts += 1;
        } else {
            self.socket_errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    pub fn errors(&self) -> u64 {
        self.non_2xx + self.socket_errors + self.timeouts + self.incomplete
    }

    pub fn merge(&mut self, other: &Self) -> Result<(), String> {
        self.ttfb
            .add(&other.ttfb)
            .map_err(|e| format!("merge: {e}"))?;
        self.total
            .add(&other.total)
            .map_err(|e| format!("merge: {e}"))?;
        self.requests += other.requests;
        self.non_2xx += other.non_2xx;
        self.socket_errors += other.socket_errors;
        self.timeouts += other.timeouts;
        self.incomplete += other.incomplete;
        self.retried += other.retried;
        self.bytes += other.bytes;
        self.last_done = self.last_done.max(other.last_done);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        Ok(())
    }
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Latency percentiles in µs.
#[derive(Serialize, Debug, PartialEq)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean().round() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(status: u16, ms: u64, complete: bool) -> Exchange {
        Exchange {
            status,
            ttfb: Duration::from_micros(ms * 100),
            total: Duration::from_millis(ms),
            bytes: 10,
            complete,
            attempts: Some(if status == 200 { 1 } else { 2 }),
        }
    }

    #[test]
    fn percentiles_and_errors_add_up_across_workers() {
        let mut a = Recorder::new().unwrap();
        let mut b = Recorder::new().unwrap();
        for ms in 1..=1000 {
            a.record(&exchange(200, ms, true));
        }
        b.record(&exchange(429, 5, true));
        b.record(&exchange(200, 5, false));
        b.fail(false, || "connect: refused".into());
        b.fail(true, || "ignored: not the first".into());
        a.merge(&b).unwrap();
        assert_eq!(a.requests, 1002);
        assert_eq!(a.errors(), 4);
        assert_eq!(a.first_error.as_deref(), Some("connect: refused"));
        assert_eq!(a.retried, 1);
        let total = Percentiles::of(&a.total);
        // 3 significant digits: within 0.1 %.
        assert!((499_000..=502_000).contains(&total.p50), "{total:?}");
        assert!((988_000..=992_000).contains(&total.p99), "{total:?}");
        assert!(total.p999 >= 998_000 && total.max >= 999_000, "{total:?}");
        assert!(Percentiles::of(&a.ttfb).p50 < total.p50 / 5);
    }

    #[test]
    fn huge_latencies_are_clamped_not_lost() {
        let mut r = Recorder::new().unwrap();
        let mut x = exchange(200, 1, true);
        x.total = Duration::from_secs(100_000);
        r.record(&x);
        assert_eq!(r.total.len(), 1);
        assert!(r.total.max() >= MAX_US / 2);
    }
}
