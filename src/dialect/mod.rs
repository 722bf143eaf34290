//! Wire formats: the shapes of request bodies, replies, streams and error
//! envelopes that clients and providers speak. Today the gateway serves the
//! OpenAI dialect on both sides (chat completions, completions, embeddings);
//! Anthropic Messages and Gemini are named here so that a provider type and a
//! candidate can say which one they speak, and their error envelopes exist.
//! This is the seam translators fill, pairwise: one pure converter per
//! direction, and a state machine fed bytes per streamed direction, sharing
//! the facts of a dialect (`anthropic`, `gemini`) and the SSE framing
//! (`sse`).
//!
//! Built so far, not yet on the request path: an Anthropic client served by
//! an OpenAI-format provider (`anthropic_to_chat` for the request and the
//! whole reply, `chat_stream_to_anthropic` for the stream); an OpenAI client
//! served by a native Gemini provider (`chat_to_gemini` for the request and
//! the whole reply, `gemini_stream_to_chat` for the stream), and an
//! Anthropic client too, by chaining both pairs.
//!
//! Pure: bytes in, bytes out. Must not know about routing, sockets or Pingora.

pub mod anthropic;
pub mod anthropic_to_chat;
pub mod chat_stream_to_anthropic;
pub mod chat_to_gemini;
mod envelope;
pub mod gemini;
pub mod gemini_stream_to_chat;
mod openai;
mod route;
mod sse;
pub mod translate;
mod usage;

pub use envelope::ErrorReply;
pub use openai::{BodyError, RequestBody, MAX_MODEL_LEN};
pub use route::ApiRoute;
pub use usage::{usage_from_json, StreamTail, Usage};

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
}

impl Dialect {
    pub const fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }

    /// Whether a request from a client of dialect `client` can be sent to
    /// a provider speaking `self` with this build: only as it is (the same
    /// dialect); translation is not built yet.
    pub const fn serves(self, client: Dialect) -> bool {
        match (self, client) {
            (Self::OpenAi, Self::OpenAi)
            | (Self::Anthropic, Self::Anthropic)
            | (Self::Gemini, Self::Gemini) => true,
            (Self::OpenAi | Self::Anthropic | Self::Gemini, _) => false,
        }
    }
}
