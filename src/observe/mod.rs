//! What the gateway tells its operators about each request: the request
//! record ([`RequestCtx`], filled in as a request moves along), Prometheus
//! metrics on the admin listener, and the one-JSON-line access log. Both
//! read a finished record; neither changes what the client gets.
//!
//! Must not: import the gateway (the gateway hands it records), print a
//! secret, or put an unbounded client value into a label or a log line.

mod access_log;
mod metrics;
mod record;

pub use access_log::{AccessLog, AccessLogError};
pub use metrics::{InstanceGauge, InstanceStates, Metrics, OpenStream};
/// Why a metric could not be built or registered.
pub use pingora_prometheus::prometheus::Error as MetricsError;
pub use record::{status_label, AttemptLog, RequestCtx};
