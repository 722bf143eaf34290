//! OpenAI chat completions request → Gemini `GenerateContentRequest`, and
//! Gemini `GenerateContentResponse` → OpenAI chat completion (non-stream):
//! what lets an OpenAI client be served by a native Gemini upstream (and an
//! Anthropic client too, through `anthropic_to_chat` first). Pure: bytes in,
//! bytes out; the streamed reply is `gemini_stream_to_chat`'s. The model and
//! the stream flag go in the upstream URL, not in the body.
//!
//! Kept: `system`/`developer` (as `systemInstruction`, wherever they stand),
//! `user`, `assistant`, `tool` (and the legacy `function`) messages,
//! function `tools`, `tool_choice`, `max_completion_tokens`/`max_tokens`
//! (clamped), `temperature`, `top_p`, `stop` (the first five: Gemini's
//! limit), `seed`, `presence_penalty`, `frequency_penalty`,
//! `response_format`, `reasoning_effort` (for a model that reasons), `n`
//! only when it is 1. Dropped: `n` above 1 (only the first candidate would
//! be translated back; the client gets one choice), `logprobs`,
//! `top_logprobs`, `logit_bias`, `user`, `metadata`, `store`,
//! `parallel_tool_calls` (Gemini always may call in parallel),
//! `stream_options` (Gemini always reports usage), `reasoning_content` in
//! the history, tools other than functions, content parts other than text,
//! images, audio and files.
//!
//! Choices where the formats leave room:
//! - Consecutive messages of one role are merged into one content: Gemini
//!   alternates `user` and `model`, and the function responses of parallel
//!   calls belong in one `user` content.
//! - A `tool` message becomes a `functionResponse` named after the call it
//!   answers (Gemini pairs by name; OpenAI only gives the id). Content that
//!   is a JSON object is the `response` as it is; anything else is
//!   `{"output": <text>}`, the key Gemini documents for a function's output.
//!   A result whose call is unknown becomes user text, as
//!   `anthropic_to_chat` does with an orphan `tool_result`.
//! - Function call ids are never sent: AI Studio often gives none and
//!   Vertex rejected them in the past; Gemini pairs calls and responses by
//!   name and order.
//! - Thought signatures come back from the call id carrier
//!   (`gemini::split_signature`) or Gemini's own OpenAI-compatible field
//!   `tool_calls[].extra_content.google.thought_signature` (which wins).
//!   The first function call of each model step in the current turn (after
//!   the last user message that is not only function responses) without
//!   one gets [`SKIP_SIGNATURE`]: Gemini 3 validates exactly those, and
//!   answers 400 for history another model produced; older turns are not
//!   validated and go as they are.
//! - An `image_url` data URL is `inlineData`; an http(s) URL is
//!   `fileData{fileUri, mimeType}` (Gemini fetches public URLs itself) with
//!   the type guessed from the extension, `image/jpeg` when it says nothing.
//! - `reasoning_effort` → `thinkingConfig` with `includeThoughts` (so that
//!   the reply carries `reasoning_content`): Gemini 3 and later take
//!   `thinkingLevel`, only `low` and `high` on every model (`none`,
//!   `minimal`, `low` → `low`; `medium`, `high`, `xhigh` → `high`); other
//!   models take `thinkingBudget` (`none` 0, or 128 on a Pro model, which
//!   cannot stop thinking; `minimal` 512, `low` 1024, `medium` 8192,
//!   `high` 24576: inside every 2.5 model's range).
//! - `response_format` `json_schema` → `responseJsonSchema` (full JSON
//!   Schema, like `parametersJsonSchema`) with `responseMimeType`
//!   `application/json`.

use super::chat::arguments_object;
use super::gemini::{parameters_schema, split_signature, tool_name, SKIP_SIGNATURE};
use super::translate::parse_request;
use super::translate::ToolNames;
pub use super::translate::{RequestOptions, TranslateError, Translated};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Gemini's most stop sequences.
const MAX_STOP: usize = 5;

/// An OpenAI chat completions request body → a Gemini
/// `GenerateContentRequest` body.
pub fn request(body: &[u8], opts: &RequestOptions) -> Result<Translated, TranslateError> {
    let req = parse_request(body)?;
    let messages = match req.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        _ => return Err(TranslateError::NoMessages),
    };
    let mut history = History::new();
    for (index, message) in messages.iter().enumerate() {
        history
            .message(message)
            .map_err(|problem| TranslateError::BadMessage { index, problem })?;
    }
    let mut out = Map::new();
    if !history.system.is_empty() {
        let parts = std::mem::take(&mut history.system);
        out.insert("systemInstruction".into(), json!({ "parts": parts }));
    }
    tools(&req, &mut history.names, &mut out);
    out.insert("contents".into(), history.finish_contents().into());
    let config = generation::config(&req, opts);
    if !config.is_empty() {
        out.insert("generationConfig".into(), config.into());
    }
    Ok(Translated {
        body: Value::Object(out).to_string().into_bytes(),
        tool_names: history.names.into_pairs(),
    })
}

/// The conversation, built message by message.
struct History {
    names: ToolNames,
    system: Vec<Value>,
    /// `(role, parts)`, consecutive roles merged.
    contents: Vec<(&'static str, Vec<Value>)>,
    /// Tool call id (as sent, and without its carrier) → the name sent.
    calls: HashMap<String, String>,
}

impl History {
    fn new() -> Self {
        Self {
            names: ToolNames::new(tool_name),
            system: Vec::new(),
            contents: Vec::new(),
            calls: HashMap::new(),
        }
    }

    fn message(&mut self, message: &Value) -> Result<(), &'static str> {
        let content = message.get("content");
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                let text = text_of(content)?;
                if !text.is_empty() {
                    self.system.push(json!({ "text": text }));
                }
            }
            Some("user") => {
                let parts = user_parts(content)?;
                self.push("user", parts);
            }
            Some("assistant") => self.assistant(message)?,
            Some("tool") => {
                let id = message.get("tool_call_id").and_then(Value::as_str);
                let id = id.ok_or("a tool message needs a tool_call_id")?;
                let name = self.call_name(id);
                self.tool_result(name, Some(id), content)?;
            }
            Some("function") => {
                let name = message.get("name").and_then(Value::as_str);
                let name = name.ok_or("a function message needs a name")?;
                let name = self.names.short(name);
                self.tool_result(Some(name), None, content)?;
            }
            _ => return Err("role must be system, developer, user, assistant or tool"),
        }
        Ok(())
    }

    fn push(&mut self, role: &'static str, parts: Vec<Value>) {
        if parts.is_empty() {
            return;
        }
        match self.contents.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => self.contents.push((role, parts)),
        }
    }

    fn assistant(&mut self, message: &Value) -> Result<(), &'static str> {
        let mut parts = Vec::new();
        let text = text_of(message.get("content"))?;
        if !text.is_empty() {
            parts.push(json!({ "text": text }));
        }
        let calls = match message.get("tool_calls") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(calls)) => calls,
            Some(_) => return Err("tool_calls must be an array"),
        };
        for call in calls {
            parts.push(self.function_call(call)?);
        }
        self.push("model", parts);
        Ok(())
    }

    /// A tool call as a `functionCall` part, its signature restored.
    fn function_call(&mut self, call: &Value) -> Result<Value, &'static str> {
        let function = call.get("function");
        let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
        let name = self
            .names
            .short(name.ok_or("a tool call needs a function name")?);
        let args = arguments_object(function.and_then(|f| f.get("arguments")));
        let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
        let (base, carried) = split_signature(id);
        if !id.is_empty() {
            self.calls.insert(id.to_string(), name.clone());
            self.calls.insert(base.to_string(), name.clone());
        }
        let google = call.get("extra_content").and_then(|e| e.get("google"));
        let signature = google
            .and_then(|g| g.get("thought_signature"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(carried);
        let mut part = json!({ "functionCall": { "name": name, "args": args } });
        if let Some(signature) = signature {
            part["thoughtSignature"] = signature.into();
        }
        Ok(part)
    }

    fn call_name(&self, id: &str) -> Option<String> {
        let found = self.calls.get(id);
        found
            .or_else(|| self.calls.get(split_signature(id).0))
            .cloned()
    }

    fn tool_result(
        &mut self,
        name: Option<String>,
        id: Option<&str>,
        content: Option<&Value>,
    ) -> Result<(), &'static str> {
        let text = text_of(content)?;
        let part = match name {
            Some(name) => {
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(object @ Value::Object(_)) => object,
                    _ => json!({ "output": text }),
                };
                json!({ "functionResponse": { "name": name, "response": response } })
            }
            None => {
                let id = id.map(|id| split_signature(id).0).unwrap_or_default();
                json!({ "text": format!("[result of tool call {id}]\n{text}") })
            }
        };
        self.push("user", vec![part]);
        Ok(())
    }

    /// The contents, with the skip signature where the current turn needs
    /// one (see the module doc).
    fn finish_contents(&mut self) -> Vec<Value> {
        let turn_start = self
            .contents
            .iter()
            .rposition(|(role, parts)| *role == "user" && parts.iter().any(is_user_input))
            .map_or(0, |at| at + 1);
        for (role, parts) in &mut self.contents[turn_start..] {
            if *role != "model" {
                continue;
            }
            let first_call = parts.iter_mut().find(|p| p.get("functionCall").is_some());
            if let Some(part) = first_call.filter(|p| p.get("thoughtSignature").is_none()) {
                part["thoughtSignature"] = SKIP_SIGNATURE.into();
            }
        }
        std::mem::take(&mut self.contents)
            .into_iter()
            .map(|(role, parts)| json!({ "role": role, "parts": parts }))
            .collect()
    }
}

/// A part a person wrote (not a function response): it starts a turn.
fn is_user_input(part: &Value) -> bool {
    part.get("functionResponse").is_none()
}

/// A message's text: a string, or its text parts joined by newlines.
fn text_of(content: Option<&Value>) -> Result<String, &'static str> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")),
        Some(_) => Err("content must be a string or an array of content parts"),
    }
}

/// Function tools as `functionDeclarations`, and `tool_choice` as
/// `toolConfig` (only with tools).
fn tools(req: &Map<String, Value>, names: &mut ToolNames, out: &mut Map<String, Value>) {
    let declarations: Vec<Value> = req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| declaration(tool, names))
        .collect();
    if declarations.is_empty() {
        return;
    }
    out.insert(
        "tools".into(),
        json!([{ "functionDeclarations": declarations }]),
    );
    if let Some(config) = req
        .get("tool_choice")
        .and_then(|c| calling_config(c, names))
    {
        out.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": config }),
        );
    }
}

fn declaration(tool: &Value, names: &mut ToolNames) -> Option<Value> {
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return None;
    }
    let function = tool.get("function")?;
    let name = function.get("name")?.as_str()?;
    let mut declaration = json!({ "name": names.short(name) });
    if let Some(description) = function.get("description").filter(|d| d.is_string()) {
        declaration["description"] = description.clone();
    }
    if let Some(schema) = function.get("parameters").and_then(parameters_schema) {
        declaration["parametersJsonSchema"] = schema;
    }
    Some(declaration)
}

fn calling_config(choice: &Value, names: &mut ToolNames) -> Option<Value> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Some(json!({ "mode": "AUTO" })),
            "none" => Some(json!({ "mode": "NONE" })),
            "required" => Some(json!({ "mode": "ANY" })),
            _ => None,
        },
        Value::Object(_) => {
            let name = choice.get("function")?.get("name")?.as_str()?;
            Some(json!({ "mode": "ANY", "allowedFunctionNames": [names.short(name)] }))
        }
        _ => None,
    }
}

mod generation;
mod parts;
mod response;

use parts::user_parts;

pub use response::response;

#[cfg(test)]
mod tests;
