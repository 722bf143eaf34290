//! OpenAI chat completion (non-stream) → Response object.
//!
//! Output items in the order a model produces them: a `reasoning` item
//! when the upstream reasoned (`reasoning_content`, or `reasoning`, as its
//! summary text), a `message` item when there is text (else the refusal),
//! then one `function_call` item per tool call with its original name.
//! `length` and `content_filter` leave the Response `incomplete`, with the
//! message marked incomplete too; anything else completes it.

use super::TranslateError;
use crate::dialect::anthropic::ChatUsage;
use crate::dialect::responses::{self, item_id, response_id, Status};
use crate::dialect::translate::original_name;
use crate::dialect::translate::parse_object;
use serde_json::Value;

/// An OpenAI chat completion → a Response object. `model` is the model the
/// client asked for; `tool_names` comes from `request`; `created` is the
/// Unix time of the reply.
pub fn response(
    body: &[u8],
    model: &str,
    tool_names: &[(String, String)],
    created: u64,
) -> Result<Vec<u8>, TranslateError> {
    let reply = parse_object(body).map_err(|e| {
        TranslateError::BadReply(
            e.map_or_else(|| "not a JSON object".into(), |e| format!("not JSON: {e}")),
        )
    })?;
    let choice = reply
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| TranslateError::BadReply("it has no choices".into()))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let status = Status::from_finish_reason(choice.get("finish_reason").and_then(Value::as_str));
    let id = response_id(reply.get("id").and_then(Value::as_str));
    let mut output = Vec::new();
    let reasoning = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|k| message.get(*k).and_then(Value::as_str))
        .filter(|r| !r.is_empty());
    if let Some(reasoning) = reasoning {
        let item = item_id("rs", &id, output.len());
        output.push(responses::reasoning_item(&item, reasoning));
    }
    if let Some(text) = visible_text(message) {
        let item = item_id("msg", &id, output.len());
        output.push(responses::message_item(&item, &text, status.name()));
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for call in calls.into_iter().flatten() {
        let item = item_id("fc", &id, output.len());
        output.extend(function_call(call, &item, tool_names));
    }
    let usage = reply.get("usage").unwrap_or(&Value::Null);
    let usage = responses::usage(
        ChatUsage::from_json(usage),
        responses::reasoning_tokens(usage),
    );
    let response = responses::finished(
        responses::response(&id, model, created, status.name()),
        status,
        output,
        usage,
    );
    Ok(Value::Object(response).to_string().into_bytes())
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
    let text = if text.is_empty() {
        let refusal = message.get("refusal").and_then(Value::as_str);
        refusal.unwrap_or_default().to_string()
    } else {
        text
    };
    (!text.is_empty()).then_some(text)
}

/// A tool call as a `function_call` item. A call without an id gets one
/// (the client pairs its output by `call_id`); arguments that are not a
/// string are sent as their JSON text, none as `{}`.
fn function_call(call: &Value, item: &str, tool_names: &[(String, String)]) -> Option<Value> {
    let function = call.get("function")?;
    let name = function.get("name")?.as_str()?;
    let call_id = match call.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("call_{}", item.trim_start_matches("fc_")),
    };
    let arguments = match function.get("arguments") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
        Some(Value::String(_) | Value::Null) | None => "{}".to_string(),
        Some(other) => other.to_string(),
    };
    let name = original_name(name, tool_names);
    Some(responses::function_call_item(
        item,
        &call_id,
        name,
        &arguments,
        "completed",
    ))
}
