//! The `openai` SDK's Responses API (`client.responses.create`, `.stream`, the raw
//! surfaces) against every provider: translated to chat completions for an
//! OpenAI-format chat provider (and on to Anthropic and Gemini), passed through byte for
//! byte to OpenAI itself (`type: openai`). Whole and streamed replies, function calls and
//! their outputs, `text.format`, errors (the provider's and the gateway's own), a cut
//! stream. Failover is `failover.rs`'s; compressed `/v1/responses` bodies are
//! `encoding.rs`'s and the WebSocket refusal `codex.rs`'s (plain HTTP, no SDK needed).

use super::{gateway, instance, posts, run, single, text_of, Sdk, Upstream};
use crate::support::{Behaviour, MockUpstream, MOCK_PROMPT_TOKENS, MOCK_THOUGHT_SIGNATURE};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const REPLY: &str = "Hello from the provider behind modelgate.";
const ANSWER: &str = "It is 18 degrees and sunny in Paris.";

/// The Responses API's usage: `input_tokens` includes the cached ones.
fn assert_usage(usage: &Value, input: u64, output: u64, cached: u64) {
    assert_eq!(usage["input_tokens"], input, "{usage}");
    assert_eq!(usage["output_tokens"], output, "{usage}");
    assert_eq!(usage["total_tokens"], input + output, "{usage}");
    assert_eq!(
        usage["input_tokens_details"]["cached_tokens"], cached,
        "{usage}"
    );
}

/// A whole Response as the script describes it: completed, for `model`, saying `text`.
fn assert_response(seen: &Value, model: &str, text: &str) {
    assert_eq!(seen["object"], "response", "{seen}");
    assert_eq!(seen["status"], "completed", "{seen}");
    assert_eq!(seen["model"], model, "{seen}");
    assert_eq!(seen["text"], text, "{seen}");
}

/// `at` as Unix seconds, to compare with the script's `time.time()`: both clocks are
/// this machine's, and the margins asserted are hundreds of milliseconds.
fn unix_secs(at: Instant) -> f64 {
    let wall = SystemTime::now() - Instant::now().saturating_duration_since(at);
    wall.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The streamed events' types, after asserting they are numbered 0, 1, 2, ... (the
/// SDK's helper passes every event through, numbers included), start with
/// `response.created` then `response.in_progress`, and that each text delta sits inside
/// its item and part (added before, done after).
fn assert_event_order(stream: &Value) -> Vec<String> {
    let events = stream["events"].as_array().expect("events");
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], i, "{stream}");
    }
    let types: Vec<String> = (events.iter())
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        types[..2],
        ["response.created", "response.in_progress"],
        "{types:?}"
    );
    let at = |name: &str| types.iter().position(|t| t == name);
    let last = |name: &str| types.iter().rposition(|t| t == name);
    let first_delta = at("response.output_text.delta").expect("a text delta");
    let last_delta = last("response.output_text.delta").expect("a text delta");
    assert!(
        at("response.output_item.added") < Some(first_delta),
        "{types:?}"
    );
    assert!(
        at("response.content_part.added") < Some(first_delta),
        "{types:?}"
    );
    for done in [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ] {
        assert!(
            at(done) > Some(last_delta),
            "{done} after the deltas: {types:?}"
        );
    }
    types
}

/// Translated to chat: a string input with `instructions`, and items (a developer then a
/// user message, Codex's shape); each a completed Response with the provider's text and
/// exact usage (30 input tokens of which 12 cached, 7 output).
#[tokio::test]
async fn sdk_responses_text_from_a_string_and_from_items_through_chat() {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY).usage(30, 7, 12));
    let gw = single(Upstream::OpenAi, &mock).await;
    let out = run(Sdk::OpenAiResponses, "text", &gw, "gpt-x").await;
    for form in ["string", "items"] {
        assert_response(&out[form], "gpt-x", REPLY);
        assert_usage(&out[form]["usage"], 30, 7, 12);
        let id = out[form]["id"].as_str().unwrap_or_default();
        assert!(id.starts_with("resp_"), "{out}");
    }

    let seen = posts(&mock);
    assert_eq!(seen.len(), 2, "one request per call");
    for request in &seen {
        assert_eq!(request.path, "/v1/chat/completions");
        Upstream::OpenAi.assert_auth(request, 1);
        let body = request.json();
        assert_eq!(body["model"], "gpt-x");
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 2, "{body}");
        // Instructions and developer messages alike: the one leading system message.
        assert_eq!(messages[0]["role"], "system", "{body}");
        assert_eq!(text_of(&messages[0]["content"]), "Be terse.");
        assert_eq!(messages[1]["role"], "user", "{body}");
        assert_eq!(text_of(&messages[1]["content"]), "Say hi");
        for field in ["input", "instructions", "max_output_tokens"] {
            assert!(body.get(field).is_none(), "{field} sent to chat: {body}");
        }
    }
    assert_eq!(seen[0].json()["max_tokens"], 100);
}

/// Translated to chat, streamed: the helper's events in order and numbered, the text
/// delta by delta, the final Response with the usage; the first delta reached the SDK
/// long before the provider sent its last chunk (ten chunks 100 ms apart).
#[tokio::test]
async fn sdk_responses_stream_through_chat_arrives_delta_by_delta() {
    let mock = MockUpstream::start(Behaviour::sse(10, Duration::from_millis(100)));
    let gw = single(Upstream::OpenAi, &mock).await;
    let out = run(Sdk::OpenAiResponses, "stream", &gw, "gpt-x").await;
    let tokens: String = (0..10).map(|i| format!("tok{i} ")).collect();
    assert_eq!(out["text"], tokens, "{out}");
    assert!(out["error_class"].is_null(), "{out}");
    let types = assert_event_order(&out);
    assert_eq!(types.last().map(String::as_str), Some("response.completed"));
    assert_response(&out["final"], "gpt-x", &tokens);
    assert_usage(&out["final"]["usage"], MOCK_PROMPT_TOKENS, 10, 0);

    let sent = mock.sent_events();
    let last_sent = unix_secs(sent.last().expect("the mock's chunks").at);
    let first_delta = out["delta_times"][0].as_f64().expect("a delta time");
    // The mock's 13 events span 1.2 s; the SDK may take ~0.3 s to parse its first event
    // (it builds its event models then), so a buffering gateway is one leading by < 0.5 s.
    let lead = last_sent - first_delta;
    assert!(
        lead > 0.5,
        "the first delta only {lead:.3}s before the last chunk"
    );

    let seen = posts(&mock);
    assert_eq!(seen.len(), 1);
    let body = seen[0].json();
    assert_eq!(body["stream"], true, "{body}");
    // The usage in `response.completed` needs the provider to send it.
    assert_eq!(body["stream_options"]["include_usage"], true, "{body}");
}

/// A function call, whole and streamed, each a `function_call` item with a `call_id`
/// and parsed arguments; then the turn carrying the streamed call and its
/// `function_call_output`. Returns the bodies the provider received.
async fn function_call_through(kind: Upstream) -> (Value, Vec<Value>) {
    let call = || Behaviour::tool_call("get_weather", json!({"city": "Paris"}));
    let mock = MockUpstream::start(Behaviour::sequence(vec![
        call(),
        call(),
        Behaviour::ok().content(ANSWER),
    ]));
    let gw = single(kind, &mock).await;
    let out = run(Sdk::OpenAiResponses, "tools", &gw, kind.model()).await;
    for call in [&out["call"], &out["stream"]["call"]] {
        assert_eq!(call["name"], "get_weather", "{out}");
        assert_eq!(call["arguments"], json!({"city": "Paris"}), "{out}");
        assert_eq!(call["status"], "completed", "{out}");
        let call_id = call["call_id"].as_str().unwrap_or_default();
        assert!(!call_id.is_empty(), "{out}");
    }
    let types = out["stream"]["types"].as_array().expect("types");
    for event in [
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ] {
        assert!(types.contains(&json!(event)), "{event}: {out}");
    }
    assert_eq!(out["answer"], ANSWER, "{out}");

    let seen = posts(&mock);
    assert_eq!(seen.len(), 3, "call, streamed call, answer");
    for (request, stream) in seen.iter().zip([false, true, false]) {
        assert_eq!(request.path, kind.path(kind.model(), stream));
        kind.assert_auth(request, 1);
    }
    (out, seen.iter().map(|r| r.json()).collect())
}

#[tokio::test]
async fn sdk_responses_function_call_and_its_output_through_chat() {
    let (out, bodies) = function_call_through(Upstream::OpenAi).await;
    let tool = &bodies[0]["tools"][0];
    assert_eq!(tool["type"], "function", "{tool}");
    assert_eq!(tool["function"]["name"], "get_weather", "{tool}");
    assert_eq!(tool["function"]["parameters"]["required"], json!(["city"]));
    let messages = bodies[2]["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[1]["role"], "assistant");
    let call = &messages[1]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather", "{call}");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or_default())
            .expect("arguments as JSON text");
    assert_eq!(arguments, json!({"city": "Paris"}));
    assert_eq!(
        call["id"], out["stream"]["call"]["call_id"],
        "the call_id kept"
    );
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(messages[2]["tool_call_id"], call["id"], "paired by id");
    assert_eq!(text_of(&messages[2]["content"]), "18 degrees and sunny");
}

/// The streamed Gemini call goes back with the thought signature Gemini gave it (the
/// gateway carries it in the `call_id`), its output as a `functionResponse`.
#[tokio::test]
async fn sdk_responses_function_call_through_gemini_keeps_its_thought_signature() {
    let (_, bodies) = function_call_through(Upstream::Gemini).await;
    let declaration = &bodies[0]["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["name"], "get_weather", "{declaration}");
    let contents = bodies[2]["contents"].as_array().expect("contents");
    assert_eq!(contents.len(), 3, "{contents:?}");
    assert_eq!(contents[1]["role"], "model");
    let call = &contents[1]["parts"][0];
    assert_eq!(call["functionCall"]["name"], "get_weather", "{call}");
    assert_eq!(call["functionCall"]["args"], json!({"city": "Paris"}));
    assert_eq!(call["thoughtSignature"], MOCK_THOUGHT_SIGNATURE, "{call}");
    let response = &contents[2]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "get_weather", "{}", contents[2]);
    assert!(
        response["response"]
            .to_string()
            .contains("18 degrees and sunny"),
        "{response}"
    );
}

/// `text.format` json_schema becomes chat's `response_format`, schema and strictness kept.
#[tokio::test]
async fn sdk_responses_json_schema_format_reaches_chat_as_response_format() {
    let reply = r#"{"degrees": 18}"#;
    let mock = MockUpstream::start(Behaviour::ok().content(reply));
    let gw = single(Upstream::OpenAi, &mock).await;
    let out = run(Sdk::OpenAiResponses, "schema", &gw, "gpt-x").await;
    assert_response(&out, "gpt-x", reply);
    let body = posts(&mock)[0].json();
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema", "{body}");
    assert_eq!(format["json_schema"]["name"], "weather", "{body}");
    assert_eq!(format["json_schema"]["strict"], true, "{body}");
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["required"], json!(["degrees"]), "{body}");
    assert!(body.get("text").is_none(), "{body}");
}

/// Responses → chat → Anthropic, streamed: the text, the usage in Responses' terms
/// (Anthropic's uncached 18 plus 12 cache reads are 30 input tokens).
#[tokio::test]
async fn sdk_responses_stream_through_anthropic() {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY).usage(30, 7, 12));
    let gw = single(Upstream::Anthropic, &mock).await;
    let out = run(Sdk::OpenAiResponses, "stream", &gw, "claude-x").await;
    assert_eq!(out["text"], REPLY, "{out}");
    let types = assert_event_order(&out);
    assert_eq!(types.last().map(String::as_str), Some("response.completed"));
    assert_response(&out["final"], "claude-x", REPLY);
    assert_usage(&out["final"]["usage"], 30, 7, 12);

    let seen = posts(&mock);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/messages");
    Upstream::Anthropic.assert_auth(&seen[0], 1);
    let body = seen[0].json();
    assert_eq!(body["stream"], true, "{body}");
    assert_eq!(text_of(&body["system"]), "Be terse.", "{body}");
    assert_eq!(body["messages"][0]["role"], "user", "{body}");
    assert_eq!(text_of(&body["messages"][0]["content"]), "Say hi", "{body}");
    assert!(body["max_tokens"].is_u64(), "Anthropic requires it: {body}");
}

/// `"model": "<from>"` in a JSON text replaced by `to`, exactly once.
fn replace_model(body: &str, from: &str, to: &str) -> String {
    let from = format!("\"{from}\"");
    assert_eq!(body.matches(&from).count(), 1, "{body}");
    body.replacen(&from, &format!("\"{to}\""), 1)
}

/// OpenAI behind the Responses API is the identity: each body reaches `/v1/responses`
/// exactly as the SDK sent it but for the model (an alias here), `previous_response_id`
/// and `store` included; the stream comes back byte for byte.
#[tokio::test]
async fn sdk_responses_passes_through_to_openai_byte_for_byte() {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY).usage(30, 7, 12));
    let o1 = instance("o1", Upstream::Responses, &mock, 1, &["gpt-x"]);
    let alias = "models:\n  - name: smart\n    targets: [ { provider: o1, model: gpt-x } ]\n";
    let gw = gateway(&[o1], alias).await;
    let out = run(Sdk::OpenAiResponses, "passthrough", &gw, "smart").await;
    assert_response(&out["whole"], "gpt-x", REPLY);
    assert_usage(&out["whole"]["usage"], 30, 7, 12);

    let seen = posts(&mock);
    let sent = out["sent"].as_array().expect("what the SDK sent");
    assert_eq!(
        (seen.len(), sent.len()),
        (2, 2),
        "create, raw stream: {out}"
    );
    for (request, client) in seen.iter().zip(sent) {
        let client_body = client["body"].as_str().expect("body");
        let want = replace_model(client_body, "smart", "gpt-x");
        assert_eq!(request.body_str(), want, "only the model may change");
        assert_eq!(request.path, "/v1/responses");
        Upstream::Responses.assert_auth(request, 1);
    }
    let first = seen[0].json();
    assert_eq!(first["previous_response_id"], "resp_prev_123", "{first}");
    assert_eq!(first["store"], true, "{first}");

    let written: String = (mock.sent_events().into_iter())
        .map(|e| format!("{}\n\n", e.event))
        .collect();
    assert!(written.contains("event: response.completed"), "{written}");
    assert_eq!(
        out["raw_stream"], written,
        "the stream passed through untouched"
    );
}

/// A provider's 400 is the request's own fault, translated or passed through: not
/// retried, and the SDK raises `BadRequestError` with the provider's message.
#[tokio::test]
async fn sdk_responses_raises_bad_request_with_the_providers_message() {
    for kind in [Upstream::OpenAi, Upstream::Responses] {
        let message = format!("{kind:?} says: tools.0.name is not valid");
        let mock = MockUpstream::start(Behaviour::status(400).error_message(&message).gets_ok());
        let gw = single(kind, &mock).await;
        let out = run(Sdk::OpenAiResponses, "error", &gw, kind.model()).await;
        assert_eq!(out["error_class"], "BadRequestError", "{kind:?}: {out}");
        assert_eq!(out["status"], 400, "{out}");
        assert_eq!(out["body"]["message"], message.as_str(), "{kind:?}: {out}");
        let seen = posts(&mock);
        assert_eq!(seen.len(), 1, "a 400 is not retried");
        assert_eq!(seen[0].path, kind.path(kind.model(), false));
    }
}

/// On a translated path `previous_response_id` names a response the gateway never kept:
/// a 400 in OpenAI's envelope saying so, before any upstream call.
#[tokio::test]
async fn sdk_responses_previous_response_id_on_a_translated_path_is_a_bad_request() {
    let mock = MockUpstream::start(Behaviour::ok());
    let gw = single(Upstream::OpenAi, &mock).await;
    let out = run(Sdk::OpenAiResponses, "stateless", &gw, "gpt-x").await;
    assert_eq!(out["error_class"], "BadRequestError", "{out}");
    assert_eq!(out["status"], 400, "{out}");
    let message = out["body"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("previous_response_id"), "{out}");
    assert!(message.contains("keeps no responses"), "{out}");
    assert_eq!(out["body"]["type"], "invalid_request_error", "{out}");
    assert_eq!(posts(&mock).len(), 0, "nothing to ask upstream");
}

/// A chat stream broken off after three chunks: the SDK has the text so far, then the
/// `response.failed` the gateway ends the translated stream with; its helper then has
/// no final response and raises. The gateway keeps serving.
#[tokio::test]
async fn sdk_responses_stream_cut_by_the_provider_ends_in_response_failed() {
    let mock = MockUpstream::start(Behaviour::cut_after(3));
    let gw = single(Upstream::OpenAi, &mock).await;
    let out = run(Sdk::OpenAiResponses, "cut", &gw, "gpt-x").await;
    assert_eq!(out["text"], "tok0 tok1 tok2 ", "{out}");
    let events = out["events"].as_array().expect("events");
    let last = events.last().expect("an event");
    assert_eq!(last["type"], "response.failed", "{out}");
    assert_eq!(last["sequence_number"], events.len() - 1, "{out}");
    let failed = &out["failed"];
    assert!(failed["code"].is_string(), "{out}");
    assert!(
        failed["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{out}"
    );
    // What the SDK does with it: `get_final_response` wants `response.completed`.
    assert_eq!(out["error_class"], "RuntimeError", "{out}");
    assert!(out["final"].is_null(), "{out}");
    assert_eq!(posts(&mock).len(), 1, "never retried after the first byte");

    mock.set_behaviour(Behaviour::ok().content(REPLY));
    let ask = json!({"model": "gpt-x", "input": "hi"});
    let response = gw
        .post_json_with_key("/v1/responses", &ask, super::KEY)
        .await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.expect("json");
    assert_eq!(reply["output"][0]["content"][0]["text"], REPLY, "{reply}");
}

/// A native OpenAI stream broken off after three deltas: the gateway ends it with a
/// `response.failed` numbered after the provider's last event, for the *same* response
/// (the SDK's helper refuses a lifecycle event for another id, and then never shows the
/// failure), so the SDK sees the failure as on a translated path.
#[tokio::test]
async fn sdk_responses_stream_cut_on_pass_through_ends_in_response_failed() {
    let mock = MockUpstream::start(Behaviour::cut_after(3));
    let gw = single(Upstream::Responses, &mock).await;
    let out = run(Sdk::OpenAiResponses, "cut", &gw, "gpt-x").await;
    assert_eq!(out["text"], "tok0 tok1 tok2 ", "{out}");
    let events = out["events"].as_array().expect("events");
    let last = events.last().expect("an event");
    assert_eq!(last["type"], "response.failed", "{out}");
    assert_eq!(
        last["sequence_number"], 7,
        "after the provider's 0..=6: {out}"
    );
    assert!(out["failed"]["message"].is_string(), "{out}");
    assert_eq!(out["error_class"], "RuntimeError", "{out}");
    let message = out["message"].as_str().unwrap_or_default();
    assert!(message.contains("response.completed"), "{out}");
    assert_eq!(posts(&mock).len(), 1, "never retried after the first byte");
}
