//! The tool calls of an OpenAI chat stream as they arrive: `tool_calls`
//! deltas keyed by `index` (or by id when a provider leaves the index out),
//! each call's name, id and arguments gathered, arguments held until the
//! translator may write them. Shared by every translator that reads a chat
//! stream (`chat_stream_to_anthropic`, `chat_stream_to_responses`); each
//! decides when a call's block or item opens. Pure.

use super::sse::MAX_EVENT;
use serde_json::Value;

/// One upstream tool call.
#[derive(Default)]
pub struct ToolCall {
    pub index: Option<u64>,
    pub id: Option<String>,
    pub name: Option<String>,
    /// Arguments not yet written.
    pub held: String,
    /// Arguments written into the open block or item (to tell when they
    /// are whole).
    pub sent: String,
    pub started: bool,
}

/// Records one `tool_calls` delta in `calls`. `open`: the call whose block
/// or item is open; arguments for a call already started and closed are
/// dropped. An error (its message) when the arguments held for calls that
/// cannot be written yet pass `MAX_EVENT`: an upstream that does that is
/// broken.
pub fn record(calls: &mut Vec<ToolCall>, delta: &Value, open: Option<usize>) -> Result<(), String> {
    let at = position(calls, delta);
    let call = &mut calls[at];
    let id = delta
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if let (None, Some(id)) = (&call.id, id) {
        call.id = Some(id.to_string());
    }
    let function = delta.get("function");
    let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
    if let (None, Some(name)) = (&call.name, name.filter(|n| !n.is_empty())) {
        call.name = Some(name.to_string());
    }
    match function.and_then(|f| f.get("arguments")) {
        Some(_) if call.started && open != Some(at) => {}
        Some(Value::String(args)) => call.held.push_str(args),
        Some(Value::Null) | None => {}
        Some(args) => call.held.push_str(&args.to_string()),
    }
    if calls.iter().map(|c| c.held.len()).sum::<usize>() > MAX_EVENT {
        return Err(format!(
            "upstream tool arguments held over {MAX_EVENT} bytes"
        ));
    }
    Ok(())
}

/// Where the upstream call a delta belongs to sits in `calls` (a new entry
/// for a call not seen before).
fn position(calls: &mut Vec<ToolCall>, delta: &Value) -> usize {
    let index = delta.get("index").and_then(Value::as_u64);
    let id = delta
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let found = match (index, id) {
        (Some(index), _) => calls.iter().position(|c| c.index == Some(index)),
        (None, Some(id)) => calls.iter().position(|c| c.id.as_deref() == Some(id)),
        (None, None) => calls.len().checked_sub(1),
    };
    found.unwrap_or_else(|| {
        calls.push(ToolCall {
            index,
            ..ToolCall::default()
        });
        calls.len() - 1
    })
}

/// Whether streamed tool arguments form a whole JSON value. The cheap test
/// first: arguments are an object, so whole ones end in `}`.
pub fn json_complete(args: &str) -> bool {
    args.trim_end().ends_with(['}', ']'])
        && serde_json::from_str::<serde::de::IgnoredAny>(args).is_ok()
}
