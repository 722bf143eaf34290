//! One instance's circuit breaker: closed → open after `failures`
//! consecutive failures (5xx, timeouts, connect errors, broken replies) →
//! half-open once `open_for` has passed, admitting `half_open_probes` trial
//! requests → closed when they all succeed, open again on any failure.
//!
//! The request path in the closed state costs one atomic load to admit and
//! one to report a success; the mutex is taken only on failures and while
//! the breaker is not closed, so a healthy instance never serialises threads.

use super::clock::{self, Millis};
use crate::config::CircuitBreakerConf;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
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
    TrialInFlight,
}

pub struct CircuitBreaker {
    conf: CircuitBreakerConf,
    state: AtomicU8,
    consecutive: AtomicU32,
    /// While open: until when (read without the lock by `would_admit`).
    open_until: AtomicU64,
    inner: Mutex<Inner>,
}

/// A half-open trial's ticket: the cycle it belongs to. A trial that ends
/// after its cycle did (the breaker closed or opened again meanwhile)
/// counts as an ordinary request, so it can neither close nor reopen a
/// later cycle.
pub type Trial = Option<u64>;

#[derive(Default)]
struct Inner {
    cycle: u64,
    trials_out: u32,
    trials_ok: u32,
}

impl CircuitBreaker {
    pub fn new(conf: CircuitBreakerConf) -> Self {
        Self {
            conf,
            state: AtomicU8::new(CLOSED),
            consecutive: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a thread panicked mid-update of plain numbers.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request may go now; `Ok(Some(cycle))` when it is a
    /// half-open trial (report it, or [`Self::release`] it).
    pub fn admit(&self, now: Millis) -> Result<Trial, Rejected> {
        if self.state.load(Relaxed) == CLOSED {
            return Ok(None);
        }
        let mut inner = self.inner();
        match self.state.load(Relaxed) {
            CLOSED => return Ok(None),
            OPEN => {
                let until = self.open_until.load(Relaxed);
                if now < until {
                    return Err(Rejected::Open(until));
                }
                self.state.store(HALF_OPEN, Relaxed);
                inner.cycle += 1;
                inner.trials_out = 0;
                inner.trials_ok = 0;
            }
            _ => {}
        }
        if inner.trials_out < self.conf.half_open_probes.max(1) {
            inner.trials_out += 1;
            Ok(Some(inner.cycle))
        } else {
            Err(Rejected::TrialInFlight)
        }
    }

    /// Whether [`Self::admit`] would let a request through now (for ordering
    /// candidates; the real admission happens when one is tried). Lock-free.
    pub fn would_admit(&self, now: Millis) -> Result<(), Rejected> {
        if self.state.load(Relaxed) == OPEN {
            let until = self.open_until.load(Relaxed);
            if now < until {
                return Err(Rejected::Open(until));
            }
        }
        Ok(())
    }

    /// The current trial cycle's lock, if `trial` belongs to it.
    fn current(&self, trial: Trial) -> Option<std::sync::MutexGuard<'_, Inner>> {
        let cycle = trial?;
        let inner = self.inner();
        (self.state.load(Relaxed) == HALF_OPEN && inner.cycle == cycle).then_some(inner)
    }

    pub fn success(&self, trial: Trial) {
        if let Some(mut inner) = self.current(trial) {
            inner.trials_out = inner.trials_out.saturating_sub(1);
            inner.trials_ok += 1;
            if inner.trials_ok >= self.conf.half_open_probes.max(1) {
                inner.cycle += 1;
                self.consecutive.store(0, Relaxed);
                self.state.store(CLOSED, Relaxed);
            }
            return;
        }
        if self.consecutive.load(Relaxed) != 0 {
            self.consecutive.store(0, Relaxed);
        }
    }

    /// A failure; returns true when it opened the breaker.
    pub fn failure(&self, trial: Trial, now: Millis) -> bool {
        if let Some(inner) = self.current(trial) {
            self.open(inner, now);
            return true;
        }
        let n = self.consecutive.fetch_add(1, Relaxed) + 1;
        if n < self.conf.failures.max(1) || self.state.load(Relaxed) != CLOSED {
            return false;
        }
        let inner = self.inner();
        if self.state.load(Relaxed) != CLOSED {
            return false;
        }
        self.open(inner, now);
        true
    }

    fn open(&self, mut inner: std::sync::MutexGuard<'_, Inner>, now: Millis) {
        inner.cycle += 1;
        inner.trials_out = 0;
        self.open_until
            .store(clock::after(now, self.conf.open_for), Relaxed);
        self.state.store(OPEN, Relaxed);
    }

    /// Close at once (an operator's reset): a new cycle, so trials of the
    /// old one count as ordinary requests.
    pub fn close(&self) {
        let mut inner = self.inner();
        inner.cycle += 1;
        inner.trials_out = 0;
        inner.trials_ok = 0;
        self.consecutive.store(0, Relaxed);
        self.state.store(CLOSED, Relaxed);
    }

    /// A trial that ended without a verdict (the client left, a 429):
    /// give its slot to the next request.
    pub fn release(&self, trial: Trial) {
        if let Some(mut inner) = self.current(trial) {
            inner.trials_out = inner.trials_out.saturating_sub(1);
        }
    }

    pub fn state(&self, now: Millis) -> BreakerState {
        match self.state.load(Relaxed) {
            CLOSED => BreakerState::Closed,
            HALF_OPEN => BreakerState::HalfOpen,
            _ => {
                let until = self.open_until.load(Relaxed);
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

    fn breaker(failures: u32, trials: u32) -> CircuitBreaker {
        CircuitBreaker::new(CircuitBreakerConf {
            failures,
            open_for: Duration::from_millis(1000),
            half_open_probes: trials,
        })
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker(3, 1);
        assert!(!b.failure(None, 0));
        assert!(!b.failure(None, 0));
        b.success(None);
        assert!(!b.failure(None, 0));
        assert!(!b.failure(None, 0));
        assert!(b.failure(None, 10), "third in a row opens");
        assert_eq!(b.state(10), BreakerState::Open(1010));
        assert_eq!(b.admit(500), Err(Rejected::Open(1010)));
        assert!(!b.failure(None, 20), "already open");
    }

    #[test]
    fn half_open_admits_the_trials_then_closes_on_success() {
        let b = breaker(1, 2);
        assert!(b.failure(None, 0));
        assert_eq!(b.state(1000), BreakerState::HalfOpen);
        let (t1, t2) = (b.admit(1000).unwrap(), b.admit(1000).unwrap());
        assert!(t1.is_some() && t2.is_some());
        assert_eq!(b.admit(1000), Err(Rejected::TrialInFlight));
        b.success(t1);
        assert_eq!(b.state(1001), BreakerState::HalfOpen);
        b.success(t2);
        assert_eq!(b.state(1002), BreakerState::Closed);
        assert_eq!(b.admit(1002), Ok(None));
    }

    #[test]
    fn a_failed_trial_opens_again_and_a_released_one_frees_its_slot() {
        let b = breaker(1, 1);
        b.failure(None, 0);
        let t = b.admit(1000).unwrap();
        assert_eq!(b.admit(1000), Err(Rejected::TrialInFlight));
        b.release(t);
        let t = b.admit(1000).unwrap();
        assert!(b.failure(t, 1500));
        assert_eq!(b.state(1600), BreakerState::Open(2500));
        assert_eq!(b.would_admit(2400), Err(Rejected::Open(2500)));
        assert_eq!(b.would_admit(2500), Ok(()));
    }

    #[test]
    fn a_trial_from_an_earlier_cycle_cannot_reopen_or_close_a_later_one() {
        let b = breaker(5, 2);
        for _ in 0..5 {
            b.failure(None, 0);
        }
        let (p1, p2) = (b.admit(1000).unwrap(), b.admit(1000).unwrap());
        b.success(p1);
        b.release(p2);
        let p3 = b.admit(1000).unwrap();
        b.success(p3);
        assert_eq!(b.state(1001), BreakerState::Closed);
        assert!(
            !b.failure(p2, 1002),
            "a stale trial is one ordinary failure"
        );
        assert_eq!(b.state(1003), BreakerState::Closed);
    }

    #[test]
    fn a_huge_open_for_saturates() {
        let b = CircuitBreaker::new(CircuitBreakerConf {
            failures: 1,
            open_for: Duration::from_secs(u64::MAX),
            half_open_probes: 1,
        });
        assert!(b.failure(None, 5));
        assert_eq!(b.state(6), BreakerState::Open(u64::MAX));
    }
}
