//! Gemini `streamGenerateContent?alt=sse` → OpenAI chat-completions SSE: a
//! state machine fed the upstream's bytes in any split, writing
//! `chat.completion.chunk` events as each upstream event completes. It owns
//! what each chunk says and when; the chunks are written by `chat_chunk`
//! (shared with `anthropic_stream_to_chat`), the loop over the upstream's
//! SSE is `sse`'s, and the shared facts (finish reasons, usage, tool calls
//! and their signature carrier) live in `gemini`. Pure: no I/O, no
//! knowledge of routing or Pingora.
//!
//! What the client sees, and why:
//! - A first chunk with `delta.role: "assistant"`, as OpenAI sends.
//! - Each Gemini event is a partial `GenerateContentResponse`: its text parts
//!   become `delta.content`, thought parts `delta.reasoning_content`, each
//!   `functionCall` part (Gemini sends them whole) one `delta.tool_calls`
//!   entry with the full arguments, an id carrying the part's thought
//!   signature, and the next `index`. Parts are written in their order.
//! - The finish chunk is written when an event carries a `finishReason` (or
//!   says the prompt was blocked), `tool_calls` if any call was streamed;
//!   parts after it are dropped (Gemini sends none). Gemini has no end
//!   marker, so at the end of the body [`finish`] writes the finish chunk if
//!   none came, then the usage chunk (`choices: []`, when the client asked
//!   with `stream_options.include_usage`; from the last `usageMetadata`,
//!   which is cumulative) and `data: [DONE]`.
//! - An error object in the stream (Google's `{"error": {...}}`) becomes
//!   OpenAI's `event: error` with `{"error": {...}}`, and the stream ends
//!   there, as the gateway ends a stream it cuts.
//!
//! [`finish`]: GeminiToChatStream::finish

use super::anthropic::ChatUsage;
use super::chat_chunk::{self, ChunkWriter, Delta};
use super::gemini::{
    chat_tool_call, finish_reason, first_candidate, openai_error_type, GeminiUsage,
};
use super::sse::{SseDecoder, SseDriven, SseEvent};
use super::translate::StreamTranslator;
use serde_json::{json, Value};

/// One streamed reply being translated.
pub struct GeminiToChatStream {
    tool_names: Vec<(String, String)>,
    chunks: ChunkWriter,
    sse: SseDecoder,
    /// Tool calls written so far (the next one's `index`).
    calls: usize,
    /// The finish chunk was written.
    finished: bool,
    usage: Option<GeminiUsage>,
    /// The stream ended (`[DONE]` or an error event was written).
    done: bool,
}

impl GeminiToChatStream {
    /// `model` is the name the client asked for; `tool_names` maps the
    /// rewritten names sent upstream back to the client's originals;
    /// `include_usage` is the client's `stream_options.include_usage`;
    /// `created` the Unix time every chunk reports.
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
            calls: 0,
            finished: false,
            usage: None,
            done: false,
        }
    }

    /// Takes the next bytes of the upstream stream and appends the chunks of
    /// every upstream event they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.feed_events(bytes, out);
    }

    /// The upstream's body ended: writes the finish chunk if none came, the
    /// usage chunk if asked for, and `[DONE]`. Once only; after
    /// [`fail`](Self::fail) it writes nothing.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.flush_events(out) {
            return;
        }
        self.chunks.start(None, out);
        if !self.finished {
            self.write_finish(finish_reason(None, self.calls > 0), out);
        }
        self.chunks
            .end(|| self.usage.unwrap_or_default().to_chat(), out);
        self.done = true;
    }

    /// The upstream broke mid-stream: writes OpenAI's error event and ends
    /// the stream. Once only; after [`finish`](Self::finish) nothing.
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error(message, "api_error", None, out);
    }

    /// The usage the upstream reported, exact, if it did.
    pub fn usage(&self) -> Option<ChatUsage> {
        self.usage.map(|usage| usage.chat)
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        // Lines that are not JSON carry nothing we could translate.
        let Ok(chunk) = serde_json::from_slice::<Value>(&event.data) else {
            return;
        };
        match chunk.get("error").filter(|e| e.is_object()) {
            Some(error) => self.upstream_error(error, out),
            None if event.is_error => self.upstream_error(&chunk, out),
            None if chunk.is_object() => self.on_chunk(&chunk, out),
            None => {}
        }
    }

    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if let Some(metadata) = chunk.get("usageMetadata").filter(|m| m.is_object()) {
            self.usage = Some(GeminiUsage::from_metadata(metadata));
        }
        let response_id = chunk.get("responseId").and_then(Value::as_str);
        self.chunks.start(response_id, out);
        if self.finished {
            return;
        }
        let candidates = chunk.get("candidates").and_then(Value::as_array);
        let Some(candidate) = candidates.and_then(|c| first_candidate(c)) else {
            let feedback = chunk.get("promptFeedback");
            if feedback.and_then(|f| f.get("blockReason")).is_some() {
                self.write_finish("content_filter", out);
            }
            return;
        };
        let parts = candidate
            .get("content")
            .and_then(|c| c.get("parts"))
            .and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            self.part(part, out);
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            self.write_finish(finish_reason(Some(reason), self.calls > 0), out);
        }
    }

    fn part(&mut self, part: &Value, out: &mut Vec<u8>) {
        if let Some(call) = part.get("functionCall").filter(|c| c.is_object()) {
            let signature = part.get("thoughtSignature").and_then(Value::as_str);
            let mut call = chat_tool_call(call, signature, &self.tool_names);
            call["index"] = self.calls.into();
            self.calls += 1;
            // A JSON delta: the call carries Google's `extra_content`.
            self.chunks.delta(&json!({ "tool_calls": [call] }), out);
            return;
        }
        // Signature-only parts have empty text: nothing to show.
        let Some(text) = part.get("text").and_then(Value::as_str) else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let delta = if part.get("thought") == Some(&Value::Bool(true)) {
            Delta {
                reasoning_content: Some(text),
                ..Delta::default()
            }
        } else {
            Delta {
                content: Some(text),
                ..Delta::default()
            }
        };
        self.chunks.delta(&delta, out);
    }

    fn write_finish(&mut self, reason: &'static str, out: &mut Vec<u8>) {
        self.chunks.finish(reason, out);
        self.finished = true;
    }

    /// Google's error object (`code`, `message`, `status`) as OpenAI's.
    fn upstream_error(&mut self, error: &Value, out: &mut Vec<u8>) {
        let message = match error.get("message").and_then(Value::as_str) {
            Some(message) => message.to_string(),
            None => error.to_string(),
        };
        let status = error.get("status").and_then(Value::as_str);
        let kind = openai_error_type(status.unwrap_or_default());
        let code = status.map(str::to_ascii_lowercase);
        self.error(&message, kind, code.as_deref(), out);
    }

    fn error(&mut self, message: &str, kind: &str, code: Option<&str>, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        chat_chunk::error(message, kind, code, out);
        self.done = true;
        self.sse = SseDecoder::default();
    }
}

impl SseDriven for GeminiToChatStream {
    fn decoder(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }
    fn is_done(&self) -> bool {
        self.done
    }
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        GeminiToChatStream::on_event(self, event, out);
    }
    fn on_failure(&mut self, message: &str, out: &mut Vec<u8>) {
        self.fail(message, out);
    }
}

impl StreamTranslator for GeminiToChatStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        GeminiToChatStream::feed(self, bytes, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        GeminiToChatStream::finish(self, out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        GeminiToChatStream::fail(self, message, out);
    }
    fn usage(&self) -> Option<ChatUsage> {
        GeminiToChatStream::usage(self)
    }
}

#[cfg(test)]
mod tests;
