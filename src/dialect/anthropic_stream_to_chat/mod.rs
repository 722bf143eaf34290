//! Anthropic Messages SSE → OpenAI chat-completion chunks: a state machine
//! fed the upstream's bytes in any split, writing `data: {chunk}` events as
//! each upstream event completes, and `data: [DONE]` last. It owns what
//! each chunk says and when (tool calls in `tools`); the chunks are written
//! by `chat_chunk` (shared with `gemini_stream_to_chat`), the loop over the
//! upstream's SSE is `sse`'s, and the shared facts (finish reasons, usage)
//! live in `anthropic`. Pure: no I/O, no knowledge of routing or Pingora.
//!
//! What the client sees, and why:
//! - The first chunk carries `delta.role: "assistant"` (and an empty
//!   content), as OpenAI's does; every chunk has `choices[0].index` 0.
//! - Text deltas are `delta.content`, thinking deltas
//!   `delta.reasoning_content` (the field DeepSeek and OpenRouter clients
//!   read); signatures, redacted thinking, citations and server tool blocks
//!   have no OpenAI form and are skipped, as are `ping` and unknown events.
//! - A `tool_use` block is a tool call numbered 0, 1, 2… in order (not the
//!   Anthropic block index, which counts text blocks too); its start carries
//!   id, type and name (the client's original name) with empty arguments,
//!   then each `input_json_delta` carries a piece. A call whose input
//!   streamed nothing gets `{}`: clients parse the arguments as JSON.
//! - `message_delta` writes the finish reason at once, `tool_calls`
//!   whenever a tool was called; `message_stop` writes the usage chunk
//!   (`choices: []`, when the client asked with `include_usage`) and
//!   `[DONE]`. Anthropic's usage is cumulative: `message_start` gives the
//!   input and cache counts, `message_delta` the output so far (and, on
//!   some requests, final input counts).
//! - An upstream `error` event, or [`fail`](AnthropicToChatStream::fail),
//!   writes OpenAI's error event (`event: error`, `{"error": {...}}`, which
//!   the OpenAI SDKs raise) and nothing after it, not even `[DONE]`.

use serde_json::{Map, Value};

use super::anthropic::{finish_reason, ChatUsage};
use super::chat_chunk::{self, ChunkWriter, Delta};
use super::sse::{SseDecoder, SseDriven, SseEvent};
use super::translate::StreamTranslator;

mod tools;

/// The most content blocks tracked at once: Anthropic opens one at a time,
/// so an upstream that keeps more open is broken, and its extra blocks are
/// skipped rather than remembered without bound.
const MAX_OPEN_BLOCKS: usize = 64;

/// The Anthropic usage fields that count tokens.
const USAGE_FIELDS: [&str; 4] = [
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
];

/// One streamed reply being translated.
pub struct AnthropicToChatStream {
    tool_names: Vec<(String, String)>,
    chunks: ChunkWriter,
    sse: SseDecoder,
    /// The upstream message id, from `message_start`.
    upstream_id: Option<String>,
    /// Open Anthropic blocks by index.
    blocks: Vec<(u64, Block)>,
    /// Tool calls started so far.
    tool_calls: usize,
    /// Anthropic's usage so far, field by field.
    usage: Option<Map<String, Value>>,
    finish_sent: bool,
    /// The stream ended (`[DONE]` or an error was written): nothing more.
    done: bool,
}

/// What an open Anthropic block is.
#[derive(Clone, Copy)]
enum Block {
    Text,
    Thinking,
    Tool { call: usize, has_input: bool },
    Skipped,
}

impl AnthropicToChatStream {
    /// `model` is the name the client asked for; `tool_names` maps the
    /// shortened names sent upstream back to the client's originals;
    /// `include_usage` is the client's `stream_options.include_usage`;
    /// `created` the Unix time every chunk carries.
    pub fn new(
        model: String,
        tool_names: Vec<(String, String)>,
        include_usage: bool,
        created: u64,
    ) -> Self {
        Self {
            tool_names,
            chunks: ChunkWriter::new(model, created, include_usage),
            sse: SseDecoder::default(),
            upstream_id: None,
            blocks: Vec::new(),
            tool_calls: 0,
            usage: None,
            finish_sent: false,
            done: false,
        }
    }

    /// Takes the next bytes of the upstream stream and appends the chunks
    /// of every upstream event they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.feed_events(bytes, out);
    }

    /// The upstream's body ended: a last event without its blank line still
    /// counts, then the stream closes as `message_stop` would close it
    /// (finish reason if not yet sent, usage, `[DONE]`). Once only; after
    /// [`fail`](Self::fail) it writes nothing.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.flush_events(out) {
            self.end(out);
        }
    }

    /// The upstream broke mid-stream: writes OpenAI's error event and ends
    /// the stream. Once only; after [`finish`](Self::finish) it writes
    /// nothing.
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error(message, "upstream_error", out);
    }

    /// The usage the upstream reported so far, in OpenAI's terms.
    pub fn usage(&self) -> Option<ChatUsage> {
        let usage = Value::Object(self.usage.clone()?);
        Some(ChatUsage::from_anthropic(&usage))
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        let parsed = serde_json::from_slice::<Value>(&event.data);
        let kind = parsed
            .as_ref()
            .ok()
            .and_then(|data| data.get("type"))
            .and_then(Value::as_str);
        if event.is_error || kind == Some("error") {
            return self.upstream_error(parsed.ok(), &event.data, out);
        }
        // Data that is not JSON carries nothing we could translate.
        let (Ok(data), Some(kind)) = (&parsed, kind) else {
            return;
        };
        // Content after the finish reason: the client has stopped reading.
        if self.finish_sent && kind.starts_with("content_block_") {
            return;
        }
        match kind {
            "message_start" => self.message_start(data.get("message"), out),
            "content_block_start" => self.block_start(data, out),
            "content_block_delta" => self.block_delta(data, out),
            "content_block_stop" => self.block_stop(data, out),
            "message_delta" => self.message_delta(data, out),
            "message_stop" => self.end(out),
            // `ping`, and whatever Anthropic adds later.
            _ => {}
        }
    }

    fn message_start(&mut self, message: Option<&Value>, out: &mut Vec<u8>) {
        let id = message.and_then(|m| m.get("id")).and_then(Value::as_str);
        if self.upstream_id.is_none() {
            self.upstream_id = id.map(str::to_string);
        }
        self.merge_usage(message.and_then(|m| m.get("usage")));
        self.start(out);
    }

    /// Writes the role chunk, once, before anything else.
    fn start(&mut self, out: &mut Vec<u8>) {
        self.chunks.start(self.upstream_id.as_deref(), out);
    }

    fn block_start(&mut self, data: &Value, out: &mut Vec<u8>) {
        self.start(out);
        let (Some(index), Some(block)) = (
            data.get("index").and_then(Value::as_u64),
            data.get("content_block"),
        ) else {
            return;
        };
        self.blocks.retain(|(open, _)| *open != index);
        if self.blocks.len() >= MAX_OPEN_BLOCKS {
            return;
        }
        let field = |key| block.get(key).and_then(Value::as_str).unwrap_or_default();
        let kind = match field("type") {
            "text" => {
                self.text(field("text"), out);
                Block::Text
            }
            "thinking" => {
                self.reasoning(field("thinking"), out);
                Block::Thinking
            }
            "tool_use" => self.tool_start(field("id"), field("name"), block.get("input"), out),
            _ => Block::Skipped,
        };
        self.blocks.push((index, kind));
    }

    fn block_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
        let Some(at) = self.block_at(data) else {
            return;
        };
        let Some(delta) = data.get("delta") else {
            return;
        };
        let field = |key| delta.get(key).and_then(Value::as_str).unwrap_or_default();
        match (self.blocks[at].1, field("type")) {
            (Block::Text, "text_delta") => self.text(field("text"), out),
            (Block::Thinking, "thinking_delta") => self.reasoning(field("thinking"), out),
            (Block::Tool { call, .. }, "input_json_delta") => {
                let partial = field("partial_json");
                if partial.is_empty() {
                    return;
                }
                self.blocks[at].1 = Block::Tool {
                    call,
                    has_input: true,
                };
                self.arguments(call, partial, out);
            }
            // Signatures, citations, and deltas of skipped blocks.
            _ => {}
        }
    }

    fn block_stop(&mut self, data: &Value, out: &mut Vec<u8>) {
        let Some(at) = self.block_at(data) else {
            return;
        };
        let (_, block) = self.blocks.remove(at);
        if let Block::Tool {
            call,
            has_input: false,
        } = block
        {
            self.arguments(call, "{}", out);
        }
    }

    /// Where the open block an event names sits in `blocks`.
    fn block_at(&self, data: &Value) -> Option<usize> {
        let index = data.get("index").and_then(Value::as_u64)?;
        self.blocks.iter().position(|(open, _)| *open == index)
    }

    fn message_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
        self.merge_usage(data.get("usage"));
        let stop_reason = data
            .get("delta")
            .and_then(|d| d.get("stop_reason"))
            .and_then(Value::as_str);
        if stop_reason.is_some() {
            self.finish_reason(stop_reason, out);
        }
    }

    /// Writes the finish reason chunk, once.
    fn finish_reason(&mut self, stop_reason: Option<&str>, out: &mut Vec<u8>) {
        if self.finish_sent {
            return;
        }
        self.start(out);
        let reason = if self.tool_calls > 0 {
            "tool_calls"
        } else {
            finish_reason(stop_reason)
        };
        self.chunks.finish(reason, out);
        self.finish_sent = true;
    }

    /// The end of the message: the finish reason if not yet written, the
    /// usage chunk if asked for, `[DONE]`.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.finish_reason(None, out);
        self.chunks
            .end(|| self.usage().unwrap_or_default().to_chat(), out);
        self.close();
    }

    /// Anthropic's usage fields as they arrive: later values replace
    /// earlier ones (they are cumulative).
    fn merge_usage(&mut self, usage: Option<&Value>) {
        let Some(usage) = usage.and_then(Value::as_object) else {
            return;
        };
        let merged = self.usage.get_or_insert_with(Map::new);
        for key in USAGE_FIELDS {
            if let Some(n) = usage.get(key).filter(|n| n.is_u64()) {
                merged.insert(key.into(), n.clone());
            }
        }
    }

    fn text(&self, text: &str, out: &mut Vec<u8>) {
        if !text.is_empty() {
            let delta = Delta {
                content: Some(text),
                ..Delta::default()
            };
            self.chunks.delta(&delta, out);
        }
    }

    fn reasoning(&self, text: &str, out: &mut Vec<u8>) {
        if !text.is_empty() {
            let delta = Delta {
                reasoning_content: Some(text),
                ..Delta::default()
            };
            self.chunks.delta(&delta, out);
        }
    }

    /// An upstream `error` event: its message and type, or the raw data
    /// when it is not Anthropic's error shape.
    fn upstream_error(&mut self, data: Option<Value>, raw: &[u8], out: &mut Vec<u8>) {
        let error = data.as_ref().map(|d| d.get("error").unwrap_or(d));
        let text = |key| error.and_then(|e| e.get(key)).and_then(Value::as_str);
        let message = match text("message") {
            Some(message) => message.to_string(),
            None => String::from_utf8_lossy(raw).into_owned(),
        };
        let kind = text("type").filter(|t| !t.is_empty() && *t != "error");
        let kind = kind.unwrap_or("upstream_error").to_string();
        self.error(&message, &kind, out);
    }

    fn error(&mut self, message: &str, kind: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        chat_chunk::error(message, kind, None, out);
        self.close();
    }

    /// Nothing more will be written: the decoder's buffer is let go.
    fn close(&mut self) {
        self.done = true;
        self.sse = SseDecoder::default();
        self.blocks = Vec::new();
    }
}

impl SseDriven for AnthropicToChatStream {
    fn decoder(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }
    fn is_done(&self) -> bool {
        self.done
    }
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        AnthropicToChatStream::on_event(self, event, out);
    }
    fn on_failure(&mut self, message: &str, out: &mut Vec<u8>) {
        self.fail(message, out);
    }
}

impl StreamTranslator for AnthropicToChatStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        AnthropicToChatStream::feed(self, bytes, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        AnthropicToChatStream::finish(self, out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        AnthropicToChatStream::fail(self, message, out);
    }
    fn usage(&self) -> Option<ChatUsage> {
        AnthropicToChatStream::usage(self)
    }
}

#[cfg(test)]
mod tests;
