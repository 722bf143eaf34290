//! OpenAI chat-completions SSE → Anthropic Messages SSE: a state machine fed
//! the upstream's bytes in any split, writing Anthropic events as each
//! upstream event completes. It owns the Anthropic events it writes (their
//! shapes in `wire`) and the order of content blocks (the tool calls' part
//! in `tools`); the loop over the upstream's SSE is `sse`'s (shared by every
//! streamed direction), the shared facts (stop reasons, usage, tool ids)
//! live in `anthropic`. Pure: no I/O, no knowledge of routing or Pingora.
//!
//! What the client sees, and why:
//! - Every event has an `event:` line: Anthropic's SDKs dispatch on it and
//!   drop data-only frames.
//! - Blocks are strictly sequential, one open at a time, indices 0, 1, 2…;
//!   a delta is only ever written for the open block (a delta for a block
//!   never started makes Claude Code abandon the stream).
//! - A tool call opens its block once its name is known; arguments that came
//!   earlier are held and sent right after the start. Parallel calls get a
//!   block each, in the order they first appeared. The open call keeps its
//!   block until its arguments parse as JSON and another named call is
//!   waiting (or text, reasoning or the end arrives); arguments of the others
//!   are held meanwhile, so interleaved calls still come out whole and in
//!   order. A delta for a call whose block was already closed is dropped.
//! - Reasoning (`reasoning_content` or `reasoning`) becomes a thinking block
//!   closed by a `signature_delta` carrying [`UNSIGNED_THINKING`]: Claude
//!   Code discards a thinking block that never received a signature, and the
//!   fixed marker lets the request side recognise and drop these blocks when
//!   a conversation is replayed to a real Anthropic upstream.
//! - `message_delta` and `message_stop` come once, at the end: when both the
//!   finish reason and the usage are known, at `[DONE]`, or at [`finish`].
//!
//! [`finish`]: ChatToAnthropicStream::finish

use serde_json::Value;

use super::anthropic::{message_id, stop_reason, ChatUsage};
use super::chat_tool_calls::ToolCall;
use super::sse::{SseDecoder, SseDriven, SseEvent};
use wire::{emit, Block, Delta, ErrorBody, Event, Message, StopDelta};

mod tools;
mod wire;

/// The most tool arguments held for calls whose block cannot open yet (the
/// same bound as one SSE event): an upstream that exceeds it is broken, and
/// the client gets an error event.
pub use super::sse::MAX_EVENT;

pub use super::anthropic::UNSIGNED_THINKING;

/// One streamed reply being translated.
pub struct ChatToAnthropicStream {
    model: String,
    tool_names: Vec<(String, String)>,
    sse: SseDecoder,
    message_id: Option<String>,
    next_index: usize,
    open: Option<Open>,
    calls: Vec<ToolCall>,
    tool_ids: Vec<String>,
    finish_reason: Option<String>,
    usage: Option<ChatUsage>,
    stop_reason: Option<&'static str>,
    /// The stream ended (message_stop or an error was written): nothing more.
    done: bool,
}

/// The content block currently open, by its Anthropic index.
#[derive(Clone, Copy)]
enum Open {
    Text(usize),
    Thinking(usize),
    Tool { call: usize, index: usize },
}

impl ChatToAnthropicStream {
    /// `model` is the name the client asked for; `tool_names` maps the
    /// shortened names sent upstream back to the client's originals.
    pub fn new(model: String, tool_names: Vec<(String, String)>) -> Self {
        Self {
            model,
            tool_names,
            sse: SseDecoder::default(),
            message_id: None,
            next_index: 0,
            open: None,
            calls: Vec::new(),
            tool_ids: Vec::new(),
            finish_reason: None,
            usage: None,
            stop_reason: None,
            done: false,
        }
    }

    /// Takes the next bytes of the upstream stream and appends the Anthropic
    /// events of every upstream event they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.feed_events(bytes, out);
    }

    /// The upstream ended (after `[DONE]` or at end of file): closes the open
    /// block and writes `message_delta` and `message_stop`. Once only; after
    /// [`fail`](Self::fail) it writes nothing.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.flush_events(out) {
            self.end(out);
        }
    }

    /// The upstream broke mid-stream: writes Anthropic's `error` event and
    /// ends the stream. Once only; after [`finish`](Self::finish) it writes
    /// nothing.
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error(
            ErrorBody {
                kind: "api_error",
                message,
            },
            out,
        );
    }

    /// The usage the upstream reported, if it did.
    pub fn usage(&self) -> Option<ChatUsage> {
        self.usage
    }

    /// The `stop_reason` written, once the stream has finished.
    pub fn stop_reason(&self) -> Option<&'static str> {
        self.stop_reason
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if event.data.trim_ascii() == b"[DONE]" {
            self.end(out);
            return;
        }
        // Lines that are not JSON carry nothing we could translate.
        let Ok(chunk) = serde_json::from_slice::<Value>(&event.data) else {
            return;
        };
        match chunk.get("error").filter(|e| !e.is_null()) {
            Some(error) => self.upstream_error(error, out),
            None if event.is_error => self.upstream_error(&chunk, out),
            None => self.on_chunk(&chunk, out),
        }
    }

    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if let Some(usage) = usage_of(chunk) {
            self.usage = Some(ChatUsage::from_json(usage));
        }
        self.start_message(chunk.get("id").and_then(Value::as_str), out);
        let Some(choice) = first_choice(chunk) else {
            return self.end_if_complete(out);
        };
        // Fake-streaming providers send the whole message in one chunk.
        if let Some(delta) = choice.get("delta").or_else(|| choice.get("message")) {
            self.on_delta(delta, out);
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        self.end_if_complete(out);
    }

    /// Reasoning, then text, then tool calls: the order a model produces
    /// them when one chunk carries several.
    fn on_delta(&mut self, delta: &Value, out: &mut Vec<u8>) {
        let text = |key: &str| {
            delta
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        // Some providers send both names with the same text: take one.
        if let Some(thinking) = text("reasoning_content").or_else(|| text("reasoning")) {
            self.thinking(thinking, out);
        }
        if let Some(content) = text("content") {
            self.text(content, out);
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.tool_call(call, out);
            if self.done {
                return;
            }
        }
    }

    fn end_if_complete(&mut self, out: &mut Vec<u8>) {
        if self.finish_reason.is_some() && self.usage.is_some() {
            self.end(out);
        }
    }

    fn start_message(&mut self, upstream_id: Option<&str>, out: &mut Vec<u8>) {
        if self.message_id.is_some() {
            return;
        }
        let id = message_id(upstream_id);
        let usage = self.usage.unwrap_or_default().to_anthropic();
        let message = Message {
            id: &id,
            kind: "message",
            role: "assistant",
            model: &self.model,
            content: &[],
            stop_reason: None,
            stop_sequence: None,
            usage,
        };
        emit(out, &Event::MessageStart { message });
        self.message_id = Some(id);
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        let index = match self.open {
            Some(Open::Text(index)) => index,
            _ => self.open_block(Block::Text { text: "" }, Open::Text, out),
        };
        emit(
            out,
            &Event::ContentBlockDelta {
                index,
                delta: Delta::Text { text },
            },
        );
    }

    fn thinking(&mut self, thinking: &str, out: &mut Vec<u8>) {
        let index = match self.open {
            Some(Open::Thinking(index)) => index,
            _ => {
                let block = Block::Thinking {
                    thinking: "",
                    signature: "",
                };
                self.open_block(block, Open::Thinking, out)
            }
        };
        let delta = Delta::Thinking { thinking };
        emit(out, &Event::ContentBlockDelta { index, delta });
    }

    /// Closes the open block and starts the next one.
    fn open_block(
        &mut self,
        block: Block,
        open: impl FnOnce(usize) -> Open,
        out: &mut Vec<u8>,
    ) -> usize {
        self.close_open(out);
        let index = self.next_index;
        self.next_index += 1;
        emit(
            out,
            &Event::ContentBlockStart {
                index,
                content_block: block,
            },
        );
        self.open = Some(open(index));
        index
    }

    fn close_open(&mut self, out: &mut Vec<u8>) {
        let index = match self.open.take() {
            None => return,
            Some(Open::Text(index)) => index,
            Some(Open::Thinking(index)) => {
                let delta = Delta::Signature {
                    signature: UNSIGNED_THINKING,
                };
                emit(out, &Event::ContentBlockDelta { index, delta });
                index
            }
            Some(Open::Tool { call, index }) => {
                let sent = std::mem::take(&mut self.calls[call].sent);
                // A call with no arguments at all still has an input.
                if sent.trim().is_empty() {
                    let delta = Delta::InputJson { partial_json: "{}" };
                    emit(out, &Event::ContentBlockDelta { index, delta });
                }
                index
            }
        };
        emit(out, &Event::ContentBlockStop { index });
    }

    /// The end of the message: the open block closes, calls still waiting
    /// get their blocks (a call that never got a name is dropped: a
    /// `tool_use` needs one), then the stop reason and usage.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start_message(None, out);
        while let Some(next) = self
            .calls
            .iter()
            .position(|c| !c.started && c.name.is_some())
        {
            self.start_tool(next, out);
        }
        self.close_open(out);
        let tool_used = !self.tool_ids.is_empty();
        let reason = stop_reason(self.finish_reason.as_deref(), tool_used);
        let delta = StopDelta {
            stop_reason: reason,
            stop_sequence: None,
        };
        let usage = self.usage.unwrap_or_default().to_anthropic();
        emit(out, &Event::MessageDelta { delta, usage });
        emit(out, &Event::MessageStop);
        self.stop_reason = Some(reason);
        self.done = true;
    }

    fn upstream_error(&mut self, error: &Value, out: &mut Vec<u8>) {
        let message = match error {
            Value::String(message) => message.clone(),
            _ => match error.get("message").and_then(Value::as_str) {
                Some(message) => message.to_string(),
                None => error.to_string(),
            },
        };
        let kind = error_type(error);
        self.error(
            ErrorBody {
                kind,
                message: &message,
            },
            out,
        );
    }

    fn error(&mut self, error: ErrorBody, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        emit(out, &Event::Error { error });
        self.done = true;
        self.sse = SseDecoder::default();
    }
}

/// The usage of a chunk: OpenAI's `usage`, or Groq's `x_groq.usage`.
fn usage_of(chunk: &Value) -> Option<&Value> {
    let groq = || chunk.get("x_groq").and_then(|x| x.get("usage"));
    chunk
        .get("usage")
        .filter(|u| u.is_object())
        .or_else(|| groq().filter(|u| u.is_object()))
}

/// The choice translated: the first (`n` > 1 has no Anthropic equivalent).
fn first_choice(chunk: &Value) -> Option<&Value> {
    let choices = chunk.get("choices")?.as_array()?;
    choices
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
}

/// Anthropic's error type for an upstream error object.
fn error_type(error: &Value) -> &'static str {
    let text = |key: &str| error.get(key).map(|v| v.to_string()).unwrap_or_default();
    let said = format!("{} {}", text("type"), text("code")).to_ascii_lowercase();
    if said.contains("rate_limit") || said.contains("429") {
        "rate_limit_error"
    } else if said.contains("overloaded") || said.contains("529") || said.contains("503") {
        "overloaded_error"
    } else {
        "api_error"
    }
}

impl SseDriven for ChatToAnthropicStream {
    fn decoder(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }
    fn is_done(&self) -> bool {
        self.done
    }
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        ChatToAnthropicStream::on_event(self, event, out);
    }
    fn on_failure(&mut self, message: &str, out: &mut Vec<u8>) {
        self.fail(message, out);
    }
}

impl super::translate::StreamTranslator for ChatToAnthropicStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        ChatToAnthropicStream::feed(self, bytes, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        ChatToAnthropicStream::finish(self, out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        ChatToAnthropicStream::fail(self, message, out);
    }
    fn usage(&self) -> Option<ChatUsage> {
        ChatToAnthropicStream::usage(self)
    }
}

#[cfg(test)]
mod tests;
