//! `POST /v1/messages` (Anthropic's Messages API, what Claude Code and the
//! Anthropic SDKs speak) served by an OpenAI-format provider: the request is
//! translated per attempt, the reply back, whole or event by event; errors
//! come in Anthropic's envelope; failover works as for chat.

use crate::support::{
    bases, header, instances_yaml, read_sse_events, sse_data, Behaviour, Gateway, MockUpstream,
};
use serde_json::{json, Value};
use std::time::Duration;

const MESSAGES: &str = "/v1/messages?beta=true";

fn anthropic_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 64000,
        "stream": stream,
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cc_entrypoint=cli;"},
                   {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": []},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "say hi"}]}],
    })
}

async fn gateway(mocks: &[&MockUpstream], models: &[&str]) -> Gateway {
    let yaml = instances_yaml("", &bases(mocks), models);
    Gateway::builder(&yaml)
        .instance_keys(mocks.len())
        .start()
        .await
}

async fn post(gw: &Gateway, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = gw.client().post(gw.url(MESSAGES)).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("POST /v1/messages")
}

const CLAUDE_HEADERS: &[(&str, &str)] = &[
    ("anthropic-version", "2023-06-01"),
    (
        "anthropic-beta",
        "claude-code-20250219,context-management-2025-06-27",
    ),
];

#[tokio::test]
async fn a_messages_request_is_served_by_an_openai_provider_and_answered_as_a_message() {
    let mock = MockUpstream::start(Behaviour::chat_ok().content("Hi there."));
    let gw = gateway(&[&mock], &["m1"]).await;
    let response = post(&gw, &anthropic_body("m1", false), CLAUDE_HEADERS).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(header(&response, "x-modelgate-provider"), Some("p1"));
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "m1");
    assert_eq!(
        v["content"][0],
        json!({"type": "text", "text": "Hi there."})
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["usage"]["input_tokens"].as_u64().is_some(), "{v}");
    // What the provider got: OpenAI chat, with none of Anthropic's fields
    // or headers.
    let seen = mock.last_request().expect("request");
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("anthropic-beta"), None);
    assert_eq!(seen.header("anthropic-version"), None);
    let sent = seen.json();
    assert_eq!(sent["model"], "m1");
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][0]["content"], "You are terse.");
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "say hi"})
    );
    for dropped in ["thinking", "context_management", "system", "stream_options"] {
        assert!(sent.get(dropped).is_none(), "{dropped} sent: {sent}");
    }
}

#[tokio::test]
async fn a_streamed_messages_request_gets_anthropic_events_as_they_arrive() {
    let mock = MockUpstream::start(Behaviour::sse(6, Duration::from_millis(150)));
    let gw = gateway(&[&mock], &["m1"]).await;
    let response = post(&gw, &anthropic_body("m1", true), CLAUDE_HEADERS).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    let events = read_sse_events(response).await;
    // Every event names itself on an `event:` line, in Anthropic's order.
    let names: Vec<String> = events
        .iter()
        .filter_map(|(_, e)| {
            e.lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert!(
        names.contains(&"content_block_delta".to_string()),
        "{names:?}"
    );
    let text: String = events
        .iter()
        .filter_map(|(_, e)| sse_data(e))
        .filter_map(|d| serde_json::from_str::<Value>(&d).ok())
        .filter(|v| v["type"] == "content_block_delta")
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert!(!text.is_empty());
    // The provider was asked for usage, so the final count is exact.
    let sent = mock.last_request().expect("request").json();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    let delta = events
        .iter()
        .filter_map(|(_, e)| sse_data(e))
        .filter_map(|d| serde_json::from_str::<Value>(&d).ok())
        .find(|v| v["type"] == "message_delta")
        .expect("message_delta");
    assert!(
        delta["usage"]["output_tokens"].as_u64().is_some(),
        "{delta}"
    );
    // A stream: the first event reached the client long before the
    // provider sent its last.
    let sent_events = mock.sent_events();
    let last_sent = sent_events.last().expect("sent").at;
    let first_read = events.first().expect("events").0;
    assert!(first_read + Duration::from_millis(300) < last_sent);
}

#[tokio::test]
async fn provider_errors_reach_an_anthropic_client_in_its_envelope() {
    let mock =
        MockUpstream::start(Behaviour::status(400).error_message("max_tokens is too large: 64000"));
    let gw = gateway(&[&mock], &["m1"]).await;
    let response = post(&gw, &anthropic_body("m1", false), CLAUDE_HEADERS).await;
    assert_eq!(response.status(), 400);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["message"], "max_tokens is too large: 64000");
    // The gateway's own errors too.
    let response = post(&gw, &anthropic_body("nope", false), CLAUDE_HEADERS).await;
    assert_eq!(response.status(), 404);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "not_found_error");
    let response = post(&gw, &json!({"model": "m1", "messages": "hi"}), &[]).await;
    assert_eq!(response.status(), 400);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
}

#[tokio::test]
async fn a_failed_provider_is_failed_over_before_the_anthropic_client_sees_a_byte() {
    let down = MockUpstream::start(Behaviour::status(503));
    let up = MockUpstream::start(Behaviour::sse(3, Duration::ZERO));
    let gw = gateway(&[&down, &up], &["m1"]).await;
    let response = post(&gw, &anthropic_body("m1", true), CLAUDE_HEADERS).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-modelgate-provider"), Some("p2"));
    assert_eq!(header(&response, "x-modelgate-attempts"), Some("2"));
    let events = read_sse_events(response).await;
    assert!(events
        .iter()
        .any(|(_, e)| e.starts_with("event: message_stop")));
    assert_eq!(down.posts(), 1);
}

#[tokio::test]
async fn count_tokens_is_estimated_when_no_anthropic_provider_can_count() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&mock], &["m1"]).await;
    let body = json!({"model": "m1", "messages": [{"role": "user", "content": "Hello, how are you today?"}]});
    let response = gw
        .client()
        .post(gw.url("/v1/messages/count_tokens?beta=true"))
        .json(&body)
        .send()
        .await
        .expect("count_tokens");
    assert_eq!(response.status(), 200);
    let v: Value = response.json().await.expect("json");
    let n = v["input_tokens"].as_u64().expect("input_tokens");
    assert!((5..100).contains(&n), "{n}");
    assert_eq!(mock.posts(), 0, "no provider was asked");
}

#[tokio::test]
async fn the_model_list_takes_anthropics_shape_for_an_anthropic_client() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let gw = gateway(&[&mock], &["claude-sonnet-4-5"]).await;
    let response = gw
        .client()
        .get(gw.url("/v1/models?limit=1000"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("models");
    assert_eq!(response.status(), 200);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["has_more"], false);
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"claude-sonnet-4-5"), "{ids:?}");
    assert_eq!(v["data"][0]["type"], "model");
    assert_eq!(v["first_id"], v["data"][0]["id"]);
    let plain: Value = gw.get("/v1/models").await.json().await.expect("json");
    assert_eq!(plain["object"], "list");
}

#[tokio::test]
async fn claude_codes_max_tokens_is_clamped_to_the_models_limit() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let base = mock.url("/v1");
    let yaml = format!(
        "providers:\n  - id: p1\n    type: openai-compatible\n    base_url: {base}\n    models:\n      - {{ name: m1, max_output_tokens: 8192 }}\n      - m2\n"
    );
    let gw = Gateway::builder(&yaml).start().await;
    let response = post(&gw, &anthropic_body("m1", false), CLAUDE_HEADERS).await;
    assert_eq!(response.status(), 200);
    let sent = mock.last_request().expect("request").json();
    assert_eq!(
        sent["max_tokens"], 8192,
        "64000 asked, 8192 the model's limit"
    );
    // A model without a limit gets what the client asked.
    let response = post(&gw, &anthropic_body("m2", false), CLAUDE_HEADERS).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        mock.last_request().expect("request").json()["max_tokens"],
        64000
    );
}
