//! OpenAI's Responses API: the facts its translations share — ids, the
//! Response object's fixed fields, its output items, status and usage —
//! so that a whole reply (`responses_to_chat::response`) and a streamed
//! one (`chat_stream_to_responses`) build the same object. Pure.
//!
//! Sources: OpenAI's Responses API reference (the Response object, output
//! items, usage) and the official SDKs' models of it, which decide what a
//! client accepts: `id`, `object`, `created_at`, `model`, `output`,
//! `parallel_tool_calls`, `tool_choice` and `tools` are required, and
//! `usage.input_tokens_details` needs `cached_tokens` and (in recent SDKs)
//! `cache_write_tokens`.

use super::anthropic::{tool_id, ChatUsage};
use serde_json::{json, Map, Value};

/// The longest upstream id kept in a response id.
const MAX_ID: usize = 96;

/// A Response id (`resp_…`) from the upstream's completion id, in a safe
/// alphabet; a fresh one when the upstream gave none. Item ids share its
/// tail: `msg_<tail>_<n>`, `rs_<tail>_<n>`, `fc_<tail>_<n>`.
pub fn response_id(upstream: Option<&str>) -> String {
    match upstream.filter(|id| !id.is_empty()) {
        Some(id) => format!(
            "resp_{}",
            tool_id(id).chars().take(MAX_ID).collect::<String>()
        ),
        None => format!("resp_{}", uuid::Uuid::new_v4().simple()),
    }
}

/// The id of the output item at `index`: `prefix`, the response id's
/// tail and the index, so that ids are unique within a response.
pub fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    format!(
        "{prefix}_{}_{index}",
        response_id.trim_start_matches("resp_")
    )
}

/// How a reply ended, in the Response's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Completed,
    /// Cut short: `max_output_tokens` or `content_filter`.
    Incomplete(&'static str),
}

impl Status {
    /// From an OpenAI `finish_reason`: `length` and `content_filter` leave
    /// the Response incomplete (as OpenAI's own Responses API reports them);
    /// anything else, tool calls included, completes it.
    pub fn from_finish_reason(finish_reason: Option<&str>) -> Self {
        match finish_reason {
            Some("length") => Self::Incomplete("max_output_tokens"),
            Some("content_filter") => Self::Incomplete("content_filter"),
            _ => Self::Completed,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Incomplete(_) => "incomplete",
        }
    }

    fn details(self) -> Value {
        match self {
            Self::Completed => Value::Null,
            Self::Incomplete(reason) => json!({ "reason": reason }),
        }
    }
}

/// `completion_tokens_details.reasoning_tokens` of an OpenAI usage object
/// (0 when absent): the one count `ChatUsage` does not keep.
pub fn reasoning_tokens(usage: &Value) -> u64 {
    usage
        .get("completion_tokens_details")
        .and_then(|d| d.get("reasoning_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The Response's `usage`: `input_tokens` includes cached tokens, as
/// OpenAI's `prompt_tokens` does.
pub fn usage(usage: ChatUsage, reasoning_tokens: u64) -> Value {
    json!({
        "input_tokens": usage.prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cached,
            "cache_write_tokens": usage.cache_write,
        },
        "output_tokens": usage.completion,
        "output_tokens_details": { "reasoning_tokens": reasoning_tokens },
        "total_tokens": usage.prompt + usage.completion,
    })
}

/// A Response object with its fixed fields. The request is not at hand
/// where replies are translated (the gateway is stateless), so the fields
/// that echo it carry the API's defaults: `tools` empty, `tool_choice`
/// `auto`, `parallel_tool_calls` true, plain `text`.
pub fn response(id: &str, model: &str, created: u64, status: &str) -> Map<String, Value> {
    let value = json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": model,
        "output": [],
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": { "effort": null, "summary": null },
        "store": false,
        "temperature": null,
        "text": { "format": { "type": "text" } },
        "tool_choice": "auto",
        "tools": [],
        "top_p": null,
        "truncation": "disabled",
        "usage": null,
        "user": null,
        "metadata": {},
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A finished Response: its status, output items and usage in place.
pub fn finished(
    mut response: Map<String, Value>,
    status: Status,
    output: Vec<Value>,
    usage: Value,
) -> Map<String, Value> {
    response.insert("status".into(), status.name().into());
    response.insert("incomplete_details".into(), status.details());
    response.insert("output".into(), output.into());
    response.insert("usage".into(), usage);
    response
}

/// An assistant message item holding one text part.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "id": id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [output_text(text)],
    })
}

/// The `output_text` part of a message item.
pub fn output_text(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [], "logprobs": [] })
}

/// A reasoning item: the upstream's reasoning as its summary text (what
/// clients display; Codex shows summaries by default and raw reasoning
/// text only when asked to).
pub fn reasoning_item(id: &str, text: &str) -> Value {
    let summary: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        vec![summary_text(text)]
    };
    json!({ "id": id, "type": "reasoning", "summary": summary })
}

pub fn summary_text(text: &str) -> Value {
    json!({ "type": "summary_text", "text": text })
}

/// A function call item.
pub fn function_call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({
        "id": id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    })
}

/// `response.failed` for a stream the gateway passed through and the
/// provider broke off: about the provider's response (`id`, when it was
/// seen: clients reject an event about another), numbered after its last
/// event (`sequence`), with the message in `error`.
pub fn failed_event(
    sequence: u64,
    id: Option<&str>,
    model: &str,
    message: &str,
    created: u64,
) -> Vec<u8> {
    let id = id.map_or_else(|| response_id(None), str::to_string);
    let mut response = response(&id, model, created, "failed");
    response.insert(
        "error".into(),
        json!({ "code": "server_error", "message": message }),
    );
    let event = json!({
        "type": "response.failed",
        "sequence_number": sequence,
        "response": response,
    });
    let mut out = b"event: response.failed\ndata: ".to_vec();
    out.extend_from_slice(event.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_the_upstream_id_in_a_safe_alphabet() {
        assert_eq!(response_id(Some("chatcmpl-abc")), "resp_chatcmpl-abc");
        assert_eq!(response_id(Some("a:b.c")), "resp_a_b_c");
        assert!(response_id(None).starts_with("resp_"));
        assert_ne!(response_id(None), response_id(Some("")), "fresh");
        assert_eq!(item_id("msg", "resp_x1", 2), "msg_x1_2");
        let long = "x".repeat(500);
        assert_eq!(response_id(Some(&long)).len(), 5 + MAX_ID);
    }

    #[test]
    fn finish_reasons_map_to_status_and_usage_keeps_cached_tokens_in_input() {
        assert_eq!(Status::from_finish_reason(Some("stop")), Status::Completed);
        assert_eq!(
            Status::from_finish_reason(Some("tool_calls")),
            Status::Completed
        );
        assert_eq!(Status::from_finish_reason(None), Status::Completed);
        assert_eq!(
            Status::from_finish_reason(Some("length")),
            Status::Incomplete("max_output_tokens")
        );
        assert_eq!(
            Status::from_finish_reason(Some("content_filter")).details(),
            json!({ "reason": "content_filter" })
        );
        let chat = json!({ "prompt_tokens": 100, "completion_tokens": 20,
            "prompt_tokens_details": { "cached_tokens": 60 },
            "completion_tokens_details": { "reasoning_tokens": 7 } });
        assert_eq!(
            usage(ChatUsage::from_json(&chat), reasoning_tokens(&chat)),
            json!({ "input_tokens": 100,
                    "input_tokens_details": { "cached_tokens": 60, "cache_write_tokens": 0 },
                    "output_tokens": 20, "output_tokens_details": { "reasoning_tokens": 7 },
                    "total_tokens": 120 })
        );
    }
}
