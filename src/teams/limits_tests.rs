use super::*;

const SECOND: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
/// An arbitrary "now" well after the process epoch.
const T0: u64 = 5_000 * SECOND;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn rpm_3_admits_3_then_refuses_with_the_wait_for_one_refill() {
    let rpm = Gcra::per_minute(3);
    let remaining: Vec<u64> = (0..3)
        .map(|_| rpm.take(T0).map(|s| s.remaining))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(remaining, [2, 1, 0]);
    // One request refills every 20 s.
    assert_eq!(rpm.take(T0), Err(secs(20)));
    assert_eq!(rpm.take(T0 + 5 * SECOND), Err(secs(15)));
}

#[test]
fn rpm_refills_continuously() {
    let rpm = Gcra::per_minute(3);
    for _ in 0..3 {
        rpm.take(T0).unwrap();
    }
    // 20 s later exactly one is back, not the whole minute's worth.
    let after = rpm.take(T0 + 20 * SECOND).unwrap();
    assert_eq!(after.remaining, 0);
    assert_eq!(rpm.take(T0 + 20 * SECOND), Err(secs(20)));
    // A full minute of quiet refills all three.
    assert_eq!(rpm.snapshot(T0 + 100 * SECOND).remaining, 3);
}

#[test]
fn snapshot_numbers_remaining_and_reset() {
    let rpm = Gcra::per_minute(60);
    assert_eq!(
        rpm.snapshot(T0),
        Snapshot {
            limit: 60,
            remaining: 60,
            reset: Duration::ZERO
        }
    );
    for _ in 0..10 {
        rpm.take(T0).unwrap();
    }
    assert_eq!(
        rpm.snapshot(T0),
        Snapshot {
            limit: 60,
            remaining: 50,
            reset: secs(10)
        }
    );
    // 2.5 s later: 2.5 units back, shown as 2 whole ones.
    let later = rpm.snapshot(T0 + 2_500 * MS);
    assert_eq!(
        (later.remaining, later.reset),
        (52, Duration::from_millis(7_500))
    );
}

#[test]
fn a_limit_that_does_not_divide_a_minute_still_holds_exactly_that_many() {
    let rpm = Gcra::per_minute(7);
    assert_eq!(rpm.snapshot(T0).remaining, 7);
    let admitted = (0..10).filter(|_| rpm.take(T0).is_ok()).count();
    assert_eq!(admitted, 7);
}

#[test]
fn tpm_admits_while_not_empty_and_takes_nothing() {
    let tpm = Gcra::per_minute(1000);
    let open = tpm.open(T0).unwrap();
    assert_eq!(open.remaining, 1000);
    assert_eq!(tpm.open(T0).unwrap().remaining, 1000);
    tpm.charge(999, T0);
    assert_eq!(tpm.open(T0).unwrap().remaining, 1);
    tpm.charge(1, T0);
    // Empty: the next token is back in 60 ms (1000 per minute).
    assert_eq!(tpm.open(T0), Err(Duration::from_millis(60)));
}

#[test]
fn tpm_charge_goes_into_debt_and_the_next_request_waits_until_positive() {
    let tpm = Gcra::per_minute(1000);
    tpm.open(T0).unwrap();
    tpm.charge(1500, T0); // 500 tokens of debt = 30 s, plus one token to be positive
    assert_eq!(tpm.open(T0), Err(Duration::from_millis(30_060)));
    assert_eq!(tpm.open(T0 + 30 * SECOND), Err(Duration::from_millis(60)));
    assert_eq!(tpm.open(T0 + 30_060 * MS).unwrap().remaining, 1);
    // In debt, reset is the time until full: 90 s.
    assert_eq!(tpm.snapshot(T0).reset, secs(90));
    assert_eq!(tpm.snapshot(T0).remaining, 0);
}

#[test]
fn debt_is_capped_at_an_hour_of_refill() {
    let tpm = Gcra::per_minute(1000);
    tpm.charge(1_000_000_000, T0);
    assert_eq!(tpm.open(T0), Err(secs(3600) + Duration::from_millis(60)));
    tpm.charge(1_000_000_000, T0);
    assert_eq!(tpm.snapshot(T0).reset, secs(3660));
}

#[test]
fn key_limiter_without_limits_is_open_and_sends_no_headers() {
    let key = KeyLimiter::new(RateLimit::default());
    assert!(!key.is_limited());
    let headers = key.admit(T0).unwrap();
    assert!(headers.is_empty());
}

#[test]
fn a_request_refused_by_rpm_takes_nothing_from_either_bucket() {
    let key = KeyLimiter::new(RateLimit {
        rpm: Some(1),
        tpm: Some(100),
    });
    assert!(key.is_limited());
    key.admit(T0).unwrap();
    let refused = key.admit(T0 + 15 * SECOND).unwrap_err();
    assert_eq!(refused.kind, LimitKind::Requests);
    assert_eq!(refused.retry_after, secs(45));
    assert_eq!(refused.retry_after_secs(), 45);
    // Still only one request taken: it is back at T0 + 60 s.
    assert!(key.admit(T0 + 60 * SECOND).is_ok());
}

#[test]
fn a_request_refused_by_tpm_takes_no_request_and_waits_for_both() {
    let key = KeyLimiter::new(RateLimit {
        rpm: Some(2),
        tpm: Some(600),
    });
    key.charge_tokens(610, T0); // 10 tokens of debt: 1.1 s to one token
    let refused = key.admit(T0).unwrap_err();
    assert_eq!(refused.kind, LimitKind::Tokens);
    assert_eq!(refused.retry_after, Duration::from_millis(1_100));
    assert_eq!(refused.retry_after_secs(), 2);
    let requests = refused.headers.requests.unwrap();
    assert_eq!(requests.remaining, 2);

    // With rpm empty too, the wait is the longer of the two.
    let both = KeyLimiter::new(RateLimit {
        rpm: Some(2),
        tpm: Some(600),
    });
    both.admit(T0).unwrap();
    both.admit(T0).unwrap();
    both.charge_tokens(610, T0);
    assert_eq!(both.admit(T0).unwrap_err().retry_after, secs(30));
}

#[test]
fn admitted_headers_show_the_state_after_the_request() {
    let key = KeyLimiter::new(RateLimit {
        rpm: Some(10),
        tpm: Some(1000),
    });
    let headers = key.admit(T0).unwrap();
    assert_eq!(
        headers.requests,
        Some(Snapshot {
            limit: 10,
            remaining: 9,
            reset: secs(6)
        })
    );
    assert_eq!(headers.tokens.map(|t| t.remaining), Some(1000));
    key.charge_tokens(250, T0);
    assert_eq!(key.headers(T0).tokens.map(|t| t.remaining), Some(750));
}

#[test]
fn four_threads_taking_a_thousand_each_admit_exactly_the_limit() {
    let rpm = Gcra::per_minute(1000);
    let admitted: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| (0..1000).filter(|_| rpm.take(T0).is_ok()).count()))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(admitted, 1000);
}

#[test]
fn retry_after_is_whole_seconds_rounded_up_at_least_one() {
    assert_eq!(retry_after_secs(Duration::ZERO), 1);
    assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
    assert_eq!(retry_after_secs(secs(2)), 2);
    assert_eq!(retry_after_secs(Duration::from_millis(2_001)), 3);
}

#[test]
fn reset_is_formatted_like_go_durations() {
    let cases = [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(1), "1ms"),
        (Duration::from_millis(20), "20ms"),
        (Duration::from_nanos(999_500_000), "1s"),
        (secs(1), "1s"),
        (Duration::from_millis(1_500), "1.5s"),
        (Duration::from_millis(8_571), "8.571s"),
        (secs(59), "59s"),
        (secs(360), "6m0s"),
        (Duration::from_millis(61_250), "1m1.25s"),
        (secs(3600), "1h0m0s"),
        (secs(3723), "1h2m3s"),
    ];
    for (d, want) in cases {
        assert_eq!(go_duration(d), want, "{d:?}");
    }
}

#[test]
fn headers_are_named_like_openai() {
    let headers = RateHeaders {
        requests: Some(Snapshot {
            limit: 60,
            remaining: 59,
            reset: secs(1),
        }),
        tokens: Some(Snapshot {
            limit: 150_000,
            remaining: 149_984,
            reset: Duration::from_millis(6),
        }),
    };
    let mut seen = Vec::new();
    headers.each(|name, value| seen.push(format!("{name}: {}", value.to_str().unwrap())));
    assert_eq!(
        seen,
        [
            "x-ratelimit-limit-requests: 60",
            "x-ratelimit-remaining-requests: 59",
            "x-ratelimit-reset-requests: 1s",
            "x-ratelimit-limit-tokens: 150000",
            "x-ratelimit-remaining-tokens: 149984",
            "x-ratelimit-reset-tokens: 6ms",
        ]
    );
    let mut none = 0;
    RateHeaders::default().each(|_, _| none += 1);
    assert_eq!(none, 0);
}

#[test]
fn now_ns_is_monotonic() {
    let a = now_ns();
    let b = now_ns();
    assert!(b >= a);
}
