//! What the mock model says, before any wire format: text pieces or one tool call, the
//! usage numbers to report, and the SSE event a dialect renders a piece into. The dialect
//! modules (`openai`, `responses`, `anthropic`, `gemini`) turn an [`Answer`] into their JSON bodies
//! and events; `reply.rs` writes them. Pure data: no I/O, no wire format.

use super::openai::MOCK_PROMPT_TOKENS;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The token counts a reply reports, in OpenAI's terms: `prompt` includes the `cached`
/// tokens. Each dialect spells them its own way (Anthropic's `input_tokens` excludes cache
/// reads; Gemini's `promptTokenCount` includes `cachedContentTokenCount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Usage {
    pub prompt: u64,
    pub completion: u64,
    /// `None`: no cache figures at all (OpenAI's default body has no
    /// `prompt_tokens_details`); `Some(n)`: `n` prompt tokens were cache reads.
    pub cached: Option<u64>,
}

impl Usage {
    pub fn cached(&self) -> u64 {
        self.cached.unwrap_or(0)
    }

    /// The prompt tokens that were not cache reads (Anthropic's `input_tokens`).
    pub fn uncached_prompt(&self) -> u64 {
        self.prompt.saturating_sub(self.cached())
    }

    pub fn total(&self) -> u64 {
        self.prompt + self.completion
    }
}

/// What the model produces.
#[derive(Clone, Debug)]
pub(super) enum Said {
    /// Text, already cut into the pieces a stream sends one by one.
    Text(Vec<String>),
    /// One call of tool `name` with these arguments.
    ToolCall { name: String, args: Value },
}

/// One reply's content, for the request's model.
#[derive(Clone, Debug)]
pub(super) struct Answer {
    pub model: String,
    pub said: Said,
    pub usage: Usage,
}

impl Answer {
    /// `usage: None` reports [`MOCK_PROMPT_TOKENS`] and, as completion, one token per
    /// word of text or per argument fragment of a tool call.
    pub fn new(model: &str, said: Said, usage: Option<Usage>) -> Answer {
        let completion = match &said {
            Said::Text(pieces) => word_count(&pieces.concat()),
            Said::ToolCall { args, .. } => argument_fragments(args).len() as u64,
        };
        let usage = usage.unwrap_or(Usage {
            prompt: MOCK_PROMPT_TOKENS,
            completion,
            cached: None,
        });
        Answer {
            model: model.to_string(),
            said,
            usage,
        }
    }
}

/// One SSE event as a dialect shapes it; `reply.rs` adds the line endings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Event {
    /// The `event:` line's value (Anthropic and Responses name every event; OpenAI chat
    /// and Gemini don't).
    pub name: Option<&'static str>,
    /// The `data:` line's value: one JSON object, or OpenAI's `[DONE]`.
    pub data: String,
    /// Carries generated content (text or tool arguments): what `cut_after(k)` counts.
    pub content: bool,
}

impl Event {
    pub fn data(data: String) -> Event {
        Event {
            name: None,
            data,
            content: false,
        }
    }

    pub fn named(name: &'static str, data: String) -> Event {
        Event {
            name: Some(name),
            data,
            content: false,
        }
    }

    /// Marks the event as carrying generated content.
    pub fn content(mut self) -> Event {
        self.content = true;
        self
    }
}

/// A process-wide serial number for ids (`chatcmpl-mock7`, `msg_mock8`, ...).
pub(super) fn serial() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub(super) fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// `text` cut into words, each with the whitespace after it; joined they give `text` back.
pub(super) fn words(text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut after_space = false;
    for c in text.chars() {
        let starts_word = after_space && !c.is_whitespace();
        match pieces.last_mut() {
            Some(piece) if !starts_word => piece.push(c),
            _ => pieces.push(c.to_string()),
        }
        after_space = c.is_whitespace();
    }
    pieces
}

/// The pieces of `sse(chunks, ..)`: `tok0 `, `tok1 `, ...
pub(super) fn numbered_tokens(chunks: usize) -> Vec<String> {
    (0..chunks).map(|i| format!("tok{i} ")).collect()
}

/// A tool call's arguments as JSON text cut into (at most) three fragments, the way
/// OpenAI and Anthropic stream them: no fragment is valid JSON on its own.
pub(super) fn argument_fragments(args: &Value) -> Vec<String> {
    let chars: Vec<char> = args.to_string().chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}
