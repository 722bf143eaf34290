//! The tool calls of the upstream's stream, held and sent in order: each
//! call gets its block once its name is known, the open call keeps its
//! block until its arguments are whole (see the parent module's doc).

use serde_json::{Map, Value};

use super::wire::{emit, Block, Delta, Event};
use super::{ChatToAnthropicStream, Open};
use crate::dialect::anthropic::tool_id;
use crate::dialect::chat_tool_calls::{self, json_complete};
use crate::dialect::translate::original_name;

impl ChatToAnthropicStream {
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
