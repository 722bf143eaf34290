//! Monotonic milliseconds since the process started: small enough to live
//! in an `AtomicU64`, so per-instance deadlines need no lock; and the wall
//! clock's Unix seconds, for what is counted per UTC day.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub type Millis = u64;

static EPOCH: OnceLock<Instant> = OnceLock::new();

pub fn now() -> Millis {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as Millis
}

/// `now + d`, saturating.
pub fn after(now: Millis, d: Duration) -> Millis {
    now.saturating_add(d.as_millis().min(u128::from(u64::MAX)) as Millis)
}

/// Time left until `deadline` (zero once passed).
pub fn until(now: Millis, deadline: Millis) -> Duration {
    Duration::from_millis(deadline.saturating_sub(now))
}

/// Whole seconds, rounded up: what `Retry-After` and `/health` show, so a
/// client that waits that long never comes back early.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Seconds since the Unix epoch by the wall clock (0 if it is set before
/// 1970): which UTC day it is, for `least-usage`. A clock read, no I/O.
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
