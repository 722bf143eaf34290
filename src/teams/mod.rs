//! Who may ask, and how much: the gateway keys a client presents (from the
//! file and, created at run time, from the store), the model globs each key
//! may use, its rate limits and budget, the client address's rate, what
//! tokens cost, and the admin API's key operations. Must not decide
//! routing, block the request path on the store, or keep or print a key's
//! plaintext (only digests).

mod admin;
mod admission;
mod budget;
mod cost;
mod keys;
mod limits;
mod per_ip;

pub use admin::handle as admin_keys;
pub use admission::{now_ms, rfc3339, AdminError, Refusal, Teams};
pub use budget::{period_start_ms, OverBudget};
pub use cost::cost_usd;
pub use keys::{AuthError, Caller};
pub use limits::{now_ns, LimitKind, Limited, RateHeaders};
