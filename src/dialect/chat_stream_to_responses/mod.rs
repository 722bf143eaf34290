//! OpenAI chat-completions SSE → Responses API SSE: a state machine fed the
//! upstream's bytes in any split, writing Responses events as each upstream
//! event completes. It owns the framing of both streams and the order of
//! output items; the Response object and its items are built by
//! `responses`, as for a whole reply. Pure: no I/O, no knowledge of routing
//! or Pingora.
//!
//! What the client sees, and why:
//! - Every event has an `event:` line naming its `type`, and a
//!   `sequence_number` counting from 0, as OpenAI sends them.
//! - `response.created` then `response.in_progress` at the first upstream
//!   event; at the end `response.completed` (or `response.incomplete` for
//!   `length` and `content_filter`, as OpenAI reports a cut answer) with
//!   the whole Response: every output item and the usage. Codex needs both
//!   each item's `response.output_item.done` (it builds the turn from
//!   them) and the final `response.completed`.
//! - Output items are strictly sequential, one open at a time, each with
//!   its full lifecycle: a message is `output_item.added` →
//!   `content_part.added` → `output_text.delta`… → `output_text.done` →
//!   `content_part.done` → `output_item.done`; reasoning
//!   (`reasoning_content` or `reasoning`) is a `reasoning` item whose text
//!   streams as its summary (`reasoning_summary_part.added` →
//!   `reasoning_summary_text.delta`… → `.done` → `part.done`), the form
//!   Codex displays by default.
//! - A tool call gets its `function_call` item once its name is known;
//!   arguments that came earlier are held and sent right after. Parallel
//!   calls get an item each, in the order they first appeared; the open
//!   call keeps its item until its arguments parse as JSON and another
//!   named call is waiting, so interleaved calls still come out whole. A
//!   delta for a call whose item was already done is dropped.
//! - A broken upstream (`fail`, an error event, an oversized event) ends
//!   the stream with one `response.failed` carrying `error.code` and
//!   `error.message`; nothing follows it.

mod events;
mod tools;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

use super::anthropic::ChatUsage;
use super::chat_tool_calls::ToolCall;
use super::responses::{self, response_id, Status};
use super::sse::{SseDecoder, SseDriven, SseEvent};
use events::Open;

/// The most tool arguments held for calls whose item cannot open yet (the
/// same bound as one SSE event): an upstream that exceeds it is broken, and
/// the client gets `response.failed`.
pub use super::sse::MAX_EVENT;

/// One streamed reply being translated.
pub struct ChatToResponsesStream {
    model: String,
    tool_names: Vec<(String, String)>,
    created: u64,
    sse: SseDecoder,
    /// The next event's `sequence_number`.
    sequence: u64,
    /// The Response id, once `response.created` is written.
    id: Option<String>,
    /// The items done, in order: an item's `output_index` is its place.
    output: Vec<Value>,
    open: Option<Open>,
    calls: Vec<ToolCall>,
    finish_reason: Option<String>,
    usage: Option<ChatUsage>,
    reasoning_tokens: u64,
    /// The stream ended (a terminal event was written): nothing more.
    done: bool,
}

impl ChatToResponsesStream {
    /// `model` is the name the client asked for; `tool_names` maps the
    /// shortened names sent upstream back to the client's originals;
    /// `created` is the Unix time of the reply.
    pub fn new(model: String, tool_names: Vec<(String, String)>, created: u64) -> Self {
        Self {
            model,
            tool_names,
            created,
            sse: SseDecoder::default(),
            sequence: 0,
            id: None,
            output: Vec::new(),
            open: None,
            calls: Vec::new(),
            finish_reason: None,
            usage: None,
            reasoning_tokens: 0,
            done: false,
        }
    }

    /// Takes the next bytes of the upstream stream and appends the
    /// Responses events of every upstream event they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.feed_events(bytes, out);
    }

    /// The upstream ended (after `[DONE]` or at end of file): closes the
    /// open item and writes `response.completed` (or `.incomplete`). Once
    /// only; after [`fail`](Self::fail) it writes nothing.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.flush_events(out) {
            self.end(out);
        }
    }

    /// The upstream broke mid-stream: writes `response.failed` and ends the
    /// stream. Once only; after [`finish`](Self::finish) it writes nothing.
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.failed("server_error", message, out);
    }

    /// The usage the upstream reported, if it did.
    pub fn usage(&self) -> Option<ChatUsage> {
        self.usage
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if event.data.trim_ascii() == b"[DONE]" {
            self.end(out);
            return;
        }
        // Most chunks carry a piece of text and nothing else: read without
        // building a tree of values (this is most of a stream's cost).
        if !event.is_error {
            if let Some(text) = text_only(&event.data) {
                self.start(text.id.as_deref(), out);
                if !text.content.is_empty() {
                    self.text(&text.content, out);
                }
                return;
            }
        }
        // Lines that are not JSON carry nothing we could translate.
        let Ok(chunk) = serde_json::from_slice::<Value>(&event.data) else {
            return;
        };
        self.start(chunk.get("id").and_then(Value::as_str), out);
        match chunk.get("error").filter(|e| !e.is_null()) {
            Some(error) => self.upstream_error(error, out),
            None if event.is_error => self.upstream_error(&chunk, out),
            None => self.on_chunk(&chunk, out),
        }
    }

    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if let Some(usage) = usage_of(chunk) {
            self.usage = Some(ChatUsage::from_json(usage));
            self.reasoning_tokens = responses::reasoning_tokens(usage);
        }
        if let Some(choice) = first_choice(chunk) {
            // Fake-streaming providers send the whole message in one chunk.
            if let Some(delta) = choice.get("delta").or_else(|| choice.get("message")) {
                self.on_delta(delta, out);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_string());
            }
        }
        if self.finish_reason.is_some() && self.usage.is_some() {
            self.end(out);
        }
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
        if let Some(reasoning) = text("reasoning_content").or_else(|| text("reasoning")) {
            self.reasoning(reasoning, out);
        }
        if let Some(content) = text("content").or_else(|| text("refusal")) {
            self.text(content, out);
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            self.tool_call(call, out);
            if self.done {
                return;
            }
        }
    }

    /// `response.created` and `response.in_progress`, once.
    fn start(&mut self, upstream_id: Option<&str>, out: &mut Vec<u8>) {
        if self.id.is_some() {
            return;
        }
        let id = response_id(upstream_id);
        let response = responses::response(&id, &self.model, self.created, "in_progress");
        self.id = Some(id);
        let created = wrap_response(response.clone());
        self.emit("response.created", created, out);
        self.emit("response.in_progress", wrap_response(response), out);
    }

    fn response_id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    /// The end of the reply: the open item closes, calls still waiting get
    /// their items (a call that never got a name is dropped: a
    /// `function_call` needs one), then the Response.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(None, out);
        let status = Status::from_finish_reason(self.finish_reason.as_deref());
        while let Some(next) = (self.calls.iter()).position(|c| !c.started && c.name.is_some()) {
            self.start_tool(next, out);
        }
        self.close_open(status, out);
        let usage = match self.usage {
            Some(usage) => responses::usage(usage, self.reasoning_tokens),
            None => Value::Null,
        };
        let base = responses::response(self.response_id(), &self.model, self.created, "");
        let output = std::mem::take(&mut self.output);
        let response = responses::finished(base, status, output, usage);
        let kind = match status {
            Status::Completed => "response.completed",
            Status::Incomplete(_) => "response.incomplete",
        };
        self.emit(kind, wrap_response(response), out);
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
        self.failed(error_code(error), &message, out);
    }

    fn failed(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(None, out);
        let mut response =
            responses::response(self.response_id(), &self.model, self.created, "failed");
        response.insert("output".into(), std::mem::take(&mut self.output).into());
        let error = serde_json::json!({ "code": code, "message": message });
        response.insert("error".into(), error);
        self.emit(
            "response.failed",
            serde_json::json!({ "response": response }),
            out,
        );
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

/// The choice translated: the first (`n` > 1 has no Responses equivalent).
/// `{"response": response}`, the Response moved in (not copied).
fn wrap_response(response: serde_json::Map<String, Value>) -> Value {
    let mut fields = serde_json::Map::new();
    fields.insert("response".into(), Value::Object(response));
    Value::Object(fields)
}

/// A chunk that holds text and nothing else the translation acts on.
struct TextOnly<'a> {
    id: Option<Cow<'a, str>>,
    content: Cow<'a, str>,
}

/// `data` as a text-only chunk: one choice (index 0) whose delta has at
/// most `role` and `content`, no finish reason, no usage, no error; `None`
/// for anything else (read the general way).
fn text_only(data: &[u8]) -> Option<TextOnly<'_>> {
    #[derive(Deserialize)]
    struct Chunk<'a> {
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
        #[serde(borrow)]
        choices: Vec<Choice<'a>>,
        #[serde(borrow, default)]
        usage: Option<&'a RawValue>,
        #[serde(borrow, default)]
        error: Option<&'a RawValue>,
        #[serde(borrow, default)]
        x_groq: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Choice<'a> {
        #[serde(default)]
        index: u64,
        #[serde(borrow)]
        delta: Delta<'a>,
        #[serde(borrow, default)]
        finish_reason: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Delta<'a> {
        #[serde(borrow, default)]
        content: Option<Cow<'a, str>>,
        #[serde(default, rename = "role")]
        _role: Option<IgnoredAny>,
    }
    let chunk: Chunk<'_> = serde_json::from_slice(data).ok()?;
    let absent = |v: Option<&RawValue>| v.is_none_or(|v| v.get() == "null");
    if !(absent(chunk.usage) && absent(chunk.error) && chunk.x_groq.is_none()) {
        return None;
    }
    let [choice] = <[Choice<'_>; 1]>::try_from(chunk.choices).ok()?;
    if choice.index != 0 || !absent(choice.finish_reason) {
        return None;
    }
    Some(TextOnly {
        id: chunk.id,
        content: choice.delta.content.unwrap_or_default(),
    })
}

fn first_choice(chunk: &Value) -> Option<&Value> {
    let choices = chunk.get("choices")?.as_array()?;
    choices
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
}

/// The Responses `error.code` for an upstream error object: the codes
/// clients act on (Codex retries `rate_limit_exceeded` after the delay in
/// the message, and stops on `context_length_exceeded` and
/// `insufficient_quota`), else `server_error`.
fn error_code(error: &Value) -> &'static str {
    let text = |key: &str| error.get(key).map(|v| v.to_string()).unwrap_or_default();
    let said = format!("{} {}", text("type"), text("code")).to_ascii_lowercase();
    if said.contains("context_length") {
        "context_length_exceeded"
    } else if said.contains("insufficient_quota") {
        "insufficient_quota"
    } else if said.contains("rate_limit") || said.contains("429") {
        "rate_limit_exceeded"
    } else {
        "server_error"
    }
}

impl SseDriven for ChatToResponsesStream {
    fn decoder(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }
    fn is_done(&self) -> bool {
        self.done
    }
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        ChatToResponsesStream::on_event(self, event, out);
    }
    fn on_failure(&mut self, message: &str, out: &mut Vec<u8>) {
        self.fail(message, out);
    }
}

impl super::translate::StreamTranslator for ChatToResponsesStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        ChatToResponsesStream::feed(self, bytes, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        ChatToResponsesStream::finish(self, out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        ChatToResponsesStream::fail(self, message, out);
    }
    fn usage(&self) -> Option<ChatUsage> {
        ChatToResponsesStream::usage(self)
    }
}

#[cfg(test)]
mod tests;
