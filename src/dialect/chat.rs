//! OpenAI's chat-completions format as the translators read and write it,
//! whichever dialect is on the other side: the completion id, a whole
//! `chat.completion`, and a tool call's arguments as an object. The
//! streamed form, `chat.completion.chunk`, is written by `chat_chunk`.
//! Pure; knows no other dialect.

use serde_json::{json, Value};

/// `chatcmpl-` and the upstream's reply id; a fresh one without it.
pub fn completion_id(upstream: Option<&str>) -> String {
    match upstream.filter(|id| !id.is_empty()) {
        Some(id) => format!("chatcmpl-{id}"),
        None => format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// A whole `chat.completion` of one choice, serialised. `model` is the
/// name the client asked for, `created` the Unix time of the reply,
/// `usage` OpenAI's usage object.
pub fn completion(
    id: String,
    model: &str,
    created: u64,
    message: Value,
    finish_reason: &str,
    usage: Value,
) -> Vec<u8> {
    let completion = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": usage,
    });
    completion.to_string().into_bytes()
}

/// A tool call's `arguments` as an object: parsed from their JSON text;
/// `{}` when that is not an object (Anthropic's `input` and Gemini's
/// `args` must be objects).
pub fn arguments_object(arguments: Option<&Value>) -> Value {
    let parsed = match arguments {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    if parsed.is_object() {
        parsed
    } else {
        json!({})
    }
}
