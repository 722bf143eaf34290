//! The failover rules and the gateway's errors (docs/reference.md "Failover rules",
//! docs/http.md "Errors"), proved against the real binary: which upstream failures
//! move on to the next candidate (and that nothing of a failed attempt reaches the
//! client), which pass through untouched, how many attempts are made, and which error
//! the client gets when every candidate failed. Each test starts
//! its own mocks and gateway, so cooldowns of one test cannot leak into another.

use crate::support::{
    assert_openai_error, bases, chat_body, closed_base_url, header, http_client, instances_yaml,
    provider_yaml, Behaviour, Gateway, MockUpstream,
};
use reqwest::Response;
use serde_json::Value;
use std::time::{Duration, Instant};

const CHAT: &str = "/v1/chat/completions";
/// What every test instance serves; all of them, so `m1` fails over in config order.
const MODEL: &str = "m1";
/// A short first-byte deadline for timeout tests.
const FAST_TIMEOUTS: &str = "  timeouts: { first_byte: 300ms }\n";

/// A gateway in front of `bases` (instances `p1`, `p2`, ... serving `m1`, keys
/// `sk-test-1`, ...) plus a healthy `spare` instance serving `spare-model`, to show
/// the gateway still serves after a request whose every candidate failed.
struct Rig {
    gw: Gateway,
    spare: MockUpstream,
}

impl Rig {
    /// `routing` is the indented body of a `routing:` block ("" for the defaults).
    async fn start(bases: &[String], routing: &str) -> Rig {
        let spare = MockUpstream::start(Behaviour::chat_ok());
        let mut yaml = instances_yaml(routing, bases, &[MODEL]);
        let spare_base = spare.base_url();
        yaml.push_str(&provider_yaml("spare", &spare_base, None, &["spare-model"]));
        let builder = Gateway::builder(&yaml).instance_keys(bases.len());
        Rig {
            gw: builder.start().await,
            spare,
        }
    }

    async fn chat(&self) -> Response {
        self.gw.post_json(CHAT, &chat_body(MODEL)).await
    }

    /// A request to the healthy spare instance succeeds: the process is alive and
    /// its listener still serves after whatever came before.
    async fn assert_still_serving(&self) {
        let before = self.spare.hits();
        let response = self.gw.post_json(CHAT, &chat_body("spare-model")).await;
        assert_eq!(response.status(), 200, "follow-up request failed");
        let body: Value = response.json().await.expect("follow-up body is JSON");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(self.spare.hits(), before + 1);
    }
}

/// A 200 chat completion from instance `id` after `attempts` attempts, whose text
/// is `content` (so it really came from that mock, not a failed one).
async fn assert_served(response: Response, id: &str, attempts: u32, content: &str, why: &str) {
    assert_eq!(response.status(), 200, "{why}");
    assert_eq!(header(&response, "x-modelgate-provider"), Some(id), "{why}");
    assert_eq!(header(&response, "x-modelgate-model"), Some(MODEL), "{why}");
    let attempts = attempts.to_string();
    let got = header(&response, "x-modelgate-attempts");
    assert_eq!(got, Some(attempts.as_str()), "{why}");
    assert!(header(&response, "x-request-id").is_some(), "{why}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["object"], "chat.completion", "{why}: {body}");
    assert_eq!(body["choices"][0]["message"]["content"], content, "{why}");
}

/// The gateway's own error: `status`, the envelope with `code`, the attempts made.
async fn assert_gateway_error(response: Response, status: u16, code: &str, attempts: u32) {
    assert_eq!(response.status(), status);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let attempts = attempts.to_string();
    let got = header(&response, "x-modelgate-attempts");
    assert_eq!(got, Some(attempts.as_str()));
    let body: Value = response.json().await.expect("an error envelope");
    assert_eq!(assert_openai_error(&body)["code"], code, "{body}");
}

/// Instance `p1` fails with `first`; `p2` serves. Returns how long the request took.
async fn fails_over_from(first: Behaviour, why: &str) -> Duration {
    let bad = MockUpstream::start(first);
    let good = MockUpstream::start(Behaviour::chat_ok().content("served by p2"));
    let rig = Rig::start(&bases(&[&bad, &good]), FAST_TIMEOUTS).await;
    let started = Instant::now();
    let response = rig.chat().await;
    let took = started.elapsed();
    assert_served(response, "p2", 2, "served by p2", why).await;
    // POSTs: a 401/403 also has the key re-checked with a GET.
    assert_eq!((bad.posts(), good.posts()), (1, 1), "{why}: upstream hits");
    rig.assert_still_serving().await;
    took
}

#[tokio::test]
async fn every_retryable_status_fails_over_to_the_next_instance() {
    for code in [429, 402, 408, 500, 502, 503, 504, 401, 403] {
        fails_over_from(Behaviour::status(code), &format!("first answered {code}")).await;
    }
}

#[tokio::test]
async fn each_instance_gets_its_own_key_on_failover() {
    let bad = MockUpstream::start(Behaviour::status(401));
    let good = MockUpstream::start(Behaviour::chat_ok().content("ok"));
    let rig = Rig::start(&bases(&[&bad, &good]), "").await;
    let response = rig
        .gw
        .post_json_with_key(CHAT, &chat_body(MODEL), "sk-client")
        .await;
    assert_served(response, "p2", 2, "ok", "401 then 200").await;
    let seen = |m: &MockUpstream| {
        m.last_request()
            .expect("a request")
            .header("authorization")
            .map(String::from)
    };
    assert_eq!(seen(&bad).as_deref(), Some("Bearer sk-test-1"));
    assert_eq!(seen(&good).as_deref(), Some("Bearer sk-test-2"));
}

#[tokio::test]
async fn connect_refused_fails_over_to_the_next_instance() {
    let good = MockUpstream::start(Behaviour::chat_ok().content("served by p2"));
    let rig = Rig::start(&[closed_base_url(), good.base_url()], "").await;
    assert_served(rig.chat().await, "p2", 2, "served by p2", "refused").await;
    assert_eq!(good.hits(), 1);
    rig.assert_still_serving().await;
}

#[tokio::test]
async fn a_timeout_before_the_first_byte_fails_over() {
    // The 300ms deadline is what ended the first attempt (the client would give up
    // after 60s, long before the 120s default).
    let took = fails_over_from(Behaviour::hang(), "first never answered").await;
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let slow = Behaviour::chat_ok().delay_head(Duration::from_secs(3));
    let took = fails_over_from(slow, "first answered after 3s").await;
    assert!(
        took < Duration::from_secs(3),
        "waited for the slow head: {took:?}"
    );
}

#[tokio::test]
async fn replies_that_are_not_http_or_not_json_fail_over() {
    fails_over_from(Behaviour::garbage(), "garbage").await;
    fails_over_from(Behaviour::close_immediately(), "closed without a reply").await;
    fails_over_from(Behaviour::bad_json_200(), "200 with an HTML body").await;
}

#[tokio::test]
async fn broken_replies_everywhere_are_502() {
    let mocks = [
        MockUpstream::start(Behaviour::garbage()),
        MockUpstream::start(Behaviour::close_immediately()),
        MockUpstream::start(Behaviour::bad_json_200()),
    ];
    let rig = Rig::start(&bases(&[&mocks[0], &mocks[1], &mocks[2]]), "").await;
    assert_gateway_error(rig.chat().await, 502, "upstream_failed", 3).await;
    let hits: Vec<usize> = mocks.iter().map(MockUpstream::hits).collect();
    assert_eq!(hits, [1, 1, 1]);
    rig.assert_still_serving().await;
}

/// A JSON chat body of about `size` bytes with varied text, so a dropped, duplicated
/// or reordered chunk shows.
fn large_body(size: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    let text: String = (0..size)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (b'a' + (state >> 24) as u8 % 26) as char
        })
        .collect();
    let body = serde_json::json!({
        "model": MODEL,
        "messages": [{ "role": "user", "content": text }],
        "temperature": 0.5,
    });
    body.to_string().into_bytes()
}

#[tokio::test]
async fn a_one_mib_body_is_replayed_byte_identical_after_a_429() {
    let limited = MockUpstream::start(Behaviour::status(429));
    let good = MockUpstream::start(Behaviour::chat_ok().content("big"));
    let rig = Rig::start(&bases(&[&limited, &good]), "").await;
    let sent = large_body(1024 * 1024);
    let response = http_client()
        .post(rig.gw.url(CHAT))
        .header("content-type", "application/json")
        .body(sent.clone())
        .send()
        .await
        .expect("a response");
    assert_served(response, "p2", 2, "big", "1 MiB after a 429").await;
    for (name, mock) in [("p1", &limited), ("p2", &good)] {
        let seen = mock.requests();
        assert_eq!(seen.len(), 1, "{name} hits");
        assert_eq!(seen[0].body.len(), sent.len(), "{name} body length");
        assert!(
            seen[0].body == sent,
            "{name} body differs from the client's"
        );
        let length = seen[0].header("content-length");
        assert_eq!(length, Some(sent.len().to_string().as_str()));
    }
}

#[tokio::test]
async fn the_requests_own_faults_pass_through_untouched() {
    for code in [400, 404, 422] {
        let body = format!(
            "{{ \"error\" : {{\"message\":\"upstream says {code}\",\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":null}} }}\n"
        );
        let content_type = "application/json; charset=utf-8";
        let bad = MockUpstream::start(
            Behaviour::raw(code, content_type, body.clone()).header("x-upstream-detail", "kept"),
        );
        let good = MockUpstream::start(Behaviour::chat_ok());
        let rig = Rig::start(&bases(&[&bad, &good]), "").await;
        let response = rig.chat().await;
        assert_eq!(response.status(), code);
        assert_eq!(header(&response, "content-type"), Some(content_type));
        assert_eq!(header(&response, "x-upstream-detail"), Some("kept"));
        assert_eq!(header(&response, "x-modelgate-provider"), Some("p1"));
        assert_eq!(header(&response, "x-modelgate-attempts"), Some("1"));
        let got = response.bytes().await.expect("a body");
        assert_eq!(String::from_utf8_lossy(&got), body, "{code}: body bytes");
        assert_eq!((bad.hits(), good.hits()), (1, 0), "{code}: no retry");
        rig.assert_still_serving().await;
    }
}

#[tokio::test]
async fn max_attempts_caps_the_upstream_calls() {
    let mocks = [
        MockUpstream::start(Behaviour::status(500)),
        MockUpstream::start(Behaviour::status(503)),
        MockUpstream::start(Behaviour::chat_ok()),
    ];
    let rig = Rig::start(
        &bases(&[&mocks[0], &mocks[1], &mocks[2]]),
        "  max_attempts: 2\n",
    )
    .await;
    assert_gateway_error(rig.chat().await, 502, "upstream_failed", 2).await;
    let hits: Vec<usize> = mocks.iter().map(MockUpstream::hits).collect();
    assert_eq!(hits, [1, 1, 0]);
    rig.assert_still_serving().await;
}

#[tokio::test]
async fn all_rate_limited_is_429_with_the_soonest_retry_after() {
    let a = MockUpstream::start(Behaviour::status(429).retry_after(7));
    let b = MockUpstream::start(Behaviour::status(429).retry_after(3));
    let rig = Rig::start(&bases(&[&a, &b]), "").await;
    let response = rig.chat().await;
    assert_eq!(header(&response, "retry-after"), Some("3"));
    assert_gateway_error(response, 429, "rate_limit_exceeded", 2).await;
    assert_eq!((a.hits(), b.hits()), (1, 1));
    rig.assert_still_serving().await;
}

#[tokio::test]
async fn all_timed_out_is_504() {
    let a = MockUpstream::start(Behaviour::hang());
    let b = MockUpstream::start(Behaviour::chat_ok().delay_head(Duration::from_secs(3)));
    let rig = Rig::start(&bases(&[&a, &b]), FAST_TIMEOUTS).await;
    let started = Instant::now();
    let response = rig.chat().await;
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "two deadlines"
    );
    assert!(header(&response, "retry-after").is_none());
    assert_gateway_error(response, 504, "upstream_timeout", 2).await;
    assert_eq!((a.hits(), b.hits()), (1, 1));
    rig.assert_still_serving().await;
}

#[tokio::test]
async fn rate_limits_mixed_with_errors_are_502() {
    let a = MockUpstream::start(Behaviour::status(429).retry_after(1));
    let b = MockUpstream::start(Behaviour::status(500));
    let rig = Rig::start(&bases(&[&a, &b]), "").await;
    let response = rig.chat().await;
    assert!(header(&response, "retry-after").is_none());
    assert_gateway_error(response, 502, "upstream_failed", 2).await;
    assert_eq!((a.hits(), b.hits()), (1, 1));
    rig.assert_still_serving().await;
}

#[tokio::test]
async fn connect_refused_everywhere_is_502() {
    let rig = Rig::start(&[closed_base_url(), closed_base_url()], "").await;
    assert_gateway_error(rig.chat().await, 502, "upstream_failed", 2).await;
    rig.assert_still_serving().await;
}

#[tokio::test]
async fn nothing_healthy_to_try_is_503_without_an_attempt() {
    let checks = "  health_check: { interval: 100ms, timeout: 100ms }\n";
    let rig = Rig::start(&[closed_base_url(), closed_base_url()], checks).await;
    // Poll /health until the TCP checks took both closed addresses out.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health: Value = rig.gw.get("/health").await.json().await.expect("JSON");
        let states: Vec<&Value> = health["providers"]
            .as_array()
            .expect("providers")
            .iter()
            .filter(|p| p["id"] != "spare")
            .map(|p| &p["state"])
            .collect();
        if states.iter().all(|s| *s == "unhealthy") {
            break;
        }
        assert!(Instant::now() < deadline, "never unhealthy: {health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = rig.chat().await;
    assert_eq!(response.status(), 503);
    assert!(header(&response, "x-modelgate-attempts").is_none());
    let body: Value = response.json().await.expect("an error envelope");
    let code = &assert_openai_error(&body)["code"];
    assert_eq!(code, "no_available_provider", "{body}");
    rig.assert_still_serving().await;
}

/// A reply that is not HTTP is an answer from that instance, not a stale pooled
/// connection: it counts as one attempt, and the request is not sent to the same
/// instance again (max_attempts counts upstream calls).
#[tokio::test]
async fn garbage_on_a_pooled_connection_is_not_sent_again() {
    let bad = MockUpstream::start(Behaviour::chat_ok());
    let good = MockUpstream::start(Behaviour::chat_ok().content("served by p2"));
    let rig = Rig::start(&bases(&[&bad, &good]), "").await;
    // Warm up: p1 serves, and its connection goes back to the gateway's pool.
    assert_served(
        rig.chat().await,
        "p1",
        1,
        "Hello from the mock upstream.",
        "warm",
    )
    .await;
    assert_eq!((bad.hits(), bad.connections()), (1, 1));
    bad.set_behaviour(Behaviour::garbage());
    let response = rig.chat().await;
    assert_served(response, "p2", 2, "served by p2", "garbage when warm").await;
    assert_eq!(bad.hits(), 2, "p1 got the request more than once");
    assert_eq!(good.hits(), 1);
}
