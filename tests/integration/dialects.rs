//! Across dialects, through the real binary: Anthropic pass-through stays
//! byte for byte, each provider's rate-limit hints set cooldowns, Anthropic's
//! 529 and Gemini's bad-key 400 fail over (across dialects too), a translated
//! stream cut mid-way ends in the client's error event, and Gemini's thought
//! signature survives a tool loop through OpenAI-shaped history.

use crate::support::{
    anthropic_event, header, read_sse_events, sse_data, Behaviour, Gateway, MockUpstream,
    MOCK_THOUGHT_SIGNATURE,
};
use serde_json::{json, Value};
use std::time::Duration;

/// One `providers:` entry of `kind` at `base` (with `${KEY_<n>}`).
fn entry(id: &str, kind: &str, base: &str, n: usize, models: &[&str]) -> String {
    format!(
        "  - id: {id}\n    type: {kind}\n    base_url: {base}\n    api_key: ${{KEY_{n}}}\n    models: [{}]\n",
        models.join(", ")
    )
}

async fn gateway(entries: &[String], extra: &str) -> Gateway {
    let yaml = format!(
        "routing:\n  health_check: {{ interval: 1h, timeout: 2s }}\nproviders:\n{}{extra}",
        entries.concat()
    );
    Gateway::builder(&yaml)
        .instance_keys(entries.len())
        .start()
        .await
}

fn anthropic_url(mock: &MockUpstream) -> String {
    mock.url("/v1")
}

fn gemini_url(mock: &MockUpstream) -> String {
    mock.url("/v1beta")
}

async fn post(
    gw: &Gateway,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = gw.client().post(gw.url(path)).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request")
}

async fn health(gw: &Gateway) -> Value {
    gw.get("/health").await.json().await.expect("health JSON")
}

fn provider<'a>(health: &'a Value, id: &str) -> &'a Value {
    (health["providers"].as_array().expect("providers").iter())
        .find(|p| p["id"] == id)
        .expect("instance in /health")
}

#[tokio::test]
async fn an_anthropic_client_of_an_anthropic_provider_passes_through_byte_for_byte() {
    let mock = MockUpstream::start(Behaviour::sse(4, Duration::ZERO));
    let gw = gateway(
        &[entry(
            "a1",
            "anthropic-compatible",
            &anthropic_url(&mock),
            1,
            &["claude-x"],
        )],
        "",
    )
    .await;
    // Odd spacing, key order and fields no translator knows: all kept.
    let body = r#"{ "model" : "claude-x","max_tokens":50,  "stream":true, "messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}],"context_management":{"edits":[]},"zz_future_field":1}"#;
    let response = gw
        .client()
        .post(gw.url("/v1/messages?beta=true"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "context-management-2025-06-27,claude-code-20250219",
        )
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let received = read_sse_events(response).await;
    let seen = mock.last_request().expect("request");
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.body_str(), body, "the body went upstream untouched");
    assert_eq!(
        seen.header("anthropic-beta"),
        Some("context-management-2025-06-27,claude-code-20250219")
    );
    assert_eq!(seen.header("x-api-key"), Some("sk-test-1"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    // The stream came back as the provider sent it, event for event.
    let sent: Vec<String> = mock.sent_events().into_iter().map(|e| e.event).collect();
    let got: Vec<String> = received.into_iter().map(|(_, e)| e).collect();
    assert_eq!(got, sent);
}

#[tokio::test]
async fn thinking_the_gateway_made_never_reaches_an_anthropic_provider() {
    let mock = MockUpstream::start(Behaviour::ok());
    let gw = gateway(
        &[entry(
            "a1",
            "anthropic-compatible",
            &anthropic_url(&mock),
            1,
            &["claude-x"],
        )],
        "",
    )
    .await;
    let body = json!({"model": "claude-x", "max_tokens": 50, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "from another provider", "signature": "modelgate-unsigned-thinking"},
            {"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "more"}]});
    let response = post(&gw, "/v1/messages", &body, &[]).await;
    assert_eq!(response.status(), 200);
    let sent = mock.last_request().expect("request").json();
    assert_eq!(
        sent["messages"][1]["content"],
        json!([{"type": "text", "text": "Hello."}])
    );
}

#[tokio::test]
async fn anthropic_and_gemini_rate_limit_hints_set_the_cooldown() {
    let anthropic = MockUpstream::start(Behaviour::status(429).retry_after(40));
    let gemini = MockUpstream::start(Behaviour::status(429).retry_delay(70));
    let gw = gateway(
        &[
            entry(
                "a1",
                "anthropic-compatible",
                &anthropic_url(&anthropic),
                1,
                &["m"],
            ),
            entry("g1", "gemini", &gemini_url(&gemini), 2, &["m"]),
        ],
        "",
    )
    .await;
    let response = post(
        &gw,
        "/v1/chat/completions",
        &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        &[],
    )
    .await;
    assert_eq!(response.status(), 429);
    let retry: u64 = header(&response, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!(
        (35..=40).contains(&retry),
        "the soonest hint is Anthropic's 40 s: {retry}"
    );
    let h = health(&gw).await;
    let a = provider(&h, "a1")["cooling_down"]["m"]
        .as_u64()
        .expect("a1 cooling");
    let g = provider(&h, "g1")["cooling_down"]["m"]
        .as_u64()
        .expect("g1 cooling");
    assert!((35..=40).contains(&a), "{h}");
    assert!(
        (65..=70).contains(&g),
        "Gemini's RetryInfo in the body: {h}"
    );
    // Cooling: the next request calls nobody.
    let response = post(
        &gw,
        "/v1/chat/completions",
        &json!({"model": "m", "messages": []}),
        &[],
    )
    .await;
    assert_eq!(response.status(), 429);
    assert_eq!((anthropic.posts(), gemini.posts()), (1, 1));
}

#[tokio::test]
async fn an_overloaded_anthropic_provider_fails_over_to_another_dialect() {
    let anthropic = MockUpstream::start(Behaviour::status(529));
    let openai =
        MockUpstream::start(Behaviour::ok().content("served by the OpenAI-format instance"));
    let gw = gateway(
        &[
            entry(
                "a1",
                "anthropic-compatible",
                &anthropic_url(&anthropic),
                1,
                &["claude-x"],
            ),
            entry("o1", "openai-compatible", &openai.url("/v1"), 2, &["llama"]),
        ],
        "models:\n  - name: \"claude-*\"\n    targets: [ { provider: a1 }, { model: llama } ]\n",
    )
    .await;
    let body = json!({"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    let response = post(
        &gw,
        "/v1/messages",
        &body,
        &[("anthropic-version", "2023-06-01")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-modelgate-provider"), Some("o1"));
    assert_eq!(header(&response, "x-modelgate-attempts"), Some("2"));
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["type"], "message");
    assert_eq!(
        v["content"][0]["text"],
        "served by the OpenAI-format instance"
    );
    assert_eq!(anthropic.posts(), 1);
    assert_eq!(
        openai.last_request().expect("request").path,
        "/v1/chat/completions"
    );
}

#[tokio::test]
async fn a_gemini_key_rejected_with_a_400_fails_over_and_leaves_rotation() {
    let bad_key = r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#;
    let gemini = MockUpstream::start(Behaviour::raw(400, "application/json", bad_key));
    let openai = MockUpstream::start(Behaviour::ok().content("from o1"));
    let gw = gateway(
        &[
            entry("g1", "gemini", &gemini_url(&gemini), 1, &["m"]),
            entry("o1", "openai-compatible", &openai.url("/v1"), 2, &["m"]),
        ],
        "",
    )
    .await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let response = post(&gw, "/v1/chat/completions", &body, &[]).await;
    assert_eq!(
        response.status(),
        200,
        "not the client's fault: failed over"
    );
    assert_eq!(header(&response, "x-modelgate-provider"), Some("o1"));
    // The key is re-checked (its model list answers 400 too) and leaves rotation.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let h = health(&gw).await;
        if provider(&h, "g1")["state"] == "disabled" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never disabled: {h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    post(&gw, "/v1/chat/completions", &body, &[]).await;
    assert_eq!(
        gemini.posts(),
        1,
        "no request went to the rejected key again"
    );
}

#[tokio::test]
async fn a_translated_stream_cut_mid_way_ends_with_the_clients_error_event() {
    // Anthropic client, OpenAI-format provider.
    let openai = MockUpstream::start(Behaviour::cut_after(2));
    let gw = gateway(
        &[entry(
            "o1",
            "openai-compatible",
            &openai.url("/v1"),
            1,
            &["m"],
        )],
        "",
    )
    .await;
    let body = json!({"model": "m", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = post(&gw, "/v1/messages", &body, &[]).await;
    assert_eq!(response.status(), 200);
    let events = read_sse_events(response).await;
    let (name, data) = anthropic_event(&events.last().expect("events").1);
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert_eq!(anthropic_event(&events[0].1).0, "message_start");
    // OpenAI client, Anthropic-format provider.
    let anthropic = MockUpstream::start(Behaviour::cut_after(2));
    let gw = gateway(
        &[entry(
            "a1",
            "anthropic-compatible",
            &anthropic_url(&anthropic),
            1,
            &["m"],
        )],
        "",
    )
    .await;
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = post(&gw, "/v1/chat/completions", &body, &[]).await;
    assert_eq!(response.status(), 200);
    let events = read_sse_events(response).await;
    let last = &events.last().expect("events").1;
    assert!(last.starts_with("event: error"), "{last}");
    let data: Value = serde_json::from_str(&sse_data(last).expect("data")).expect("json");
    assert!(data["error"]["message"].is_string(), "{data}");
    assert!(!events.iter().any(|(_, e)| e.contains("[DONE]")));
}

#[tokio::test]
async fn a_gemini_thought_signature_survives_a_tool_loop_through_an_openai_client() {
    let gemini = MockUpstream::start(Behaviour::sequence(vec![
        Behaviour::tool_call("get_weather", json!({"city": "Paris"})),
        Behaviour::ok().content("Sunny in Paris."),
    ]));
    let gw = gateway(
        &[entry(
            "g1",
            "gemini",
            &gemini_url(&gemini),
            1,
            &["gemini-2.5-flash"],
        )],
        "",
    )
    .await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let mut messages = vec![json!({"role": "user", "content": "Weather in Paris?"})];
    let body = json!({"model": "gemini-2.5-flash", "messages": messages, "tools": tools});
    let first: Value = post(&gw, "/v1/chat/completions", &body, &[])
        .await
        .json()
        .await
        .expect("json");
    let choice = &first["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{first}");
    let call = choice["message"]["tool_calls"][0].clone();
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("args")).expect("json");
    assert_eq!(args, json!({"city": "Paris"}));
    // The client sends the history back as OpenAI clients do: the call as
    // it got it, then the result.
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": [call.clone()]}));
    messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny"}));
    let body = json!({"model": "gemini-2.5-flash", "messages": messages, "tools": tools});
    let second = post(&gw, "/v1/chat/completions", &body, &[]).await;
    assert_eq!(second.status(), 200);
    let v: Value = second.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "Sunny in Paris.");
    // Gemini got its signature back on the call, and the result by name.
    let sent = gemini.last_request().expect("request").json();
    let contents = sent["contents"].as_array().expect("contents");
    let call_part = contents
        .iter()
        .flat_map(|c| c["parts"].as_array().into_iter().flatten())
        .find(|p| p.get("functionCall").is_some())
        .expect("the call in the history");
    assert_eq!(call_part["thoughtSignature"], MOCK_THOUGHT_SIGNATURE);
    let response_part = contents
        .iter()
        .flat_map(|c| c["parts"].as_array().into_iter().flatten())
        .find(|p| p.get("functionResponse").is_some())
        .expect("the result");
    assert_eq!(response_part["functionResponse"]["name"], "get_weather");
    assert!(response_part["functionResponse"]["response"].is_object());
}

#[tokio::test]
async fn count_tokens_is_exact_from_an_anthropic_provider() {
    let anthropic = MockUpstream::start(Behaviour::raw(
        200,
        "application/json",
        r#"{"input_tokens":4242}"#,
    ));
    let gw = gateway(
        &[entry(
            "a1",
            "anthropic-compatible",
            &anthropic_url(&anthropic),
            1,
            &["claude-x"],
        )],
        "",
    )
    .await;
    let body = json!({"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]});
    let response = post(&gw, "/v1/messages/count_tokens", &body, &[]).await;
    assert_eq!(response.status(), 200);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["input_tokens"], 4242);
    assert_eq!(
        anthropic.last_request().expect("request").path,
        "/v1/messages/count_tokens"
    );
}

#[tokio::test]
async fn a_route_no_candidate_can_serve_is_a_clear_400() {
    let gemini = MockUpstream::start(Behaviour::ok());
    let gw = gateway(
        &[entry(
            "g1",
            "gemini",
            &gemini_url(&gemini),
            1,
            &["gemini-embed"],
        )],
        "",
    )
    .await;
    let response = post(
        &gw,
        "/v1/embeddings",
        &json!({"model": "gemini-embed", "input": "hi"}),
        &[],
    )
    .await;
    assert_eq!(response.status(), 400);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["error"]["code"], "unsupported_route");
    assert_eq!(gemini.posts(), 0);
}
