//! The tool calls of the upstream's stream, held and sent in order: each
//! call gets its block once its name is known, the open call keeps its
//! block until its arguments are whole (see the parent module's doc).

use serde_json::{Map, Value};

use super::wire::{emit, Block, Delta, Event};
use super::{ChatToAnthropicStream, Open, MAX_EVENT};
use crate::dialect::anthropic::tool_id;
use crate::dialect::translate::original_name;

/// One upstream tool call, keyed by its `index` (or id when a provider
/// leaves the index out).
#[derive(Default)]
pub(super) struct ToolCall {
    pub(super) index: Option<u64>,
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    /// Arguments not yet written.
    pub(super) held: String,
    /// Arguments written into the open block (to tell when they are whole).
    pub(super) sent: String,
    pub(super) started: bool,
}

impl ChatToAnthropicStream {
    pub(super) fn tool_call(&mut self, delta: &Value, out: &mut Vec<u8>) {
        let at = self.call_position(delta);
        let call = &mut self.calls[at];
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

    /// Writes what the open tool block holds, and starts the next call's
    /// block when it may: it has a name and the open call's arguments are
    /// whole (see the module doc).
    fn advance_tools(&mut self, out: &mut Vec<u8>) {
        loop {
            let open_call = match self.open {
                Some(Open::Tool { call, index }) => {
                    self.send_held(call, index, out);
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
        let id = self.unique_tool_id(call);
        let short = self.calls[call].name.as_deref().unwrap_or_default();
        let name = original_name(short, &self.tool_names).to_string();
        let block = Block::ToolUse {
            id: &id,
            name: &name,
            input: Map::new(),
        };
        let index = self.open_block(block, |index| Open::Tool { call, index }, out);
        self.calls[call].started = true;
        self.tool_ids.push(id);
        self.send_held(call, index, out);
    }

    fn send_held(&mut self, call: usize, index: usize, out: &mut Vec<u8>) {
        let call = &mut self.calls[call];
        if call.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut call.held);
        let delta = Delta::InputJson {
            partial_json: &held,
        };
        emit(out, &Event::ContentBlockDelta { index, delta });
        call.sent.push_str(&held);
    }

    /// An id valid for Anthropic and unique within this message.
    fn unique_tool_id(&self, call: usize) -> String {
        let id = match self.calls[call].id.as_deref() {
            Some(id) => tool_id(id),
            None => {
                let message = self.message_id.as_deref().unwrap_or_default();
                format!("toolu_{}_{call}", message.trim_start_matches("msg_"))
            }
        };
        if self.tool_ids.contains(&id) {
            return format!("{id}_{call}");
        }
        id
    }
}

/// Whether streamed tool arguments form a whole JSON value. The cheap test
/// first: arguments are an object, so whole ones end in `}`.
fn json_complete(args: &str) -> bool {
    args.trim_end().ends_with(['}', ']'])
        && serde_json::from_str::<serde::de::IgnoredAny>(args).is_ok()
}
