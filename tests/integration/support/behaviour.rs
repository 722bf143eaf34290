//! What a [`MockUpstream`](super::MockUpstream) does with each request: a small builder
//! over a closed set of replies. It owns only the description; the mock's connection
//! loop (`mock.rs`) acts it out, so a behaviour can be swapped at run time.

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
        }
    }

    /// 200 with the object the path asks for: `/chat/completions` → chat.completion,
    /// `/completions` → text_completion, `/embeddings` → a list of embeddings,
    /// `GET /models` → a model list. Unknown paths get a 404 OpenAI error.
    pub fn ok() -> Behaviour {
        Behaviour::new(Reply::Ok)
    }

    /// 200 `application/json` chat.completion for the request's `model`, whatever the path.
    /// A body that is not JSON or has no string `model` gets a 400 OpenAI error, like a
    /// real provider. (`GET .../models` still gets the model list, so health checks pass.)
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
    pub fn sse(chunks: usize, delay: Duration) -> Behaviour {
        Behaviour::new(Reply::Sse {
            chunks,
            delay,
            cut_after: None,
        })
    }

    /// An SSE stream that sends `k` content events, then closes the TCP connection
    /// without the final event, `[DONE]` or the terminating chunk.
    pub fn cut_after(k: usize) -> Behaviour {
        Behaviour::new(Reply::Sse {
            chunks: k + 1,
            delay: Duration::ZERO,
            cut_after: Some(k),
        })
    }

    /// `code` with an OpenAI error envelope body (`{"error": {message, type, param, code}}`).
    pub fn status(code: u16) -> Behaviour {
        Behaviour::new(Reply::Status(code))
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

    /// Changes the delay between SSE events (no effect on other replies).
    pub fn chunk_delay(mut self, delay: Duration) -> Behaviour {
        if let Reply::Sse { delay: d, .. } = &mut self.reply {
            *d = delay;
        }
        self
    }

    /// Answers `Expect: 100-continue` with `100 Continue` before reading the body.
    /// Without it the header is only recorded and the mock waits for the body anyway.
    pub fn send_continue(mut self) -> Behaviour {
        self.send_continue = true;
        self
    }

    /// The assistant text of chat/completion replies (SSE ignores it).
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

    /// The ids answered on `GET .../models` (default `["mock-model"]`).
    pub fn models(mut self, ids: &[&str]) -> Behaviour {
        self.models = ids.iter().map(|id| id.to_string()).collect();
        self
    }
}
