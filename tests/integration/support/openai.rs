//! The OpenAI wire format as the mock upstream speaks it: request validation and the
//! JSON objects of each reply (chat.completion, text_completion, embeddings, model
//! list, chat.completion.chunk, the error envelope). Pure functions, no I/O.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
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
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{prefix}-mock{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn usage(completion_tokens: u64) -> Value {
    json!({
        "prompt_tokens": MOCK_PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": MOCK_PROMPT_TOKENS + completion_tokens,
    })
}

fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

pub(super) fn chat_completion(model: &str, content: &str) -> Value {
    json!({
        "id": next_id("chatcmpl"),
        "object": "chat.completion",
        "created": now_secs(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": usage(word_count(content)),
    })
}

pub(super) fn text_completion(model: &str, content: &str) -> Value {
    json!({
        "id": next_id("cmpl"),
        "object": "text_completion",
        "created": now_secs(),
        "model": model,
        "choices": [{ "text": content, "index": 0, "logprobs": null, "finish_reason": "stop" }],
        "usage": usage(word_count(content)),
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

/// The `data:` payloads of a streamed chat completion: `chunks` content chunks (the
/// first also carries the role), one with `finish_reason`, one with `usage`, `[DONE]`.
pub(super) fn sse_payloads(model: &str, chunks: usize) -> Vec<String> {
    let id = next_id("chatcmpl");
    let created = now_secs();
    let chunk = |delta: Value, finish: Value, extra: Option<Value>| {
        let choices = if extra.is_some() {
            json!([])
        } else {
            json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }])
        };
        let mut object = json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": model, "choices": choices,
        });
        if let Some(usage) = extra {
            object["usage"] = usage;
        }
        object.to_string()
    };
    let mut payloads: Vec<String> = (0..chunks)
        .map(|i| {
            let delta = if i == 0 {
                json!({ "role": "assistant", "content": format!("tok{i} ") })
            } else {
                json!({ "content": format!("tok{i} ") })
            };
            chunk(delta, Value::Null, None)
        })
        .collect();
    payloads.push(chunk(json!({}), json!("stop"), None));
    payloads.push(chunk(Value::Null, Value::Null, Some(usage(chunks as u64))));
    payloads.push("[DONE]".to_string());
    payloads
}
