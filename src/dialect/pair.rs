//! Which translators serve a client of one dialect from a provider of
//! another, in one place: the gateway asks for the pair of an attempt and
//! drives it without knowing either wire format.
//!
//! The design is pairwise: one converter per direction, each written
//! against the two formats it joins (as agentgateway does), not through a
//! common internal form. Each direction then maps exactly what its two
//! formats share, and a format's quirks stay in the one file that meets
//! them. The pairs without converters of their own — an Anthropic client of
//! Gemini, a Responses client of Anthropic or Gemini — chain two that exist
//! through OpenAI's chat format: both halves are needed anyway, and more
//! pairs of converters would repeat most of them.

use super::anthropic::ChatUsage;
use super::anthropic_stream_to_chat::AnthropicToChatStream;
use super::chat_stream_to_anthropic::ChatToAnthropicStream;
use super::chat_stream_to_responses::ChatToResponsesStream;
use super::gemini::GeminiUsage;
use super::gemini_stream_to_chat::GeminiToChatStream;
use super::translate::{
    original_name, RequestOptions, StreamTranslator, TranslateError, Translated,
};
use super::{anthropic_to_chat, chat_to_anthropic, chat_to_gemini, responses_to_chat, Dialect};
use serde_json::Value;

/// A client dialect and a different upstream dialect, joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// An Anthropic client (Claude Code, the Anthropic SDKs) served by an
    /// OpenAI-format provider.
    AnthropicToChat,
    /// An OpenAI client served by an Anthropic provider.
    ChatToAnthropic,
    /// An OpenAI client served by Gemini.
    ChatToGemini,
    /// An Anthropic client served by Gemini, through the chat format.
    AnthropicToGemini,
    /// A Responses client (Codex) served by an OpenAI-format provider's
    /// chat completions.
    ResponsesToChat,
    /// A Responses client served by an Anthropic provider, through chat.
    ResponsesToAnthropic,
    /// A Responses client served by Gemini, through chat.
    ResponsesToGemini,
}

impl Pair {
    /// The translators between a client of `client` and a provider of
    /// `upstream`; `None` when they speak the same dialect (or the client
    /// speaks Gemini's, which no route does).
    pub fn between(client: Dialect, upstream: Dialect) -> Option<Pair> {
        match (client, upstream) {
            (Dialect::Anthropic, Dialect::OpenAi) => Some(Self::AnthropicToChat),
            (Dialect::OpenAi, Dialect::Anthropic) => Some(Self::ChatToAnthropic),
            (Dialect::OpenAi, Dialect::Gemini) => Some(Self::ChatToGemini),
            (Dialect::Anthropic, Dialect::Gemini) => Some(Self::AnthropicToGemini),
            (Dialect::Responses, Dialect::OpenAi) => Some(Self::ResponsesToChat),
            (Dialect::Responses, Dialect::Anthropic) => Some(Self::ResponsesToAnthropic),
            (Dialect::Responses, Dialect::Gemini) => Some(Self::ResponsesToGemini),
            (Dialect::OpenAi, Dialect::OpenAi)
            | (Dialect::Anthropic, Dialect::Anthropic)
            | (Dialect::Gemini | Dialect::Responses, _)
            | (_, Dialect::Responses) => None,
        }
    }

    /// The client's request body in the upstream's dialect.
    pub fn request(self, body: &[u8], opts: &RequestOptions) -> Result<Translated, TranslateError> {
        match self {
            Self::AnthropicToChat => anthropic_to_chat::request(body, opts),
            Self::ChatToAnthropic => chat_to_anthropic::request(body, opts),
            Self::ChatToGemini => chat_to_gemini::request(body, opts),
            Self::AnthropicToGemini => chained(
                anthropic_to_chat::request(body, opts)?,
                opts,
                chat_to_gemini::request,
            ),
            Self::ResponsesToChat => responses_to_chat::request(body, opts),
            Self::ResponsesToAnthropic => chained(
                responses_to_chat::request(body, opts)?,
                opts,
                chat_to_anthropic::request,
            ),
            Self::ResponsesToGemini => chained(
                responses_to_chat::request(body, opts)?,
                opts,
                chat_to_gemini::request,
            ),
        }
    }

    /// A whole (non-stream) upstream reply in the client's dialect.
    /// `model`: the name the client asked for; `tool_names` from `request`.
    pub fn response(
        self,
        body: &[u8],
        model: &str,
        tool_names: &[(String, String)],
        created: u64,
    ) -> Result<Vec<u8>, TranslateError> {
        match self {
            Self::AnthropicToChat => anthropic_to_chat::response(body, model, tool_names),
            Self::ChatToAnthropic => chat_to_anthropic::response(body, model, tool_names, created),
            Self::ChatToGemini => chat_to_gemini::response(body, model, tool_names, created),
            Self::AnthropicToGemini => {
                let chat = chat_to_gemini::response(body, model, tool_names, created)?;
                anthropic_to_chat::response(&chat, model, &[])
            }
            Self::ResponsesToChat => responses_to_chat::response(body, model, tool_names, created),
            Self::ResponsesToAnthropic => {
                let chat = chat_to_anthropic::response(body, model, tool_names, created)?;
                responses_to_chat::response(&chat, model, &[], created)
            }
            Self::ResponsesToGemini => {
                let chat = chat_to_gemini::response(body, model, tool_names, created)?;
                responses_to_chat::response(&chat, model, &[], created)
            }
        }
    }

    /// A state machine for a streamed reply. `include_usage`: the client
    /// asked for a usage event (OpenAI clients' `stream_options`).
    pub fn stream(
        self,
        model: String,
        tool_names: Vec<(String, String)>,
        include_usage: bool,
        created: u64,
    ) -> Box<dyn StreamTranslator> {
        match self {
            Self::AnthropicToChat => Box::new(ChatToAnthropicStream::new(model, tool_names)),
            Self::ChatToAnthropic => Box::new(AnthropicToChatStream::new(
                model,
                tool_names,
                include_usage,
                created,
            )),
            Self::ChatToGemini => Box::new(GeminiToChatStream::new(
                model,
                tool_names,
                include_usage,
                created,
            )),
            Self::AnthropicToGemini => Box::new(Chain {
                first: GeminiToChatStream::new(model.clone(), tool_names, true, created),
                second: ChatToAnthropicStream::new(model, Vec::new()),
                between: Vec::new(),
            }),
            Self::ResponsesToChat => {
                Box::new(ChatToResponsesStream::new(model, tool_names, created))
            }
            // The first half must report usage: the Response carries it.
            Self::ResponsesToAnthropic => Box::new(Chain {
                first: AnthropicToChatStream::new(model.clone(), tool_names, true, created),
                second: ChatToResponsesStream::new(model, Vec::new(), created),
                between: Vec::new(),
            }),
            Self::ResponsesToGemini => Box::new(Chain {
                first: GeminiToChatStream::new(model.clone(), tool_names, true, created),
                second: ChatToResponsesStream::new(model, Vec::new(), created),
                between: Vec::new(),
            }),
        }
    }

    /// The usage a whole upstream reply reports, in OpenAI's terms (for the
    /// request record).
    pub fn usage(self, body: &[u8]) -> Option<ChatUsage> {
        /// Only the usage is built; the rest of the reply is skipped.
        #[derive(serde::Deserialize)]
        struct Reply {
            usage: Option<Value>,
            #[serde(rename = "usageMetadata")]
            usage_metadata: Option<Value>,
        }
        let reply: Reply = serde_json::from_slice(body).ok()?;
        match self {
            Self::AnthropicToChat | Self::ResponsesToChat => {
                Some(ChatUsage::from_json(&reply.usage?))
            }
            Self::ChatToAnthropic | Self::ResponsesToAnthropic => {
                Some(ChatUsage::from_anthropic(&reply.usage?))
            }
            Self::ChatToGemini | Self::AnthropicToGemini | Self::ResponsesToGemini => {
                Some(GeminiUsage::from_metadata(&reply.usage_metadata?).chat)
            }
        }
    }
}

/// A request translated to chat, then on to the provider's dialect.
fn chained(
    chat: Translated,
    opts: &RequestOptions,
    then: fn(&[u8], &RequestOptions) -> Result<Translated, TranslateError>,
) -> Result<Translated, TranslateError> {
    let second = then(&chat.body, opts)?;
    Ok(Translated {
        body: second.body,
        tool_names: compose(&chat.tool_names, second.tool_names),
    })
}

/// The names a chained request shortened, first (`(short, original)`)
/// then again (`(shorter, short)`), as one map from what the provider saw
/// to what the client sent.
fn compose(first: &[(String, String)], then: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = (then.iter())
        .map(|(shorter, short)| (shorter.clone(), original_name(short, first).to_string()))
        .collect();
    for (short, orig) in first {
        if !then.iter().any(|(_, renamed)| renamed == short) {
            names.push((short.clone(), orig.clone()));
        }
    }
    names
}

/// Two stream translators in a row: the provider's events through the
/// first, its output through the second, as each event arrives.
struct Chain<A, B> {
    first: A,
    second: B,
    between: Vec<u8>,
}

impl<A: StreamTranslator, B: StreamTranslator> StreamTranslator for Chain<A, B> {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.between.clear();
        self.first.feed(bytes, &mut self.between);
        self.second.feed(&self.between, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.between.clear();
        self.first.finish(&mut self.between);
        self.second.feed(&self.between, out);
        self.second.finish(out);
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.second.fail(message, out);
    }

    fn usage(&self) -> Option<ChatUsage> {
        self.first.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn shortened_twice_still_maps_to_the_clients_name() {
        let first = pairs(&[
            ("mcp_long_a1b2", "mcp__server__a_very_long_tool_name"),
            ("short_x", "long_x"),
        ]);
        let then = pairs(&[("mcp_long_zz", "mcp_long_a1b2"), ("bad_name_1", "bad.name")]);
        let mut names = compose(&first, then);
        names.sort();
        assert_eq!(
            names,
            pairs(&[
                ("bad_name_1", "bad.name"),
                ("mcp_long_zz", "mcp__server__a_very_long_tool_name"),
                ("short_x", "long_x"),
            ])
        );
    }

    #[test]
    fn every_pair_of_different_dialects_has_translators() {
        use Dialect::*;
        for client in [OpenAi, Anthropic, Responses] {
            for upstream in [OpenAi, Anthropic, Gemini] {
                assert_eq!(
                    Pair::between(client, upstream).is_some(),
                    client != upstream
                );
            }
        }
    }

    #[test]
    fn an_anthropic_client_of_gemini_gets_anthropic_events_from_gemini_frames() {
        let mut t = Pair::AnthropicToGemini.stream("claude-x".into(), Vec::new(), false, 1);
        let mut out = Vec::new();
        let frame = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]},\"index\":0}]}\r\n\r\n";
        // Fed one byte at a time: every event still comes out whole.
        for b in frame.as_bytes() {
            t.feed(std::slice::from_ref(b), &mut out);
        }
        let last = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":2,\"totalTokenCount\":9}}\r\n\r\n";
        t.feed(last.as_bytes(), &mut out);
        t.finish(&mut out);
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.starts_with("event: message_start\n"), "{text}");
        assert!(text.contains("\"text\":\"Hel\""), "{text}");
        assert!(text.contains("\"stop_reason\":\"end_turn\""), "{text}");
        assert!(
            text.trim_end()
                .ends_with("data: {\"type\":\"message_stop\"}"),
            "{text}"
        );
        let usage = t.usage().expect("usage");
        assert_eq!((usage.prompt, usage.completion), (7, 2));
    }
}
