//! Google Gemini (`generateContent`): the facts every translation to or
//! from it shares — finish reasons, usage, error bodies and their retry
//! delay, tool names, function schemas, and the carrier that takes a thought
//! signature through OpenAI- and Anthropic-shaped history. Pure; the
//! translators of each direction (`chat_to_gemini`,
//! `gemini_stream_to_chat`) use these.
//!
//! Choices where the formats leave room:
//! - Function parameters go in `parametersJsonSchema`, the client's JSON
//!   Schema as it is, only its top-level `$schema` removed (a meta keyword
//!   that says nothing about the arguments). The older `parameters` field
//!   takes an OpenAPI 3.0 subset that rejects `additionalProperties`,
//!   `$ref`/`$defs`, `type` arrays and more, which every Claude Code tool
//!   carries; cleaning a schema down to it loses meaning (a `$ref` has to be
//!   inlined, a union flattened), while `parametersJsonSchema` is documented
//!   to take those keywords (`additionalProperties` is in Google's own
//!   example).
//! - Tool names: Gemini takes `[A-Za-z0-9_.:-]`, starting with a letter or
//!   `_`, at most 64 characters (an older revision of the reference said
//!   63 and no `.`/`:`; names that fit OpenAI's rules also fit these, and
//!   any other name is rewritten with a hash suffix, see [`tool_name`]).
//! - Thought signatures ride in the tool call id:
//!   `<id>__thought__<signature in base64url>`, only `[A-Za-z0-9_-]`, so an
//!   Anthropic `tool_use` id keeps it unchanged (`anthropic::tool_id` maps
//!   nothing in that alphabet). The separator is LiteLLM's, so ids it made
//!   are read too. A signature is base64, and the url alphabet is the same
//!   bytes with `+/` spelt `-_` and the padding dropped, so no decoding is
//!   needed: the characters are swapped back and the padding restored.

use super::anthropic::ChatUsage;
use super::translate::original_name;
use serde_json::{json, Value};
use std::time::Duration;

/// What separates a tool call id from the thought signature it carries.
pub const SIGNATURE_SEPARATOR: &str = "__thought__";

/// The signature Google documents for function calls Gemini did not make
/// (history from another model, or a client that lost the signature):
/// Gemini 3 answers 400 when the first function call of a step in the
/// current turn has no signature at all.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// The longest tool name Gemini accepts.
pub const MAX_TOOL_NAME: usize = 64;

/// The largest error body read: Google's are a few KiB at most.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// OpenAI's `finish_reason` for a Gemini `finishReason`. A reply with a
/// function call is `tool_calls` whatever Gemini said: it says `STOP` then,
/// and a client told `stop` never runs the tool.
/// Safety, blocklist, recitation and their image forms are
/// `content_filter`; `IMAGE_OTHER`, like `OTHER`, says nothing was filtered.
pub fn finish_reason(gemini: Option<&str>, tool_called: bool) -> &'static str {
    if tool_called {
        return "tool_calls";
    }
    match gemini {
        Some("MAX_TOKENS") => "length",
        Some(
            "SAFETY" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "RECITATION" | "MODEL_ARMOR",
        ) => "content_filter",
        Some(other) if other.starts_with("IMAGE_") && other != "IMAGE_OTHER" => "content_filter",
        _ => "stop",
    }
}

/// The token counts of a Gemini `usageMetadata`, in OpenAI's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeminiUsage {
    pub chat: ChatUsage,
    /// `thoughtsTokenCount`: part of `chat.completion`, reported apart as
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning: u64,
}

impl GeminiUsage {
    /// `promptTokenCount` includes the cached tokens, as OpenAI's
    /// `prompt_tokens` does; `toolUsePromptTokenCount` (results of Google's
    /// own tools, billed as input) is added so that the total is Gemini's
    /// `totalTokenCount`. `candidatesTokenCount` excludes the thoughts, which
    /// are output too. Missing fields are 0.
    pub fn from_metadata(metadata: &Value) -> Self {
        let n = |key: &str| metadata.get(key).and_then(Value::as_u64).unwrap_or(0);
        let reasoning = n("thoughtsTokenCount");
        Self {
            chat: ChatUsage {
                prompt: n("promptTokenCount") + n("toolUsePromptTokenCount"),
                completion: n("candidatesTokenCount") + reasoning,
                cached: n("cachedContentTokenCount"),
                cache_write: 0,
            },
            reasoning,
        }
    }

    /// OpenAI's `usage` object, with the reasoning tokens.
    pub fn to_chat(self) -> Value {
        let mut usage = self.chat.to_chat();
        usage["completion_tokens_details"] = json!({ "reasoning_tokens": self.reasoning });
        usage
    }
}

/// The `error` object of a Google error body: `{"error": {...}}`, or the
/// same wrapped in an array (Vertex and the OpenAI-compatible endpoint).
fn error_object(body: &[u8]) -> Option<Value> {
    if body.len() > MAX_ERROR_BODY {
        return None;
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let outer = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    match outer {
        Value::Object(mut map) => map.remove("error").filter(Value::is_object),
        _ => None,
    }
}

/// `(status, message)` of a Google error body: the canonical status name
/// (`RESOURCE_EXHAUSTED`, ...; the numeric code as text when the status is
/// missing) and the message. `None` for anything else.
pub fn error_summary(body: &[u8]) -> Option<(String, String)> {
    let error = error_object(body)?;
    let status = match (error.get("status"), error.get("code")) {
        (Some(Value::String(status)), _) => status.clone(),
        (_, Some(Value::Number(code))) => code.to_string(),
        _ => "UNKNOWN".to_string(),
    };
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some((status, message))
}

/// Whether an error body says the API key is not valid. Gemini answers a
/// bad key with a 400 (`INVALID_ARGUMENT`, reason `API_KEY_INVALID` in an
/// `ErrorInfo` detail), which would otherwise read as the request's fault.
pub fn key_invalid(body: &[u8]) -> bool {
    let Some(error) = error_object(body) else {
        return false;
    };
    let details = error.get("details").and_then(Value::as_array);
    details.is_some_and(|d| {
        d.iter()
            .any(|detail| detail.get("reason").and_then(Value::as_str) == Some("API_KEY_INVALID"))
    })
}

/// The wait Google asks for in an error body: `retryDelay` of the
/// `google.rpc.RetryInfo` entry of `error.details` (`"12s"`, `"0.5s"`).
pub fn retry_delay(body: &[u8]) -> Option<Duration> {
    let error = error_object(body)?;
    error
        .get("details")?
        .as_array()?
        .iter()
        .find(|detail| {
            detail.get("@type").and_then(Value::as_str)
                == Some("type.googleapis.com/google.rpc.RetryInfo")
        })?
        .get("retryDelay")
        .and_then(Value::as_str)
        .and_then(parse_duration)
}

/// A protobuf `Duration` in JSON: seconds, up to nine decimals, then `s`.
fn parse_duration(text: &str) -> Option<Duration> {
    let number = text.trim().strip_suffix('s')?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let nanos: u32 = format!("{fraction:0<9}").parse().ok()?;
    Some(Duration::new(secs, nanos))
}

/// OpenAI's error `type` for a Google status name.
pub fn openai_error_type(status: &str) -> &'static str {
    match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "NOT_FOUND" => "not_found_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        _ => "api_error",
    }
}

/// A tool name Gemini accepts. A name that already fits stays as it is;
/// any other has its other characters replaced by `_`, a leading `_` if it
/// starts with neither a letter nor `_`, and a suffix from a hash of the
/// whole name (so two names that differ only where they were rewritten
/// stay apart), cut to 64 characters. The caller keeps the mapping back.
pub fn tool_name(name: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    let good_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if good_start && name.len() <= MAX_TOOL_NAME && name.chars().all(allowed) {
        return name.to_string();
    }
    let mut clean: String = name
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    if !good_start {
        clean.insert(0, '_');
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let suffix = format!("_{:08x}", hash as u32);
    // `clean` is ASCII: any cut is a character boundary.
    clean.truncate(MAX_TOOL_NAME - suffix.len());
    clean + &suffix
}

/// A tool's JSON Schema as `parametersJsonSchema`: unchanged but for the
/// top-level `$schema`. `None` for a schema that is not an object.
pub fn parameters_schema(schema: &Value) -> Option<Value> {
    let mut schema = schema.as_object()?.clone();
    schema.remove("$schema");
    Some(Value::Object(schema))
}

fn is_base64(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
}

/// A tool call id carrying a thought signature; `id` unchanged when the
/// signature is not base64 (no Gemini signature is anything else).
pub fn join_signature(id: &str, signature: &str) -> String {
    if !is_base64(signature) {
        return id.to_string();
    }
    let url: String = signature
        .chars()
        .filter(|&c| c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    format!("{id}{SIGNATURE_SEPARATOR}{url}")
}

/// A tool call id split into the id and the signature it carries, back in
/// standard base64 with its padding. An id without a carrier is the id.
pub fn split_signature(id: &str) -> (&str, Option<String>) {
    let Some((base, carried)) = id.split_once(SIGNATURE_SEPARATOR) else {
        return (id, None);
    };
    if !is_base64(carried) {
        return (id, None);
    }
    let mut signature: String = carried
        .chars()
        .filter(|&c| c != '=')
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while signature.len() % 4 != 0 {
        signature.push('=');
    }
    (base, Some(signature))
}

/// The candidate translated: index 0, or the first when none says.
pub fn first_candidate(candidates: &[Value]) -> Option<&Value> {
    candidates
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
}

/// A Gemini `functionCall` (with the `thoughtSignature` of its part) as
/// an OpenAI tool call, without the `index` a stream adds: a fresh id
/// unique in the conversation carrying the signature, the client's tool
/// name, the arguments as JSON text, and the signature again where Gemini's
/// own OpenAI-compatible endpoint puts it.
pub fn chat_tool_call(
    call: &Value,
    signature: Option<&str>,
    tool_names: &[(String, String)],
) -> Value {
    let sent = call.get("name").and_then(Value::as_str).unwrap_or_default();
    let name = original_name(sent, tool_names);
    let arguments = match call.get("args") {
        Some(args @ Value::Object(_)) => args.to_string(),
        _ => "{}".to_string(),
    };
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    let id = format!("call_{}", &fresh[..24]);
    let mut tool_call = json!({
        "type": "function",
        "function": { "name": name, "arguments": arguments },
    });
    match signature {
        Some(signature) => {
            tool_call["id"] = join_signature(&id, signature).into();
            tool_call["extra_content"] = json!({ "google": { "thought_signature": signature } });
        }
        None => tool_call["id"] = id.into(),
    }
    tool_call
}

#[cfg(test)]
mod tests;
