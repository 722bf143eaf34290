//! Wire formats: the shapes of request bodies, replies, streams and error
//! envelopes that clients and providers speak — OpenAI's chat completions
//! (and completions, embeddings) and Responses API, Anthropic's Messages
//! and Google's Gemini — and the translators between them, pairwise: one
//! pure converter per direction and a state machine fed bytes per streamed
//! direction, sharing the facts of a dialect (`anthropic`, `gemini`,
//! `responses`, and `chat` for OpenAI's chat completions as the translators
//! write them, with `chat_chunk` writing its stream for every OpenAI
//! client), the SSE framing and the loop that drives a streamed translator
//! over it (`sse`), and the shape of a translation (`translate`: its
//! options, errors, body parsing, tool names restored). `pair` says which
//! translators join a client's dialect to a provider's.
//!
//! The directions: an Anthropic client of an OpenAI-format provider
//! (`anthropic_to_chat`, `chat_stream_to_anthropic`); an OpenAI client of an
//! Anthropic provider (`chat_to_anthropic`, `anthropic_stream_to_chat`); an
//! OpenAI client of Gemini (`chat_to_gemini`, `gemini_stream_to_chat`); an
//! Anthropic client of Gemini by chaining the first and the third; a
//! Responses client (Codex) of an OpenAI-format provider
//! (`responses_to_chat`, `chat_stream_to_responses`), and of Anthropic or
//! Gemini by chaining those with an OpenAI client's translators. Provider
//! errors go back in the client's envelope (`upstream_error`); a request
//! bound for a real Anthropic upstream loses the thinking blocks the gateway
//! itself made of another provider's reasoning
//! (`strip_unsigned_thinking`).
//!
//! Usage, exact in every dialect and in OpenAI's terms (`usage`): of a
//! whole reply, of a whole stream passed through (`stream_usage`, fed every
//! chunk), of a translated one (its translator's `ChatUsage`); and the
//! usage-only chunk of an OpenAI stream, asked for on the client's behalf
//! and taken out of what it receives (`usage_chunk`). `stream_tail` keeps
//! the end of a passed-through stream, to close it with an event of ours.
//!
//! Pure: bytes in, bytes out. Must not know about routing, sockets or Pingora.

pub mod anthropic;
pub mod anthropic_stream_to_chat;
pub mod anthropic_to_chat;
mod chat;
mod chat_chunk;
pub mod chat_stream_to_anthropic;
pub mod chat_stream_to_responses;
pub mod chat_to_anthropic;
pub mod chat_to_gemini;
mod chat_tool_calls;
mod count_tokens;
mod envelope;
pub mod gemini;
pub mod gemini_stream_to_chat;
mod openai;
pub mod pair;
pub mod responses;
pub mod responses_to_chat;
mod route;
mod sse;
mod stream_tail;
mod stream_usage;
#[cfg(test)]
mod test_support;
pub mod translate;
mod unsigned_thinking;
pub mod upstream_error;
mod usage;
mod usage_chunk;

pub use count_tokens::estimate as estimate_input_tokens;
pub use envelope::ErrorReply;
pub use openai::{BodyError, RequestBody, MAX_MODEL_LEN};
pub use route::ApiRoute;
pub use stream_tail::StreamTail;
pub use stream_usage::StreamUsage;
pub use unsigned_thinking::strip_unsigned_thinking;
pub use usage::{usage_from_json, Usage};
pub use usage_chunk::{with_include_usage, UsageChunkFilter};

/// A wire format, as spoken by a client route or a provider type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI's chat completions, completions and embeddings (and every
    /// OpenAI-compatible provider).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini `generateContent` API.
    Gemini,
    /// OpenAI's Responses API (`/v1/responses`, what the Codex CLI
    /// speaks). A client dialect: providers that serve it natively
    /// (`openai`, `azure`) are OpenAI-dialect providers with that route.
    Responses,
}

impl Dialect {
    pub const fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Responses => "responses",
        }
    }
}
