//! OpenAI chat completion (non-stream) → Anthropic message.

use super::TranslateError;
use crate::dialect::anthropic::{message_id, stop_reason, tool_id, ChatUsage, UNSIGNED_THINKING};
use crate::dialect::translate::{original_name, parse_reply};
use serde_json::{json, Value};

/// An OpenAI chat completion (non-stream) → an Anthropic message. `model`
/// is the model the client asked for; `tool_names` comes from `request`.
pub fn response(
    body: &[u8],
    model: &str,
    tool_names: &[(String, String)],
) -> Result<Vec<u8>, TranslateError> {
    let reply = parse_reply(body)?;
    let choice = reply
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| TranslateError::BadReply("it has no choices".into()))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let thinking = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|k| message.get(*k).and_then(Value::as_str))
        .filter(|r| !r.is_empty())
        .map(|r| json!({ "type": "thinking", "thinking": r, "signature": UNSIGNED_THINKING }));
    let text = visible_text(message).map(|text| json!({ "type": "text", "text": text }));
    let mut content: Vec<Value> = thinking.into_iter().chain(text).collect();
    let calls = tool_uses(message, tool_names);
    let tool_used = !calls.is_empty();
    content.extend(calls);
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let usage = ChatUsage::from_json(reply.get("usage").unwrap_or(&Value::Null));
    let message = json!({
        "id": message_id(reply.get("id").and_then(Value::as_str)),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(finish, tool_used),
        "stop_sequence": null,
        "usage": usage.to_anthropic(),
    });
    Ok(message.to_string().into_bytes())
}

/// The answer's text: `content` (a string, or text parts from the few
/// providers that send parts), else the `refusal`.
fn visible_text(message: &Value) -> Option<String> {
    let text = match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    };
    let refusal = message
        .get("refusal")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let text = if text.is_empty() {
        refusal.to_string()
    } else {
        text
    };
    (!text.is_empty()).then_some(text)
}

fn tool_uses(message: &Value, tool_names: &[(String, String)]) -> Vec<Value> {
    let calls = message.get("tool_calls").and_then(Value::as_array);
    calls
        .into_iter()
        .flatten()
        .filter_map(|call| {
            let function = call.get("function")?;
            let name = function.get("name")?.as_str()?;
            Some(json!({
                "type": "tool_use",
                "id": call_id(call.get("id").and_then(Value::as_str)),
                "name": original_name(name, tool_names),
                "input": tool_input(function.get("arguments")),
            }))
        })
        .collect()
}

/// The upstream's call id in Anthropic's alphabet; a fresh unique one when
/// it sent none (Anthropic rejects duplicate tool ids in a conversation).
fn call_id(upstream: Option<&str>) -> String {
    match upstream.filter(|id| !id.is_empty()) {
        Some(id) => tool_id(id),
        None => format!("toolu_{}", uuid::Uuid::new_v4().simple()),
    }
}

/// A tool call's arguments as an input object: parsed from their JSON text
/// (once more if a model encoded it twice); `{}` when that is not an object.
fn tool_input(arguments: Option<&Value>) -> Value {
    let parse = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
    let parsed = match arguments {
        Some(Value::String(text)) => parse(text),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    let parsed = match parsed {
        Value::String(text) => parse(&text),
        other => other,
    };
    if parsed.is_object() {
        parsed
    } else {
        json!({})
    }
}
