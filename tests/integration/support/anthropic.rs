//! The Anthropic Messages wire format as the mock upstream speaks it: request validation,
//! the `message` object (text or one `tool_use` block), the stream of named events, the
//! error envelope and the model list. Pure functions, no I/O.

use super::answer::{self, Answer, Event, Said, Usage};
use serde_json::{json, Value};

/// A request a real Messages endpoint would accept: a JSON object with a string `model`,
/// a `messages` array and a numeric `max_tokens` (required there, unlike OpenAI).
pub(super) struct ParsedRequest {
    pub model: String,
    /// `"stream": true`: the answer is the event stream.
    pub stream: bool,
}

/// Parses the body like the provider: `Err` carries the 400 error message.
pub(super) fn parse_request(body: &[u8]) -> Result<ParsedRequest, String> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| format!("There was an error parsing the body of your request: {e}"))?;
    let model = json.get("model").and_then(Value::as_str);
    let Some(model) = model else {
        return Err("model: Field required".to_string());
    };
    if !json.get("messages").is_some_and(Value::is_array) {
        return Err("messages: Field required".to_string());
    }
    if !json.get("max_tokens").is_some_and(Value::is_u64) {
        return Err("max_tokens: Field required".to_string());
    }
    Ok(ParsedRequest {
        model: model.to_string(),
        stream: json.get("stream").and_then(Value::as_bool) == Some(true),
    })
}

/// `error.type` for an HTTP status, as the provider documents them; other 4xx are
/// `invalid_request_error`, other 5xx `api_error`.
fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ if status >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `{"type": "error", "error": {"type", "message"}, "request_id"}`.
pub(super) fn error_envelope(status: u16, message: &str) -> Value {
    json!({
        "type": "error",
        "error": { "type": error_type(status), "message": message },
        "request_id": format!("req_mock{}", answer::serial()),
    })
}

/// The four usage fields; `input_tokens` leaves out the cache reads.
fn usage_json(usage: &Usage, output_tokens: u64) -> Value {
    json!({
        "input_tokens": usage.uncached_prompt(),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached(),
        "output_tokens": output_tokens,
    })
}

fn stop_reason(said: &Said) -> &'static str {
    match said {
        Said::Text(_) => "end_turn",
        Said::ToolCall { .. } => "tool_use",
    }
}

fn tool_use_id() -> String {
    format!("toolu_mock{}", answer::serial())
}

/// The `message` object: one `text` block, or one `tool_use` block with its `input`.
pub(super) fn message(answer: &Answer) -> Value {
    let block = match &answer.said {
        Said::Text(pieces) => json!({ "type": "text", "text": pieces.concat() }),
        Said::ToolCall { name, args } => {
            json!({ "type": "tool_use", "id": tool_use_id(), "name": name, "input": args })
        }
    };
    json!({
        "id": format!("msg_mock{}", answer::serial()),
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": [block],
        "stop_reason": stop_reason(&answer.said),
        "stop_sequence": null,
        "usage": usage_json(&answer.usage, answer.usage.completion),
    })
}

/// The event stream: `message_start` (empty message, `output_tokens: 1`),
/// `content_block_start`, `ping`, one `content_block_delta` per piece (`text_delta`, or
/// `input_json_delta` fragments after an empty one, as the provider sends them),
/// `content_block_stop`, `message_delta` (stop reason, cumulative `output_tokens`),
/// `message_stop`.
pub(super) fn stream(answer: &Answer) -> Vec<Event> {
    let mut start = message(answer);
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"] = usage_json(&answer.usage, 1);
    let (block, deltas): (Value, Vec<Value>) = match &answer.said {
        Said::Text(pieces) => {
            let deltas = pieces
                .iter()
                .map(|text| json!({ "type": "text_delta", "text": text }))
                .collect();
            (json!({ "type": "text", "text": "" }), deltas)
        }
        Said::ToolCall { name, args } => {
            let fragments = std::iter::once(String::new()).chain(answer::argument_fragments(args));
            let deltas = fragments
                .map(|partial| json!({ "type": "input_json_delta", "partial_json": partial }))
                .collect();
            let block = json!({ "type": "tool_use", "id": tool_use_id(), "name": name,
                                "input": {} });
            (block, deltas)
        }
    };
    let event = |name: &'static str, mut data: Value| {
        data["type"] = json!(name);
        Event::named(name, data.to_string())
    };
    let mut events = vec![
        event("message_start", json!({ "message": start })),
        event(
            "content_block_start",
            json!({ "index": 0, "content_block": block }),
        ),
        event("ping", json!({})),
    ];
    events.extend(deltas.into_iter().map(|delta| {
        event("content_block_delta", json!({ "index": 0, "delta": delta })).content()
    }));
    events.push(event("content_block_stop", json!({ "index": 0 })));
    let delta = json!({ "stop_reason": stop_reason(&answer.said), "stop_sequence": null });
    let usage = json!({ "output_tokens": answer.usage.completion });
    events.push(event(
        "message_delta",
        json!({ "delta": delta, "usage": usage }),
    ));
    events.push(event("message_stop", json!({})));
    events
}

/// `GET /v1/models` in the provider's shape (what Claude Code's model discovery parses).
pub(super) fn model_list(ids: &[String]) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({ "type": "model", "id": id, "display_name": id,
                    "created_at": "2025-05-14T00:00:00Z" })
        })
        .collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": ids.first(),
        "last_id": ids.last(),
    })
}
