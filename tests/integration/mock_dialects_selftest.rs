//! Self-test of the mock upstream's Anthropic Messages and Gemini dialects (and OpenAI
//! tool calls and usage), driven directly with reqwest, no gateway involved. Expected
//! payloads follow the providers' documented examples, written out here rather than
//! taken from the support code, so a drift in the mock shows up as a failure.

use crate::support::{
    anthropic_body, anthropic_event, gemini_body, gemini_frame, http_client, read_sse_events,
    sse_data, try_read_sse_events, Behaviour, MockUpstream, MOCK_PROMPT_TOKENS,
    MOCK_THOUGHT_SIGNATURE,
};
use serde_json::{json, Value};
use std::time::Duration;

const MESSAGES: &str = "/v1/messages?beta=true";
const GENERATE: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
const STREAM_GENERATE: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
const CHAT: &str = "/v1/chat/completions";
const CLAUDE: &str = "claude-sonnet-4-6";

fn openai_body(stream: bool) -> Value {
    json!({ "model": "m1", "stream": stream,
            "messages": [{ "role": "user", "content": "Say hello." }] })
}

async fn post(mock: &MockUpstream, path: &str, body: &Value) -> reqwest::Response {
    http_client()
        .post(mock.url(path))
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("mock answers")
}

async fn post_json(mock: &MockUpstream, path: &str, body: &Value) -> (u16, Value) {
    let response = post(mock, path, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// The events of a streamed reply, as text (`event: ...\ndata: ...`).
async fn stream_of(mock: &MockUpstream, path: &str, body: &Value) -> Vec<String> {
    let response = post(mock, path, body).await;
    assert_eq!(response.status(), 200);
    let events = read_sse_events(response).await;
    events.into_iter().map(|(_, text)| text).collect()
}

fn openai_chunk(event: &str) -> Value {
    serde_json::from_str(&sse_data(event).expect("a data line")).expect("a JSON chunk")
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

fn deltas<'a>(events: &'a [(String, Value)], field: &str) -> Vec<&'a str> {
    let deltas = events.iter().filter(|(n, _)| n == "content_block_delta");
    deltas
        .map(|(_, d)| d["delta"][field].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn anthropic_message_has_the_documented_shape() {
    for behaviour in [Behaviour::ok(), Behaviour::chat_ok()] {
        let mock = MockUpstream::start(behaviour.content("hi there"));
        let response = post(&mock, MESSAGES, &anthropic_body(CLAUDE, false)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let message: Value = response.json().await.unwrap();
        assert!(message["id"].as_str().unwrap().starts_with("msg_"));
        let expected = json!({
            "id": message["id"], "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-6",
            "content": [{ "type": "text", "text": "hi there" }],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": { "input_tokens": MOCK_PROMPT_TOKENS, "output_tokens": 2,
                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 },
        });
        assert_eq!(message, expected);
    }
}

#[tokio::test]
async fn anthropic_rejects_what_the_provider_rejects() {
    let mock = MockUpstream::start(Behaviour::ok());
    let mut body = anthropic_body(CLAUDE, false);
    body.as_object_mut().unwrap().remove("max_tokens");
    let (status, error) = post_json(&mock, MESSAGES, &body).await;
    assert_eq!(status, 400);
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));
}

#[tokio::test]
async fn anthropic_stream_names_every_event_in_order_and_paces_them() {
    let delay = Duration::from_millis(100);
    let mock = MockUpstream::start(Behaviour::sse(3, delay));
    let response = post(&mock, MESSAGES, &anthropic_body(CLAUDE, true)).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let received = read_sse_events(response).await;
    let events: Vec<(String, Value)> = received.iter().map(|(_, e)| anthropic_event(e)).collect();

    let delta = "content_block_delta";
    let order = [
        "message_start",
        "content_block_start",
        "ping",
        delta,
        delta,
        delta,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ];
    assert_eq!(names(&events), order);
    let start = &events[0].1["message"];
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["model"], "claude-sonnet-4-6");
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], MOCK_PROMPT_TOKENS);
    let block = json!({ "type": "content_block_start", "index": 0,
                        "content_block": { "type": "text", "text": "" } });
    assert_eq!(events[1].1, block);
    assert_eq!(events[3].1["delta"]["type"], "text_delta");
    assert_eq!(deltas(&events, "text").concat(), "tok0 tok1 tok2 ");
    assert_eq!(
        events[6].1,
        json!({ "type": "content_block_stop", "index": 0 })
    );
    let message_delta = json!({
        "type": "message_delta",
        "delta": { "stop_reason": "end_turn", "stop_sequence": null },
        "usage": { "output_tokens": 3 },
    });
    assert_eq!(events[7].1, message_delta);

    let sent = mock.sent_events();
    let sent_texts: Vec<&str> = sent.iter().map(|e| e.event.as_str()).collect();
    let received_texts: Vec<&str> = received.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(sent_texts, received_texts);
    for (i, next) in sent.iter().enumerate().skip(1) {
        assert!(received[i - 1].0 < next.at, "event {} arrived late", i - 1);
    }
    let last = sent.last().unwrap().at;
    assert!(
        last - received[0].0 >= delay * 7,
        "the first event waited for the rest"
    );
}

#[tokio::test]
async fn anthropic_ok_streams_its_content_when_asked() {
    let mock = MockUpstream::start(Behaviour::ok().content("hi there"));
    let texts = stream_of(&mock, MESSAGES, &anthropic_body(CLAUDE, true)).await;
    let events: Vec<(String, Value)> = texts.iter().map(|e| anthropic_event(e)).collect();
    assert_eq!(deltas(&events, "text"), ["hi ", "there"]);
    assert_eq!(events.last().unwrap().0, "message_stop");
}

#[tokio::test]
async fn gemini_generate_content_has_the_documented_shape() {
    let mock = MockUpstream::start(Behaviour::ok().content("hi there"));
    let response = post(&mock, GENERATE, &gemini_body()).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let reply: Value = response.json().await.unwrap();
    assert!(reply["responseId"].is_string());
    let expected = json!({
        "candidates": [{
            "content": { "role": "model", "parts": [{ "text": "hi there" }] },
            "finishReason": "STOP", "index": 0,
        }],
        "usageMetadata": { "promptTokenCount": MOCK_PROMPT_TOKENS, "candidatesTokenCount": 2,
                           "totalTokenCount": MOCK_PROMPT_TOKENS + 2 },
        "modelVersion": "gemini-2.5-flash",
        "responseId": reply["responseId"],
    });
    assert_eq!(reply, expected);

    let (status, error) = post_json(&mock, GENERATE, &json!({ "prompt": "x" })).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], 400);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn gemini_stream_is_data_only_and_finishes_on_the_last_frame() {
    let delay = Duration::from_millis(50);
    let mock = MockUpstream::start(Behaviour::sse(3, delay));
    let response = post(&mock, STREAM_GENERATE, &gemini_body()).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let raw = response.bytes().await.unwrap();
    let raw = std::str::from_utf8(&raw).unwrap();
    assert!(!raw.contains('\r') && !raw.contains("event:") && !raw.contains("[DONE]"));
    let frames: Vec<Value> = raw.split_terminator("\n\n").map(gemini_frame).collect();
    assert_eq!(frames.len(), 3, "{raw}");

    let text: String = frames
        .iter()
        .map(|f| {
            f["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    for early in &frames[..2] {
        assert!(
            early["candidates"][0].get("finishReason").is_none(),
            "{early}"
        );
        assert_eq!(early["candidates"][0]["content"]["role"], "model");
    }
    let last = &frames[2];
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    let usage = json!({ "promptTokenCount": MOCK_PROMPT_TOKENS, "candidatesTokenCount": 3,
                        "totalTokenCount": MOCK_PROMPT_TOKENS + 3 });
    assert_eq!(last["usageMetadata"], usage);
    assert_eq!(last["modelVersion"], "gemini-2.5-flash");
    assert_eq!(mock.sent_events().len(), 3);

    // `ok()` on the stream path streams its content.
    mock.set_behaviour(Behaviour::ok().content("hi there"));
    let texts = stream_of(&mock, STREAM_GENERATE, &gemini_body()).await;
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert_eq!(
        gemini_frame(&texts[1])["candidates"][0]["finishReason"],
        "STOP"
    );
}

#[tokio::test]
async fn crlf_frames_every_line_with_cr_lf() {
    let mock = MockUpstream::start(Behaviour::sse(2, Duration::ZERO).crlf());
    let raw = post(&mock, STREAM_GENERATE, &gemini_body())
        .await
        .bytes()
        .await
        .unwrap();
    let raw = std::str::from_utf8(&raw).unwrap();
    assert_eq!(
        raw.matches('\n').count(),
        raw.matches("\r\n").count(),
        "{raw:?}"
    );
    let frames: Vec<Value> = raw.split_terminator("\r\n\r\n").map(gemini_frame).collect();
    assert_eq!(frames.len(), 2, "{raw:?}");
    assert_eq!(frames[1]["candidates"][0]["finishReason"], "STOP");

    // Anthropic's two-line events too; the record keeps the CRLF between the lines.
    let raw = post(&mock, MESSAGES, &anthropic_body(CLAUDE, true))
        .await
        .bytes()
        .await
        .unwrap();
    let raw = std::str::from_utf8(&raw).unwrap();
    assert!(
        raw.starts_with("event: message_start\r\ndata: {"),
        "{raw:?}"
    );
    assert!(raw.ends_with("event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n"));
    let last = mock.sent_events().last().unwrap().event.clone();
    assert_eq!(
        last,
        "event: message_stop\r\ndata: {\"type\":\"message_stop\"}"
    );
}

#[tokio::test]
async fn cut_streams_end_early_in_every_dialect() {
    let mock = MockUpstream::start(Behaviour::cut_after(2));
    let (events, error) =
        try_read_sse_events(post(&mock, MESSAGES, &anthropic_body(CLAUDE, true)).await).await;
    assert!(error.is_some(), "a cut stream must not look complete");
    let events: Vec<(String, Value)> = events.iter().map(|(_, e)| anthropic_event(e)).collect();
    let delta = "content_block_delta";
    assert_eq!(
        names(&events),
        ["message_start", "content_block_start", "ping", delta, delta]
    );

    let (frames, error) =
        try_read_sse_events(post(&mock, STREAM_GENERATE, &gemini_body()).await).await;
    assert!(error.is_some(), "a cut stream must not look complete");
    assert_eq!(frames.len(), 2);
    for (_, text) in &frames {
        assert!(gemini_frame(text)["candidates"][0]
            .get("finishReason")
            .is_none());
    }
}

#[tokio::test]
async fn tool_calls_answer_whole_in_each_dialect() {
    let args = json!({ "city": "Paris", "unit": "celsius" });
    let mock = MockUpstream::start(Behaviour::tool_call("get_weather", args.clone()));

    let (_, chat) = post_json(&mock, CHAT, &openai_body(false)).await;
    let choice = &chat["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments = call["function"]["arguments"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), args);

    let (_, message) = post_json(&mock, MESSAGES, &anthropic_body(CLAUDE, false)).await;
    assert_eq!(message["stop_reason"], "tool_use");
    let block = &message["content"][0];
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    let expected = json!({ "type": "tool_use", "id": block["id"], "name": "get_weather",
                           "input": args });
    assert_eq!(block, &expected);

    let (_, reply) = post_json(&mock, GENERATE, &gemini_body()).await;
    let candidate = &reply["candidates"][0];
    assert_eq!(candidate["finishReason"], "STOP");
    let part = json!({ "functionCall": { "name": "get_weather", "args": args },
                       "thoughtSignature": MOCK_THOUGHT_SIGNATURE });
    assert_eq!(candidate["content"]["parts"], json!([part]));
}

#[tokio::test]
async fn tool_calls_stream_in_each_dialect() {
    let args = json!({ "command": "echo hello", "timeout": 30 });
    let mock = MockUpstream::start(Behaviour::tool_call("Bash", args.clone()));

    // OpenAI: id and name first, then the arguments in fragments none of which parses.
    let texts = stream_of(&mock, CHAT, &openai_body(true)).await;
    assert_eq!(texts.last().unwrap(), "data: [DONE]");
    let chunks: Vec<Value> = texts[..texts.len() - 1]
        .iter()
        .map(|t| openai_chunk(t))
        .collect();
    let opening = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert!(opening["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(opening["function"]["name"], "Bash");
    let fragments: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .filter(|fragment| !fragment.is_empty())
        .collect();
    assert!(fragments.len() >= 2, "{fragments:?}");
    assert!(fragments
        .iter()
        .all(|f| serde_json::from_str::<Value>(f).is_err()));
    assert_eq!(
        serde_json::from_str::<Value>(&fragments.concat()).unwrap(),
        args
    );
    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .collect();
    assert!(finishes.contains(&&json!("tool_calls")));

    // Anthropic: a tool_use block with empty input, then input_json_delta fragments.
    let texts = stream_of(&mock, MESSAGES, &anthropic_body(CLAUDE, true)).await;
    let events: Vec<(String, Value)> = texts.iter().map(|e| anthropic_event(e)).collect();
    let block = &events[1].1["content_block"];
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    let expected = json!({ "type": "tool_use", "id": block["id"], "name": "Bash", "input": {} });
    assert_eq!(block, &expected);
    let partials = deltas(&events, "partial_json");
    assert!(
        partials.iter().filter(|p| !p.is_empty()).count() >= 2,
        "{partials:?}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&partials.concat()).unwrap(),
        args
    );
    let (name, message_delta) = &events[events.len() - 2];
    assert_eq!(name, "message_delta");
    assert_eq!(message_delta["delta"]["stop_reason"], "tool_use");

    // Gemini: the call whole in one frame, with its signature; STOP all the same.
    let texts = stream_of(&mock, STREAM_GENERATE, &gemini_body()).await;
    assert_eq!(texts.len(), 1, "{texts:#?}");
    let candidate = &gemini_frame(&texts[0])["candidates"][0];
    assert_eq!(candidate["finishReason"], "STOP");
    let part = &candidate["content"]["parts"][0];
    assert_eq!(
        part["functionCall"],
        json!({ "name": "Bash", "args": args })
    );
    assert_eq!(part["thoughtSignature"], MOCK_THOUGHT_SIGNATURE);
}

#[tokio::test]
async fn anthropic_errors_carry_the_type_of_their_status() {
    let types = [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ];
    for (status, kind) in types {
        let behaviour = Behaviour::status(status)
            .error_message("nope")
            .retry_after(3);
        let mock = MockUpstream::start(behaviour);
        let response = post(&mock, MESSAGES, &anthropic_body(CLAUDE, false)).await;
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["retry-after"], "3");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "error", "{body}");
        assert_eq!(
            body["error"],
            json!({ "type": kind, "message": "nope" }),
            "{status}"
        );
        assert!(body["request_id"].as_str().unwrap().starts_with("req_"));
    }
}

#[tokio::test]
async fn gemini_errors_carry_the_rpc_status_and_retry_info() {
    let statuses = [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ];
    for (code, name) in statuses {
        let mock = MockUpstream::start(Behaviour::status(code).error_message("nope"));
        let response = post(&mock, GENERATE, &gemini_body()).await;
        assert_eq!(response.status(), code);
        assert!(response.headers().get("retry-after").is_none());
        let body: Value = response.json().await.unwrap();
        let error = &body["error"];
        assert_eq!(
            (error["code"].as_u64(), error["status"].as_str()),
            (Some(code.into()), Some(name))
        );
        assert_eq!(error["message"], "nope");
        assert_eq!(error.get("details").is_some(), code == 429, "{body}");
    }

    let retry_info = |body: &Value| -> Option<String> {
        let details = body["error"]["details"].as_array()?;
        let info = details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")?;
        Some(info["retryDelay"].as_str()?.to_string())
    };
    let mock = MockUpstream::start(Behaviour::status(429));
    let (_, body) = post_json(&mock, STREAM_GENERATE, &gemini_body()).await;
    assert_eq!(retry_info(&body).as_deref(), Some("1s"), "{body}");
    mock.set_behaviour(Behaviour::status(429).retry_delay(17));
    let (_, body) = post_json(&mock, GENERATE, &gemini_body()).await;
    assert_eq!(retry_info(&body).as_deref(), Some("17s"), "{body}");
    mock.set_behaviour(Behaviour::status(503).retry_delay(5));
    let (_, body) = post_json(&mock, GENERATE, &gemini_body()).await;
    assert_eq!(retry_info(&body).as_deref(), Some("5s"), "{body}");
}

#[tokio::test]
async fn usage_is_reported_in_each_dialects_own_fields() {
    let mock = MockUpstream::start(Behaviour::ok().usage(100, 20, 30));
    let (_, chat) = post_json(&mock, CHAT, &openai_body(false)).await;
    let openai = json!({ "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                         "prompt_tokens_details": { "cached_tokens": 30 } });
    assert_eq!(chat["usage"], openai);

    let (_, message) = post_json(&mock, MESSAGES, &anthropic_body(CLAUDE, false)).await;
    let anthropic = json!({ "input_tokens": 70, "output_tokens": 20,
                            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30 });
    assert_eq!(message["usage"], anthropic);

    let (_, reply) = post_json(&mock, GENERATE, &gemini_body()).await;
    let gemini = json!({ "promptTokenCount": 100, "cachedContentTokenCount": 30,
                         "candidatesTokenCount": 20, "totalTokenCount": 120 });
    assert_eq!(reply["usageMetadata"], gemini);

    // Streams report the same numbers where each dialect puts its final usage.
    mock.set_behaviour(Behaviour::sse(2, Duration::ZERO).usage(100, 20, 30));
    let texts = stream_of(&mock, CHAT, &openai_body(true)).await;
    assert_eq!(openai_chunk(&texts[texts.len() - 2])["usage"], openai);
    let texts = stream_of(&mock, MESSAGES, &anthropic_body(CLAUDE, true)).await;
    let events: Vec<(String, Value)> = texts.iter().map(|e| anthropic_event(e)).collect();
    let start = &events[0].1["message"]["usage"];
    assert_eq!(
        (&start["input_tokens"], &start["cache_read_input_tokens"]),
        (&json!(70), &json!(30))
    );
    assert_eq!(events[events.len() - 2].1["usage"]["output_tokens"], 20);
    let texts = stream_of(&mock, STREAM_GENERATE, &gemini_body()).await;
    assert_eq!(gemini_frame(texts.last().unwrap())["usageMetadata"], gemini);
}

#[tokio::test]
async fn model_lists_take_the_shape_the_client_expects() {
    let mock = MockUpstream::start(
        Behaviour::status(500)
            .gets_ok()
            .models(&["claude-a", "claude-b"]),
    );
    let get = |path: &str, anthropic: bool| {
        let mut request = http_client().get(mock.url(path));
        if anthropic {
            request = request.header("anthropic-version", "2023-06-01");
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let anthropic = get("/v1/models?limit=1000", true).await;
    let model = json!({ "type": "model", "id": "claude-a", "display_name": "claude-a",
                        "created_at": anthropic["data"][0]["created_at"] });
    assert_eq!(anthropic["data"][0], model);
    assert!(anthropic["data"][0]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(anthropic["has_more"], false);
    assert_eq!(
        (&anthropic["first_id"], &anthropic["last_id"]),
        (&json!("claude-a"), &json!("claude-b"))
    );

    let gemini = get("/v1beta/models?pageSize=1000", false).await;
    let first = &gemini["models"][0];
    assert_eq!(first["name"], "models/claude-a");
    let methods = first["supportedGenerationMethods"].as_array().unwrap();
    assert!(methods.contains(&json!("generateContent")), "{gemini}");

    let openai = get("/v1/models", false).await;
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][1]["id"], "claude-b");
}
