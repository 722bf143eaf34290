//! Token usage as the provider reports it, put in OpenAI's terms: the
//! counts of one `usage` object of any dialect ([`Counts`], every field as
//! written, so that the events of a stream can be merged field by field),
//! what they add up to ([`Usage`]), and the usage of a whole JSON reply
//! ([`usage_from_json`]). Streams are read by `stream_usage`, a translated
//! reply's usage comes from its translator (`ChatUsage`, converted here).
//!
//! The dialects count differently, and every difference is settled here:
//! OpenAI's `prompt_tokens` includes the cached tokens
//! (`prompt_tokens_details.cached_tokens`; DeepSeek also says
//! `prompt_cache_hit_tokens`); the Responses API's `input_tokens` includes
//! them too (`input_tokens_details.cached_tokens`); Anthropic's
//! `input_tokens` excludes what was read from and written to the cache
//! (`cache_read_input_tokens`, `cache_creation_input_tokens`); Gemini's
//! `promptTokenCount` includes the cached tokens (`cachedContentTokenCount`)
//! and its output is `candidatesTokenCount` plus `thoughtsTokenCount`.
//! Pure.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// The tokens one request used, in OpenAI's terms: `prompt_tokens`
/// includes `cached_tokens`, and `total_tokens` is never less than
/// prompt plus completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// The part of `prompt_tokens` read from the provider's prompt cache.
    pub cached_tokens: u64,
}

/// A count a usage object may carry: its path in the object.
#[derive(Debug, Clone, Copy)]
enum Field {
    // OpenAI's chat completions, completions and embeddings.
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    CachedTokens,
    CacheHitTokens,
    // Anthropic's Messages, and (the first three) OpenAI's Responses.
    InputTokens,
    OutputTokens,
    InputCachedTokens,
    CacheReadInputTokens,
    CacheCreationInputTokens,
    // Gemini's `usageMetadata`.
    PromptTokenCount,
    ToolUsePromptTokenCount,
    CandidatesTokenCount,
    ThoughtsTokenCount,
    CachedContentTokenCount,
    TotalTokenCount,
}

const FIELDS: usize = 16;

/// Each field's path, in the order of [`Field`].
const PATHS: [&[&str]; FIELDS] = [
    &["prompt_tokens"],
    &["completion_tokens"],
    &["total_tokens"],
    &["prompt_tokens_details", "cached_tokens"],
    &["prompt_cache_hit_tokens"],
    &["input_tokens"],
    &["output_tokens"],
    &["input_tokens_details", "cached_tokens"],
    &["cache_read_input_tokens"],
    &["cache_creation_input_tokens"],
    &["promptTokenCount"],
    &["toolUsePromptTokenCount"],
    &["candidatesTokenCount"],
    &["thoughtsTokenCount"],
    &["cachedContentTokenCount"],
    &["totalTokenCount"],
];

/// A usage object read straight into its counts, without building a JSON
/// tree (measured: building a `Value` of a reply's usage cost ~6k
/// instructions per request). A count that is not a whole number fails
/// this read; [`Counts::parse`] then reads the object the slow way.
#[derive(Deserialize)]
struct Fields {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    total_tokens: Option<u64>,
    prompt_tokens_details: Option<Cached>,
    prompt_cache_hit_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<Cached>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    #[serde(rename = "promptTokenCount")]
    prompt_token_count: Option<u64>,
    #[serde(rename = "toolUsePromptTokenCount")]
    tool_use_prompt_token_count: Option<u64>,
    #[serde(rename = "candidatesTokenCount")]
    candidates_token_count: Option<u64>,
    #[serde(rename = "thoughtsTokenCount")]
    thoughts_token_count: Option<u64>,
    #[serde(rename = "cachedContentTokenCount")]
    cached_content_token_count: Option<u64>,
    #[serde(rename = "totalTokenCount")]
    total_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct Cached {
    cached_tokens: Option<u64>,
}

impl From<Fields> for Counts {
    /// In the order of [`Field`].
    fn from(f: Fields) -> Self {
        let cached = |d: Option<Cached>| d.and_then(|d| d.cached_tokens);
        Self([
            f.prompt_tokens,
            f.completion_tokens,
            f.total_tokens,
            cached(f.prompt_tokens_details),
            f.prompt_cache_hit_tokens,
            f.input_tokens,
            f.output_tokens,
            cached(f.input_tokens_details),
            f.cache_read_input_tokens,
            f.cache_creation_input_tokens,
            f.prompt_token_count,
            f.tool_use_prompt_token_count,
            f.candidates_token_count,
            f.thoughts_token_count,
            f.cached_content_token_count,
            f.total_token_count,
        ])
    }
}

/// The counts of usage objects as the provider wrote them, each field
/// present or not: a stream reports its usage in pieces (Anthropic's
/// `message_start` has the input, `message_delta` the output), so the
/// pieces are merged field by field before anything is added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([Option<u64>; FIELDS]);

impl Counts {
    /// The counts of the usage object `json` (a JSON object), typed first
    /// and as a tree only if that fails (a count that is not a whole
    /// number).
    pub fn parse(json: &[u8]) -> Option<Self> {
        if let Ok(fields) = serde_json::from_slice::<Fields>(json) {
            return Some(fields.into());
        }
        serde_json::from_slice::<Value>(json)
            .ok()
            .map(|v| Self::read(&v))
    }

    /// The counts of one `usage` or `usageMetadata` object (nothing for
    /// anything else). A count that is not a whole number is absent.
    pub fn read(usage: &Value) -> Self {
        let mut counts = Self::default();
        for (slot, path) in counts.0.iter_mut().zip(PATHS) {
            *slot = path
                .iter()
                .try_fold(usage, |v, key| v.get(key))
                .and_then(Value::as_u64);
        }
        counts
    }

    /// Every field `later` has replaces this one's: the last value seen
    /// of each field wins.
    pub fn merge(&mut self, later: &Self) {
        for (slot, new) in self.0.iter_mut().zip(later.0) {
            if new.is_some() {
                *slot = new;
            }
        }
    }

    fn get(&self, field: Field) -> Option<u64> {
        self.0[field as usize]
    }

    fn any(&self, fields: &[Field]) -> bool {
        fields.iter().any(|&f| self.get(f).is_some())
    }

    /// What the counts add up to; `None` when no count was reported.
    pub fn usage(&self) -> Option<Usage> {
        use Field::*;
        let n = |field| self.get(field).unwrap_or(0);
        let (prompt, completion, cached, total) = if self.any(&[
            PromptTokenCount,
            CandidatesTokenCount,
            ThoughtsTokenCount,
            TotalTokenCount,
        ]) {
            // `toolUsePromptTokenCount` (the results of Google's own tools)
            // is billed as input, as `GeminiUsage` counts it.
            (
                n(PromptTokenCount).saturating_add(n(ToolUsePromptTokenCount)),
                n(CandidatesTokenCount).saturating_add(n(ThoughtsTokenCount)),
                n(CachedContentTokenCount),
                self.get(TotalTokenCount),
            )
        } else if self.any(&[PromptTokens, CompletionTokens]) {
            let cached = self.get(CachedTokens).or(self.get(CacheHitTokens));
            (
                n(PromptTokens),
                n(CompletionTokens),
                cached.unwrap_or(0),
                self.get(TotalTokens),
            )
        } else if self.any(&[InputTokens, OutputTokens]) {
            // Anthropic's input excludes the cache; the Responses API's has
            // no cache fields beside it, so the one sum serves both.
            let read = n(CacheReadInputTokens);
            let prompt =
                (n(InputTokens).saturating_add(read)).saturating_add(n(CacheCreationInputTokens));
            let cached = self.get(InputCachedTokens).unwrap_or(read);
            (prompt, n(OutputTokens), cached, self.get(TotalTokens))
        } else {
            return None;
        };
        // A provider's own total is kept when it says more (xAI counts
        // reasoning there and not in the completion); never less.
        let sum = prompt.saturating_add(completion);
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total.map_or(sum, |t| t.max(sum)),
            cached_tokens: cached.min(prompt),
        })
    }
}

/// A reply body that is not JSON at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

/// Whether `body` is JSON, and its usage if it reports one (`usage`, or
/// Gemini's `usageMetadata`). One parse: the rest of the object is
/// skipped, not built.
pub fn usage_from_json(body: &[u8]) -> Result<Option<Usage>, NotJson> {
    #[derive(Deserialize)]
    struct Reply<'a> {
        #[serde(default, borrow)]
        usage: Option<&'a RawValue>,
        #[serde(default, borrow, rename = "usageMetadata")]
        usage_metadata: Option<&'a RawValue>,
    }
    match serde_json::from_slice::<Reply<'_>>(body) {
        Ok(reply) => {
            let usage = (reply.usage)
                .or(reply.usage_metadata)
                .filter(|u| u.get().starts_with('{'));
            Ok(usage
                .and_then(|u| Counts::parse(u.get().as_bytes()))
                .and_then(|c| c.usage()))
        }
        // Valid JSON that is not an object is still a JSON reply; it just
        // reports nothing we can count.
        Err(_) => serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map(|_| None)
            .map_err(|_| NotJson),
    }
}

impl From<super::anthropic::ChatUsage> for Usage {
    /// OpenAI's counts of a translated reply, as the provider reported
    /// them (the translators put every dialect's counts in these terms).
    fn from(u: super::anthropic::ChatUsage) -> Self {
        Self {
            prompt_tokens: u.prompt,
            completion_tokens: u.completion,
            total_tokens: u.prompt.saturating_add(u.completion),
            cached_tokens: u.cached.min(u.prompt),
        }
    }
}

#[cfg(test)]
mod tests;
