//! What an operator sees (issue 4): Prometheus metrics on the admin listener after a
//! known mix of requests, and exactly one parseable JSON access-log line per request
//! with the fields the issue lists, never a secret.

use crate::support::{
    chat_body, chat_stream_body, metric, read_sse_events, Behaviour, Gateway, MockUpstream,
    MOCK_PROMPT_TOKENS,
};
use serde_json::Value;
use std::time::Duration;

const CHAT: &str = "/v1/chat/completions";
const GW_KEY: &str = "gw-secret-alice-123";
const UP_KEY: &str = "sk-upstream-secret-456";

/// p1 answers one 429 (Retry-After 30) and then serves; p2 serves `m1`; p3 streams `s1`.
async fn rig() -> (Gateway, [MockUpstream; 3]) {
    let limited = Behaviour::status(429).retry_after(30);
    let p1 = MockUpstream::start(Behaviour::sequence(vec![limited, Behaviour::chat_ok()]));
    let p2 = MockUpstream::start(Behaviour::chat_ok());
    let p3 = MockUpstream::start(Behaviour::sse(4, Duration::ZERO));
    let yaml = format!(
        "auth:\n  keys:\n    - {{ name: alice, key: \"{GW_KEY}\" }}\nproviders:\n\
         \x20 - {{ id: p1, type: openai-compatible, base_url: \"{}\", api_key: \"${{UP}}\", models: [m1] }}\n\
         \x20 - {{ id: p2, type: openai-compatible, base_url: \"{}\", api_key: \"${{UP}}\", models: [m1] }}\n\
         \x20 - {{ id: p3, type: openai-compatible, base_url: \"{}\", models: [s1] }}\n",
        p1.base_url(),
        p2.base_url(),
        p3.base_url()
    );
    let gw = Gateway::builder(&yaml)
        .env("UP", UP_KEY)
        .admin_listen()
        .start()
        .await;
    (gw, [p1, p2, p3])
}

/// Sends the known mix: 3 chats for `m1` (the first fails over from p1's 429), one
/// stream for `s1`, one unknown model, one pinned model the config does not list.
async fn send_mix(gw: &Gateway) {
    for _ in 0..3 {
        let r = gw.post_json_with_key(CHAT, &chat_body("m1"), GW_KEY).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-modelgate-provider"], "p2");
    }
    let r = gw
        .post_json_with_key(CHAT, &chat_stream_body("s1"), GW_KEY)
        .await;
    assert_eq!(r.status(), 200);
    // 4 chunks, finish, [DONE]: the usage-only chunk the gateway asked for is not the
    // client's (it did not ask), yet its counts reach the metrics and the log.
    assert_eq!(read_sse_events(r).await.len(), 6);
    let r = gw
        .post_json_with_key(CHAT, &chat_body("no-such-model"), GW_KEY)
        .await;
    assert_eq!(r.status(), 404);
    let r = gw
        .post_json_with_key(CHAT, &chat_body("p2/unlisted"), GW_KEY)
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn metrics_count_a_known_mix_of_requests() {
    let (gw, _mocks) = rig().await;
    send_mix(&gw).await;
    // Metrics are recorded after each response is sent: wait for the last one.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = gw
            .client()
            .get(gw.admin_url("/metrics"))
            .send()
            .await
            .unwrap();
        let text = text.text().await.unwrap();
        if metric(&text, "modelgate_requests_in_flight", &[]) == Some(0.0) {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "requests never finished:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let at = |name: &str, labels: &[(&str, &str)]| {
        metric(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{text}"))
    };
    let req = "modelgate_requests_total";
    let chat_200 = [("route", "chat"), ("status", "200")];
    assert_eq!(
        at(
            req,
            &[&chat_200[..], &[("model", "m1"), ("instance", "p2")]].concat()
        ),
        3.0
    );
    assert_eq!(
        at(
            req,
            &[&chat_200[..], &[("model", "s1"), ("instance", "p3")]].concat()
        ),
        1.0
    );
    assert_eq!(
        at(
            req,
            &[("model", "other"), ("status", "404"), ("instance", "-")]
        ),
        1.0
    );
    assert_eq!(
        at(
            req,
            &[&chat_200[..], &[("model", "other"), ("instance", "p2")]].concat()
        ),
        1.0
    );
    let attempts = "modelgate_upstream_attempts_total";
    assert_eq!(at(attempts, &[("instance", "p1"), ("outcome", "429")]), 1.0);
    assert_eq!(at(attempts, &[("instance", "p2"), ("outcome", "200")]), 4.0);
    assert_eq!(at("modelgate_failovers_total", &[("instance", "p1")]), 1.0);
    assert_eq!(
        at(
            "modelgate_time_to_first_byte_seconds_count",
            &[("route", "chat")]
        ),
        6.0
    );
    let streamed = [("route", "chat"), ("stream", "true")];
    assert_eq!(
        at("modelgate_request_duration_seconds_count", &streamed),
        1.0
    );
    assert_eq!(
        at(
            "modelgate_request_duration_seconds_count",
            &[("route", "chat"), ("stream", "false")]
        ),
        5.0
    );
    assert_eq!(at("modelgate_gateway_overhead_seconds_count", &[]), 5.0);
    let tokens = "modelgate_tokens_total";
    let prompt = at(
        tokens,
        &[("instance", "p2"), ("model", "m1"), ("kind", "prompt")],
    );
    assert_eq!(prompt, 3.0 * MOCK_PROMPT_TOKENS as f64);
    assert_eq!(
        at(
            tokens,
            &[("instance", "p2"), ("model", "m1"), ("kind", "completion")]
        ),
        15.0
    );
    assert_eq!(
        at(
            tokens,
            &[("instance", "p3"), ("model", "s1"), ("kind", "completion")]
        ),
        4.0
    );
    assert_eq!(
        at(
            "modelgate_instance_state",
            &[("instance", "p1"), ("state", "cooling_down")]
        ),
        1.0
    );
    assert_eq!(
        at(
            "modelgate_instance_state",
            &[("instance", "p1"), ("state", "healthy")]
        ),
        0.0
    );
    assert_eq!(
        at(
            "modelgate_instance_state",
            &[("instance", "p2"), ("state", "healthy")]
        ),
        1.0
    );
    let retry = at("modelgate_instance_retry_in_seconds", &[("instance", "p1")]);
    assert!((25.0..=30.0).contains(&retry), "{retry}");
    assert_eq!(at("modelgate_requests_in_flight", &[]), 0.0);
    assert_eq!(at("modelgate_open_streams", &[]), 0.0);
    for secret in [GW_KEY, UP_KEY, "no-such-model", "unlisted"] {
        assert!(!text.contains(secret), "{secret} in metrics");
    }
}

#[tokio::test]
async fn the_access_log_has_one_json_line_per_request() {
    let (gw, _mocks) = rig().await;
    send_mix(&gw).await;
    // Each line is written after its response went out: wait for the last.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (out, lines) = loop {
        let out = gw.stdout();
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        // The harness's readiness probes of /health are requests too.
        if lines.iter().filter(|l| l["route"] == "chat").count() >= 6 {
            break (out, lines);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lines missing:\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let routed: Vec<&Value> = lines.iter().filter(|l| l["route"] == "chat").collect();
    assert_eq!(routed.len(), 6, "{out}");
    let first = routed[0];
    for field in [
        "time",
        "request_id",
        "bytes_in",
        "bytes_out",
        "ttfb_ms",
        "duration_ms",
    ] {
        assert!(!first[field].is_null(), "{field} missing: {first}");
    }
    assert_eq!(first["key"], "alice");
    assert_eq!(first["model"], "m1");
    assert_eq!(first["instance"], "p2");
    assert_eq!(first["upstream_model"], "m1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["stream"], false);
    let attempts: Vec<(&str, &str)> = first["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["instance"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [("p1", "429"), ("p2", "200")]);
    assert_eq!(first["usage"]["prompt_tokens"], MOCK_PROMPT_TOKENS);
    assert!(first["bytes_out"].as_u64().unwrap() > 100);
    let stream = routed[3];
    assert_eq!(stream["stream"], true);
    assert_eq!(stream["usage"]["completion_tokens"], 4);
    let missing = routed[4];
    assert_eq!(missing["status"], 404);
    assert!(missing["attempts"].as_array().unwrap().is_empty());
    assert!(missing["ttfb_ms"].as_f64().is_some());
    for secret in [GW_KEY, UP_KEY] {
        assert!(!gw.logs().contains(secret), "{secret} logged");
    }
}
