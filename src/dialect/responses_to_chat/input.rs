//! The conversation: a Responses request's `instructions` and `input` →
//! chat messages.
//!
//! - `input` as a string is one user message.
//! - `message` items (with or without `"type"`): `user` keeps text and
//!   images (`input_image` by URL or data URL; a file id or a file becomes
//!   a note, as no chat provider can fetch OpenAI's files); `assistant`
//!   keeps its text; `system` and `developer` before the first other item
//!   join `instructions` in the leading system message, later ones become
//!   user messages wrapped in `<system-reminder>` tags (chat templates of
//!   several open models reject a system message anywhere but first), held
//!   while tool results are awaited because chat requires `tool` messages
//!   to follow their assistant message directly.
//! - `function_call` items join the assistant message just before them (or
//!   start one): consecutive calls are one assistant turn with several
//!   `tool_calls`, their ids the items' `call_id`s. `custom_tool_call`
//!   items, from a custom tool of an earlier turn, are calls too, their
//!   free-form input as `{"input": …}`.
//! - `function_call_output` (and `custom_tool_call_output`) items become
//!   `tool` messages; their parts are joined as text. An output that
//!   answers no call of the assistant turn before it becomes user text
//!   (OpenAI rejects a stray `tool` message).
//! - `reasoning` items are dropped: their encrypted content means something
//!   to OpenAI alone. So are hosted-tool items (web search, file search,
//!   computer, MCP, local shell calls).

use super::{ToolNames, TranslateError};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

pub(super) const IMAGE_OMITTED: &str =
    "[an image was omitted: its source cannot be sent to the model]";
const IMAGE_IN_RESULT: &str =
    "[an image was omitted: the model cannot take images in tool results]";
pub(super) const FILE_OMITTED: &str = "[a file was omitted: the model cannot take files]";

/// The chat messages of a Responses request.
pub(super) fn messages(
    req: &Map<String, Value>,
    names: &mut ToolNames,
) -> Result<Vec<Value>, TranslateError> {
    let mut conversation = Conversation::new(names);
    if let Some(text) = req.get("instructions").and_then(Value::as_str) {
        conversation.system(text);
    }
    match req.get("input") {
        Some(Value::String(text)) => conversation.user(vec![text_part(text)]),
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                conversation
                    .item(item)
                    .map_err(|problem| TranslateError::BadItem { index, problem })?;
            }
        }
        _ => return Err(TranslateError::NoInput),
    }
    Ok(conversation.finish())
}

type Problem = &'static str;

/// The chat messages, built item by item.
struct Conversation<'n> {
    names: &'n mut ToolNames,
    /// The leading system text, while nothing else has come.
    system: Vec<String>,
    out: Vec<Value>,
    /// Ids of the last assistant turn's tool calls not yet answered.
    awaiting: HashSet<String>,
    /// Mid-conversation system text held until the awaited tool results.
    held: Vec<Value>,
}

impl<'n> Conversation<'n> {
    fn new(names: &'n mut ToolNames) -> Self {
        Self {
            names,
            system: Vec::new(),
            out: Vec::new(),
            awaiting: HashSet::new(),
            held: Vec::new(),
        }
    }

    fn item(&mut self, item: &Value) -> Result<(), Problem> {
        let field = |key| item.get(key).and_then(Value::as_str);
        match field("type") {
            Some("message") => self.message(item),
            None if item.get("role").is_some() => self.message(item),
            Some("function_call") => {
                let (call_id, name) = call_fields(item)?;
                let arguments = match item.get("arguments") {
                    Some(Value::String(arguments)) if !arguments.trim().is_empty() => {
                        arguments.clone()
                    }
                    _ => "{}".to_string(),
                };
                self.call(call_id, name, arguments);
                Ok(())
            }
            Some("custom_tool_call") => {
                let (call_id, name) = call_fields(item)?;
                let input = field("input").unwrap_or_default();
                self.call(call_id, name, json!({ "input": input }).to_string());
                Ok(())
            }
            Some("function_call_output" | "custom_tool_call_output") => {
                let call_id = field("call_id").ok_or("a tool call output needs a call_id")?;
                self.output(call_id, item.get("output"));
                Ok(())
            }
            Some("item_reference") => Err("item_reference: the gateway keeps no stored items \
                 for this model; send the items themselves"),
            // Reasoning, hosted-tool calls and their outputs: see the doc.
            _ => Ok(()),
        }
    }

    fn message(&mut self, item: &Value) -> Result<(), Problem> {
        let parts: Vec<Value> = match item.get("content") {
            Some(Value::String(text)) => vec![text_part(text)],
            Some(Value::Array(parts)) => parts.iter().filter_map(content_part).collect(),
            _ => return Err("content must be a string or an array of content parts"),
        };
        match item.get("role").and_then(Value::as_str) {
            Some("user") => self.user(parts),
            Some("assistant") => self.assistant(&texts(&parts).join("\n")),
            Some("system" | "developer") => self.system(&texts(&parts).join("\n")),
            _ => return Err("role must be user, assistant, system or developer"),
        }
        Ok(())
    }

    fn finish(mut self) -> Vec<Value> {
        self.start();
        self.out.append(&mut self.held);
        self.out
    }

    /// The first item that is not system text: the leading system message.
    fn start(&mut self) {
        if self.system.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.system).join("\n\n");
        self.out
            .insert(0, json!({ "role": "system", "content": text }));
    }

    fn system(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.out.is_empty() {
            self.system.push(text.to_string());
            return;
        }
        let text = format!("<system-reminder>\n{text}\n</system-reminder>");
        let message = json!({ "role": "user", "content": text });
        if self.awaiting.is_empty() {
            self.out.push(message);
        } else {
            self.held.push(message);
        }
    }

    /// Ends a run of tool results: what was held follows them.
    fn settle(&mut self) {
        self.start();
        self.awaiting.clear();
        self.out.append(&mut self.held);
    }

    fn user(&mut self, parts: Vec<Value>) {
        self.settle();
        if parts.is_empty() {
            return;
        }
        let content = if parts.iter().all(|p| p["type"] == "text") {
            Value::from(texts(&parts).join("\n"))
        } else {
            Value::from(parts)
        };
        self.out.push(json!({ "role": "user", "content": content }));
    }

    fn assistant(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(last) = self.open_assistant() {
            let joined = match last.get("content").and_then(Value::as_str) {
                Some(before) if !before.is_empty() => format!("{before}\n{text}"),
                _ => text.to_string(),
            };
            last.insert("content".into(), joined.into());
            return;
        }
        self.settle();
        self.out
            .push(json!({ "role": "assistant", "content": text }));
    }

    fn call(&mut self, call_id: &str, name: &str, arguments: String) {
        let call = json!({
            "id": call_id,
            "type": "function",
            "function": { "name": self.names.short(name), "arguments": arguments },
        });
        if self.open_assistant().is_none() {
            self.settle();
            self.out
                .push(json!({ "role": "assistant", "content": null }));
        }
        self.awaiting.insert(call_id.to_string());
        if let Some(last) = self.open_assistant() {
            match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                Some(calls) => calls.push(call),
                None => {
                    last.insert("tool_calls".into(), vec![call].into());
                }
            }
        }
    }

    /// The last message, when it is an assistant turn more text or calls
    /// may join.
    fn open_assistant(&mut self) -> Option<&mut Map<String, Value>> {
        if !self.held.is_empty() {
            return None;
        }
        let last = self.out.last_mut()?.as_object_mut()?;
        (last.get("role").and_then(Value::as_str) == Some("assistant")).then_some(last)
    }

    fn output(&mut self, call_id: &str, output: Option<&Value>) {
        let text = output_text(output);
        if self.awaiting.remove(call_id) {
            let message = json!({ "role": "tool", "tool_call_id": call_id, "content": text });
            self.out.push(message);
            if self.awaiting.is_empty() {
                self.out.append(&mut self.held);
            }
        } else {
            let text = format!("[result of tool call {call_id}]\n{text}");
            if self.awaiting.is_empty() {
                self.user(vec![text_part(&text)]);
            } else {
                // Between the results of the turn's calls: after them.
                self.held.push(json!({ "role": "user", "content": text }));
            }
        }
    }
}

fn call_fields(item: &Value) -> Result<(&str, &str), Problem> {
    let field = |key| {
        item.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (field("call_id"), field("name")) {
        (Some(call_id), Some(name)) => Ok((call_id, name)),
        _ => Err("a tool call needs a call_id and a name"),
    }
}

fn text_part(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

fn texts(parts: &[Value]) -> Vec<&str> {
    parts
        .iter()
        .filter(|p| p["type"] == "text")
        .filter_map(|p| p["text"].as_str())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A message's content part as a chat part; `None` for a kind chat has
/// no form of.
fn content_part(part: &Value) -> Option<Value> {
    let field = |key| part.get(key).and_then(Value::as_str);
    match field("type")? {
        "input_text" | "output_text" | "text" => Some(text_part(field("text")?)),
        "refusal" => Some(text_part(field("refusal")?)),
        "input_image" => Some(match field("image_url").filter(|u| !u.is_empty()) {
            Some(url) => {
                let mut image = json!({ "url": url });
                if let Some(detail) = field("detail") {
                    image["detail"] = detail.into();
                }
                json!({ "type": "image_url", "image_url": image })
            }
            None => text_part(IMAGE_OMITTED),
        }),
        "input_file" => Some(text_part(FILE_OMITTED)),
        _ => None,
    }
}

/// A tool call's output as text: a string as it is, parts joined.
fn output_text(output: Option<&Value>) -> String {
    match output {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text" | "text") => {
                    part.get("text").and_then(Value::as_str)
                }
                Some("input_image") => Some(IMAGE_IN_RESULT),
                Some("input_file") => Some(FILE_OMITTED),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}
