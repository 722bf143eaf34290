//! Gemini `GenerateContentResponse` (non-stream) → OpenAI chat completion.
//!
//! Only the first candidate is read (the request never asks for more).
//! Text parts are joined into `content`, thought parts into
//! `reasoning_content`, `functionCall` parts become `tool_calls` (see
//! `gemini::chat_tool_call`); other parts (code execution, generated
//! images) have no place in a chat completion and are left out. A reply
//! with no candidate at all (the prompt was blocked: `promptFeedback
//! .blockReason`) is a completion with empty content and `finish_reason`
//! `content_filter`, which is how OpenAI itself reports a refusal by its
//! filters, rather than an error the client would retry.

use super::TranslateError;
use crate::dialect::chat::{completion, completion_id};
use crate::dialect::gemini::{chat_tool_call, finish_reason, first_candidate, GeminiUsage};
use crate::dialect::translate::parse_reply;
use serde_json::{Map, Value};

/// A Gemini reply (non-stream) → an OpenAI chat completion. `model` is the
/// model the client asked for; `tool_names` comes from `request`;
/// `created` is the Unix time to report.
pub fn response(
    body: &[u8],
    model: &str,
    tool_names: &[(String, String)],
    created: u64,
) -> Result<Vec<u8>, TranslateError> {
    let reply = parse_reply(body)?;
    let candidates = reply.get("candidates").and_then(Value::as_array);
    let blocked = reply
        .get("promptFeedback")
        .and_then(|f| f.get("blockReason"))
        .is_some();
    if candidates.is_none() && !blocked {
        return Err(TranslateError::BadReply("it has no candidates".into()));
    }
    let candidate = candidates.and_then(|c| first_candidate(c));
    let message = Message::read(candidate, tool_names);
    let finish = match candidate {
        Some(candidate) => {
            let reason = candidate.get("finishReason").and_then(Value::as_str);
            finish_reason(reason, !message.tool_calls.is_empty())
        }
        None => "content_filter",
    };
    let usage = GeminiUsage::from_metadata(reply.get("usageMetadata").unwrap_or(&Value::Null));
    let id = completion_id(reply.get("responseId").and_then(Value::as_str));
    let message = message.into_chat();
    Ok(completion(
        id,
        model,
        created,
        message,
        finish,
        usage.to_chat(),
    ))
}

/// The parts of a candidate, sorted into what a chat message holds.
struct Message {
    content: String,
    reasoning: String,
    tool_calls: Vec<Value>,
}

impl Message {
    fn read(candidate: Option<&Value>, tool_names: &[(String, String)]) -> Self {
        let mut message = Self {
            content: String::new(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
        };
        let parts = candidate
            .and_then(|c| c.get("content"))
            .and_then(|c| c.get("parts"))
            .and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            let signature = part.get("thoughtSignature").and_then(Value::as_str);
            if let Some(call) = part.get("functionCall").filter(|c| c.is_object()) {
                let call = chat_tool_call(call, signature, tool_names);
                message.tool_calls.push(call);
            } else if let Some(text) = part.get("text").and_then(Value::as_str) {
                if part.get("thought") == Some(&Value::Bool(true)) {
                    message.reasoning.push_str(text);
                } else {
                    message.content.push_str(text);
                }
            }
        }
        message
    }

    fn into_chat(self) -> Value {
        let mut message = Map::new();
        message.insert("role".into(), "assistant".into());
        let content = if self.content.is_empty() && !self.tool_calls.is_empty() {
            Value::Null
        } else {
            self.content.into()
        };
        message.insert("content".into(), content);
        if !self.reasoning.is_empty() {
            message.insert("reasoning_content".into(), self.reasoning.into());
        }
        if !self.tool_calls.is_empty() {
            message.insert("tool_calls".into(), self.tool_calls.into());
        }
        Value::Object(message)
    }
}
