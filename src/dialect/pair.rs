//! Which translators serve a client of one dialect from a provider of
//! another, in one place: the gateway asks for the pair of an attempt and
//! drives it without knowing either wire format.
//!
//! The design is pairwise: one converter per direction, each written
//! against the two formats it joins (as agentgateway does), not through a
//! common internal form. Each direction then maps exactly what its two
//! formats share, and a format's quirks stay in the one file that meets
//! them.

use super::anthropic::ChatUsage;
use super::translate::{RequestOptions, StreamTranslator, TranslateError, Translated};
use super::{anthropic_to_chat, chat_stream_to_anthropic, Dialect};
use serde_json::Value;

/// A client dialect and a different upstream dialect, joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// An Anthropic client (Claude Code, the Anthropic SDKs) served by an
    /// OpenAI-format provider.
    AnthropicToChat,
}

impl Pair {
    /// The translators between a client of `client` and a provider of
    /// `upstream`; `None` when they speak the same dialect or this build
    /// cannot join them.
    pub fn between(client: Dialect, upstream: Dialect) -> Option<Pair> {
        match (client, upstream) {
            (Dialect::Anthropic, Dialect::OpenAi) => Some(Self::AnthropicToChat),
            _ => None,
        }
    }

    /// The client's request body in the upstream's dialect.
    pub fn request(self, body: &[u8], opts: &RequestOptions) -> Result<Translated, TranslateError> {
        match self {
            Self::AnthropicToChat => anthropic_to_chat::request(body, opts),
        }
    }

    /// A whole (non-stream) upstream reply in the client's dialect.
    /// `model`: the name the client asked for.
    pub fn response(
        self,
        body: &[u8],
        model: &str,
        tool_names: &[(String, String)],
        _created: u64,
    ) -> Result<Vec<u8>, TranslateError> {
        match self {
            Self::AnthropicToChat => anthropic_to_chat::response(body, model, tool_names),
        }
    }

    /// A state machine for a streamed reply. `include_usage`: the client
    /// asked for a usage event (OpenAI clients' `stream_options`).
    pub fn stream(
        self,
        model: String,
        tool_names: Vec<(String, String)>,
        _include_usage: bool,
        _created: u64,
    ) -> Box<dyn StreamTranslator> {
        match self {
            Self::AnthropicToChat => Box::new(
                chat_stream_to_anthropic::ChatToAnthropicStream::new(model, tool_names),
            ),
        }
    }

    /// The usage a whole upstream reply reports, in OpenAI's terms (for the
    /// request record).
    pub fn usage(self, body: &[u8]) -> Option<ChatUsage> {
        let reply: Value = serde_json::from_slice(body).ok()?;
        let usage = reply.get("usage")?;
        match self {
            Self::AnthropicToChat => Some(ChatUsage::from_json(usage)),
        }
    }
}

/// Whether an OpenAI chat request asks for the usage event of a stream.
pub fn wants_stream_usage(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Options {
        #[serde(default)]
        include_usage: bool,
    }
    #[derive(serde::Deserialize)]
    struct Fields {
        stream_options: Option<Options>,
    }
    serde_json::from_slice::<Fields>(body)
        .ok()
        .and_then(|f| f.stream_options)
        .is_some_and(|o| o.include_usage)
}
