//! Anthropic message (non-stream) → OpenAI chat completion.
//!
//! Text blocks are joined as they are (Anthropic splits one answer into
//! several blocks around citations); thinking blocks become
//! `reasoning_content` (the field DeepSeek and OpenRouter clients read);
//! `tool_use` blocks become `tool_calls` with their original names;
//! redacted thinking and server tool blocks have no OpenAI form and are
//! left out. The finish reason is `tool_calls` whenever a tool was called.

use super::TranslateError;
use crate::dialect::anthropic::{finish_reason, ChatUsage};
use crate::dialect::chat::{completion, completion_id};
use crate::dialect::translate::{original_name, parse_reply};
use serde_json::{json, Value};

/// An Anthropic message → an OpenAI chat completion. `model` is the model
/// the client asked for; `tool_names` comes from `request`; `created` is
/// the Unix time of the reply.
pub fn response(
    body: &[u8],
    model: &str,
    tool_names: &[(String, String)],
    created: u64,
) -> Result<Vec<u8>, TranslateError> {
    let reply = parse_reply(body)?;
    if reply.get("type").is_some_and(|t| t != "message") {
        return Err(TranslateError::BadReply(
            "it is not an Anthropic message".into(),
        ));
    }
    let blocks = reply
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::BadReply("it has no content array".into()))?;
    let (mut text, mut reasoning, mut calls) = (String::new(), String::new(), Vec::new());
    for block in blocks {
        let field = |key| block.get(key).and_then(Value::as_str);
        match field("type") {
            Some("text") => text.push_str(field("text").unwrap_or_default()),
            Some("thinking") => reasoning.push_str(field("thinking").unwrap_or_default()),
            Some("tool_use") => calls.extend(tool_call(block, tool_names)),
            _ => {}
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() { Value::Null } else { text.into() },
        "refusal": null,
    });
    if !reasoning.is_empty() {
        message["reasoning_content"] = reasoning.into();
    }
    let finish = if calls.is_empty() {
        finish_reason(reply.get("stop_reason").and_then(Value::as_str))
    } else {
        message["tool_calls"] = calls.into();
        "tool_calls"
    };
    let usage = ChatUsage::from_anthropic(reply.get("usage").unwrap_or(&Value::Null));
    let id = completion_id(reply.get("id").and_then(Value::as_str));
    Ok(completion(
        id,
        model,
        created,
        message,
        finish,
        usage.to_chat(),
    ))
}

fn tool_call(block: &Value, tool_names: &[(String, String)]) -> Option<Value> {
    let name = block.get("name")?.as_str()?;
    let input = block.get("input").filter(|i| i.is_object());
    let arguments = input.map_or_else(|| "{}".to_string(), Value::to_string);
    Some(json!({
        "id": block.get("id").and_then(Value::as_str).unwrap_or_default(),
        "type": "function",
        "function": { "name": original_name(name, tool_names), "arguments": arguments },
    }))
}
