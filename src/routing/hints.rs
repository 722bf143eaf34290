//! What a provider's response headers say about its rate limits, read by
//! pure functions (linkerd's `retry_after.rs` is the model):
//! `Retry-After` (seconds or an HTTP date), `retry-after-ms`, and the reset
//! headers of each limit window — Go-style durations on OpenAI and Groq
//! (`x-ratelimit-reset-requests: 2m59.56s`), seconds on Cerebras
//! (`x-ratelimit-reset-requests-day: 33011.38`), RFC 3339 instants on
//! Anthropic (`anthropic-ratelimit-tokens-reset`). Durations and instants are
//! parsed with `jiff` (already in the tree through `env_logger`).

use http::HeaderMap;
use std::time::{Duration, SystemTime};

/// No hint is trusted beyond a day: a daily quota is the longest window any
/// provider documents, and a garbled header must not bench a key for a year.
pub const MAX_HINT: Duration = Duration::from_secs(24 * 3600);

/// Each limit window as (remaining, reset) header names.
const WINDOWS: &[(&str, &str)] = &[
    (
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    (
        "x-ratelimit-remaining-requests-day",
        "x-ratelimit-reset-requests-day",
    ),
    (
        "x-ratelimit-remaining-tokens-minute",
        "x-ratelimit-reset-tokens-minute",
    ),
    (
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    (
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ),
    (
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ),
    (
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
    ),
];

/// How long a 429 asks to wait: `retry-after-ms`, then `Retry-After`, then
/// the reset of the exhausted window(s) (remaining `0`), else the longest
/// reset given (a 429 says *some* window ran out; waiting for the longest
/// one never sends a request into a known 429). `None`: no hint at all.
pub fn after_rate_limit(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| headers.get(name).map(|v| v.as_bytes());
    if let Some(d) = parse_retry_after(get("retry-after"), get("retry-after-ms"), now) {
        return Some(d.min(MAX_HINT));
    }
    exhausted_until(headers, now).or_else(|| {
        WINDOWS
            .iter()
            .filter_map(|(_, reset)| parse_reset(get(reset)?, now))
            .max()
    })
}

/// After a success: how long until the window that this response emptied
/// (remaining `0`) resets, so the next request goes elsewhere instead of
/// into a 429. `None` when no window is empty (the common case: one pass
/// over the header names, no parsing).
pub fn exhausted_until(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let any_empty = headers.iter().any(|(name, value)| {
        value.as_bytes() == b"0"
            && (name.as_str().starts_with("x-ratelimit-remaining")
                || name.as_str().starts_with("anthropic-ratelimit-"))
    });
    if !any_empty {
        return None;
    }
    WINDOWS
        .iter()
        .filter(|(remaining, _)| {
            headers
                .get(*remaining)
                .is_some_and(|v| v.as_bytes() == b"0")
        })
        .filter_map(|(_, reset)| parse_reset(headers.get(*reset)?.as_bytes(), now))
        .max()
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3), or
/// `retry-after-ms` (OpenAI, Azure), which wins. A date in the past means now.
pub fn parse_retry_after(
    retry_after: Option<&[u8]>,
    retry_after_ms: Option<&[u8]>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| std::str::from_utf8(v).ok()) {
        if let Some(d) = seconds(ms.trim(), 1000.0) {
            return Some(d);
        }
    }
    let v = std::str::from_utf8(retry_after?).ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_HINT));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A reset header: a duration (`1m30s`, `6ms`, `7.66s`), plain seconds
/// (`33011.38`), or an RFC 3339 instant (`2026-11-21T10:00:30Z`).
pub fn parse_reset(value: &[u8], now: SystemTime) -> Option<Duration> {
    let v = std::str::from_utf8(value).ok()?.trim();
    if let Some(d) = seconds(v, 1.0) {
        return Some(d);
    }
    if let Ok(d) = v.parse::<jiff::SignedDuration>() {
        return Duration::try_from(d).ok().map(|d| d.min(MAX_HINT));
    }
    let at: jiff::Timestamp = v.parse().ok()?;
    let at = SystemTime::from(at);
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_HINT),
    )
}

/// A non-negative decimal number of `per_second` units.
fn seconds(v: &str, per_second: f64) -> Option<Duration> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let n: f64 = v.parse().ok()?;
    Some(Duration::from_secs_f64(
        (n / per_second).min(MAX_HINT.as_secs_f64()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // 2015-10-21 07:28:00 UTC
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn retry_after_seconds_date_and_ms() {
        let p = |ra: Option<&str>, ms: Option<&str>| {
            parse_retry_after(ra.map(str::as_bytes), ms.map(str::as_bytes), now())
        };
        assert_eq!(p(Some("120"), None), Some(Duration::from_secs(120)));
        assert_eq!(p(Some(" 3 "), None), Some(Duration::from_secs(3)));
        let date = "Wed, 21 Oct 2015 07:30:00 GMT";
        assert_eq!(p(Some(date), None), Some(Duration::from_secs(120)));
        let past = "Wed, 21 Oct 2015 07:00:00 GMT";
        assert_eq!(p(Some(past), None), Some(Duration::ZERO));
        assert_eq!(p(Some("1"), Some("250")), Some(Duration::from_millis(250)));
        assert_eq!(
            p(None, Some("1500.5")),
            Some(Duration::from_micros(1_500_500))
        );
        assert_eq!(p(Some("soon"), None), None);
        assert_eq!(p(Some("-5"), None), None);
        assert_eq!(p(Some("99999999"), None), Some(MAX_HINT));
        assert_eq!(p(None, Some("-1")), None);
        assert_eq!(p(None, None), None);
    }

    #[test]
    fn reset_values_in_every_documented_shape() {
        let p = |v: &str| parse_reset(v.as_bytes(), now());
        assert_eq!(p("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(p("2m59.56s"), Some(Duration::from_millis(179_560)));
        assert_eq!(p("7.66s"), Some(Duration::from_millis(7660)));
        assert_eq!(p("6ms"), Some(Duration::from_millis(6)));
        assert_eq!(p("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(p("0s"), Some(Duration::ZERO));
        assert_eq!(p("33011.5"), Some(Duration::from_millis(33_011_500)));
        assert_eq!(p("2015-10-21T07:28:30Z"), Some(Duration::from_secs(30)));
        assert_eq!(
            p("2015-10-21T09:28:30+02:00"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(p("2015-10-21T07:00:00Z"), Some(Duration::ZERO));
        assert_eq!(p("48h"), Some(MAX_HINT));
        assert_eq!(p("-5s"), None);
        assert_eq!(p("soon"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn a_429_prefers_retry_after_then_the_exhausted_window() {
        let h = headers(&[("retry-after", "7"), ("x-ratelimit-reset-requests", "1m")]);
        assert_eq!(after_rate_limit(&h, now()), Some(Duration::from_secs(7)));
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "12"),
            ("x-ratelimit-reset-requests", "1m"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "6.5s"),
        ]);
        assert_eq!(
            after_rate_limit(&h, now()),
            Some(Duration::from_millis(6500))
        );
        let h = headers(&[
            ("x-ratelimit-reset-requests", "2s"),
            ("x-ratelimit-reset-tokens", "20s"),
        ]);
        assert_eq!(after_rate_limit(&h, now()), Some(Duration::from_secs(20)));
        let h = headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2015-10-21T07:29:00Z"),
        ]);
        assert_eq!(after_rate_limit(&h, now()), Some(Duration::from_secs(60)));
        assert_eq!(after_rate_limit(&headers(&[]), now()), None);
    }

    #[test]
    fn a_success_that_empties_a_window_cools_until_its_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-remaining-tokens", "5000"),
            ("x-ratelimit-reset-tokens", "30s"),
        ]);
        assert_eq!(exhausted_until(&h, now()), Some(Duration::from_secs(1)));
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "3"),
            ("x-ratelimit-reset-requests", "1s"),
        ]);
        assert_eq!(exhausted_until(&h, now()), None);
        let h = headers(&[("x-ratelimit-remaining-tokens", "0")]);
        assert_eq!(exhausted_until(&h, now()), None, "no reset: no guess");
        let h = headers(&[("content-length", "0")]);
        assert_eq!(exhausted_until(&h, now()), None);
    }
}
