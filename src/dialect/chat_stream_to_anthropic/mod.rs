//! OpenAI chat-completions SSE → Anthropic Messages SSE: a state machine fed
//! the upstream's bytes in any split, writing Anthropic events as each
//! upstream event completes. It owns the Anthropic events it writes and the
//! order of content blocks; the loop over the upstream's SSE is `sse`'s
//! (shared by every streamed direction), the shared facts (stop reasons,
//! usage, tool ids) live in `anthropic`. Pure: no I/O, no knowledge of
//! routing or Pingora.
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

use serde::Serialize;
use serde_json::{Map, Value};

use super::anthropic::{message_id, stop_reason, tool_id, ChatUsage};
use super::sse::{SseDecoder, SseDriven, SseEvent};
use super::translate::original_name;

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

/// One upstream tool call, keyed by its `index` (or id when a provider
/// leaves the index out).
#[derive(Default)]
struct ToolCall {
    index: Option<u64>,
    id: Option<String>,
    name: Option<String>,
    /// Arguments not yet written.
    held: String,
    /// Arguments written into the open block (to tell when they are whole).
    sent: String,
    started: bool,
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

    fn tool_call(&mut self, delta: &Value, out: &mut Vec<u8>) {
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

    fn start_tool(&mut self, call: usize, out: &mut Vec<u8>) {
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

/// Whether streamed tool arguments form a whole JSON value. The cheap test
/// first: arguments are an object, so whole ones end in `}`.
fn json_complete(args: &str) -> bool {
    args.trim_end().ends_with(['}', ']'])
        && serde_json::from_str::<serde::de::IgnoredAny>(args).is_ok()
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

fn emit(out: &mut Vec<u8>, event: &Event) {
    let mark = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.name().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serialising these types cannot fail; if it ever did, the event is
    // left out whole rather than written half.
    match serde_json::to_writer(&mut *out, event) {
        Ok(()) => out.extend_from_slice(b"\n\n"),
        Err(_) => out.truncate(mark),
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message<'a>,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block<'a>,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: StopDelta,
        usage: Value,
    },
    MessageStop,
    Error {
        error: ErrorBody<'a>,
    },
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

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Error { .. } => "error",
        }
    }
}

#[derive(Serialize)]
struct Message<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: &'static [Value],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: Value,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'static str,
    },
    Thinking {
        thinking: &'static str,
        signature: &'static str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Map<String, Value>,
    },
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'static str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

#[cfg(test)]
mod tests;
