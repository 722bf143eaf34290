//! What a [`MockUpstream`](super::MockUpstream) does with each request: a small builder
//! over a closed set of replies. It owns only the description; the mock's connection
//! loop (`mock.rs`) acts it out, so a behaviour can be swapped at run time. The wire
//! format is not part of it: the request's path picks OpenAI chat, OpenAI Responses,
//! Anthropic or Gemini (`dialect.rs`), so one behaviour serves an instance of any
//! provider type.

use super::answer::Usage;
use serde_json::Value;
use std::time::Duration;

/// How the mock answers one request. Build one with a constructor
/// (`Behaviour::chat_ok()`, `Behaviour::status(429)`, ...) and refine it with the
/// modifiers (`.retry_after(2)`, `.header(k, v)`, `.delay_head(d)`, ...).
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub(super) reply: Reply,
    pub(super) headers: Vec<(String, String)>,
    pub(super) delay_head: Duration,
    pub(super) send_continue: bool,
    pub(super) content: String,
    pub(super) error_message: Option<String>,
    pub(super) models: Vec<String>,
    pub(super) gets_ok: bool,
    pub(super) usage: Option<Usage>,
    pub(super) retry_delay: Option<u64>,
    pub(super) crlf: bool,
}

/// The closed set of replies; `mock.rs` matches on it exhaustively.
#[derive(Clone, Debug)]
pub(super) enum Reply {
    /// Picks chat, completion, embeddings or the model list by path.
    Ok,
    Chat,
    Completion,
    Embeddings,
    Sse {
        chunks: usize,
        delay: Duration,
        cut_after: Option<usize>,
    },
    ToolCall {
        name: String,
        args: Value,
        delay: Duration,
    },
    Status(u16),
    Raw {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    Garbage,
    BadJson200,
    Hang,
    CloseImmediately,
    Sequence(Vec<Behaviour>),
}

impl Behaviour {
    fn new(reply: Reply) -> Behaviour {
        Behaviour {
            reply,
            headers: Vec::new(),
            delay_head: Duration::ZERO,
            send_continue: false,
            content: "Hello from the mock upstream.".to_string(),
            error_message: None,
            models: vec!["mock-model".to_string()],
            gets_ok: false,
            usage: None,
            retry_delay: None,
            crlf: false,
        }
    }

    /// 200 with the object the path asks for: `/chat/completions` → chat.completion
    /// (or its chunk stream when the body has `"stream": true`), `/completions` →
    /// text_completion, `/embeddings` → a list of embeddings,
    /// `GET /models` → a model list. Unknown paths get a 404 OpenAI error.
    ///
    /// Anthropic (`.../messages`): a `message` with one text block, or its event stream
    /// when the body has `"stream": true`. Gemini: a `GenerateContentResponse` on
    /// `:generateContent`, its `alt=sse` frames on `:streamGenerateContent`. Streams send
    /// the text word by word, without delay. Bodies a provider would reject (no model;
    /// Anthropic: no `messages` or `max_tokens`; Gemini: no `contents`) get its 400.
    /// `GET .../models` with `anthropic-version`, or `GET /v1beta/models`, get that
    /// provider's model list.
    ///
    /// Responses (`.../responses`): a completed `response` with one `message` item, or
    /// its named event stream (`response.created` … `response.completed`, each with a
    /// `sequence_number`) when the body has `"stream": true`; no model: OpenAI's 400.
    pub fn ok() -> Behaviour {
        Behaviour::new(Reply::Ok)
    }

    /// 200 `application/json` chat.completion for the request's `model`, whatever the path.
    /// A body that is not JSON or has no string `model` gets a 400 OpenAI error, like a
    /// real provider. (`GET .../models` still gets the model list, so health checks pass.)
    /// On Anthropic and Gemini paths it answers exactly like [`Behaviour::ok`].
    pub fn chat_ok() -> Behaviour {
        Behaviour::new(Reply::Chat)
    }

    /// 200 text_completion object (the `/v1/completions` shape).
    pub fn completion_ok() -> Behaviour {
        Behaviour::new(Reply::Completion)
    }

    /// 200 `{"object": "list", "data": [embedding...], "usage"}`, one embedding per input.
    pub fn embeddings_ok() -> Behaviour {
        Behaviour::new(Reply::Embeddings)
    }

    /// 200 `text/event-stream`, chunked: `chunks` content events, a `finish_reason`
    /// event, a `usage` event and `data: [DONE]`, each flushed on its own with `delay`
    /// between events. Send instants are recorded (`MockUpstream::sent_events`).
    /// The text is `tok0 tok1 ...`; it streams even if the request did not ask to.
    ///
    /// Anthropic: `message_start`, `content_block_start`, `ping`, `chunks`
    /// `content_block_delta`s, `content_block_stop`, `message_delta` (`end_turn`,
    /// cumulative `output_tokens`), `message_stop`, each with its `event:` line.
    /// Gemini: `chunks` data-only frames (at least one), the last with `finishReason` and
    /// the full `usageMetadata`, no `[DONE]`.
    /// Responses: `response.created`, `response.in_progress`, `output_item.added`,
    /// `content_part.added`, `chunks` `response.output_text.delta`s, `output_text.done`,
    /// `content_part.done`, `output_item.done`, `response.completed` with the usage.
    pub fn sse(chunks: usize, delay: Duration) -> Behaviour {
        Behaviour::new(Reply::Sse {
            chunks,
            delay,
            cut_after: None,
        })
    }

    /// An SSE stream that sends `k` content events, then closes the TCP connection
    /// without the final event, `[DONE]` or the terminating chunk. In every dialect:
    /// Anthropic closes after the `k`-th `content_block_delta` (so without
    /// `content_block_stop`, `message_delta`, `message_stop`), Gemini after `k` frames
    /// (none has a `finishReason`), Responses after the `k`-th `response.output_text.delta`
    /// (so without `response.completed`).
    pub fn cut_after(k: usize) -> Behaviour {
        Behaviour::new(Reply::Sse {
            chunks: k + 1,
            delay: Duration::ZERO,
            cut_after: Some(k),
        })
    }

    /// `code` with an OpenAI error envelope body (`{"error": {message, type, param, code}}`).
    /// Anthropic: `{"type": "error", "error": {type, message}, "request_id"}`, the type
    /// per status (`rate_limit_error` for 429, `overloaded_error` for 529, ...). Gemini:
    /// `{"error": {code, message, status}}` with the `google.rpc` status name; a 429 adds
    /// `details` with a `QuotaFailure` and a `RetryInfo` (see [`Behaviour::retry_delay`]).
    /// Responses: OpenAI's envelope, as for chat.
    pub fn status(code: u16) -> Behaviour {
        Behaviour::new(Reply::Status(code))
    }

    /// 200 with a call of tool `name` with `args`, whole or streamed as the request asks
    /// (Gemini: by path). OpenAI: `tool_calls` with `finish_reason: "tool_calls"`; streamed,
    /// a chunk with id and name, then the arguments in several fragments. Anthropic: a
    /// `tool_use` block, `stop_reason: "tool_use"`; streamed, `content_block_start` with
    /// `input: {}`, then `input_json_delta`s (an empty one first). Gemini: a
    /// `functionCall` part with [`MOCK_THOUGHT_SIGNATURE`](super::MOCK_THOUGHT_SIGNATURE),
    /// `finishReason: "STOP"`; streamed, that part whole in one frame. Responses: a
    /// `function_call` output item (`fc_…` id, `call_…` call id, arguments as JSON text);
    /// streamed, the item added with empty arguments, then
    /// `response.function_call_arguments.delta` fragments and `.done`.
    pub fn tool_call(name: &str, args: Value) -> Behaviour {
        Behaviour::new(Reply::ToolCall {
            name: name.to_string(),
            args,
            delay: Duration::ZERO,
        })
    }

    /// Any status, content type and body, verbatim (with `Content-Length`).
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Behaviour {
        Behaviour::new(Reply::Raw {
            status,
            content_type: content_type.to_string(),
            body: body.into(),
        })
    }

    /// Reads the request, then writes bytes that are not HTTP and closes.
    pub fn garbage() -> Behaviour {
        Behaviour::new(Reply::Garbage)
    }

    /// 200 `application/json` whose body is an HTML error page, not JSON.
    pub fn bad_json_200() -> Behaviour {
        Behaviour::new(Reply::BadJson200)
    }

    /// Reads the request and never answers; the connection stays open until the
    /// client closes it or the mock is dropped.
    pub fn hang() -> Behaviour {
        Behaviour::new(Reply::Hang)
    }

    /// Reads the request (so it counts as a hit), then closes without a response.
    pub fn close_immediately() -> Behaviour {
        Behaviour::new(Reply::CloseImmediately)
    }

    /// One behaviour per successive request; the last one repeats. The position resets
    /// on `set_behaviour`. Modifiers on the sequence itself are ignored (put them on the
    /// elements); sequences do not nest.
    pub fn sequence(steps: Vec<Behaviour>) -> Behaviour {
        assert!(!steps.is_empty(), "a sequence needs at least one behaviour");
        Behaviour::new(Reply::Sequence(steps))
    }

    /// Adds a response header (kept in order; duplicates allowed).
    pub fn header(mut self, name: &str, value: &str) -> Behaviour {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds `Retry-After: <secs>`.
    pub fn retry_after(self, secs: u64) -> Behaviour {
        self.header("retry-after", &secs.to_string())
    }

    /// Waits this long after reading the request before writing the response head.
    pub fn delay_head(mut self, delay: Duration) -> Behaviour {
        self.delay_head = delay;
        self
    }

    /// Changes the delay between SSE events of `sse` and streamed `tool_call` replies
    /// (no effect on other replies).
    pub fn chunk_delay(mut self, delay: Duration) -> Behaviour {
        if let Reply::Sse { delay: d, .. } | Reply::ToolCall { delay: d, .. } = &mut self.reply {
            *d = delay;
        }
        self
    }

    /// Ends every SSE line with CRLF instead of LF (`data: ...\r\n\r\n`), as Vertex AI
    /// and some Gemini front ends do. Recorded events keep the CRLF between their lines.
    pub fn crlf(mut self) -> Behaviour {
        self.crlf = true;
        self
    }

    /// The usage every reply reports: `prompt` tokens of which `cached` were cache reads,
    /// and `completion` tokens, each in its dialect's fields. OpenAI: `prompt_tokens`
    /// (includes the cached), `prompt_tokens_details.cached_tokens`. Anthropic:
    /// `input_tokens` = `prompt - cached`, `cache_read_input_tokens` = `cached`,
    /// `output_tokens`. Gemini: `promptTokenCount` (includes the cached),
    /// `cachedContentTokenCount` (when non-zero), `candidatesTokenCount`. Without it:
    /// [`MOCK_PROMPT_TOKENS`](super::MOCK_PROMPT_TOKENS), one completion token per word
    /// (or per argument fragment of a tool call), no cache figures.
    pub fn usage(mut self, prompt: u64, completion: u64, cached: u64) -> Behaviour {
        self.usage = Some(Usage {
            prompt,
            completion,
            cached: Some(cached),
        });
        self
    }

    /// The `retryDelay` (`"<secs>s"`) of a Gemini error's `RetryInfo`: sets it on a 429
    /// (default 1 s) and adds it to any other status. No effect on other dialects; use
    /// [`Behaviour::retry_after`] for a header.
    pub fn retry_delay(mut self, secs: u64) -> Behaviour {
        self.retry_delay = Some(secs);
        self
    }

    /// Answers `Expect: 100-continue` with `100 Continue` before reading the body.
    /// Without it the header is only recorded and the mock waits for the body anyway.
    pub fn send_continue(mut self) -> Behaviour {
        self.send_continue = true;
        self
    }

    /// The assistant text of chat/completion replies and of `ok()` streams (`sse` ignores it).
    pub fn content(mut self, text: &str) -> Behaviour {
        self.content = text.to_string();
        self
    }

    /// The `error.message` of a `status(code)` reply.
    pub fn error_message(mut self, message: &str) -> Behaviour {
        self.error_message = Some(message.to_string());
        self
    }

    /// `GET` requests (the gateway's health checks) get the model list whatever this
    /// behaviour does to the others: a key that works, but not for these requests.
    pub fn gets_ok(mut self) -> Behaviour {
        self.gets_ok = true;
        self
    }

    /// The ids answered on `GET .../models` (default `["mock-model"]`; Gemini lists them
    /// as `models/<id>`).
    pub fn models(mut self, ids: &[&str]) -> Behaviour {
        self.models = ids.iter().map(|id| id.to_string()).collect();
        self
    }
}
