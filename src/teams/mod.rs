//! Who may ask: the gateway keys a client presents and the model globs each
//! key may use. Owns authentication and the per-key grant; must not decide
//! routing, and must never keep or print a key's plaintext (only digests).

mod budget;
mod cost;
mod keys;
mod limits;
mod per_ip;

pub use budget::{check, period_end_ms, period_start_ms, OverBudget, Spend};
pub use cost::cost_usd;
pub use keys::{Auth, AuthError, Caller};
pub use limits::{
    go_duration, now_ns, retry_after_secs, Gcra, KeyLimiter, LimitKind, Limited, RateHeaders,
    Snapshot,
};
pub use per_ip::PerIpLimiter;
