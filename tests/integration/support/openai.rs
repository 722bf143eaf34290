//! The OpenAI wire format as the mock upstream speaks it: request validation and the
//! JSON objects of each reply (chat.completion with text or a tool call, text_completion,
//! embeddings, model list, chat.completion.chunk, the error envelope). Pure functions, no
//! I/O.

use super::answer::{self, Answer, Event, Said, Usage};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Every mock reply reports this many prompt tokens, so tests can assert usage.
pub const MOCK_PROMPT_TOKENS: u64 = 10;

/// A request body a real provider would accept: a JSON object with a string `model`.
pub(super) struct ParsedRequest {
    pub model: String,
    pub json: Value,
}

/// Parses the body like a provider: `Err` carries the 400 error message.
pub(super) fn parse_request(body: &[u8]) -> Result<ParsedRequest, String> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| format!("We could not parse the JSON body of your request: {e}"))?;
    match json.get("model").and_then(Value::as_str) {
        Some(model) => Ok(ParsedRequest {
            model: model.to_string(),
            json,
        }),
        None => Err("you must provide a model parameter".to_string()),
    }
}

/// The OpenAI error envelope: `{"error": {"message", "type", "param", "code"}}`.
pub fn error_envelope(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        400 => ("invalid_request_error", Value::Null),
        401 => ("invalid_request_error", json!("invalid_api_key")),
        403 => ("permission_denied", Value::Null),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("requests", json!("rate_limit_exceeded")),
        500..=599 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    let param = if status == 400 {
        json!("model")
    } else {
        Value::Null
    };
    json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
}

fn next_id(prefix: &str) -> String {
    format!("{prefix}-mock{}", answer::serial())
}

/// OpenAI spells tool call ids with an underscore: `call_...`.
fn call_id() -> String {
    format!("call_mock{}", answer::serial())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn usage(completion_tokens: u64) -> Value {
    usage_json(&Usage {
        prompt: MOCK_PROMPT_TOKENS,
        completion: completion_tokens,
        cached: None,
    })
}

/// `prompt_tokens` includes `prompt_tokens_details.cached_tokens`, present only when the
/// behaviour set cache figures.
fn usage_json(usage: &Usage) -> Value {
    let mut json = json!({
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.total(),
    });
    if let Some(cached) = usage.cached {
        json["prompt_tokens_details"] = json!({ "cached_tokens": cached });
    }
    json
}

/// A chat.completion: the text as `message.content`, or a tool call in `tool_calls` with
/// `content: null` and `finish_reason: "tool_calls"`.
pub(super) fn chat_completion(answer: &Answer) -> Value {
    let (message, finish) = match &answer.said {
        Said::Text(pieces) => (
            json!({ "role": "assistant", "content": pieces.concat() }),
            "stop",
        ),
        Said::ToolCall { name, args } => {
            let call = json!({
                "id": call_id(), "type": "function",
                "function": { "name": name, "arguments": args.to_string() },
            });
            let message = json!({ "role": "assistant", "content": null, "tool_calls": [call] });
            (message, "tool_calls")
        }
    };
    json!({
        "id": next_id("chatcmpl"),
        "object": "chat.completion",
        "created": now_secs(),
        "model": answer.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": usage_json(&answer.usage),
    })
}

pub(super) fn text_completion(model: &str, content: &str) -> Value {
    json!({
        "id": next_id("cmpl"),
        "object": "text_completion",
        "created": now_secs(),
        "model": model,
        "choices": [{ "text": content, "index": 0, "logprobs": null, "finish_reason": "stop" }],
        "usage": usage(answer::word_count(content)),
    })
}

/// One embedding per input (a string, or an array of anything).
pub(super) fn embeddings(model: &str, request: &Value) -> Value {
    let inputs = match request.get("input") {
        Some(Value::Array(items)) => items.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..inputs)
        .map(|i| {
            let vector: Vec<f64> = (0..8).map(|d| ((i * 8 + d) as f64) / 100.0).collect();
            json!({ "object": "embedding", "index": i, "embedding": vector })
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": MOCK_PROMPT_TOKENS, "total_tokens": MOCK_PROMPT_TOKENS },
    })
}

pub(super) fn model_list(ids: &[String]) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 0, "owned_by": "mock" }))
        .collect();
    json!({ "object": "list", "data": data })
}

/// A streamed chat completion: one chunk per content piece (the first also carries the
/// role), one with `finish_reason`, one with `usage` and no choices, then `[DONE]`. A tool
/// call opens with its id and name and streams its arguments over several chunks.
pub(super) fn stream(answer: &Answer) -> Vec<Event> {
    let id = next_id("chatcmpl");
    let created = now_secs();
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut object = json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": answer.model, "choices": choices,
        });
        if let Some(usage) = usage {
            object["usage"] = usage;
        }
        object.to_string()
    };
    let choice = |delta: Value, finish: Value| json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]);
    let (deltas, finish) = match &answer.said {
        Said::Text(pieces) => (text_deltas(pieces), "stop"),
        Said::ToolCall { name, args } => (tool_call_deltas(name, args), "tool_calls"),
    };
    let mut events: Vec<Event> = deltas
        .into_iter()
        .map(|delta| Event::data(chunk(choice(delta, Value::Null), None)).content())
        .collect();
    events.push(Event::data(chunk(choice(json!({}), json!(finish)), None)));
    let usage = usage_json(&answer.usage);
    events.push(Event::data(chunk(json!([]), Some(usage))));
    events.push(Event::data("[DONE]".to_string()));
    events
}

fn text_deltas(pieces: &[String]) -> Vec<Value> {
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            if i == 0 {
                json!({ "role": "assistant", "content": piece })
            } else {
                json!({ "content": piece })
            }
        })
        .collect()
}

fn tool_call_deltas(name: &str, args: &Value) -> Vec<Value> {
    let opening = json!({
        "role": "assistant", "content": null,
        "tool_calls": [{ "index": 0, "id": call_id(), "type": "function",
                         "function": { "name": name, "arguments": "" } }],
    });
    let fragments = answer::argument_fragments(args).into_iter().map(
        |fragment| json!({ "tool_calls": [{ "index": 0, "function": { "arguments": fragment } }] }),
    );
    std::iter::once(opening).chain(fragments).collect()
}
