//! Anthropic Messages: the facts every translation to or from it shares —
//! stop reasons, usage, tool ids and tool names, and the removal of the
//! gateway's own unsigned thinking blocks before a real Anthropic upstream.
//! Pure; the translators of each direction (`anthropic_to_chat`,
//! `chat_stream_to_anthropic`, `chat_to_anthropic`,
//! `anthropic_stream_to_chat`) use these.
//!
//! Sources: Anthropic's Messages API reference (stop reasons, usage fields,
//! tool_use ids), OpenAI's chat completions reference (finish reasons,
//! `prompt_tokens_details`), and the mapping tables gateways converged on
//! (agentgateway, LiteLLM).

use serde_json::{json, Map, Value};

/// The signature of every thinking block translated from another
/// provider's reasoning: not a real signature (only Anthropic makes those),
/// a marker. Claude Code discards a thinking block without a signature; the
/// marker lets a request be recognised and stripped of these blocks before
/// it could reach a real Anthropic upstream, which rejects them.
pub const UNSIGNED_THINKING: &str = "modelgate-unsigned-thinking";

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`. A turn that
/// emitted a tool call is `tool_use` whatever the upstream said: a client
/// told `end_turn` never runs the tool. `content_filter` is `refusal` (as
/// `end_turn` it sends Claude Code into a retry loop).
pub fn stop_reason(finish_reason: Option<&str>, tool_used: bool) -> &'static str {
    if tool_used {
        return "tool_use";
    }
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// Token counts as OpenAI reports them (`usage` of a completion or of the
/// last stream chunk).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatUsage {
    /// All input tokens, cached ones included.
    pub prompt: u64,
    pub completion: u64,
    /// `prompt_tokens_details.cached_tokens`: read from the cache.
    pub cached: u64,
    /// `prompt_tokens_details.cache_write_tokens`, where a provider reports it.
    pub cache_write: u64,
}

impl ChatUsage {
    /// From an OpenAI `usage` object (missing fields are 0).
    pub fn from_json(usage: &Value) -> Self {
        let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        let details = usage.get("prompt_tokens_details");
        Self {
            prompt: n(usage.get("prompt_tokens")),
            completion: n(usage.get("completion_tokens")),
            cached: n(details.and_then(|d| d.get("cached_tokens"))),
            cache_write: n(details.and_then(|d| d.get("cache_write_tokens"))),
        }
    }

    /// Anthropic's `usage`: `input_tokens` excludes what was read from or
    /// written to the cache (OpenAI's `prompt_tokens` includes both). All
    /// four fields always present: Claude Code rejected a `message_start`
    /// whose usage lacked some (LiteLLM#24176).
    pub fn to_anthropic(self) -> Value {
        json!({
            "input_tokens": self.prompt.saturating_sub(self.cached + self.cache_write),
            "output_tokens": self.completion,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cached,
        })
    }

    /// From an Anthropic `usage` object: the inverse of `to_anthropic`.
    pub fn from_anthropic(usage: &Value) -> Self {
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (read, write) = (
            n("cache_read_input_tokens"),
            n("cache_creation_input_tokens"),
        );
        Self {
            prompt: n("input_tokens") + read + write,
            completion: n("output_tokens"),
            cached: read,
            cache_write: write,
        }
    }

    /// OpenAI's `usage` object. `cache_write_tokens` only when there were
    /// some: OpenAI itself never sends it, but the providers that do (and
    /// `from_json`) read it back, so the round trip is exact.
    pub fn to_chat(self) -> Value {
        let mut usage = Map::new();
        usage.insert("prompt_tokens".into(), self.prompt.into());
        usage.insert("completion_tokens".into(), self.completion.into());
        usage.insert(
            "total_tokens".into(),
            (self.prompt + self.completion).into(),
        );
        let mut details = json!({ "cached_tokens": self.cached });
        if self.cache_write > 0 {
            details["cache_write_tokens"] = self.cache_write.into();
        }
        usage.insert("prompt_tokens_details".into(), details);
        Value::Object(usage)
    }
}

/// A tool id every provider accepts: Anthropic requires
/// `^[a-zA-Z0-9_-]+$`; other providers' ids (`call_…`, some with `.` or
/// `:`) are mapped character by character, so the same id always maps to
/// the same result and a `tool_result` still pairs with its call. An empty
/// id maps to a constant: a caller facing a missing id must make a unique
/// one itself (Anthropic rejects duplicates).
pub fn tool_id(id: &str) -> String {
    let mut out: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("toolu_");
    }
    out
}

/// The longest upstream id kept in a message id.
const MAX_ID: usize = 128;

/// An Anthropic message id (`msg_…`) from the upstream's reply id, in
/// Anthropic's id alphabet and at most 128 characters of it; a fresh one
/// when the upstream gave none.
pub fn message_id(upstream: Option<&str>) -> String {
    match upstream.filter(|id| !id.is_empty()) {
        Some(id) => {
            let id: String = tool_id(id).chars().take(MAX_ID).collect();
            if id.starts_with("msg_") {
                id
            } else {
                format!("msg_{id}")
            }
        }
        None => format!("msg_{}", uuid::Uuid::new_v4().simple()),
    }
}

/// The longest tool name OpenAI accepts.
pub const MAX_TOOL_NAME: usize = 64;

/// A tool name OpenAI accepts (at most 64 characters): a longer one is cut
/// and given a stable suffix from a hash of the whole name, so two long
/// names sharing a prefix stay apart. The caller keeps the mapping back.
pub fn short_tool_name(name: &str) -> String {
    if name.len() <= MAX_TOOL_NAME {
        return name.to_string();
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let suffix = format!("_{:08x}", hash as u32);
    let mut cut = MAX_TOOL_NAME - suffix.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_map_both_ways_and_a_tool_call_wins() {
        assert_eq!(stop_reason(Some("stop"), false), "end_turn");
        assert_eq!(stop_reason(Some("stop"), true), "tool_use");
        assert_eq!(stop_reason(Some("length"), false), "max_tokens");
        assert_eq!(stop_reason(Some("tool_calls"), false), "tool_use");
        assert_eq!(stop_reason(Some("content_filter"), false), "refusal");
        assert_eq!(stop_reason(None, false), "end_turn");
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(Some("refusal")), "content_filter");
    }

    #[test]
    fn usage_moves_cached_tokens_out_of_anthropic_input_and_back() {
        let openai = json!({
            "prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
            "prompt_tokens_details": { "cached_tokens": 800 }
        });
        let u = ChatUsage::from_json(&openai);
        let anthropic = u.to_anthropic();
        assert_eq!(
            anthropic,
            json!({ "input_tokens": 200, "output_tokens": 50,
                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 800 })
        );
        assert_eq!(ChatUsage::from_anthropic(&anthropic), u);
        assert_eq!(u.to_chat()["total_tokens"], 1050);
        assert_eq!(u.to_chat()["prompt_tokens_details"]["cached_tokens"], 800);
        // Cache writes: in Anthropic's counts and in OpenAI's, and back.
        let written = ChatUsage::from_anthropic(&json!({
            "input_tokens": 10, "output_tokens": 5,
            "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000 }));
        assert_eq!(
            (written.prompt, written.cached, written.cache_write),
            (1110, 1000, 100)
        );
        assert_eq!(ChatUsage::from_json(&written.to_chat()), written);
        // A provider that reports nothing: zeros, every field present.
        assert_eq!(
            ChatUsage::from_json(&json!({})).to_anthropic(),
            json!({ "input_tokens": 0, "output_tokens": 0,
                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 })
        );
    }

    #[test]
    fn tool_ids_and_names_fit_every_provider() {
        assert_eq!(tool_id("call_abc-123"), "call_abc-123");
        assert_eq!(tool_id("functions.get:0"), "functions_get_0");
        assert_eq!(tool_id(""), "toolu_");
        let long = "mcp__some_server_with_a_long_name__and_a_tool_whose_name_goes_on_and_on";
        let short = short_tool_name(long);
        assert_eq!(short.len(), MAX_TOOL_NAME);
        assert_eq!(short, short_tool_name(long), "stable");
        let other = format!("{long}_2");
        assert_ne!(short_tool_name(&other), short, "distinct names stay apart");
        assert_eq!(short_tool_name("Bash"), "Bash");
    }
}
