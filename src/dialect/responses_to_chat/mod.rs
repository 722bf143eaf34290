//! OpenAI Responses request → OpenAI chat completions request, and chat
//! completion → Response object (non-stream): what lets a Responses client
//! (the Codex CLI, `client.responses.create`, the Agents SDK) be served by
//! any provider that is not OpenAI's own — by a chat provider directly, and
//! by Anthropic or Gemini through their chat translators. Pure: bytes in,
//! bytes out; the streamed reply is `chat_stream_to_responses`'s.
//!
//! The request keeps what a chat provider can act on. Kept: `instructions`,
//! `input` (see `input`), function tools (and the functions inside
//! `namespace` tools), `tool_choice`, `parallel_tool_calls`,
//! `max_output_tokens` (as `max_tokens`, clamped), `temperature`, `top_p`,
//! `reasoning.effort` (as `reasoning_effort`, for a model that reasons),
//! `text.format` (as `response_format`), `user` or `safety_identifier`,
//! `stream`. Dropped: `store`, `include`, `prompt_cache_key`,
//! `prompt_cache_retention` (only OpenAI's chat takes them, and OpenAI is
//! served on the Responses API itself), `metadata`, `truncation`,
//! `service_tier`, `background`, `context_management`, `max_tool_calls`,
//! `top_logprobs`, `text.verbosity`, `reasoning.summary`, `stream_options`,
//! tools of every other type (`web_search`, `file_search`, `mcp`, `custom`,
//! `local_shell`, `computer_use`, ...), and any other top-level field.
//!
//! Refused with a 400: `previous_response_id`, `conversation`, `prompt`
//! and `item_reference` input items. They name state kept by OpenAI; the
//! gateway keeps none, and answering as if the conversation started afresh
//! would be a silent lie. Clients that send the whole conversation each
//! turn (Codex does, with `store: false`) are unaffected.
//!
//! Choices where the wire formats leave room:
//! - `instructions` and the `system`/`developer` messages that open the
//!   input become one leading `system` message (parts joined by a blank
//!   line): every OpenAI-compatible server takes `system`, several reject
//!   `developer` or a second system message.
//! - `namespace` tools are flattened: each function inside becomes a
//!   function of its own, under its own name (as LiteLLM does); a name
//!   already taken is skipped. Function calls in the reply do not carry a
//!   `namespace` back.
//! - `strict` is sent only when true: several chat providers reject the
//!   field, and `false` is their behaviour anyway.
//! - `max_output_tokens` is clamped to the model's limit, and the limit is
//!   sent when the client gave none (so that a provider's small default,
//!   like DeepSeek's, does not cut an answer the model could finish).
//!
//! The reply: see `response`.

mod input;
mod response;

pub use response::response;

use super::anthropic::short_tool_name;
use super::translate::parse_object;
use super::translate::ToolNames;
pub use super::translate::{RequestOptions, TranslateError, Translated};
use serde_json::{json, Map, Value};

/// Fields whose meaning lives in OpenAI's store: refused, see the module doc.
const STATEFUL: [&str; 3] = ["previous_response_id", "conversation", "prompt"];

/// A Responses API request body → an OpenAI chat completions body.
pub fn request(body: &[u8], opts: &RequestOptions) -> Result<Translated, TranslateError> {
    let req = parse_object(body)
        .map_err(|e| e.map_or(TranslateError::NotObject, TranslateError::NotJson))?;
    for field in STATEFUL {
        let set = match req.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if set {
            return Err(TranslateError::Stateless(field));
        }
    }
    let mut names = ToolNames::new(short_tool_name);
    let messages = input::messages(&req, &mut names)?;
    let mut chat = Map::new();
    chat.insert("model".into(), opts.model.clone().into());
    chat.insert("messages".into(), messages.into());
    tools(&req, &mut names, &mut chat);
    generation(&req, opts, &mut chat);
    Ok(Translated {
        body: Value::Object(chat).to_string().into_bytes(),
        tool_names: names.into_pairs(),
    })
}

/// Function tools (flat, and those inside namespaces) as chat's nested
/// functions; `tool_choice` and `parallel_tool_calls` only with tools
/// (OpenAI rejects both without).
fn tools(req: &Map<String, Value>, names: &mut ToolNames, chat: &mut Map<String, Value>) {
    let mut functions = Vec::new();
    let mut seen = Vec::new();
    for tool in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => functions.extend(function_tool(tool, names, &mut seen)),
            Some("namespace") => {
                let inner = tool.get("tools").and_then(Value::as_array);
                for tool in inner.into_iter().flatten() {
                    if tool.get("type").and_then(Value::as_str) == Some("function") {
                        functions.extend(function_tool(tool, names, &mut seen));
                    }
                }
            }
            _ => {}
        }
    }
    if functions.is_empty() {
        return;
    }
    chat.insert("tools".into(), functions.into());
    if let Some(choice) = req.get("tool_choice").and_then(|c| tool_choice(c, names)) {
        chat.insert("tool_choice".into(), choice);
    }
    if let Some(parallel) = req.get("parallel_tool_calls").filter(|p| p.is_boolean()) {
        chat.insert("parallel_tool_calls".into(), parallel.clone());
    }
}

/// A flat Responses function tool as a chat function; `None` without a
/// name or for a name already given.
fn function_tool(tool: &Value, names: &mut ToolNames, seen: &mut Vec<String>) -> Option<Value> {
    let name = names.short(tool.get("name")?.as_str()?);
    if seen.contains(&name) {
        return None;
    }
    seen.push(name.clone());
    let parameters = match tool.get("parameters") {
        Some(schema @ Value::Object(_)) => schema.clone(),
        _ => json!({ "type": "object", "properties": {} }),
    };
    let mut function = json!({ "name": name, "parameters": parameters });
    if let Some(description) = tool.get("description").filter(|d| d.is_string()) {
        function["description"] = description.clone();
    }
    if tool.get("strict") == Some(&Value::Bool(true)) {
        function["strict"] = true.into();
    }
    Some(json!({ "type": "function", "function": function }))
}

/// `auto`, `none`, `required`, a named function, or allowed tools (as
/// their mode: chat providers other than OpenAI know no allow-list); a
/// choice of a hosted tool is dropped with the tool.
fn tool_choice(choice: &Value, names: &mut ToolNames) -> Option<Value> {
    match choice {
        Value::String(mode) if ["auto", "none", "required"].contains(&mode.as_str()) => {
            Some(choice.clone())
        }
        Value::Object(object) => match object.get("type")?.as_str()? {
            "function" => {
                let name = names.short(object.get("name")?.as_str()?);
                Some(json!({ "type": "function", "function": { "name": name } }))
            }
            "allowed_tools" => match object.get("mode")?.as_str()? {
                mode @ ("auto" | "required") => Some(mode.into()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// The sampling and output fields.
fn generation(req: &Map<String, Value>, opts: &RequestOptions, chat: &mut Map<String, Value>) {
    let asked = req.get("max_output_tokens").and_then(Value::as_u64);
    let max_tokens = match (asked, opts.max_output_tokens) {
        (Some(asked), Some(limit)) => Some(asked.min(limit)),
        (asked, limit) => asked.or(limit),
    };
    if let Some(n) = max_tokens {
        chat.insert("max_tokens".into(), n.max(1).into());
    }
    for key in ["temperature", "top_p"] {
        if let Some(n) = req.get(key).filter(|n| n.is_number()) {
            chat.insert(key.into(), n.clone());
        }
    }
    let effort = req
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str);
    if let Some(effort) = effort.filter(|_| opts.reasoning) {
        chat.insert("reasoning_effort".into(), effort.into());
    }
    if let Some(format) = response_format(req) {
        chat.insert("response_format".into(), format);
    }
    let user = ["user", "safety_identifier"].iter().find_map(|key| {
        req.get(*key)
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
    });
    if let Some(user) = user {
        chat.insert("user".into(), user.into());
    }
    if req.get("stream") == Some(&Value::Bool(true)) {
        chat.insert("stream".into(), true.into());
        if opts.stream_usage {
            chat.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    }
}

/// `text.format` as chat's `response_format`: Responses flattens the
/// schema's name, schema and strictness into the format itself.
fn response_format(req: &Map<String, Value>) -> Option<Value> {
    let format = req.get("text")?.get("format")?;
    match format.get("type")?.as_str()? {
        "json_schema" => {
            let name = format
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("response");
            let mut schema = json!({ "name": name, "schema": format.get("schema")? });
            for key in ["strict", "description"] {
                if let Some(value) = format.get(key).filter(|v| !v.is_null()) {
                    schema[key] = value.clone();
                }
            }
            Some(json!({ "type": "json_schema", "json_schema": schema }))
        }
        "json_object" => Some(json!({ "type": "json_object" })),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
