//! OpenAI's streamed chat completion, written: `data: {chunk}` events of
//! `chat.completion.chunk` objects (the role chunk first, deltas, the
//! finish chunk, the usage chunk), `data: [DONE]` last, or OpenAI's error
//! event instead. Shared by every translator whose client reads OpenAI's
//! stream (`anthropic_stream_to_chat`, `gemini_stream_to_chat`); what goes
//! in a delta, and when, is theirs. Pure: bytes appended to a buffer.
//!
//! The shapes are borrowed from the translator's strings, so a delta is
//! serialised without copies, and their fields are in OpenAI's own order.

use serde::Serialize;
use serde_json::Value;

use super::chat::completion_id;

/// The chunks of one streamed completion: what every chunk repeats.
pub struct ChunkWriter {
    model: String,
    created: u64,
    include_usage: bool,
    /// The completion id, once the role chunk is written.
    id: Option<String>,
}

impl ChunkWriter {
    /// `model` is the name the client asked for; `created` the Unix time
    /// every chunk carries; `include_usage` the client's
    /// `stream_options.include_usage`.
    pub fn new(model: String, created: u64, include_usage: bool) -> Self {
        Self {
            model,
            created,
            include_usage,
            id: None,
        }
    }

    /// Writes the role chunk (`role: "assistant"` and an empty content, as
    /// OpenAI's first chunk has), once, before anything else; the id is
    /// `chatcmpl-` and the upstream's reply id.
    pub fn start(&mut self, upstream_id: Option<&str>, out: &mut Vec<u8>) {
        if self.id.is_some() {
            return;
        }
        self.id = Some(completion_id(upstream_id));
        let delta = Delta {
            role: Some("assistant"),
            content: Some(""),
            ..Delta::default()
        };
        self.delta(&delta, out);
    }

    /// A chunk of one choice carrying `delta`.
    pub fn delta<D: Serialize>(&self, delta: &D, out: &mut Vec<u8>) {
        self.choice(delta, None, out);
    }

    /// The chunk with the finish reason (and an empty delta).
    pub fn finish(&self, reason: &'static str, out: &mut Vec<u8>) {
        self.choice(&Delta::default(), Some(reason), out);
    }

    /// The end of the stream: the usage chunk (`choices: []`, OpenAI's
    /// `usage` object, made only then) when the client asked for it, then
    /// `[DONE]`.
    pub fn end(&self, usage: impl FnOnce() -> Value, out: &mut Vec<u8>) {
        if self.include_usage {
            let choices: &[Choice<Delta>] = &[];
            self.write(choices, Some(usage()), out);
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn choice<D: Serialize>(&self, delta: &D, reason: Option<&'static str>, out: &mut Vec<u8>) {
        let choice = Choice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason: reason,
        };
        self.write(&[choice], None, out);
    }

    fn write<D: Serialize>(&self, choices: &[Choice<D>], usage: Option<Value>, out: &mut Vec<u8>) {
        let chunk = Chunk {
            id: self.id.as_deref().unwrap_or_default(),
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        frame(out, b"data: ", &chunk);
    }
}

/// OpenAI's error event (`event: error`, `{"error": {...}}`, which the
/// OpenAI SDKs raise); nothing may follow it.
pub fn error(message: &str, kind: &str, code: Option<&str>, out: &mut Vec<u8>) {
    let body = ErrorEvent {
        error: ErrorBody {
            message,
            kind,
            code,
            param: None,
        },
    };
    frame(out, b"event: error\ndata: ", &body);
}

/// One SSE event: `head`, the JSON, a blank line. Serialising these types
/// cannot fail; if it ever did, the event is left out whole rather than
/// written half.
fn frame(out: &mut Vec<u8>, head: &[u8], value: &impl Serialize) {
    let mark = out.len();
    out.extend_from_slice(head);
    match serde_json::to_writer(&mut *out, value) {
        Ok(()) => out.extend_from_slice(b"\n\n"),
        Err(_) => out.truncate(mark),
    }
}

#[derive(Serialize)]
struct Chunk<'a, D> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [Choice<D>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Value>,
}

#[derive(Serialize)]
struct Choice<D> {
    index: u32,
    delta: D,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// A delta of OpenAI's fields; a translator with a field of its own (a
/// tool call's `extra_content`) writes its delta as a JSON value instead.
#[derive(Serialize, Default)]
pub struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
pub struct ToolCallDelta<'a> {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDelta<'a>,
}

#[derive(Serialize)]
pub struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

#[derive(Serialize)]
struct ErrorEvent<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: Option<&'a str>,
    param: Option<()>,
}
