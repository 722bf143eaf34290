//! Tool calls: upstream `tool_calls` deltas, keyed by index, become
//! `function_call` items one at a time — held until the call has a name and
//! the open call's arguments are whole (see the stream's module doc).

use super::events::Open;
use super::ChatToResponsesStream;
use crate::dialect::chat_tool_calls::{self, json_complete};
use crate::dialect::responses::{item_id, Status};
use crate::dialect::translate::original_name;
use serde_json::Value;

impl ChatToResponsesStream {
    pub(super) fn tool_call(&mut self, delta: &Value, out: &mut Vec<u8>) {
        let open = match self.open {
            Some(Open::Tool { call, .. }) => Some(call),
            _ => None,
        };
        if let Err(message) = chat_tool_calls::record(&mut self.calls, delta, open) {
            return self.fail(&message, out);
        }
        self.advance_tools(out);
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
