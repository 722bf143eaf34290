//! What every translator shares, whatever the pair of dialects: the
//! options of a request translation, its result and its errors, and the
//! shape of a streamed translation (bytes of the upstream's stream in, bytes
//! of the client's out); reading a body as a JSON object, and a tool's
//! shortened name back to the client's. Pure.

use super::anthropic::ChatUsage;
use serde_json::{Map, Value};

/// What the request translation needs to know about the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// The upstream model name to put in the body.
    pub model: String,
    /// The upstream model's output limit: a larger `max_tokens` is clamped.
    pub max_output_tokens: Option<u64>,
    /// Ask a streaming upstream for usage (`stream_options.include_usage`).
    pub stream_usage: bool,
    /// Whether the upstream model takes `reasoning_effort`. OpenAI answers
    /// 400 "Unsupported parameter" for it on a model that does not reason
    /// (gpt-4o, gpt-4.1, ...), and Claude Code asks for thinking in every
    /// request: without this, `thinking` is dropped.
    pub reasoning: bool,
}

/// A translated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub body: Vec<u8>,
    /// `(short, original)` for every tool name shortened to fit OpenAI's
    /// limit: the reply's tool calls get their original names back.
    pub tool_names: Vec<(String, String)>,
}

/// Why a body cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the request body must be a JSON object")]
    NotObject,
    #[error("messages: an array of messages is required")]
    NoMessages,
    #[error("messages.{index}: {problem}")]
    BadMessage { index: usize, problem: &'static str },
    #[error("system: must be a string or an array of text blocks")]
    BadSystem,
    #[error("input: a string or an array of input items is required")]
    NoInput,
    #[error("input.{index}: {problem}")]
    BadItem { index: usize, problem: &'static str },
    /// A Responses request that needs state the gateway does not keep: on a
    /// translated path no stored response, conversation or prompt exists.
    #[error(
        "{0}: not supported here, as the provider behind this model keeps no \
         responses; send the whole conversation in `input` (and `store: false`)"
    )]
    Stateless(&'static str),
    /// The upstream answered 200 with something that is not a chat
    /// completion.
    #[error("the upstream reply is not a chat completion: {0}")]
    BadReply(String),
}

impl TranslateError {
    /// The message for the client's error envelope.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The status to answer with: the client's request is at fault (400,
    /// `invalid_request_error`), or the upstream's reply (502, `api_error`).
    pub fn status(&self) -> u16 {
        match self {
            Self::BadReply(_) => 502,
            Self::NotJson(_)
            | Self::NotObject
            | Self::NoMessages
            | Self::BadMessage { .. }
            | Self::BadSystem
            | Self::NoInput
            | Self::BadItem { .. }
            | Self::Stateless(_) => 400,
        }
    }
}

/// A JSON object, or why not: `None` for JSON that is not an object, else
/// serde's words.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Option<String>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(None),
        Err(e) => Err(Some(e.to_string())),
    }
}

/// A client's request body as a JSON object, or the error the client gets.
pub(super) fn parse_request(body: &[u8]) -> Result<Map<String, Value>, TranslateError> {
    parse_object(body).map_err(|e| e.map_or(TranslateError::NotObject, TranslateError::NotJson))
}

/// An upstream's whole reply as a JSON object, or why it is no reply.
pub(super) fn parse_reply(body: &[u8]) -> Result<Map<String, Value>, TranslateError> {
    parse_object(body).map_err(|e| {
        TranslateError::BadReply(
            e.map_or_else(|| "not a JSON object".into(), |e| format!("not JSON: {e}")),
        )
    })
}

/// The tool's name as the client gave it: a name shortened on the way up
/// (`tool_names` holds `(short, original)`) restored, any other kept.
pub(super) fn original_name<'a>(name: &'a str, tool_names: &'a [(String, String)]) -> &'a str {
    tool_names
        .iter()
        .find(|(short, _)| short == name)
        .map_or(name, |(_, original)| original)
}

/// Tool names as sent upstream (rewritten where the target's rules
/// demand: length, alphabet), and the way back for the rewritten ones.
pub struct ToolNames {
    pairs: Vec<(String, String)>,
    rewrite: fn(&str) -> String,
}

impl ToolNames {
    /// `rewrite` gives the name the target takes for a client's name.
    pub fn new(rewrite: fn(&str) -> String) -> Self {
        Self {
            pairs: Vec::new(),
            rewrite,
        }
    }

    /// The name to send for the client's `name`.
    pub fn short(&mut self, name: &str) -> String {
        let short = (self.rewrite)(name);
        if short != name && !self.pairs.iter().any(|(s, _)| *s == short) {
            self.pairs.push((short.clone(), name.to_string()));
        }
        short
    }

    /// `(sent, original)` for every name rewritten.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }
}

/// A streamed reply being translated, event by event, as its bytes arrive.
pub trait StreamTranslator: Send {
    /// Takes the next bytes of the upstream's stream (any split) and appends
    /// the client's events for every upstream event they complete.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>);
    /// The upstream's body ended: appends whatever closes the client's
    /// stream. Once only; nothing after `fail`.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The upstream broke mid-stream: appends the client dialect's error
    /// event and ends the stream. Once only; nothing after `finish`.
    fn fail(&mut self, message: &str, out: &mut Vec<u8>);
    /// The usage the upstream reported so far, in OpenAI's terms.
    fn usage(&self) -> Option<ChatUsage>;
}
