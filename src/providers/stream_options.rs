//! Which OpenAI-format provider types take `stream_options` and need it to
//! report a stream's usage.

use super::ProviderType;

impl ProviderType {
    /// Whether the gateway should add `stream_options: {include_usage:
    /// true}` to a streamed chat completion the client sent without it
    /// (then taking the usage-only chunk out of the client's stream):
    /// the provider accepts the field *and* needs it to report usage. A
    /// provider that reports usage in every stream anyway is not asked: the
    /// usage is read where it comes, and what the client got before (a
    /// usage chunk it did not ask for included) is left alone. From each
    /// provider's chat completions reference:
    pub const fn accepts_stream_options(self) -> bool {
        match self {
            // "Create chat completion": an extra chunk, `choices: []`,
            // before `data: [DONE]`; none unless asked.
            Self::Openai => true,
            // Azure OpenAI "Chat completions" (data plane 2024-10-21, the
            // default `api_version`): accepted; versions before
            // 2024-09-01-preview answer 400.
            Self::Azure => true,
            // "Create chat completion" lists `stream_options`; unasked, the
            // usage is only Groq's own `x_groq.usage` on the finish chunk.
            Self::Groq => true,
            // Unasked, the finish chunk carries `usage` (and `time_info`);
            // Cerebras answers 400 to fields it does not support, so the
            // field is not risked.
            Self::Cerebras => false,
            // "ChatStreamOptions": `include_usage` is deprecated and "has
            // no effect. Full usage details are always included" (a last
            // chunk the client always got).
            Self::Openrouter => false,
            // Streams end with `usage` on the last chunk unasked.
            Self::Together => false,
            // "Create Chat Completion" lists `stream_options`; some models
            // (MiniMax, Kimi) report usage only when asked, others always.
            Self::Fireworks => true,
            // "Chat Completion" rejects it (422 `extra_forbidden` at
            // `stream_options.include_usage`); the last chunk carries
            // `usage` unasked.
            Self::Mistral => false,
            // "Create Chat Completion": accepted, but "either way the last
            // chunk before [DONE] carries the usage" (on the finish chunk,
            // no usage-only chunk); asking only adds `"usage": null`s.
            Self::Deepseek => false,
            // "Chat completions" (OpenAI-compatible): accepted; a usage-only
            // chunk ends the stream when asked.
            Self::Xai => true,
            // "OpenAI compatibility": `stream_options.include_usage` gives
            // the usage chunk.
            Self::Sambanova => true,
            // "Chat Completions": every chunk carries the cumulative usage
            // unasked.
            Self::Perplexity => false,
            // The servers behind this type accept it and send the usage
            // chunk when asked: Ollama since 0.5.2, vLLM, llama.cpp's
            // server, SGLang; LM Studio ignores it (no error, no usage).
            // Some llama.cpp builds always send the chunk; asking makes
            // them spec-conform for a client that did not.
            Self::OpenaiCompatible => true,
            // Not OpenAI's format: their streams always carry usage
            // (Anthropic's `message_start`/`message_delta`, Gemini's
            // `usageMetadata` on every chunk).
            Self::Anthropic | Self::AnthropicCompatible | Self::Gemini => false,
        }
    }
}
