//! Wire formats: the shapes of request bodies, replies, streams and error
//! envelopes that clients and providers speak. Today the gateway serves the
//! OpenAI dialect on both sides (chat completions, completions, embeddings);
//! Anthropic Messages and Gemini are named here so that a provider type and a
//! candidate can say which one they speak, and their error envelopes exist,
//! but no translation between dialects is built yet (such instances are
//! skipped at load). This is the seam translators fill: one pure converter
//! per direction, and a state machine fed bytes per streamed direction.
//!
//! Pure: bytes in, bytes out. Must not know about routing, sockets or Pingora.

mod envelope;
mod openai;
mod route;
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
