//! The tool calls of the Anthropic stream as OpenAI tool-call deltas: a
//! `tool_use` block's start (id, type, the client's name) and its argument
//! pieces.

use serde_json::Value;

use super::{AnthropicToChatStream, Block};
use crate::dialect::chat_chunk::{Delta, FunctionDelta, ToolCallDelta};
use crate::dialect::translate::original_name;

impl AnthropicToChatStream {
    pub(super) fn tool_start(
        &mut self,
        id: &str,
        name: &str,
        input: Option<&Value>,
        out: &mut Vec<u8>,
    ) -> Block {
        let call = self.tool_calls;
        self.tool_calls += 1;
        // Anthropic always names its calls; a client cannot answer one
        // without an id.
        let id = match id {
            "" => format!("call_{call}"),
            id => id.to_string(),
        };
        // Anthropic starts a block with an empty input and streams it; an
        // upstream that sends it whole in the start is taken at its word.
        let input = input
            .and_then(Value::as_object)
            .filter(|i| !i.is_empty())
            .map(|i| Value::Object(i.clone()).to_string());
        let start = ToolCallDelta {
            index: call,
            id: Some(&id),
            kind: Some("function"),
            function: FunctionDelta {
                name: Some(original_name(name, &self.tool_names)),
                arguments: input.as_deref().unwrap_or_default(),
            },
        };
        self.tool_chunk(start, out);
        Block::Tool {
            call,
            has_input: input.is_some(),
        }
    }

    pub(super) fn arguments(&self, call: usize, arguments: &str, out: &mut Vec<u8>) {
        let delta = ToolCallDelta {
            index: call,
            id: None,
            kind: None,
            function: FunctionDelta {
                name: None,
                arguments,
            },
        };
        self.tool_chunk(delta, out);
    }

    fn tool_chunk(&self, call: ToolCallDelta<'_>, out: &mut Vec<u8>) {
        let delta = Delta {
            tool_calls: Some([call]),
            ..Delta::default()
        };
        self.chunks.delta(&delta, out);
    }
}
