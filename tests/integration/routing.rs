//! Routing that never wastes a request (issue 3), against the real binary and mocks
//! with hit counts: each strategy's spread, cooldowns read from the provider's own
//! headers (and kept per model), keys taken out on 401, the circuit breaker's whole
//! cycle, active health checks, the errors when nothing can serve, and timeouts.
//! Time-dependent tests use 1–2 s durations and poll; none sleeps as a way to sync.

use crate::support::{
    assert_openai_error, bases, chat_body, chat_stream_body, header, instances_yaml,
    try_read_sse_events, Behaviour, Gateway, MockUpstream,
};
use reqwest::Response;
use serde_json::Value;
use std::time::{Duration, Instant};

const CHAT: &str = "/v1/chat/completions";

/// A gateway in front of `mocks` as instances `p1`, `p2`, ... (keys `sk-test-1`, ...),
/// each serving `models`; `routing` is the indented body of a `routing:` block and
/// `aliases` a whole `models:` block ("" for none).
async fn gateway(
    mocks: &[&MockUpstream],
    models: &[&str],
    routing: &str,
    aliases: &str,
) -> Gateway {
    let mut yaml = instances_yaml(routing, &bases(mocks), models);
    yaml.push_str(aliases);
    Gateway::builder(&yaml)
        .instance_keys(mocks.len())
        .start()
        .await
}

/// Sends one chat request for `model`; returns (status, serving instance or "-").
async fn chat(gw: &Gateway, model: &str) -> (u16, String) {
    let response = gw.post_json(CHAT, &chat_body(model)).await;
    let served_by = header(&response, "x-modelgate-provider")
        .unwrap_or("-")
        .to_string();
    (response.status().as_u16(), served_by)
}

/// Which instance served each of `n` sequential requests.
async fn served_by(gw: &Gateway, model: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (status, by) = chat(gw, model).await;
        assert_eq!(status, 200, "request {} of {n}", out.len() + 1);
        out.push(by);
    }
    out
}

fn count(list: &[String], id: &str) -> usize {
    list.iter().filter(|s| *s == id).count()
}

/// `/health`'s entry for instance `id`.
async fn instance(gw: &Gateway, id: &str) -> Value {
    let health: Value = gw
        .get("/health")
        .await
        .json()
        .await
        .expect("/health is JSON");
    let providers = health["providers"].as_array().expect("providers");
    let found = providers.iter().find(|p| p["id"] == id);
    found
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {health}"))
}

/// Polls `/health` until instance `id` is in `state`; panics after `within`.
async fn wait_state(gw: &Gateway, id: &str, state: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let entry = instance(gw, id).await;
        if entry["state"] == state {
            return entry;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {state}: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls with real requests until one is served by `id`; returns how long it took.
async fn wait_served_by(gw: &Gateway, model: &str, id: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (status, by) = chat(gw, model).await;
        assert_eq!(status, 200);
        if by == id {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{id} never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- strategies ----

#[tokio::test]
async fn priority_exhausts_the_first_instance_then_sticks_to_the_next() {
    let a = MockUpstream::start(Behaviour::status(429).retry_after(30));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let c = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b, &c], &["m1"], "", "").await;
    let first = gw.post_json(CHAT, &chat_body("m1")).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-modelgate-attempts"), Some("2"));
    let rest = served_by(&gw, "m1", 5).await;
    assert_eq!(count(&rest, "p2"), 5, "{rest:?}");
    assert_eq!((a.posts(), b.posts(), c.posts()), (1, 6, 0));
}

#[tokio::test]
async fn round_robin_spreads_requests_evenly() {
    let mocks: Vec<MockUpstream> = (0..3)
        .map(|_| MockUpstream::start(Behaviour::chat_ok()))
        .collect();
    let refs: Vec<&MockUpstream> = mocks.iter().collect();
    let gw = gateway(&refs, &["m1"], "  strategy: round-robin\n", "").await;
    served_by(&gw, "m1", 12).await;
    let hits: Vec<usize> = mocks.iter().map(MockUpstream::posts).collect();
    assert_eq!(hits, [4, 4, 4]);
}

#[tokio::test]
async fn weighted_follows_the_weights() {
    let a = MockUpstream::start(Behaviour::chat_ok());
    let b = MockUpstream::start(Behaviour::chat_ok());
    let alias = "models:\n  - name: w\n    strategy: weighted\n    targets:\n      \
                 - { provider: p1, weight: 3 }\n      - { provider: p2, weight: 1 }\n";
    let gw = gateway(&[&a, &b], &["m1"], "", alias).await;
    let by = served_by(&gw, "w", 40).await;
    let (n1, n2) = (count(&by, "p1"), count(&by, "p2"));
    assert!(
        (28..=32).contains(&n1) && n1 + n2 == 40,
        "3:1 expected, got {n1}:{n2}"
    );
}

#[tokio::test]
async fn least_busy_picks_the_idle_instance() {
    let slow_stream = Behaviour::sse(8, Duration::from_millis(250));
    let a = MockUpstream::start(Behaviour::sequence(vec![slow_stream, Behaviour::chat_ok()]));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b], &["m1"], "  strategy: least-busy\n", "").await;
    // Ties rotate from p1, so the first request (a 2 s stream) lands on p1.
    let stream = gw.post_json(CHAT, &chat_stream_body("m1")).await;
    assert_eq!(header(&stream, "x-modelgate-provider"), Some("p1"));
    let by = served_by(&gw, "m1", 4).await;
    assert_eq!(count(&by, "p2"), 4, "p1 is busy streaming: {by:?}");
    let (events, error) = try_read_sse_events(stream).await;
    assert!(error.is_none() && events.len() > 8);
    let by = served_by(&gw, "m1", 4).await;
    assert_eq!(count(&by, "p1"), 2, "idle again, ties rotate: {by:?}");
}

#[tokio::test]
async fn latency_prefers_the_fast_instance_and_keeps_measuring_the_slow_one() {
    let slow = MockUpstream::start(Behaviour::chat_ok().delay_head(Duration::from_millis(300)));
    let fast = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&slow, &fast], &["m1"], "  strategy: latency\n", "").await;
    let by = served_by(&gw, "m1", 48).await;
    let (s, f) = (count(&by, "p1"), count(&by, "p2"));
    assert!(
        f >= 40,
        "the fast one should carry the load: {s} slow, {f} fast"
    );
    // Measured first (never measured sorts first), then re-probed by exploration.
    assert!(
        s >= 3,
        "the slow one must still be measured: {s} slow, {f} fast"
    );
}

// ---- cooldowns ----

/// p1 answers 429 (with `limited`'s headers) once, then serves; p2 always serves.
/// Returns how long p1 stayed out after its 429.
async fn cooled_for(limited: Behaviour, routing: &str) -> Duration {
    let a = MockUpstream::start(Behaviour::sequence(vec![limited, Behaviour::chat_ok()]));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b], &["m1"], routing, "").await;
    let limited_at = Instant::now();
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()));
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()), "p1 is cooling");
    let entry = wait_state(&gw, "p1", "cooling_down", Duration::from_secs(1)).await;
    assert_eq!(entry["cooling_down"]["m1"], entry["retry_in_s"], "{entry}");
    wait_served_by(&gw, "m1", "p1", Duration::from_secs(8)).await;
    assert_eq!(a.posts(), 2, "p1 was not called while cooling");
    limited_at.elapsed()
}

#[tokio::test]
async fn retry_after_seconds_sets_the_cooldown() {
    let out = cooled_for(Behaviour::status(429).retry_after(1), "").await;
    assert!(
        out >= Duration::from_millis(950) && out < Duration::from_secs(4),
        "{out:?}"
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_sets_the_cooldown() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(4));
    let until = httpdate::parse_http_date(&date).unwrap();
    let out = cooled_for(Behaviour::status(429).header("retry-after", &date), "").await;
    let early = until
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(
        early < Duration::from_millis(50),
        "back {early:?} before {date}"
    );
    assert!(out < Duration::from_secs(7), "{out:?}");
}

#[tokio::test]
async fn provider_reset_headers_set_the_cooldown() {
    let limited = Behaviour::status(429)
        .header("x-ratelimit-remaining-requests", "0")
        .header("x-ratelimit-reset-requests", "2.5s")
        .header("x-ratelimit-remaining-tokens", "9000")
        .header("x-ratelimit-reset-tokens", "40s");
    let out = cooled_for(limited, "  cooldown: 60s\n").await;
    assert!(
        out >= Duration::from_millis(1150) && out < Duration::from_secs(4),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_success_that_empties_the_window_rests_the_instance_before_any_429() {
    let last_one = Behaviour::chat_ok()
        .header("x-ratelimit-remaining-requests", "0")
        .header("x-ratelimit-reset-requests", "2s");
    let a = MockUpstream::start(Behaviour::sequence(vec![last_one, Behaviour::chat_ok()]));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b], &["m1"], "", "").await;
    assert_eq!(chat(&gw, "m1").await, (200, "p1".into()));
    assert_eq!(
        chat(&gw, "m1").await,
        (200, "p2".into()),
        "rested, not sent into a 429"
    );
    let back = wait_served_by(&gw, "m1", "p1", Duration::from_secs(8)).await;
    assert!(back >= Duration::from_millis(1800), "{back:?}");
    assert_eq!(a.posts(), 2);
}

#[tokio::test]
async fn a_cooldown_is_per_model_and_the_key_still_serves_its_other_models() {
    let limited = Behaviour::status(429).retry_after(30);
    let a = MockUpstream::start(Behaviour::sequence(vec![limited, Behaviour::chat_ok()]));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b], &["m1", "m2"], "", "").await;
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()));
    assert_eq!(
        chat(&gw, "m2").await,
        (200, "p1".into()),
        "m2 is not cooling on p1"
    );
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()), "m1 still is");
    assert_eq!((a.posts(), b.posts()), (2, 2));
    let entry = instance(&gw, "p1").await;
    assert_eq!(
        entry["state"], "healthy",
        "one model cooling is not the whole key: {entry}"
    );
    assert!(
        entry["cooling_down"]["m1"].as_u64().unwrap() > 25,
        "{entry}"
    );
}

// ---- bad keys and the breaker ----

#[tokio::test]
async fn a_rejected_key_that_fails_its_recheck_leaves_rotation_and_is_logged_once() {
    // The key is refused for chat and for its model list alike.
    let a = MockUpstream::start(Behaviour::status(401));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b], &["m1", "m2"], "  bad_key_cooldown: 2h\n", "").await;
    served_by(&gw, "m1", 3).await;
    served_by(&gw, "m2", 2).await;
    assert_eq!(
        (a.posts(), b.posts()),
        (1, 5),
        "p1 tried once, then left alone"
    );
    let entry = wait_state(&gw, "p1", "disabled", Duration::from_secs(10)).await;
    assert!(entry["retry_in_s"].as_u64().unwrap() > 7000, "{entry}");
    assert_eq!(a.gets().len(), 1, "one re-check, at once");
    let logs = gw.logs();
    let lines = logs
        .lines()
        .filter(|l| l.contains("p1: key rejected (401); out of rotation"))
        .count();
    assert_eq!(lines, 1, "{logs}");
    assert!(!logs.contains("sk-test-1"), "a key was printed");
}

#[tokio::test]
async fn a_401_that_the_request_caused_does_not_bench_a_shared_key() {
    // Both keys refuse these requests (as OpenAI refuses a bogus organization header)
    // but list models fine: the keys themselves work.
    let a = MockUpstream::start(Behaviour::status(401).gets_ok());
    let b = MockUpstream::start(Behaviour::status(403).gets_ok());
    let gw = gateway(&[&a, &b], &["m1"], "", "").await;
    let (status, _) = chat(&gw, "m1").await;
    assert_eq!(status, 502, "both refused it");
    assert_eq!((a.posts(), b.posts()), (1, 1));
    // Each key is re-checked at once and stays in rotation.
    assert!(a.wait_for_hits(2, Duration::from_secs(10)).await);
    assert!(b.wait_for_hits(2, Duration::from_secs(10)).await);
    wait_state(&gw, "p1", "healthy", Duration::from_secs(10)).await;
    wait_state(&gw, "p2", "healthy", Duration::from_secs(10)).await;
    let health: Value = gw.get("/health").await.json().await.expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    a.set_behaviour(Behaviour::chat_ok());
    assert_eq!(chat(&gw, "m1").await, (200, "p1".into()));
    assert!(gw.logs().contains("p1: its key passed the re-check (200)"));
}

#[tokio::test]
async fn a_key_out_of_rotation_comes_back_when_its_health_check_passes() {
    let a = MockUpstream::start(Behaviour::status(401));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let routing = "  bad_key_cooldown: 2h\n  health_check: { interval: 1s }\n";
    let gw = gateway(&[&a, &b], &["m1"], routing, "").await;
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()));
    wait_state(&gw, "p1", "disabled", Duration::from_secs(10)).await;
    // The key was fixed (say, the provider's outage ended): the next check sees it.
    a.set_behaviour(Behaviour::chat_ok());
    wait_state(&gw, "p1", "healthy", Duration::from_secs(10)).await;
    assert_eq!(chat(&gw, "m1").await, (200, "p1".into()));
}

#[tokio::test]
async fn a_402_takes_the_key_out_without_a_recheck() {
    let a = MockUpstream::start(Behaviour::status(402).gets_ok());
    let b = MockUpstream::start(Behaviour::chat_ok());
    let routing = "  health_check: { interval: 1s }\n";
    let gw = gateway(&[&a, &b], &["m1"], routing, "").await;
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()));
    wait_state(&gw, "p1", "disabled", Duration::from_secs(1)).await;
    // Its model list answers (listing is free without credit): it stays out.
    assert!(a.wait_for_hits(3, Duration::from_secs(10)).await);
    wait_state(&gw, "p1", "disabled", Duration::from_secs(1)).await;
    assert_eq!(a.posts(), 1);
}

#[tokio::test]
async fn the_breaker_opens_half_opens_and_closes() {
    let a = MockUpstream::start(Behaviour::status(500));
    let b = MockUpstream::start(Behaviour::chat_ok());
    let breaker = "  circuit_breaker: { failures: 2, open_for: 2s, half_open_probes: 1 }\n";
    let gw = gateway(&[&a, &b], &["m1"], breaker, "").await;
    served_by(&gw, "m1", 2).await;
    assert_eq!(a.posts(), 2);
    let open = wait_state(&gw, "p1", "open", Duration::from_secs(1)).await;
    assert!(open["retry_in_s"].as_u64().unwrap() <= 2, "{open}");
    served_by(&gw, "m1", 3).await;
    assert_eq!(a.posts(), 2, "an open breaker sends nothing");

    // Half-open: one trial; it fails, so the breaker opens again.
    wait_state(&gw, "p1", "half_open", Duration::from_secs(5)).await;
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()));
    assert_eq!(a.posts(), 3, "exactly one trial");
    wait_state(&gw, "p1", "open", Duration::from_secs(1)).await;

    // Half-open again; this trial succeeds and closes it.
    a.set_behaviour(Behaviour::chat_ok());
    wait_state(&gw, "p1", "half_open", Duration::from_secs(5)).await;
    assert_eq!(chat(&gw, "m1").await, (200, "p1".into()));
    wait_state(&gw, "p1", "healthy", Duration::from_secs(1)).await;
    let by = served_by(&gw, "m1", 3).await;
    assert_eq!(count(&by, "p1"), 3);
}

// ---- active health checks ----

const FAST_CHECKS: &str = "  health_check: { interval: 150ms, timeout: 500ms }\n";

#[tokio::test]
async fn health_checks_take_a_failing_instance_out_and_bring_it_back() {
    let a = MockUpstream::start(Behaviour::chat_ok());
    let b = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b], &["m1"], FAST_CHECKS, "").await;
    wait_for(|| a.gets().len() >= 2, "two probes").await;
    assert_eq!(instance(&gw, "p1").await["state"], "healthy");
    let probe = a.gets().remove(0);
    assert_eq!(probe.path, "/v1/models");
    assert_eq!(
        probe.header("authorization"),
        Some("Bearer sk-test-1"),
        "probed with its own key"
    );

    a.set_behaviour(Behaviour::status(503));
    wait_state(&gw, "p1", "unhealthy", Duration::from_secs(3)).await;
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()));
    assert_eq!(a.posts(), 0, "an unhealthy instance gets no traffic");

    a.set_behaviour(Behaviour::chat_ok());
    wait_state(&gw, "p1", "healthy", Duration::from_secs(3)).await;
    assert_eq!(chat(&gw, "m1").await, (200, "p1".into()));
}

#[tokio::test]
async fn a_dead_endpoint_is_marked_and_recovered() {
    let a = MockUpstream::start(Behaviour::chat_ok());
    let b = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&a, &b], &["m1"], FAST_CHECKS, "").await;
    let addr = a.addr();
    drop(a);
    wait_state(&gw, "p1", "unhealthy", Duration::from_secs(5)).await;
    assert_eq!(chat(&gw, "m1").await, (200, "p2".into()));
    let a = MockUpstream::start_on(addr, Behaviour::chat_ok());
    wait_state(&gw, "p1", "healthy", Duration::from_secs(5)).await;
    assert_eq!(chat(&gw, "m1").await, (200, "p1".into()));
    assert_eq!(a.posts(), 1);
}

async fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- when nothing can serve ----

async fn assert_error(response: Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("an error envelope");
    let error = assert_openai_error(&body);
    assert_eq!(error["code"], code, "{body}");
    error["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn everything_cooling_is_429_with_the_soonest_recovery_and_no_upstream_call() {
    let a = MockUpstream::start(Behaviour::status(429).retry_after(30));
    let b = MockUpstream::start(Behaviour::status(429).retry_after(10));
    let gw = gateway(&[&a, &b], &["m1"], "", "").await;
    let first = gw.post_json(CHAT, &chat_body("m1")).await;
    assert_eq!(header(&first, "retry-after"), Some("10"));
    assert_error(first, 429, "rate_limit_exceeded").await;
    let second = gw.post_json(CHAT, &chat_body("m1")).await;
    let retry: u64 = header(&second, "retry-after").unwrap().parse().unwrap();
    assert!((9..=10).contains(&retry), "{retry}");
    let message = assert_error(second, 429, "rate_limit_exceeded").await;
    assert!(message.contains("2 candidates, 0 tried"), "{message}");
    assert!(
        message.contains("p2: rate limited, cooling down"),
        "{message}"
    );
    assert_eq!(
        (a.posts(), b.posts()),
        (1, 1),
        "known exhausted: not called again"
    );
}

#[tokio::test]
async fn everything_broken_is_503_without_an_upstream_call() {
    let a = MockUpstream::start(Behaviour::status(401));
    let b = MockUpstream::start(Behaviour::status(500));
    let breaker = "  circuit_breaker: { failures: 1, open_for: 20s }\n";
    let gw = gateway(&[&a, &b], &["m1"], breaker, "").await;
    assert_error(
        gw.post_json(CHAT, &chat_body("m1")).await,
        502,
        "upstream_failed",
    )
    .await;
    // Its re-check refused too: p1 is out for good.
    wait_state(&gw, "p1", "disabled", Duration::from_secs(10)).await;
    let response = gw.post_json(CHAT, &chat_body("m1")).await;
    let retry: u64 = header(&response, "retry-after").unwrap().parse().unwrap();
    assert!(
        (19..=20).contains(&retry),
        "the breaker half-opens first: {retry}"
    );
    assert!(header(&response, "x-modelgate-attempts").is_none());
    let message = assert_error(response, 503, "no_available_provider").await;
    assert!(message.contains("p1: key rejected with 401"), "{message}");
    assert!(message.contains("p2: circuit open"), "{message}");
    assert_eq!((a.posts(), b.posts()), (1, 1));
    let health: Value = gw.get("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "down", "{health}");
}

// ---- timeouts ----

#[tokio::test]
async fn an_idle_timeout_mid_stream_ends_the_stream_cleanly() {
    let stalls = Behaviour::sse(3, Duration::from_millis(1500));
    let a = MockUpstream::start(stalls);
    let b = MockUpstream::start(Behaviour::sse(3, Duration::ZERO));
    let gw = gateway(&[&a, &b], &["m1"], "  timeouts: { idle: 400ms }\n", "").await;
    let started = Instant::now();
    let response = gw.post_json(CHAT, &chat_stream_body("m1")).await;
    assert_eq!(header(&response, "x-modelgate-provider"), Some("p1"));
    let (events, error) = try_read_sse_events(response).await;
    assert!(error.is_none(), "the body must end cleanly: {error:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "ended by the idle timeout"
    );
    let last = events.last().map(|(_, e)| e.as_str()).unwrap_or_default();
    assert!(last.starts_with("event: error\n"), "{events:?}");
    assert!(last.contains("sent nothing for 400ms"), "{last}");
    assert_eq!(b.posts(), 0, "no retry after bytes went out");
}
