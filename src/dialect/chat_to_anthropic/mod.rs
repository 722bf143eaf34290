//! OpenAI chat completions request → Anthropic Messages request, and
//! Anthropic message → OpenAI chat completion (non-stream): what lets an
//! OpenAI-dialect client (the `openai` SDKs, every OpenAI-compatible tool)
//! be served by an Anthropic upstream. Pure: bytes in, bytes out; the
//! streamed reply is `anthropic_stream_to_chat`'s.
//!
//! The request keeps what Anthropic can act on. Kept: `messages` (system
//! and developer messages anywhere become the top-level `system`), function
//! `tools` (and the legacy `functions`), `tool_choice` (and the legacy
//! `function_call`), `parallel_tool_calls: false`, `max_completion_tokens`
//! or `max_tokens` (clamped), `stop`, `temperature`, `top_p`,
//! `reasoning_effort` (as `thinking`), `response_format` with a JSON schema
//! (as `output_config.format`, Anthropic's structured outputs, generally
//! available under that name since the beta `output_format` moved there),
//! `user` or `safety_identifier` (as `metadata.user_id`), `stream`.
//! Dropped, having no Anthropic equivalent: `n`, `logprobs`,
//! `top_logprobs`, `presence_penalty`, `frequency_penalty`, `seed`,
//! `logit_bias`, `stream_options` (Anthropic always reports usage),
//! `store`, `metadata`, `service_tier`, `modalities`, `audio`,
//! `prediction`, `web_search_options`, `verbosity`, `prompt_cache_key`,
//! `response_format` `json_object` (no schema to enforce), tool `strict`
//! (Anthropic's strict tool use exists only on recent models, and would
//! turn an accepted request into a 400 on the others), tools of any type
//! but `function`, and any other top-level field.
//!
//! Choices where the wire formats leave room:
//! - `max_tokens` is required by Anthropic: the client's value clamped to
//!   the model's limit, else the limit, else 4096 (what LiteLLM and
//!   agentgateway default to).
//! - `temperature` is clamped into Anthropic's 0..1 (OpenAI's is 0..2).
//!   When both `temperature` and `top_p` are given only `temperature` is
//!   sent: recent Claude models refuse the pair.
//! - `reasoning_effort` becomes `thinking` with a budget (minimal 1024, low
//!   2048, medium 8192, high 24576, xhigh 32768; the reverse translation
//!   reads these back as the same effort), only for a model that reasons.
//!   The budget must be at least 1024 and below `max_tokens`: when it does
//!   not fit, `max_tokens` grows by the budget (the client's number stays
//!   room for the answer) within the model's limit, else the budget halves
//!   the limit, else thinking is dropped. With thinking, Anthropic refuses
//!   a `temperature` other than 1, a `top_p` under 0.95 and a forced tool:
//!   the sampling fields are dropped, and a forced tool wins over thinking.
//! - Messages: see `messages` (tool results, orphans, legacy functions,
//!   images, prefill).

mod messages;
mod parts;
mod response;

pub use response::response;

use super::anthropic::short_tool_name;
use super::translate::parse_request;
use super::translate::ToolNames;
pub use super::translate::{RequestOptions, TranslateError, Translated};
use serde_json::{json, Map, Value};

/// `max_tokens` when neither the client nor the model's limit gives one.
const DEFAULT_MAX_TOKENS: u64 = 4096;
/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;
/// The lowest `top_p` Anthropic accepts together with thinking.
const MIN_TOP_P_WITH_THINKING: f64 = 0.95;
/// The longest `metadata.user_id` Anthropic accepts.
const MAX_USER_ID: usize = 256;

/// An OpenAI chat completions request body → an Anthropic Messages body.
pub fn request(body: &[u8], opts: &RequestOptions) -> Result<Translated, TranslateError> {
    let req = parse_request(body)?;
    let Some(Value::Array(messages)) = req.get("messages") else {
        return Err(TranslateError::NoMessages);
    };
    let mut names = ToolNames::new(short_tool_name);
    let conversation = messages::translate(messages, &mut names)?;
    // Only system messages: Anthropic needs at least one turn.
    if conversation.messages.is_empty() {
        return Err(TranslateError::NoMessages);
    }
    let mut out = Map::new();
    out.insert("model".into(), opts.model.clone().into());
    if !conversation.system.is_empty() {
        out.insert("system".into(), conversation.system.into());
    }
    out.insert("messages".into(), conversation.messages.into());
    let forced_tool = tools(&req, &mut names, &mut out);
    generation(&req, opts, forced_tool, &mut out);
    Ok(Translated {
        body: Value::Object(out).to_string().into_bytes(),
        tool_names: names.into_pairs(),
    })
}

/// Function tools and the tool choice (only with tools: Anthropic refuses
/// a choice among none). Whether the choice forces a tool.
fn tools(req: &Map<String, Value>, names: &mut ToolNames, out: &mut Map<String, Value>) -> bool {
    let tools: Vec<Value> = match req.get("tools").and_then(Value::as_array) {
        Some(tools) => tools
            .iter()
            .filter_map(|t| function_tool(t, names))
            .collect(),
        None => legacy_functions(req, names),
    };
    if tools.is_empty() {
        return false;
    }
    out.insert("tools".into(), tools.into());
    let choice = req
        .get("tool_choice")
        .or_else(|| req.get("function_call"))
        .and_then(|choice| tool_choice(choice, names));
    let serial = req.get("parallel_tool_calls") == Some(&Value::Bool(false));
    let choice = match (choice, serial) {
        (None, true) => Some(json!({ "type": "auto" })),
        (choice, _) => choice,
    };
    let Some(mut choice) = choice else {
        return false;
    };
    let kind = choice["type"].as_str().unwrap_or_default().to_string();
    if serial && kind != "none" {
        choice["disable_parallel_tool_use"] = true.into();
    }
    out.insert("tool_choice".into(), choice);
    kind == "any" || kind == "tool"
}

/// A `{"type":"function","function":{...}}` tool; `None` for other types
/// (OpenAI's custom grammar tools, hosted tools) and nameless ones.
fn function_tool(tool: &Value, names: &mut ToolNames) -> Option<Value> {
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return None;
    }
    anthropic_tool(tool.get("function")?, names)
}

/// The legacy `functions` list: the same shape as a tool's `function`.
fn legacy_functions(req: &Map<String, Value>, names: &mut ToolNames) -> Vec<Value> {
    let functions = req.get("functions").and_then(Value::as_array);
    functions
        .into_iter()
        .flatten()
        .filter_map(|f| anthropic_tool(f, names))
        .collect()
}

fn anthropic_tool(function: &Value, names: &mut ToolNames) -> Option<Value> {
    let name = function.get("name")?.as_str().filter(|n| !n.is_empty())?;
    // Anthropic requires an object schema, even for a tool without
    // parameters.
    let mut schema = match function.get("parameters") {
        Some(Value::Object(schema)) => schema.clone(),
        _ => Map::new(),
    };
    schema.entry("type").or_insert_with(|| "object".into());
    if schema.get("type") == Some(&Value::from("object")) {
        schema.entry("properties").or_insert_with(|| json!({}));
    }
    let mut tool = json!({ "name": names.short(name), "input_schema": schema });
    if let Some(description) = function.get("description").filter(|d| d.is_string()) {
        tool["description"] = description.clone();
    }
    Some(tool)
}

/// OpenAI's `tool_choice` (or legacy `function_call`) as Anthropic's.
fn tool_choice(choice: &Value, names: &mut ToolNames) -> Option<Value> {
    let kind = match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => "auto",
            "none" => "none",
            "required" => "any",
            _ => return None,
        },
        Value::Object(named) => {
            // `{"type":"function","function":{"name"}}`, or legacy `{"name"}`.
            let function = named.get("function").unwrap_or(choice);
            let name = function.get("name")?.as_str()?;
            return Some(json!({ "type": "tool", "name": names.short(name) }));
        }
        _ => return None,
    };
    Some(json!({ "type": kind }))
}

/// The sampling and output fields.
fn generation(
    req: &Map<String, Value>,
    opts: &RequestOptions,
    forced_tool: bool,
    out: &mut Map<String, Value>,
) {
    let limit = opts.max_output_tokens;
    let asked = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|key| req.get(*key).and_then(Value::as_u64));
    let mut max_tokens = match (asked, limit) {
        (Some(asked), Some(limit)) => asked.min(limit),
        (Some(asked), None) => asked,
        (None, limit) => limit.unwrap_or(DEFAULT_MAX_TOKENS),
    }
    .max(1);
    let budget = thinking_budget(req).filter(|_| opts.reasoning && !forced_tool);
    let budget = budget.and_then(|budget| fit_thinking(budget, &mut max_tokens, limit));
    out.insert("max_tokens".into(), max_tokens.into());
    if let Some(budget) = budget {
        out.insert(
            "thinking".into(),
            json!({ "type": "enabled", "budget_tokens": budget }),
        );
    }
    sampling(req, budget.is_some(), out);
    if let Some(stop) = stop_sequences(req.get("stop")) {
        out.insert("stop_sequences".into(), stop.into());
    }
    if let Some(format) = output_format(req.get("response_format")) {
        out.insert("output_config".into(), json!({ "format": format }));
    }
    let user = ["safety_identifier", "user"]
        .iter()
        .find_map(|key| req.get(*key).and_then(Value::as_str))
        .filter(|user| !user.is_empty() && user.chars().count() <= MAX_USER_ID);
    if let Some(user) = user {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    if req.get("stream") == Some(&Value::Bool(true)) {
        out.insert("stream".into(), true.into());
    }
}

/// The thinking budget for `reasoning_effort`.
fn thinking_budget(req: &Map<String, Value>) -> Option<u64> {
    match req.get("reasoning_effort")?.as_str()? {
        "minimal" => Some(1024),
        "low" => Some(2048),
        "medium" => Some(8192),
        "high" => Some(24_576),
        "xhigh" => Some(32_768),
        _ => None,
    }
}

/// A budget Anthropic takes: at least 1024 and below `max_tokens`, which
/// may grow (by the budget, within `limit`) to make room. `None` when no
/// budget fits; `max_tokens` is then left as it was.
fn fit_thinking(budget: u64, max_tokens: &mut u64, limit: Option<u64>) -> Option<u64> {
    let mut max = *max_tokens;
    if max <= budget {
        max = budget.saturating_add(max);
        if let Some(limit) = limit {
            max = max.min(limit);
        }
    }
    let budget = if budget < max { budget } else { max / 2 };
    if budget < MIN_THINKING_BUDGET {
        return None;
    }
    *max_tokens = max;
    Some(budget)
}

/// `temperature` (clamped to 0..1) or else `top_p`; with thinking only the
/// values Anthropic accepts alongside it.
fn sampling(req: &Map<String, Value>, thinking: bool, out: &mut Map<String, Value>) {
    let number = |key| req.get(key).and_then(Value::as_f64);
    let temperature = number("temperature")
        .map(|t| t.clamp(0.0, 1.0))
        .filter(|t| !thinking || *t == 1.0);
    if let Some(temperature) = temperature {
        out.insert("temperature".into(), temperature.into());
        return;
    }
    let top_p = number("top_p")
        .map(|p| p.clamp(0.0, 1.0))
        .filter(|p| !thinking || *p >= MIN_TOP_P_WITH_THINKING);
    if let Some(top_p) = top_p {
        out.insert("top_p".into(), top_p.into());
    }
}

/// `stop` (a string or an array of strings) as `stop_sequences`; empty
/// strings are left out, and so is an empty list.
fn stop_sequences(stop: Option<&Value>) -> Option<Vec<Value>> {
    let stop = stop?;
    let all = match stop {
        Value::String(_) => std::slice::from_ref(stop),
        Value::Array(many) => many.as_slice(),
        _ => return None,
    };
    let stop: Vec<Value> = all
        .iter()
        .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
        .cloned()
        .collect();
    (!stop.is_empty()).then_some(stop)
}

/// A `json_schema` response format as Anthropic's `output_config.format`.
fn output_format(format: Option<&Value>) -> Option<Value> {
    let format = format?;
    if format.get("type")?.as_str()? != "json_schema" {
        return None;
    }
    let schema = format.get("json_schema")?.get("schema")?;
    schema
        .is_object()
        .then(|| json!({ "type": "json_schema", "schema": schema }))
}

#[cfg(test)]
mod tests;
