//! The `anthropic` SDK's Messages API (`messages.create`, `messages.stream`, the beta
//! surface, `count_tokens`) against OpenAI, Anthropic and Gemini providers: translated
//! where the dialects differ, passed through byte for byte where they match; errors as
//! the SDK's exception classes; failover across dialects.

use super::{gateway, instance, parts_text, posts, run, single, text_of, Sdk, Upstream};
use crate::support::{Behaviour, MockUpstream, MOCK_THOUGHT_SIGNATURE};
use serde_json::{json, Value};

const REPLY: &str = "Hello from the provider behind modelgate.";
const ANSWER: &str = "It is 18 degrees and sunny in Paris.";

/// Anthropic's usage: `input_tokens` leaves out the cache reads.
fn assert_usage(usage: &Value, input: u64, output: u64, cache_read: u64) {
    assert_eq!(usage["input_tokens"], input, "{usage}");
    assert_eq!(usage["output_tokens"], output, "{usage}");
    assert_eq!(usage["cache_read_input_tokens"], cache_read, "{usage}");
}

/// A message, then the SDK's stream helper: the provider's text and usage (30 prompt
/// tokens of which 12 cached, 7 completion) in Anthropic's terms, events in its order.
async fn text_through(kind: Upstream) -> Vec<Value> {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY).usage(30, 7, 12));
    let gw = single(kind, &mock).await;
    let out = run(Sdk::Anthropic, "text", &gw, kind.model()).await;
    assert_eq!(out["type"], "message", "{out}");
    assert_eq!(out["text"], REPLY, "{out}");
    assert_eq!(out["stop_reason"], "end_turn", "{out}");
    assert_usage(&out["usage"], 18, 7, 12);
    let stream = &out["stream"];
    assert_eq!(stream["text"], REPLY, "{out}");
    assert_eq!(stream["stop_reason"], "end_turn", "{out}");
    assert_usage(&stream["usage"], 18, 7, 12);
    let types = stream["types"].as_array().expect("event types");
    assert_eq!(types.first(), Some(&json!("message_start")), "{out}");
    assert_eq!(types.last(), Some(&json!("message_stop")), "{out}");
    assert!(types.contains(&json!("content_block_delta")), "{out}");

    let seen = posts(&mock);
    assert_eq!(seen.len(), 2, "one request per call");
    for (request, stream) in seen.iter().zip([false, true]) {
        assert_eq!(request.path, kind.path(kind.model(), stream));
        kind.assert_auth(request, 1);
    }
    seen.iter().map(|r| r.json()).collect()
}

#[tokio::test]
async fn sdk_anthropic_gets_a_message_and_a_stream_from_openai() {
    let bodies = text_through(Upstream::OpenAi).await;
    for (body, stream) in bodies.iter().zip([false, true]) {
        assert_eq!(body["model"], "gpt-x");
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages[0]["role"], "system", "{body}");
        assert_eq!(text_of(&messages[0]["content"]), "Be terse.");
        assert_eq!(messages[1]["role"], "user", "{body}");
        assert_eq!(text_of(&messages[1]["content"]), "Say hi");
        assert_eq!(body["stream"].as_bool().unwrap_or(false), stream, "{body}");
        if stream {
            // Exact usage needs the provider to send it.
            assert_eq!(body["stream_options"]["include_usage"], true, "{body}");
        }
    }
}

#[tokio::test]
async fn sdk_anthropic_gets_a_message_and_a_stream_from_gemini() {
    let bodies = text_through(Upstream::Gemini).await;
    for body in &bodies {
        assert_eq!(
            parts_text(&body["systemInstruction"]),
            "Be terse.",
            "{body}"
        );
        assert_eq!(body["contents"][0]["role"], "user", "{body}");
        assert_eq!(parts_text(&body["contents"][0]), "Say hi", "{body}");
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 100, "{body}");
    }
}

/// Anthropic behind Anthropic is the identity: the beta call's body reaches the
/// provider exactly as the SDK sent it but for the model (an alias here), with its
/// `anthropic-beta` header, `cache_control` and `context_management`; the stream comes
/// back byte for byte.
#[tokio::test]
async fn sdk_anthropic_passes_through_to_anthropic_byte_for_byte() {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY).usage(30, 7, 12));
    let a1 = instance("a1", Upstream::Anthropic, &mock, 1, &["claude-x"]);
    let alias = "models:\n  - name: smart\n    targets: [ { provider: a1, model: claude-x } ]\n";
    let gw = gateway(&[a1], alias).await;
    let out = run(Sdk::Anthropic, "passthrough", &gw, "smart").await;
    assert_eq!(out["text"], REPLY, "{out}");
    assert_usage(&out["usage"], 18, 7, 12);
    assert_eq!(out["stream"]["text"], REPLY, "{out}");

    let seen = posts(&mock);
    let sent = out["sent"].as_array().expect("what the SDK sent");
    assert_eq!(seen.len(), 3, "create, raw stream, stream helper");
    assert_eq!(sent.len(), 3, "{out}");
    for (request, client) in seen.iter().zip(sent) {
        let client_body = client["body"].as_str().expect("body");
        let want = replace_model(client_body, "smart", "claude-x");
        assert_eq!(request.body_str(), want, "only the model may change");
        Upstream::Anthropic.assert_auth(request, 1);
        assert!(request.path.starts_with("/v1/messages"), "{}", request.path);
        assert_eq!(
            request.header("anthropic-beta"),
            client["headers"]["anthropic-beta"].as_str()
        );
    }
    let beta = seen[0].json();
    assert_eq!(
        seen[0].header("anthropic-beta"),
        Some("context-management-2025-06-27")
    );
    assert_eq!(
        beta["system"][0]["cache_control"],
        json!({"type": "ephemeral"}),
        "{beta}"
    );
    assert_eq!(beta["context_management"], json!({"edits": []}), "{beta}");

    // The raw stream the SDK read is what the provider wrote.
    let index = mock
        .requests()
        .iter()
        .position(|r| r.method == "POST" && r.body == seen[1].body && r.at == seen[1].at)
        .expect("the streamed request");
    let written: String = (mock.sent_events().into_iter())
        .filter(|e| e.request == index)
        .map(|e| format!("{}\n\n", e.event))
        .collect();
    assert!(written.contains("event: message_stop"), "{written}");
    assert_eq!(
        out["raw_stream"], written,
        "the stream is passed through untouched"
    );
}

/// On pass-through the provider must see the client's `anthropic-version` (the headers
/// allow-list forwards it there): it decides the shape of the reply the SDK then parses.
/// The SDK sends its own, newer than the gateway's `2023-06-01`.
#[tokio::test]
async fn sdk_anthropic_version_reaches_anthropic_on_pass_through() {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY));
    let gw = single(Upstream::Anthropic, &mock).await;
    let out = run(Sdk::Anthropic, "text", &gw, "claude-x").await;
    assert_eq!(out["text"], REPLY, "{out}");
    let sent = out["sent"].as_array().expect("what the SDK sent");
    let seen = posts(&mock);
    assert_eq!(seen.len(), 2, "create, stream");
    for (request, client) in seen.iter().zip(sent) {
        let version = client["headers"]["anthropic-version"].as_str();
        assert!(version.is_some_and(|v| v != "2023-06-01"), "{client}");
        assert_eq!(
            request.header_all("anthropic-version"),
            vec![version.unwrap_or_default()]
        );
    }
}

/// `"model": "<from>"` in a JSON text replaced by `to`, exactly once (the SDK writes the
/// model once; any other occurrence would be a different field).
fn replace_model(body: &str, from: &str, to: &str) -> String {
    let from = format!("\"{from}\"");
    assert_eq!(body.matches(&from).count(), 1, "{body}");
    body.replacen(&from, &format!("\"{to}\""), 1)
}

/// A tool use whole and streamed, then the `tool_result` turn, through Gemini (the
/// Anthropic client of Gemini chains both translations): the function call goes back
/// with its thought signature, the result as a `functionResponse`.
#[tokio::test]
async fn sdk_anthropic_tool_use_and_result_turn_through_gemini() {
    let call = || Behaviour::tool_call("get_weather", json!({"city": "Paris"}));
    let mock = MockUpstream::start(Behaviour::sequence(vec![
        call(),
        call(),
        Behaviour::ok().content(ANSWER),
    ]));
    let gw = single(Upstream::Gemini, &mock).await;
    let out = run(Sdk::Anthropic, "tools", &gw, "gemini-x").await;
    assert_eq!(out["stop_reason"], "tool_use", "{out}");
    assert_eq!(out["tool_use"]["name"], "get_weather", "{out}");
    assert_eq!(out["tool_use"]["input"], json!({"city": "Paris"}), "{out}");
    let stream = &out["stream"];
    assert_eq!(stream["stop_reason"], "tool_use", "{out}");
    let block = (stream["content"].as_array().expect("content"))
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap_or_else(|| panic!("a streamed tool_use block: {out}"));
    assert_eq!(block["name"], "get_weather", "{out}");
    assert_eq!(block["input"], json!({"city": "Paris"}), "{out}");
    assert_eq!(out["answer"], ANSWER, "{out}");
    assert_eq!(out["answer_stop_reason"], "end_turn", "{out}");

    let seen = posts(&mock);
    assert_eq!(seen.len(), 3, "call, streamed call, answer");
    let first = seen[0].json();
    let declaration = &first["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["name"], "get_weather", "{first}");
    let contents = seen[2].json()["contents"].clone();
    let contents = contents.as_array().expect("contents");
    assert_eq!(contents.len(), 3, "{contents:?}");
    let part = &contents[1]["parts"][0];
    assert_eq!(contents[1]["role"], "model");
    assert_eq!(part["functionCall"]["name"], "get_weather", "{part}");
    assert_eq!(part["functionCall"]["args"], json!({"city": "Paris"}));
    assert_eq!(part["thoughtSignature"], MOCK_THOUGHT_SIGNATURE, "{part}");
    let response = &contents[2]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "get_weather", "{}", contents[2]);
    assert!(
        response["response"]
            .to_string()
            .contains("18 degrees and sunny"),
        "{response}"
    );
}

/// An OpenAI provider's 429 reaches the SDK as `RateLimitError` in Anthropic's envelope,
/// with a `Retry-After` (the gateway's: when the instance is back).
#[tokio::test]
async fn sdk_anthropic_raises_rate_limit_error_for_an_openai_429() {
    let mock = MockUpstream::start(Behaviour::status(429).retry_after(7).gets_ok());
    let gw = single(Upstream::OpenAi, &mock).await;
    let out = run(Sdk::Anthropic, "error", &gw, "gpt-x").await;
    assert_eq!(out["error_class"], "RateLimitError", "{out}");
    assert_eq!(out["status"], 429, "{out}");
    assert_eq!(out["body"]["type"], "error", "{out}");
    assert_eq!(out["body"]["error"]["type"], "rate_limit_error", "{out}");
    let retry = out["retry_after"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| (1..=7).contains(&s)), "{out}");
    assert_eq!(posts(&mock).len(), 1);
}

/// `count_tokens` is answered by an Anthropic provider: its number, exactly.
#[tokio::test]
async fn sdk_anthropic_count_tokens_is_the_anthropic_providers_number() {
    let counted = r#"{"input_tokens": 42}"#;
    let mock = MockUpstream::start(Behaviour::raw(200, "application/json", counted).gets_ok());
    let gw = single(Upstream::Anthropic, &mock).await;
    let out = run(Sdk::Anthropic, "count", &gw, "claude-x").await;
    assert_eq!(out["input_tokens"], 42, "{out}");
    let seen = posts(&mock);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/messages/count_tokens");
    Upstream::Anthropic.assert_auth(&seen[0], 1);
    let body = seen[0].json();
    assert_eq!(body["model"], "claude-x");
    assert_eq!(body["system"], "Be terse.", "{body}");
    assert_eq!(text_of(&body["messages"][0]["content"]), "Say hi", "{body}");
}

/// A Gemini stream broken off after three frames: the SDK has the text so far, then
/// raises the Anthropic `error` event the gateway ends the translated stream with.
#[tokio::test]
async fn sdk_anthropic_stream_cut_by_gemini_ends_in_an_error_event() {
    let mock = MockUpstream::start(Behaviour::cut_after(3));
    let gw = single(Upstream::Gemini, &mock).await;
    let out = run(Sdk::Anthropic, "cut", &gw, "gemini-x").await;
    assert_eq!(out["text"], "tok0 tok1 tok2 ", "{out}");
    // The SDK raises the event's error as the status error of the (200) stream.
    assert_eq!(out["error_class"], "APIStatusError", "{out}");
    assert_eq!(
        out["body"]["type"], "error",
        "the stream's error event: {out}"
    );
    assert!(out["body"]["error"]["type"].is_string(), "{out}");
    assert_eq!(posts(&mock).len(), 1, "never retried after the first byte");
}

/// Without an Anthropic provider, `count_tokens` is the gateway's estimate: a positive
/// number and no upstream call (OpenAI has no such endpoint).
#[tokio::test]
async fn sdk_anthropic_count_tokens_is_estimated_without_an_anthropic_provider() {
    let mock = MockUpstream::start(Behaviour::ok());
    let gw = single(Upstream::OpenAi, &mock).await;
    let out = run(Sdk::Anthropic, "count", &gw, "gpt-x").await;
    assert!(out["input_tokens"].as_u64().is_some_and(|n| n > 0), "{out}");
    assert_eq!(posts(&mock).len(), 0, "nothing to ask upstream");
}
