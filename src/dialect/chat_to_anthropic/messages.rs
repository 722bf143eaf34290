//! The conversation: OpenAI chat messages → Anthropic's top-level `system`
//! and its alternating turns.
//!
//! - `system` and `developer` messages, wherever they stand, become text
//!   blocks of the top-level `system`, in order (Anthropic has no system
//!   turn in its stable API).
//! - A user message's parts: `text`, `image_url` (a base64 data URL of a
//!   JPEG, PNG, GIF or WebP image, or an http(s) URL), `file` (a PDF or an
//!   image given as `file_data`); `input_audio` and uploaded file ids are
//!   refused (400): Anthropic cannot take them. Unknown part types are left
//!   out. A `cache_control` on a part is kept (the convention OpenRouter
//!   set for OpenAI-format clients of Claude's prompt cache).
//! - An assistant message: text (and `refusal`) parts, then its
//!   `tool_calls` as `tool_use` blocks (`input` parsed from `arguments`;
//!   `{}` when they are not a JSON object), ids made valid with
//!   [`tool_id`]. `reasoning_content` is dropped: without Anthropic's
//!   signature a thinking block is refused.
//! - A `tool` message is a `tool_result` block in a user turn; the results
//!   of one assistant turn and any user message after them join one user
//!   turn, the results first (Anthropic requires them first). A result that
//!   answers no call of the assistant turn before it becomes user text
//!   (Anthropic refuses an unmatched `tool_use_id`); a call never answered
//!   is sent as it is, and the upstream says what is wrong.
//! - Legacy functions: an assistant `function_call` is a `tool_use` with the
//!   id `toolu_function_<message index>`, and the next `role: "function"`
//!   message is its result (the legacy format has no ids to pair them).
//! - Blank text is left out (Anthropic refuses empty text blocks); a
//!   message left with nothing is dropped, and neighbours of the same role
//!   join, as Anthropic would join them. A final assistant message (a
//!   prefill) loses its trailing whitespace, which Anthropic refuses.

use super::parts::{text_block, user_blocks, Problem, BAD_CONTENT};
use super::{ToolNames, TranslateError};
use crate::dialect::anthropic::tool_id;
use crate::dialect::chat::arguments_object;
use serde_json::{json, Map, Value};

/// What the conversation becomes.
pub(super) struct Conversation {
    pub system: Vec<Value>,
    pub messages: Vec<Value>,
}

pub(super) fn translate(
    messages: &[Value],
    names: &mut ToolNames,
) -> Result<Conversation, TranslateError> {
    let mut builder = Builder {
        names,
        system: Vec::new(),
        turns: Vec::new(),
        awaiting: Vec::new(),
        legacy_call: None,
    };
    for (index, message) in messages.iter().enumerate() {
        builder
            .message(index, message)
            .map_err(|problem| TranslateError::BadMessage { index, problem })?;
    }
    Ok(builder.finish())
}

struct Builder<'n> {
    names: &'n mut ToolNames,
    system: Vec<Value>,
    turns: Vec<Turn>,
    /// Ids of the last assistant turn's tool calls not yet answered.
    awaiting: Vec<String>,
    /// The id given to the last legacy `function_call` not yet answered.
    legacy_call: Option<String>,
}

struct Turn {
    assistant: bool,
    blocks: Vec<Value>,
}

impl Builder<'_> {
    fn message(&mut self, index: usize, message: &Value) -> Result<(), Problem> {
        let message = message
            .as_object()
            .ok_or("a message must be a JSON object")?;
        let content = message.get("content");
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => self.system(content),
            Some("user") => {
                let blocks = user_blocks(content)?;
                self.push(false, blocks);
                Ok(())
            }
            Some("assistant") => self.assistant(index, message),
            Some("tool") => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .ok_or("a tool message needs its tool_call_id")?;
                let id = tool_id(id);
                let label = format!("tool call {id}");
                self.tool_result(id, content, &label)
            }
            Some("function") => {
                let id = self.legacy_call.take().unwrap_or_default();
                let name = message.get("name").and_then(Value::as_str);
                let label = format!("function {}", name.unwrap_or_default());
                self.tool_result(id, content, &label)
            }
            _ => Err("role must be system, developer, user, assistant, tool or function"),
        }
    }

    fn system(&mut self, content: Option<&Value>) -> Result<(), Problem> {
        const TEXT_ONLY: Problem = "a system or developer message takes text only";
        let texts: Vec<&Value> = match content {
            Some(Value::String(_)) => content.into_iter().collect(),
            Some(Value::Array(parts)) => parts.iter().collect(),
            _ => return Err(BAD_CONTENT),
        };
        for part in texts {
            let (text, part) = match part {
                Value::String(text) => (text.as_str(), None),
                part if part.get("type").and_then(Value::as_str) == Some("text") => (
                    part.get("text").and_then(Value::as_str).ok_or(TEXT_ONLY)?,
                    Some(part),
                ),
                _ => return Err(TEXT_ONLY),
            };
            self.system.extend(text_block(text, part));
        }
        Ok(())
    }

    fn assistant(&mut self, index: usize, message: &Map<String, Value>) -> Result<(), Problem> {
        let mut blocks = assistant_text(message.get("content"))?;
        let mut ids = Vec::new();
        let calls = message.get("tool_calls").and_then(Value::as_array);
        for (n, call) in calls.into_iter().flatten().enumerate() {
            // OpenAI's custom (grammar) tool calls have no Anthropic form.
            if call.get("type").is_some_and(|t| t != "function") {
                continue;
            }
            let function = call
                .get("function")
                .ok_or("tool_calls: each call needs a function")?;
            let id = match call.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => tool_id(id),
                _ => format!("toolu_{index}_{n}"),
            };
            blocks.push(self.tool_use(&id, function)?);
            ids.push(id);
        }
        if let Some(function) = message.get("function_call").filter(|f| f.is_object()) {
            let id = format!("toolu_function_{index}");
            blocks.push(self.tool_use(&id, function)?);
            self.legacy_call = Some(id.clone());
            ids.push(id);
        }
        if blocks.is_empty() {
            return Ok(());
        }
        if !self.turns.last().is_some_and(|turn| turn.assistant) {
            self.awaiting.clear();
        }
        self.awaiting.extend(ids);
        self.push(true, blocks);
        Ok(())
    }

    fn tool_use(&mut self, id: &str, function: &Value) -> Result<Value, Problem> {
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or("tool_calls: each call needs function.name")?;
        Ok(json!({
            "type": "tool_use",
            "id": id,
            "name": self.names.short(name),
            "input": arguments_object(function.get("arguments")),
        }))
    }

    /// A result for the call `id`: a `tool_result` when the assistant turn
    /// before made that call, else user text saying what it answers.
    fn tool_result(
        &mut self,
        id: String,
        content: Option<&Value>,
        label: &str,
    ) -> Result<(), Problem> {
        let content = result_content(content)?;
        let Some(at) = self.awaiting.iter().position(|a| *a == id) else {
            let note = format!("[result of {label}]\n{}", plain_text(&content));
            self.push(false, text_block(&note, None).into_iter().collect());
            return Ok(());
        };
        self.awaiting.remove(at);
        let mut block = json!({ "type": "tool_result", "tool_use_id": id });
        if let Some(content) = content {
            block["content"] = content;
        }
        self.push(false, vec![block]);
        Ok(())
    }

    /// Appends blocks to the last turn if it has the same role, else starts
    /// a turn; nothing for no blocks.
    fn push(&mut self, assistant: bool, blocks: Vec<Value>) {
        if blocks.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some(turn) if turn.assistant == assistant => turn.blocks.extend(blocks),
            _ => self.turns.push(Turn { assistant, blocks }),
        }
    }

    fn finish(mut self) -> Conversation {
        for turn in self.turns.iter_mut().filter(|turn| !turn.assistant) {
            let (mut results, rest): (Vec<Value>, Vec<Value>) = std::mem::take(&mut turn.blocks)
                .into_iter()
                .partition(|block| block["type"] == "tool_result");
            results.extend(rest);
            turn.blocks = results;
        }
        trim_prefill(&mut self.turns);
        let messages = self
            .turns
            .into_iter()
            .map(|turn| {
                let role = if turn.assistant { "assistant" } else { "user" };
                json!({ "role": role, "content": turn.blocks })
            })
            .collect();
        Conversation {
            system: self.system,
            messages,
        }
    }
}

/// A final assistant turn without trailing whitespace, and without the
/// text block (or turn) that was only whitespace.
fn trim_prefill(turns: &mut Vec<Turn>) {
    let Some(turn) = turns.last_mut().filter(|turn| turn.assistant) else {
        return;
    };
    if let Some(last) = turn.blocks.last_mut().filter(|b| b["type"] == "text") {
        let trimmed = last["text"]
            .as_str()
            .unwrap_or_default()
            .trim_end()
            .to_string();
        if trimmed.is_empty() {
            turn.blocks.pop();
        } else {
            last["text"] = trimmed.into();
        }
    }
    if turn.blocks.is_empty() {
        turns.pop();
    }
}

/// An assistant message's text: a string, or its text and refusal parts.
fn assistant_text(content: Option<&Value>) -> Result<Vec<Value>, Problem> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(text_block(text, None).into_iter().collect()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter_map(|part| {
                let text = ["text", "refusal"]
                    .iter()
                    .find_map(|key| part.get(*key).and_then(Value::as_str))?;
                text_block(text, Some(part))
            })
            .collect()),
        Some(_) => Err(BAD_CONTENT),
    }
}

/// A tool message's content as a `tool_result`'s: a string, or text and
/// image blocks; `None` when empty.
fn result_content(content: Option<&Value>) -> Result<Option<Value>, Problem> {
    match content {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok((!text.is_empty()).then(|| text.clone().into())),
        Some(Value::Array(_)) => {
            let blocks = user_blocks(content)?;
            Ok((!blocks.is_empty()).then(|| blocks.into()))
        }
        Some(_) => Err(BAD_CONTENT),
    }
}

/// The text of a tool result's content, for an unmatched result.
fn plain_text(content: &Option<Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}
