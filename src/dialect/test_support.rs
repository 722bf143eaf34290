//! Helpers the translators' unit tests share: request options, a request
//! translated and read back as JSON, and seeded random splits of a stream
//! body. Test-only.

use super::translate::{RequestOptions, TranslateError, Translated};
use serde_json::Value;

/// The options of a plain attempt at `model`: no output limit, stream
/// usage asked for, a model that reasons.
pub fn options(model: &str) -> RequestOptions {
    RequestOptions {
        model: model.into(),
        max_output_tokens: None,
        stream_usage: true,
        reasoning: true,
    }
}

/// `body` through a request converter: the translated body as JSON, and
/// the tool names it shortened.
pub fn translate_request(
    request: fn(&[u8], &RequestOptions) -> Result<Translated, TranslateError>,
    body: &Value,
    opts: &RequestOptions,
) -> (Value, Vec<(String, String)>) {
    let out = request(body.to_string().as_bytes(), opts).unwrap();
    (serde_json::from_slice(&out.body).unwrap(), out.tool_names)
}

/// A tiny seeded PRNG (xorshift64): random splits without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `body` cut at random points into pieces of 1 to 40 bytes.
pub fn random_split<'a>(body: &'a [u8], rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(1 + rng.below(rest.len().min(40)));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// A streamed chat completion as OpenAI sends it when asked for usage
/// (`stream_options.include_usage`): a `"usage": null` on every chunk, and
/// the usage-only chunk (`choices: []`) before `[DONE]`.
pub const OPENAI_STREAM_WITH_USAGE: &str = concat!(
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello! The \\\"usage\\\": {\\\"prompt_tokens\\\": 1} you asked about\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":12,\"total_tokens\":2018,\"prompt_tokens_details\":{\"cached_tokens\":1920,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n",
    "data: [DONE]\n\n",
);

/// The usage-only chunk of [`OPENAI_STREAM_WITH_USAGE`], as an event.
pub const OPENAI_USAGE_EVENT: &str = "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":12,\"total_tokens\":2018,\"prompt_tokens_details\":{\"cached_tokens\":1920,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n";
