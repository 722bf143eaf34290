//! Retry logic in one place. Pure functions: what a response
//! head means for failover, how `Retry-After` reads, and which error the
//! client gets when every attempt failed. Nothing else decides to retry.

use super::GatewayError;
use crate::observe::status_label;
use crate::routing::clock::ceil_secs;
use crate::routing::{Signal, Skip};
use std::borrow::Cow;
use std::time::Duration;

/// What to do with an upstream response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A success: deliver it.
    Deliver,
    /// The request's own fault (400, 404, 422, ...): pass through untouched.
    PassThrough,
    /// The instance failed; nothing was sent to the client: try the next one.
    Retry,
}

/// The failover rules: 429, 402, 408, 5xx and 401/403 (a bad key) are
/// retried; other 4xx are the request's fault. 1xx never reaches here.
pub fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Deliver,
        401 | 402 | 403 | 408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::PassThrough,
    }
}

/// How an attempt that answered the client ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Served {
    /// The client left before the upstream's first byte: no verdict.
    ClientLeft,
    /// The upstream's response (2xx or a passed-through 4xx) went out.
    Response {
        status: u16,
        ttfb: Duration,
        /// The upstream failed mid-body (the client got a clean end).
        broke: bool,
    },
}

impl Served {
    /// For the access log and metrics.
    pub fn label(&self) -> Cow<'static, str> {
        match self {
            Self::ClientLeft => "client_left".into(),
            Self::Response { status, .. } => status_label(*status),
        }
    }

    pub fn ttfb(&self) -> Option<Duration> {
        match self {
            Self::ClientLeft => None,
            Self::Response { ttfb, .. } => Some(*ttfb),
        }
    }

    /// What this tells routing about the instance.
    pub fn signal(&self) -> Option<Signal> {
        match *self {
            Self::ClientLeft => None,
            Self::Response {
                status,
                ttfb,
                broke,
            } => Some(match classify(status) {
                Verdict::Deliver => Signal::Served { ttfb, broke },
                Verdict::PassThrough | Verdict::Retry => Signal::PassedThrough,
            }),
        }
    }
}

/// Why one attempt (or one candidate) did not serve the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A retryable status; `retry_after`: how long the provider asked to
    /// wait (`Retry-After`, `retry-after-ms`, or a 429's reset headers).
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// Connect or first byte took too long.
    Timeout,
    /// Refused, reset, DNS, TLS: no HTTP exchange happened.
    Connect(String),
    /// Not HTTP, not the JSON a 2xx must carry, or cut before a byte.
    BadResponse(String),
    /// Not tried: cooling down, breaker open, key disabled, unhealthy.
    Skipped(Skip),
}

impl Failure {
    /// For the access log and metrics (never a secret, never unbounded).
    pub fn label(&self) -> Cow<'static, str> {
        match self {
            Self::Status { code, .. } => status_label(*code),
            Self::Timeout => "timeout".into(),
            Self::Connect(_) => "connect_error".into(),
            Self::BadResponse(_) => "bad_response".into(),
            Self::Skipped(_) => "skipped".into(),
        }
    }

    fn attempted(&self) -> bool {
        !matches!(self, Self::Skipped(_))
    }

    /// What this failure tells routing about the instance.
    pub fn signal(&self) -> Option<Signal> {
        match self {
            Self::Status {
                code: 429,
                retry_after,
            } => Some(Signal::RateLimited(*retry_after)),
            Self::Status {
                code: code @ 401..=403,
                ..
            } => Some(Signal::KeyRejected(*code)),
            Self::Status { .. } | Self::Timeout | Self::Connect(_) | Self::BadResponse(_) => {
                Some(Signal::Failed)
            }
            Self::Skipped(_) => None,
        }
    }

    /// When the candidate may serve again, if it says.
    fn recovery(&self, cooldown: Duration) -> Option<Duration> {
        match self {
            Self::Status {
                code: 429,
                retry_after,
            } => Some(retry_after.unwrap_or(cooldown)),
            Self::Skipped(skip) => skip.retry_in(),
            _ => None,
        }
    }

    fn rate_limited(&self) -> bool {
        matches!(
            self,
            Self::Status { code: 429, .. } | Self::Skipped(Skip::CoolingDown(_))
        )
    }

    /// Out of the running for a while (open, disabled, unhealthy, or a key
    /// just rejected), as opposed to working or merely rate-limited.
    fn broken(&self) -> bool {
        match self {
            Self::Skipped(skip) => !matches!(skip, Skip::CoolingDown(_)),
            _ => matches!(self.signal(), Some(Signal::KeyRejected(_))),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Status { code: 429, .. } => "429 rate limited".into(),
            Self::Status {
                code: c @ (401 | 403),
                ..
            } => format!("{c} key rejected"),
            Self::Status { code: 402, .. } => "402 payment required".into(),
            Self::Status { code, .. } => format!("{code} from upstream"),
            Self::Timeout => "timed out before the first byte".into(),
            Self::Connect(why) => format!("connection failed ({why})"),
            Self::BadResponse(why) => format!("bad response ({why})"),
            Self::Skipped(Skip::CoolingDown(d)) => {
                format!("rate limited, cooling down (retry in {}s)", ceil_secs(*d))
            }
            Self::Skipped(Skip::Open(d)) => format!("circuit open (retry in {}s)", ceil_secs(*d)),
            Self::Skipped(Skip::TrialInFlight) => "circuit half-open, trial in progress".into(),
            Self::Skipped(Skip::Disabled(code, d)) => {
                format!(
                    "key rejected with {code}, out of rotation (retry in {}s)",
                    ceil_secs(*d)
                )
            }
            Self::Skipped(Skip::Suspect(code, _)) => {
                format!("key rejected with {code}, being re-checked")
            }
            Self::Skipped(Skip::Unhealthy) => "unhealthy".into(),
        }
    }
}

/// The client's error once no candidate served the request (see "Errors"
/// in the docs): every working candidate rate-limited or cooling down → 429
/// with the soonest recovery; nothing tried and nothing rate-limited → 503; every attempt timed out →
/// 504; any other mix of attempts → 502. The message counts the candidates
/// and names each with its reason (instance ids, never keys).
pub fn final_error(
    model: &str,
    failures: &[(String, Failure)],
    cooldown: Duration,
) -> GatewayError {
    let tried = failures.iter().filter(|(_, f)| f.attempted()).count();
    let summary = if failures.is_empty() {
        "no provider instance is configured for it".to_string()
    } else {
        let each: Vec<String> = failures
            .iter()
            .map(|(id, f)| format!("{id}: {}", f.describe()))
            .collect();
        let n = failures.len();
        let plural = if n == 1 { "" } else { "s" };
        format!("{n} candidate{plural}, {tried} tried: {}", each.join("; "))
    };
    let model = model.to_string();
    let soonest = failures
        .iter()
        .filter_map(|(_, f)| f.recovery(cooldown))
        .min();
    // Broken candidates (open, disabled, unhealthy) are left out of this
    // test: when all the working ones are exhausted, waiting is the answer.
    let mut working = failures.iter().filter(|(_, f)| !f.broken()).peekable();
    if working.peek().is_some() && working.all(|(_, f)| f.rate_limited()) {
        return GatewayError::AllRateLimited {
            model,
            retry_after: soonest.unwrap_or(cooldown),
            summary,
        };
    }
    if tried == 0 {
        return GatewayError::NoCandidate {
            model,
            retry_after: soonest,
            summary,
        };
    }
    let attempts = failures.iter().map(|(_, f)| f).filter(|f| f.attempted());
    if attempts.clone().all(|f| matches!(f, Failure::Timeout)) {
        return GatewayError::UpstreamTimeout { model, summary };
    }
    GatewayError::UpstreamFailed { model, summary }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses_per_contract() {
        for s in [200, 201, 204] {
            assert_eq!(classify(s), Verdict::Deliver, "{s}");
        }
        for s in [401, 402, 403, 408, 429, 500, 502, 503, 504, 529] {
            assert_eq!(classify(s), Verdict::Retry, "{s}");
        }
        for s in [300, 304, 400, 404, 405, 409, 413, 422] {
            assert_eq!(classify(s), Verdict::PassThrough, "{s}");
        }
    }

    fn st(code: u16, secs: Option<u64>) -> Failure {
        Failure::Status {
            code,
            retry_after: secs.map(Duration::from_secs),
        }
    }

    #[test]
    fn all_rate_limited_is_429_with_the_soonest_recovery() {
        let f = vec![
            ("a".into(), st(429, Some(30))),
            ("b".into(), st(429, Some(7))),
        ];
        let e = final_error("m", &f, Duration::from_secs(60));
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after_secs(), Some(7));
        let f = vec![("a".into(), st(429, None))];
        assert_eq!(
            final_error("m", &f, Duration::from_secs(60)).retry_after_secs(),
            Some(60)
        );
    }

    #[test]
    fn mixes_timeouts_and_nothing_tried() {
        let cd = Duration::from_secs(60);
        let timeouts = vec![
            ("a".into(), Failure::Timeout),
            ("b".into(), Failure::Timeout),
        ];
        assert_eq!(final_error("m", &timeouts, cd).status(), 504);
        let mixed = vec![("a".into(), st(429, Some(1))), ("b".into(), st(500, None))];
        assert_eq!(final_error("m", &mixed, cd).status(), 502);
        let with_timeout = vec![
            ("a".into(), Failure::Timeout),
            ("b".into(), Failure::Connect("refused".into())),
        ];
        assert_eq!(final_error("m", &with_timeout, cd).status(), 502);
        let none = vec![("a".into(), Failure::Skipped(Skip::Unhealthy))];
        assert_eq!(final_error("m", &none, cd).status(), 503);
        assert_eq!(final_error("m", &[], cd).status(), 503);
        let skipped_then_429 = vec![
            (
                "a".into(),
                Failure::Skipped(Skip::CoolingDown(Duration::from_secs(9))),
            ),
            ("b".into(), st(429, None)),
        ];
        assert_eq!(final_error("m", &skipped_then_429, cd).status(), 429);
        assert_eq!(
            final_error("m", &skipped_then_429, cd).retry_after_secs(),
            Some(9)
        );
        let broken_and_limited = vec![
            ("a".into(), Failure::Skipped(Skip::Unhealthy)),
            ("b".into(), st(429, Some(4))),
        ];
        assert_eq!(final_error("m", &broken_and_limited, cd).status(), 429);
        let all_broken = vec![
            (
                "a".into(),
                Failure::Skipped(Skip::Open(Duration::from_secs(20))),
            ),
            (
                "b".into(),
                Failure::Skipped(Skip::Disabled(401, Duration::from_secs(3000))),
            ),
            ("c".into(), Failure::Skipped(Skip::Unhealthy)),
        ];
        let e = final_error("m", &all_broken, cd);
        assert_eq!(e.status(), 503);
        assert_eq!(e.retry_after_secs(), Some(20));
        assert!(e.to_string().contains("3 candidates, 0 tried"), "{e}");
    }

    #[test]
    fn summaries_name_instances_not_keys() {
        let f = vec![
            ("groq-1".into(), st(429, None)),
            ("local".into(), Failure::Connect("refused".into())),
        ];
        let msg = final_error("m", &f, Duration::from_secs(1)).to_string();
        assert!(
            msg.contains(
                "2 candidates, 2 tried: groq-1: 429 rate limited; local: connection failed (refused)"
            ),
            "{msg}"
        );
    }
}
