//! The `openai` SDK's `chat.completions.create` against Anthropic and Gemini providers:
//! every reply translated back into chat completions, whole and streamed, and every
//! request translated into the provider's dialect.

use super::{parts_text, posts, run, single, text_of, Sdk, Upstream, PNG};
use crate::support::{Behaviour, MockUpstream, MOCK_THOUGHT_SIGNATURE};
use serde_json::{json, Value};

const REPLY: &str = "Hello from the provider behind modelgate.";
const ANSWER: &str = "It is 18 degrees and sunny in Paris.";

/// OpenAI's usage: `prompt_tokens` includes the cached ones.
fn assert_usage(usage: &Value, prompt: u64, completion: u64, cached: u64) {
    assert_eq!(usage["prompt_tokens"], prompt, "{usage}");
    assert_eq!(usage["completion_tokens"], completion, "{usage}");
    assert_eq!(usage["total_tokens"], prompt + completion, "{usage}");
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"], cached,
        "{usage}"
    );
}

/// Text whole, then streamed with `include_usage`: the provider's text and its usage
/// (30 prompt tokens of which 12 cached, 7 completion) exactly, in OpenAI's terms.
async fn text_through(kind: Upstream) {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY).usage(30, 7, 12));
    let gw = single(kind, &mock).await;
    let out = run(Sdk::OpenAi, "text", &gw, kind.model()).await;
    assert_eq!(out["object"], "chat.completion", "{out}");
    assert_eq!(out["text"], REPLY, "{out}");
    assert_eq!(out["finish"], "stop", "{out}");
    assert_usage(&out["usage"], 30, 7, 12);
    let stream = &out["stream"];
    assert_eq!(stream["text"], REPLY, "{out}");
    assert_eq!(stream["finish"], "stop", "{out}");
    assert_usage(&stream["usage"], 30, 7, 12);
    assert!(
        stream["chunks"].as_u64() > Some(2),
        "a stream, not one chunk: {out}"
    );

    let seen = posts(&mock);
    assert_eq!(seen.len(), 2, "one request per call");
    for (request, stream) in seen.iter().zip([false, true]) {
        assert_eq!(request.path, kind.path(kind.model(), stream));
        kind.assert_auth(request, 1);
        let body = request.json();
        match kind {
            Upstream::Anthropic => {
                // Translated: the gateway's own version, not the client's.
                assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(body["model"], kind.model());
                assert_eq!(text_of(&body["system"]), "Be terse.", "{body}");
                assert_eq!(body["messages"].as_array().map(Vec::len), Some(1), "{body}");
                assert_eq!(body["messages"][0]["role"], "user");
                assert_eq!(text_of(&body["messages"][0]["content"]), "Say hi");
                assert_eq!(body["stream"].as_bool().unwrap_or(false), stream, "{body}");
                // Anthropic requires max_tokens: the client's, else the default.
                let max = if stream { 4096 } else { 100 };
                assert_eq!(body["max_tokens"], max, "{body}");
            }
            Upstream::Gemini => {
                assert_eq!(
                    parts_text(&body["systemInstruction"]),
                    "Be terse.",
                    "{body}"
                );
                assert_eq!(body["contents"].as_array().map(Vec::len), Some(1), "{body}");
                assert_eq!(body["contents"][0]["role"], "user");
                assert_eq!(parts_text(&body["contents"][0]), "Say hi");
                if !stream {
                    assert_eq!(body["generationConfig"]["maxOutputTokens"], 100, "{body}");
                }
            }
            Upstream::OpenAi | Upstream::Responses => {
                unreachable!("pass-through is not this module's concern")
            }
        }
    }
}

#[tokio::test]
async fn sdk_openai_gets_text_and_exact_usage_from_anthropic_whole_and_streamed() {
    text_through(Upstream::Anthropic).await;
}

#[tokio::test]
async fn sdk_openai_gets_text_and_exact_usage_from_gemini_whole_and_streamed() {
    text_through(Upstream::Gemini).await;
}

/// A tool call whole and streamed (`tool_calls` with parsed arguments), then the turn
/// carrying the tool's result, which must reach the provider paired with its call.
async fn tools_through(kind: Upstream) -> Vec<Value> {
    let call = || Behaviour::tool_call("get_weather", json!({"city": "Paris"}));
    let mock = MockUpstream::start(Behaviour::sequence(vec![
        call(),
        call(),
        Behaviour::ok().content(ANSWER),
    ]));
    let gw = single(kind, &mock).await;
    let out = run(Sdk::OpenAi, "tools", &gw, kind.model()).await;
    assert_eq!(out["finish"], "tool_calls", "{out}");
    assert_eq!(out["tool_call"]["name"], "get_weather", "{out}");
    assert_eq!(
        out["tool_call"]["arguments"],
        json!({"city": "Paris"}),
        "{out}"
    );
    assert!(
        out["tool_call"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{out}"
    );
    let streamed = &out["stream"];
    assert_eq!(streamed["finish"], "tool_calls", "{out}");
    assert_eq!(
        streamed["tool_calls"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    assert_eq!(streamed["tool_calls"][0]["name"], "get_weather", "{out}");
    assert_eq!(
        streamed["tool_calls"][0]["arguments"],
        json!({"city": "Paris"}),
        "{out}"
    );
    assert_eq!(out["answer"], ANSWER, "{out}");

    let seen = posts(&mock);
    assert_eq!(seen.len(), 3, "call, streamed call, answer");
    seen.iter().map(|r| r.json()).collect()
}

#[tokio::test]
async fn sdk_openai_tool_call_and_result_turn_through_anthropic() {
    let bodies = tools_through(Upstream::Anthropic).await;
    let tool = &bodies[0]["tools"][0];
    assert_eq!(tool["name"], "get_weather", "{tool}");
    assert_eq!(tool["input_schema"]["required"], json!(["city"]), "{tool}");
    let messages = bodies[2]["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3, "{messages:?}");
    let tool_use = &messages[1]["content"].as_array().expect("assistant blocks")[0];
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(tool_use["type"], "tool_use", "{tool_use}");
    assert_eq!(tool_use["name"], "get_weather");
    assert_eq!(tool_use["input"], json!({"city": "Paris"}));
    let result = &messages[2]["content"][0];
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(result["type"], "tool_result", "{result}");
    assert_eq!(
        result["tool_use_id"], tool_use["id"],
        "paired with its call"
    );
    assert!(
        result["content"]
            .to_string()
            .contains("18 degrees and sunny"),
        "{result}"
    );
}

#[tokio::test]
async fn sdk_openai_tool_call_and_result_turn_through_gemini() {
    let bodies = tools_through(Upstream::Gemini).await;
    let declaration = &bodies[0]["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["name"], "get_weather", "{declaration}");
    let contents = bodies[2]["contents"].as_array().expect("contents");
    assert_eq!(contents.len(), 3, "{contents:?}");
    assert_eq!(contents[1]["role"], "model");
    let call = &contents[1]["parts"][0];
    assert_eq!(call["functionCall"]["name"], "get_weather", "{call}");
    assert_eq!(call["functionCall"]["args"], json!({"city": "Paris"}));
    // Gemini refuses a function call turn without the signature it gave.
    assert_eq!(call["thoughtSignature"], MOCK_THOUGHT_SIGNATURE, "{call}");
    let response = &contents[2]["parts"][0]["functionResponse"];
    assert_eq!(
        response["name"], "get_weather",
        "paired by name: {}",
        contents[2]
    );
    assert!(
        response["response"]
            .to_string()
            .contains("18 degrees and sunny"),
        "{response}"
    );
}

/// A data-URL image: Anthropic gets a base64 `image` block, Gemini `inlineData`.
async fn image_through(kind: Upstream) -> Value {
    let mock = MockUpstream::start(Behaviour::ok().content(REPLY));
    let gw = single(kind, &mock).await;
    let out = run(Sdk::OpenAi, "image", &gw, kind.model()).await;
    assert_eq!(out["text"], REPLY, "{out}");
    assert_eq!(out["png"], PNG, "the script sends the PNG the test expects");
    let seen = posts(&mock);
    assert_eq!(seen.len(), 1);
    seen[0].json()
}

#[tokio::test]
async fn sdk_openai_image_data_url_reaches_anthropic_as_a_base64_block() {
    let body = image_through(Upstream::Anthropic).await;
    let blocks = body["messages"][0]["content"].as_array().expect("blocks");
    assert!(
        blocks.contains(&json!({"type": "text", "text": "What is in this image?"})),
        "{body}"
    );
    let image = json!({"type": "image",
                       "source": {"type": "base64", "media_type": "image/png", "data": PNG}});
    assert!(blocks.contains(&image), "{body}");
}

#[tokio::test]
async fn sdk_openai_image_data_url_reaches_gemini_as_inline_data() {
    let body = image_through(Upstream::Gemini).await;
    let parts = body["contents"][0]["parts"].as_array().expect("parts");
    assert!(
        parts.contains(&json!({"text": "What is in this image?"})),
        "{body}"
    );
    let image = json!({"inlineData": {"mimeType": "image/png", "data": PNG}});
    assert!(parts.contains(&image), "{body}");
}

/// A provider's 400 is the request's own fault: not retried, and the SDK raises
/// `BadRequestError` carrying the provider's message.
#[tokio::test]
async fn sdk_openai_raises_bad_request_with_the_message_of_anthropic_and_gemini() {
    for kind in [Upstream::Anthropic, Upstream::Gemini] {
        let message = format!("{kind:?} says: tools.0.name is not valid");
        let mock = MockUpstream::start(Behaviour::status(400).error_message(&message).gets_ok());
        let gw = single(kind, &mock).await;
        let out = run(Sdk::OpenAi, "error", &gw, kind.model()).await;
        assert_eq!(out["error_class"], "BadRequestError", "{out}");
        assert_eq!(out["status"], 400, "{out}");
        assert!(
            out["body"].to_string().contains(&message),
            "{kind:?}: {out}"
        );
        assert_eq!(posts(&mock).len(), 1, "a 400 is not retried");
    }
}

/// Gemini's `RetryInfo.retryDelay` is a rate-limit hint like any other: the SDK raises
/// `RateLimitError` and reads a `Retry-After` no later than the hint.
#[tokio::test]
async fn sdk_openai_raises_rate_limit_error_with_geminis_retry_delay() {
    let mock = MockUpstream::start(Behaviour::status(429).retry_delay(5).gets_ok());
    let gw = single(Upstream::Gemini, &mock).await;
    let out = run(Sdk::OpenAi, "error", &gw, "gemini-x").await;
    assert_eq!(out["error_class"], "RateLimitError", "{out}");
    assert_eq!(out["status"], 429, "{out}");
    let retry = out["retry_after"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| (1..=5).contains(&s)), "{out}");
    assert_eq!(posts(&mock).len(), 1);
}

/// An Anthropic stream broken off after three deltas: the SDK has the text so far, then
/// raises the error event the gateway ends the translated stream with.
#[tokio::test]
async fn sdk_openai_stream_cut_by_anthropic_ends_in_an_api_error() {
    let mock = MockUpstream::start(Behaviour::cut_after(3));
    let gw = single(Upstream::Anthropic, &mock).await;
    let out = run(Sdk::OpenAi, "cut", &gw, "claude-x").await;
    assert_eq!(out["text"], "tok0 tok1 tok2 ", "{out}");
    assert_eq!(
        out["error_class"], "APIError",
        "the stream's error event: {out}"
    );
    assert_eq!(posts(&mock).len(), 1, "never retried after the first byte");
}
