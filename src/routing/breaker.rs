//! One instance's circuit breaker: closed → open after `failures`
//! consecutive failures (5xx, timeouts, connect errors, broken replies) →
//! half-open once `open_for` has passed, admitting `half_open_probes` trial
//! requests → closed when they all succeed, open again on any failure.
//!
//! The request path in the closed state costs one atomic load to admit and
//! one to report a success; the mutex is taken only on failures and while
//! the breaker is not closed, so a healthy instance never serialises threads.

use super::clock::Millis;
use crate::config::CircuitBreakerConf;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// What `/health` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Rejecting until this instant.
    Open(Millis),
    HalfOpen,
}

/// Why a request may not use the instance now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Open until this instant.
    Open(Millis),
    /// Half-open, and every trial slot is taken.
    Probing,
}

pub struct CircuitBreaker {
    conf: CircuitBreakerConf,
    state: AtomicU8,
    consecutive: AtomicU32,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    open_until: Millis,
    probes_out: u32,
    probes_ok: u32,
}

impl CircuitBreaker {
    pub fn new(conf: CircuitBreakerConf) -> Self {
        Self {
            conf,
            state: AtomicU8::new(CLOSED),
            consecutive: AtomicU32::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a thread panicked mid-update of plain numbers.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request may go now; `Ok(true)` when it is a half-open trial
    /// (it must then be reported, or released with [`Self::release`]).
    pub fn admit(&self, now: Millis) -> Result<bool, Rejected> {
        if self.state.load(Relaxed) == CLOSED {
            return Ok(false);
        }
        let mut inner = self.inner();
        match self.state.load(Relaxed) {
            CLOSED => return Ok(false),
            OPEN if now < inner.open_until => return Err(Rejected::Open(inner.open_until)),
            OPEN => {
                self.state.store(HALF_OPEN, Relaxed);
                inner.probes_out = 0;
                inner.probes_ok = 0;
            }
            _ => {}
        }
        if inner.probes_out < self.conf.half_open_probes.max(1) {
            inner.probes_out += 1;
            Ok(true)
        } else {
            Err(Rejected::Probing)
        }
    }

    /// Whether [`Self::admit`] would let a request through now (for ordering
    /// candidates; the real admission happens when one is tried).
    pub fn would_admit(&self, now: Millis) -> Result<(), Rejected> {
        match self.state.load(Relaxed) {
            CLOSED | HALF_OPEN => Ok(()),
            _ => {
                let until = self.inner().open_until;
                if now < until {
                    Err(Rejected::Open(until))
                } else {
                    Ok(())
                }
            }
        }
    }

    pub fn success(&self, probe: bool) {
        if !probe {
            if self.consecutive.load(Relaxed) != 0 {
                self.consecutive.store(0, Relaxed);
            }
            return;
        }
        let mut inner = self.inner();
        inner.probes_out = inner.probes_out.saturating_sub(1);
        if self.state.load(Relaxed) != HALF_OPEN {
            return;
        }
        inner.probes_ok += 1;
        if inner.probes_ok >= self.conf.half_open_probes.max(1) {
            self.consecutive.store(0, Relaxed);
            self.state.store(CLOSED, Relaxed);
        }
    }

    /// A failure; returns true when it opened the breaker.
    pub fn failure(&self, probe: bool, now: Millis) -> bool {
        if !probe {
            let n = self.consecutive.fetch_add(1, Relaxed) + 1;
            if n < self.conf.failures.max(1) || self.state.load(Relaxed) != CLOSED {
                return false;
            }
        }
        let mut inner = self.inner();
        if probe {
            inner.probes_out = inner.probes_out.saturating_sub(1);
        } else if self.state.load(Relaxed) != CLOSED {
            return false;
        }
        inner.open_until = now + self.conf.open_for.as_millis() as Millis;
        self.state.store(OPEN, Relaxed);
        true
    }

    /// A trial that ended without a verdict (the client left, a 429):
    /// give its slot to the next request.
    pub fn release(&self) {
        let mut inner = self.inner();
        inner.probes_out = inner.probes_out.saturating_sub(1);
    }

    pub fn state(&self, now: Millis) -> BreakerState {
        match self.state.load(Relaxed) {
            CLOSED => BreakerState::Closed,
            HALF_OPEN => BreakerState::HalfOpen,
            _ => {
                let until = self.inner().open_until;
                if now < until {
                    BreakerState::Open(until)
                } else {
                    BreakerState::HalfOpen
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn breaker(failures: u32, probes: u32) -> CircuitBreaker {
        CircuitBreaker::new(CircuitBreakerConf {
            failures,
            open_for: Duration::from_millis(1000),
            half_open_probes: probes,
        })
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker(3, 1);
        assert!(!b.failure(false, 0));
        assert!(!b.failure(false, 0));
        b.success(false);
        assert!(!b.failure(false, 0));
        assert!(!b.failure(false, 0));
        assert!(b.failure(false, 10), "third in a row opens");
        assert_eq!(b.state(10), BreakerState::Open(1010));
        assert_eq!(b.admit(500), Err(Rejected::Open(1010)));
        assert!(!b.failure(false, 20), "already open");
    }

    #[test]
    fn half_open_admits_the_probes_then_closes_on_success() {
        let b = breaker(1, 2);
        assert!(b.failure(false, 0));
        assert_eq!(b.state(1000), BreakerState::HalfOpen);
        assert_eq!(b.admit(1000), Ok(true));
        assert_eq!(b.admit(1000), Ok(true));
        assert_eq!(b.admit(1000), Err(Rejected::Probing));
        b.success(true);
        assert_eq!(b.state(1001), BreakerState::HalfOpen);
        b.success(true);
        assert_eq!(b.state(1002), BreakerState::Closed);
        assert_eq!(b.admit(1002), Ok(false));
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_released_one_frees_its_slot() {
        let b = breaker(1, 1);
        b.failure(false, 0);
        assert_eq!(b.admit(1000), Ok(true));
        assert_eq!(b.admit(1000), Err(Rejected::Probing));
        b.release();
        assert_eq!(b.admit(1000), Ok(true));
        assert!(b.failure(true, 1500));
        assert_eq!(b.state(1600), BreakerState::Open(2500));
        assert_eq!(b.would_admit(2400), Err(Rejected::Open(2500)));
        assert_eq!(b.would_admit(2500), Ok(()));
    }
}
