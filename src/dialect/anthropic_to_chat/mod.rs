//! Anthropic Messages request → OpenAI chat completions request, and OpenAI
//! chat completion → Anthropic message (non-stream): what lets an Anthropic
//! client (Claude Code, the Anthropic SDKs) be served by an OpenAI-format
//! provider. Pure: bytes in, bytes out; the streamed reply is
//! `chat_stream_to_anthropic`'s.
//!
//! The request keeps what a chat provider can act on and drops the rest.
//! Kept: `system`, `messages`, custom `tools`, `tool_choice`, `max_tokens`
//! (clamped), `stop_sequences`, `temperature`, `top_p`, `thinking` (as
//! `reasoning_effort`), `output_config.format`, `metadata.user_id`, `stream`.
//! Dropped: `top_k`, `cache_control` (everywhere), `context_management`,
//! `container`, `mcp_servers`, `service_tier`, `inference_geo`,
//! `output_config.effort` without adaptive thinking, server tools
//! (`web_search_*`, `bash_*`, ...), tool fields other than name, description
//! and schema (`defer_loading`, `strict`, `input_examples`, ...), thinking
//! blocks in the history, and any other top-level field.
//!
//! Choices where the wire formats leave room:
//! - Message content is sent as a string wherever it is only text (text
//!   blocks joined with a newline): many OpenAI-compatible servers take
//!   nothing else for system, assistant and tool messages.
//! - A `role: "system"` message mid-conversation becomes a user message
//!   wrapped in `<system-reminder>` tags (the form Claude Code itself uses
//!   for guidance inside user turns): chat templates of several open models
//!   reject a system message anywhere but first. While tool results are
//!   awaited it is held until they are given, because OpenAI requires the
//!   `tool` messages to follow their assistant message directly.
//! - A `tool_result` that answers no tool call of the assistant turn before
//!   it becomes user text; a `tool_use` that is never answered is sent as it
//!   is (the upstream says what is wrong, as Anthropic would have).
//! - `thinking` → `reasoning_effort` (for a model that reasons): a budget of 10000 tokens or more is
//!   `high`, 5000 or more `medium`, anything less `low` (not `minimal`: only
//!   some OpenAI models take it); adaptive thinking follows
//!   `output_config.effort` (`low`, `medium`, else `high`, Anthropic's
//!   default).
//! - `metadata.user_id` becomes `user` only up to 64 characters, the limit
//!   OpenAI documents for the identifier that replaces `user`; Claude Code's
//!   long JSON ids are dropped rather than risking a 400.
//!
//! The reply: `reasoning_content` (or `reasoning`) becomes a thinking block
//! signed with the marker [`UNSIGNED_THINKING`], as the streamed reply does
//! (Claude Code discards a thinking block without a signature); thinking
//! blocks in a request's history are dropped on the way to a chat provider,
//! and must be stripped of marked ones before any real Anthropic upstream.
//! Tool arguments that are empty, not JSON or not an object
//! become `{}`: `input` must be an object, and the client's own validation
//! of `{}` tells the model which arguments are missing.

pub use super::anthropic::UNSIGNED_THINKING;
use super::anthropic::{short_tool_name, tool_id};
use super::translate::parse_request;
use super::translate::ToolNames;
pub use super::translate::{RequestOptions, TranslateError, Translated};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// Claude Code's first system line: the client's version and, in some
/// versions, a hash that changes per request. It means nothing to another
/// provider and would spoil its prefix cache.
const BILLING_HEADER: &str = "x-anthropic-billing-header:";
/// The longest `metadata.user_id` passed on as `user`.
const MAX_USER_LEN: usize = 64;
const IMAGE_IN_RESULT: &str =
    "[an image was omitted: the model cannot take images in tool results]";
const IMAGE_OMITTED: &str = "[an image was omitted: its source cannot be sent to the model]";
const DOCUMENT_OMITTED: &str = "[a document was omitted: the model cannot take this document type]";

/// An Anthropic Messages request body → an OpenAI chat completions body.
pub fn request(body: &[u8], opts: &RequestOptions) -> Result<Translated, TranslateError> {
    let req = parse_request(body)?;
    let Some(Value::Array(messages)) = req.get("messages") else {
        return Err(TranslateError::NoMessages);
    };
    let mut names = ToolNames::new(short_tool_name);
    let mut chat = Map::new();
    chat.insert("model".into(), opts.model.clone().into());
    let mut conversation = Conversation::new(&mut names);
    if let Some(text) = system_text(req.get("system"))? {
        conversation
            .out
            .push(json!({ "role": "system", "content": text }));
    }
    for turn in turns(messages)? {
        conversation.turn(&turn);
    }
    chat.insert("messages".into(), conversation.finish().into());
    tools(&req, &mut names, &mut chat);
    generation(&req, opts, &mut chat);
    Ok(Translated {
        body: Value::Object(chat).to_string().into_bytes(),
        tool_names: names.into_pairs(),
    })
}

/// The top-level `system` as one text, Claude Code's billing line removed.
fn system_text(system: Option<&Value>) -> Result<Option<String>, TranslateError> {
    let text = match system {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => without_billing_header(text),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .map(without_billing_header)
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        Some(_) => return Err(TranslateError::BadSystem),
    };
    Ok((!text.is_empty()).then_some(text))
}

/// `text` without its billing-header line; untouched (byte for byte, so
/// the upstream's prefix cache still matches) when it has none.
fn without_billing_header(text: &str) -> String {
    if !text.contains(BILLING_HEADER) {
        return text.to_string();
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with(BILLING_HEADER))
        .collect();
    lines.join("\n")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
    System,
}

/// A message with its content read into blocks.
struct Turn<'a> {
    role: Role,
    blocks: Vec<Block<'a>>,
}

/// The content blocks a chat request can carry; `Other` is dropped
/// (thinking, redacted thinking, server tool blocks, search results, ...).
enum Block<'a> {
    Text(&'a str),
    Image(&'a Value),
    Document(&'a Value),
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Option<&'a Value>,
    },
    ToolResult {
        id: &'a str,
        content: Option<&'a Value>,
        is_error: bool,
    },
    Other,
}

/// The messages as turns, consecutive user (or assistant) messages merged
/// into one as Anthropic itself does.
fn turns(messages: &[Value]) -> Result<Vec<Turn<'_>>, TranslateError> {
    let mut turns: Vec<Turn<'_>> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let turn =
            read_turn(message).map_err(|problem| TranslateError::BadMessage { index, problem })?;
        match turns.last_mut() {
            Some(last) if last.role == turn.role && turn.role != Role::System => {
                last.blocks.extend(turn.blocks);
            }
            _ => turns.push(turn),
        }
    }
    Ok(turns)
}

fn read_turn(message: &Value) -> Result<Turn<'_>, &'static str> {
    let role = match message.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system") => Role::System,
        _ => return Err("role must be \"user\", \"assistant\" or \"system\""),
    };
    let blocks = match message.get("content") {
        Some(Value::String(text)) => vec![Block::Text(text)],
        Some(Value::Array(blocks)) => blocks.iter().map(read_block).collect(),
        _ => return Err("content must be a string or an array of content blocks"),
    };
    Ok(Turn { role, blocks })
}

fn read_block(block: &Value) -> Block<'_> {
    let field = |key| block.get(key).and_then(Value::as_str);
    match field("type") {
        Some("text") => field("text").map_or(Block::Other, Block::Text),
        Some("image") => block.get("source").map_or(Block::Other, Block::Image),
        Some("document") => Block::Document(block),
        Some("tool_use") => Block::ToolUse {
            id: field("id").unwrap_or_default(),
            name: field("name").unwrap_or_default(),
            input: block.get("input"),
        },
        Some("tool_result") => Block::ToolResult {
            id: field("tool_use_id").unwrap_or_default(),
            content: block.get("content"),
            is_error: block.get("is_error") == Some(&Value::Bool(true)),
        },
        _ => Block::Other,
    }
}

/// The chat messages, built turn by turn.
struct Conversation<'n> {
    names: &'n mut ToolNames,
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
            out: Vec::new(),
            awaiting: HashSet::new(),
            held: Vec::new(),
        }
    }

    fn turn(&mut self, turn: &Turn<'_>) {
        match turn.role {
            Role::User => self.user(&turn.blocks),
            Role::Assistant => self.assistant(&turn.blocks),
            Role::System => self.system(&turn.blocks),
        }
    }

    fn finish(mut self) -> Vec<Value> {
        self.release_held();
        self.out
    }

    fn release_held(&mut self) {
        self.out.append(&mut self.held);
    }

    /// Tool results first, as `tool` messages; then the rest of the turn.
    fn user(&mut self, blocks: &[Block<'_>]) {
        let mut parts = Vec::new();
        for block in blocks {
            match block {
                Block::ToolResult {
                    id,
                    content,
                    is_error,
                } => self.tool_result(id, *content, *is_error, &mut parts),
                other => parts.extend(user_part(other)),
            }
        }
        self.awaiting.clear();
        self.release_held();
        if let Some(message) = user_message(parts) {
            self.out.push(message);
        }
    }

    fn tool_result(
        &mut self,
        id: &str,
        content: Option<&Value>,
        is_error: bool,
        parts: &mut Vec<Value>,
    ) {
        let call_id = tool_id(id);
        let text = tool_result_text(content, is_error);
        if self.awaiting.remove(&call_id) {
            self.out
                .push(json!({ "role": "tool", "tool_call_id": call_id, "content": text }));
        } else {
            parts.push(text_part(&format!("[result of tool call {id}]\n{text}")));
        }
    }

    fn assistant(&mut self, blocks: &[Block<'_>]) {
        self.release_held();
        self.awaiting.clear();
        let mut texts = Vec::new();
        let mut calls = Vec::new();
        for block in blocks {
            match block {
                Block::Text(text) if !text.is_empty() => texts.push(*text),
                Block::ToolUse { id, name, input } => {
                    let id = tool_id(id);
                    self.awaiting.insert(id.clone());
                    calls.push(json!({
                        "id": id,
                        "type": "function",
                        "function": { "name": self.names.short(name), "arguments": arguments(*input) },
                    }));
                }
                _ => {}
            }
        }
        if texts.is_empty() && calls.is_empty() {
            return;
        }
        let content = if texts.is_empty() {
            Value::Null
        } else {
            texts.join("\n").into()
        };
        let mut message = json!({ "role": "assistant", "content": content });
        if !calls.is_empty() {
            message["tool_calls"] = calls.into();
        }
        self.out.push(message);
    }

    fn system(&mut self, blocks: &[Block<'_>]) {
        let texts: Vec<&str> = blocks
            .iter()
            .filter_map(|block| match block {
                Block::Text(text) if !text.is_empty() => Some(*text),
                _ => None,
            })
            .collect();
        if texts.is_empty() {
            return;
        }
        let text = format!(
            "<system-reminder>\n{}\n</system-reminder>",
            texts.join("\n")
        );
        let message = json!({ "role": "user", "content": text });
        if self.awaiting.is_empty() {
            self.out.push(message);
        } else {
            self.held.push(message);
        }
    }
}

/// A tool call's `arguments`: the JSON text of its input.
fn arguments(input: Option<&Value>) -> String {
    match input {
        Some(input @ Value::Object(_)) => input.to_string(),
        _ => "{}".to_string(),
    }
}

fn text_part(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

fn user_part(block: &Block<'_>) -> Option<Value> {
    match block {
        Block::Text(text) if !text.is_empty() => Some(text_part(text)),
        Block::Image(source) => {
            Some(image_part(source).unwrap_or_else(|| text_part(IMAGE_OMITTED)))
        }
        Block::Document(document) => Some(document_part(document)),
        _ => None,
    }
}

/// A base64 image as a data URL, a URL image as its URL; `None` for a
/// source the upstream cannot reach (an Anthropic Files API id).
fn image_part(source: &Value) -> Option<Value> {
    let field = |key| source.get(key).and_then(Value::as_str);
    let url = match field("type")? {
        "base64" => format!("data:{};base64,{}", field("media_type")?, field("data")?),
        "url" => field("url")?.to_string(),
        _ => return None,
    };
    Some(json!({ "type": "image_url", "image_url": { "url": url } }))
}

/// A plain-text document as text; any other kind (PDF, ...) as a note, so
/// that the model knows something was left out.
fn document_part(document: &Value) -> Value {
    let source = document.get("source");
    let text = source
        .filter(|s| s.get("type").and_then(Value::as_str) == Some("text"))
        .and_then(|s| s.get("data"))
        .and_then(Value::as_str);
    text_part(text.unwrap_or(DOCUMENT_OMITTED))
}

/// A user message: a string when the parts are only text.
fn user_message(parts: Vec<Value>) -> Option<Value> {
    if parts.is_empty() {
        return None;
    }
    let texts: Option<Vec<&str>> = parts
        .iter()
        .map(|part| match part.get("type").and_then(Value::as_str) {
            Some("text") => part.get("text").and_then(Value::as_str),
            _ => None,
        })
        .collect();
    let content = match texts {
        Some(texts) => Value::from(texts.join("\n")),
        None => Value::from(parts),
    };
    Some(json!({ "role": "user", "content": content }))
}

/// A tool result's content as text: text blocks joined, images noted.
fn tool_result_text(content: Option<&Value>, is_error: bool) -> String {
    let text = match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|block| match block.get("type").and_then(Value::as_str) {
                Some("text") => block.get("text").and_then(Value::as_str),
                Some("image") => Some(IMAGE_IN_RESULT),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    if is_error {
        format!("Error: {text}")
    } else {
        text
    }
}

/// Custom tools as functions, and `tool_choice` (only with tools: OpenAI
/// rejects a choice among none).
fn tools(req: &Map<String, Value>, names: &mut ToolNames, chat: &mut Map<String, Value>) {
    let functions: Vec<Value> = req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| function_tool(tool, names))
        .collect();
    if functions.is_empty() {
        return;
    }
    chat.insert("tools".into(), functions.into());
    let Some(choice) = req.get("tool_choice") else {
        return;
    };
    if let Some(mapped) = tool_choice(choice, names) {
        chat.insert("tool_choice".into(), mapped);
    }
    if choice.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
        chat.insert("parallel_tool_calls".into(), false.into());
    }
}

/// A custom tool as an OpenAI function; `None` for a server tool (its
/// `type` names a versioned built-in, like `web_search_20250305`).
fn function_tool(tool: &Value, names: &mut ToolNames) -> Option<Value> {
    if !matches!(
        tool.get("type").and_then(Value::as_str),
        None | Some("custom")
    ) {
        return None;
    }
    let name = tool.get("name")?.as_str()?;
    let mut parameters = tool
        .get("input_schema")
        .cloned()
        .unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
    if let Some(schema) = parameters.as_object_mut() {
        schema.remove("$schema");
    }
    let mut function = json!({ "name": names.short(name), "parameters": parameters });
    if let Some(description) = tool.get("description").filter(|d| d.is_string()) {
        function["description"] = description.clone();
    }
    Some(json!({ "type": "function", "function": function }))
}

fn tool_choice(choice: &Value, names: &mut ToolNames) -> Option<Value> {
    match choice.get("type")?.as_str()? {
        "auto" => Some("auto".into()),
        "any" => Some("required".into()),
        "none" => Some("none".into()),
        "tool" => {
            let name = names.short(choice.get("name")?.as_str()?);
            Some(json!({ "type": "function", "function": { "name": name } }))
        }
        _ => None,
    }
}

/// The sampling and output fields.
fn generation(req: &Map<String, Value>, opts: &RequestOptions, chat: &mut Map<String, Value>) {
    if let Some(max_tokens) = max_tokens(req.get("max_tokens"), opts.max_output_tokens) {
        chat.insert("max_tokens".into(), max_tokens.into());
    }
    for key in ["temperature", "top_p"] {
        if let Some(n) = req.get(key).filter(|n| n.is_number()) {
            chat.insert(key.into(), n.clone());
        }
    }
    if let Some(stop) = req
        .get("stop_sequences")
        .filter(|s| s.as_array().is_some_and(|s| !s.is_empty()))
    {
        chat.insert("stop".into(), stop.clone());
    }
    if let Some(effort) = reasoning_effort(req).filter(|_| opts.reasoning) {
        chat.insert("reasoning_effort".into(), effort.into());
    }
    if let Some(format) = response_format(req) {
        chat.insert("response_format".into(), format);
    }
    let user = req
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str);
    if let Some(user) = user.filter(|u| !u.is_empty() && u.chars().count() <= MAX_USER_LEN) {
        chat.insert("user".into(), user.into());
    }
    if req.get("stream") == Some(&Value::Bool(true)) {
        chat.insert("stream".into(), true.into());
        if opts.stream_usage {
            chat.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    }
}

/// The client's `max_tokens` clamped to the model's limit; the limit when
/// the client sent none. At least 1: Anthropic's `0` (warm the cache, write
/// nothing) is invalid for OpenAI.
fn max_tokens(asked: Option<&Value>, limit: Option<u64>) -> Option<u64> {
    let asked = asked.and_then(Value::as_u64);
    let n = match (asked, limit) {
        (Some(asked), Some(limit)) => asked.min(limit),
        (asked, limit) => asked.or(limit)?,
    };
    Some(n.max(1))
}

fn reasoning_effort(req: &Map<String, Value>) -> Option<&'static str> {
    let thinking = req.get("thinking")?;
    match thinking.get("type")?.as_str()? {
        "enabled" => match thinking.get("budget_tokens").and_then(Value::as_u64) {
            Some(10_000..) => Some("high"),
            Some(5_000..) => Some("medium"),
            _ => Some("low"),
        },
        "adaptive" => {
            let effort = req.get("output_config").and_then(|c| c.get("effort"));
            match effort.and_then(Value::as_str) {
                Some("low") => Some("low"),
                Some("medium") => Some("medium"),
                _ => Some("high"),
            }
        }
        _ => None,
    }
}

fn response_format(req: &Map<String, Value>) -> Option<Value> {
    let format = req.get("output_config")?.get("format")?;
    if format.get("type")?.as_str()? != "json_schema" {
        return None;
    }
    let schema = format.get("schema")?;
    Some(json!({
        "type": "json_schema",
        "json_schema": { "name": "structured_output", "schema": schema },
    }))
}

mod response;

pub use response::response;

#[cfg(test)]
mod tests;
