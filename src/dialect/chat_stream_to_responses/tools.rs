//! Tool calls: upstream `tool_calls` deltas, keyed by index, become
//! `function_call` items one at a time — held until the call has a name and
//! the open call's arguments are whole (see the stream's module doc).

use super::events::Open;
use super::{ChatToResponsesStream, MAX_EVENT};
use crate::dialect::responses::{item_id, Status};
use crate::dialect::translate::original_name;
use serde_json::Value;

/// One upstream tool call, keyed by its `index` (or id when a provider
/// leaves the index out).
#[derive(Default)]
pub(super) struct ToolCall {
    pub(super) index: Option<u64>,
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    /// Arguments not yet written.
    pub(super) held: String,
    /// Arguments written into the open item.
    pub(super) sent: String,
    pub(super) started: bool,
}

impl ChatToResponsesStream {
    pub(super) fn tool_call(&mut self, delta: &Value, out: &mut Vec<u8>) {
        let at = self.call_position(delta);
        let call = &mut self.calls[at];
        let id = delta.get("id").and_then(Value::as_str);
        if let (None, Some(id)) = (&call.id, id.filter(|s| !s.is_empty())) {
            call.id = Some(id.to_string());
        }
        let function = delta.get("function");
        let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
        if let (None, Some(name)) = (&call.name, name.filter(|n| !n.is_empty())) {
            call.name = Some(name.to_string());
        }
        let open_here = matches!(self.open, Some(Open::Tool { call, .. }) if call == at);
        match function.and_then(|f| f.get("arguments")) {
            Some(_) if call.started && !open_here => {}
            Some(Value::String(args)) => call.held.push_str(args),
            Some(Value::Null) | None => {}
            Some(args) => call.held.push_str(&args.to_string()),
        }
        if self.calls.iter().map(|c| c.held.len()).sum::<usize>() > MAX_EVENT {
            let message = format!("upstream tool arguments held over {MAX_EVENT} bytes");
            return self.fail(&message, out);
        }
        self.advance_tools(out);
    }

    /// Where the upstream call this delta belongs to sits in `calls`.
    fn call_position(&mut self, delta: &Value) -> usize {
        let index = delta.get("index").and_then(Value::as_u64);
        let id = delta
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let found = match (index, id) {
            (Some(index), _) => self.calls.iter().position(|c| c.index == Some(index)),
            (None, Some(id)) => self.calls.iter().position(|c| c.id.as_deref() == Some(id)),
            (None, None) => self.calls.len().checked_sub(1),
        };
        found.unwrap_or_else(|| {
            self.calls.push(ToolCall {
                index,
                ..ToolCall::default()
            });
            self.calls.len() - 1
        })
    }

    /// Writes what the open call holds, and starts the next call's item
    /// when it may: it has a name and the open call's arguments are whole.
    fn advance_tools(&mut self, out: &mut Vec<u8>) {
        loop {
            let open_call = match self.open {
                Some(Open::Tool { call, .. }) => {
                    self.send_held(call, out);
                    Some(call)
                }
                _ => None,
            };
            let Some(next) = self.calls.iter().position(|c| !c.started) else {
                return;
            };
            if self.calls[next].name.is_none() {
                return;
            }
            if open_call.is_some_and(|call| !json_complete(&self.calls[call].sent)) {
                return;
            }
            self.start_tool(next, out);
        }
    }

    pub(super) fn start_tool(&mut self, call: usize, out: &mut Vec<u8>) {
        self.close_open(Status::Completed, out);
        let index = self.output.len();
        let item = item_id("fc", self.response_id(), index);
        let call_id = match self.calls[call].id.as_deref() {
            Some(id) if !self.output.iter().any(|i| i["call_id"] == id) => id.to_string(),
            _ => format!("call_{}", item.trim_start_matches("fc_")),
        };
        let short = self.calls[call].name.as_deref().unwrap_or_default();
        let name = original_name(short, &self.tool_names).to_string();
        self.calls[call].started = true;
        let open = Open::Tool {
            call,
            index,
            item,
            call_id,
            name,
        };
        self.open_item(open, out);
        self.send_held(call, out);
    }
}

/// Whether streamed tool arguments form a whole JSON value. The cheap test
/// first: arguments are an object, so whole ones end in `}`.
fn json_complete(args: &str) -> bool {
    args.trim_end().ends_with(['}', ']'])
        && serde_json::from_str::<serde::de::IgnoredAny>(args).is_ok()
}
