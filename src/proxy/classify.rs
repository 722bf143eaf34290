//! Retry logic in one place (STYLE habit 8). Pure functions: what a response
//! head means for failover, how `Retry-After` reads, and which error the
//! client gets when every attempt failed. Nothing else decides to retry.

use crate::error::GatewayError;
use std::time::{Duration, SystemTime};

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

/// CONTRACT "Failover rules": 429, 402, 408, 5xx and 401/403 (a bad key) are
/// retried; other 4xx are the request's fault. 1xx never reaches here.
pub fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Deliver,
        401 | 402 | 403 | 408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::PassThrough,
    }
}

/// Why one attempt (or one candidate) did not serve the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A retryable status; `retry_after` from the provider's headers.
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
    /// Not tried: no healthy address.
    Unavailable,
}

impl Failure {
    fn attempted(&self) -> bool {
        !matches!(self, Self::Unavailable)
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
            Self::Unavailable => "no healthy address".into(),
        }
    }
}

/// The client's error once no candidate served the request.
pub fn final_error(
    model: &str,
    failures: &[(String, Failure)],
    cooldown: Duration,
) -> GatewayError {
    let summary = if failures.is_empty() {
        "no provider instance is configured for it".to_string()
    } else {
        failures
            .iter()
            .map(|(id, f)| format!("{id}: {}", f.describe()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let model = model.to_string();
    let tried: Vec<&Failure> = failures
        .iter()
        .map(|(_, f)| f)
        .filter(|f| f.attempted())
        .collect();
    if tried.is_empty() {
        return GatewayError::NoCandidate { model, summary };
    }
    if tried
        .iter()
        .all(|f| matches!(f, Failure::Status { code: 429, .. }))
    {
        let retry_after = tried
            .iter()
            .filter_map(|f| match f {
                Failure::Status { retry_after, .. } => Some(retry_after.unwrap_or(cooldown)),
                _ => None,
            })
            .min()
            .unwrap_or(cooldown);
        return GatewayError::AllRateLimited {
            model,
            retry_after,
            summary,
        };
    }
    if tried.iter().all(|f| matches!(f, Failure::Timeout)) {
        return GatewayError::UpstreamTimeout { model, summary };
    }
    GatewayError::UpstreamFailed { model, summary }
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3), or
/// `retry-after-ms` (OpenAI, Azure). A date in the past means "now".
pub fn parse_retry_after(
    retry_after: Option<&[u8]>,
    retry_after_ms: Option<&[u8]>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| std::str::from_utf8(v).ok()) {
        if let Ok(ms) = ms.trim().parse::<f64>() {
            if ms.is_finite() && ms >= 0.0 {
                return Some(Duration::from_secs_f64(ms / 1000.0));
            }
        }
    }
    let v = std::str::from_utf8(retry_after?).ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
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

    #[test]
    fn retry_after_seconds_date_and_ms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after(Some(b"120"), None, now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(Some(b" 3 "), None, now),
            Some(Duration::from_secs(3))
        );
        // 2015-10-21 07:28:00 GMT is 1445412480 + 0
        let date = b"Wed, 21 Oct 2015 07:30:00 GMT";
        assert_eq!(
            parse_retry_after(Some(date), None, now),
            Some(Duration::from_secs(120))
        );
        let past = b"Wed, 21 Oct 2015 07:00:00 GMT";
        assert_eq!(
            parse_retry_after(Some(past), None, now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(Some(b"1"), Some(b"250"), now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after(Some(b"soon"), None, now), None);
        assert_eq!(parse_retry_after(Some(b"-5"), None, now), None);
        assert_eq!(parse_retry_after(None, None, now), None);
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
        let none = vec![("a".into(), Failure::Unavailable)];
        assert_eq!(final_error("m", &none, cd).status(), 503);
        assert_eq!(final_error("m", &[], cd).status(), 503);
        let skipped_then_429 = vec![
            ("a".into(), Failure::Unavailable),
            ("b".into(), st(429, None)),
        ];
        assert_eq!(final_error("m", &skipped_then_429, cd).status(), 429);
    }

    #[test]
    fn summaries_name_instances_not_keys() {
        let f = vec![
            ("groq-1".into(), st(429, None)),
            ("local".into(), Failure::Connect("refused".into())),
        ];
        let msg = final_error("m", &f, Duration::from_secs(1)).to_string();
        assert!(
            msg.contains("groq-1: 429 rate limited; local: connection failed (refused)"),
            "{msg}"
        );
    }
}
