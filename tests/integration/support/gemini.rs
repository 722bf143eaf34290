//! The Google Gemini wire format (`generateContent`, `streamGenerateContent?alt=sse`,
//! `GET /v1beta/models`) as the mock upstream speaks it: request validation, the
//! `GenerateContentResponse` (text or one `functionCall` part), its data-only stream
//! frames, the error envelope with `RetryInfo`, and the model list. Pure functions, no I/O.

use super::answer::{self, Answer, Event, Said, Usage};
use serde_json::{json, Value};

/// The `thoughtSignature` the mock puts on every `functionCall` part. Real ones are
/// opaque base64 that must come back unchanged; this one holds `+`, `/` and `=` so a
/// gateway that carries it in an id has to encode it.
pub const MOCK_THOUGHT_SIGNATURE: &str = "CiQB++++////bW9jayB0aG91Z2h0IHNpZ25hdHVyZQ==";

/// The `retryDelay` of a 429 when the behaviour sets none.
pub(super) const DEFAULT_RETRY_DELAY_SECS: u64 = 1;

/// A request the endpoint would accept: a JSON object with a `contents` array, the model
/// named in the path (`.../models/{model}:generateContent`).
pub(super) struct ParsedRequest {
    pub model: String,
}

/// Parses path and body like the provider: `Err` carries the 400 error message.
pub(super) fn parse_request(path: &str, body: &[u8]) -> Result<ParsedRequest, String> {
    let path = path.split('?').next().unwrap_or_default();
    let model = path
        .rfind("models/")
        .map(|at| &path[at + "models/".len()..])
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_default();
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    if !json.get("contents").is_some_and(Value::is_array) {
        return Err("* GenerateContentRequest.contents: contents is not specified".to_string());
    }
    Ok(ParsedRequest {
        model: model.to_string(),
    })
}

/// The canonical `google.rpc.Code` name Google sends with each HTTP status.
fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ if code < 500 => "FAILED_PRECONDITION",
        _ => "UNKNOWN",
    }
}

/// `{"error": {"code", "message", "status", "details"?}}`. A 429 carries a `QuotaFailure`
/// then a `RetryInfo` (the order the provider uses); `retry_delay` also adds the
/// `RetryInfo` to any other status. Google sends no `Retry-After` header.
pub(super) fn error_envelope(code: u16, message: &str, retry_delay: Option<u64>) -> Value {
    let mut error = json!({ "code": code, "message": message, "status": status_name(code) });
    let mut details = Vec::new();
    if code == 429 {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                "quotaValue": "10",
            }],
        }));
    }
    let delay = retry_delay.or((code == 429).then_some(DEFAULT_RETRY_DELAY_SECS));
    if let Some(secs) = delay {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{secs}s"),
        }));
    }
    if !details.is_empty() {
        error["details"] = json!(details);
    }
    json!({ "error": error })
}

/// `promptTokenCount` includes `cachedContentTokenCount`, which is only sent when non-zero.
fn usage_json(usage: &Usage) -> Value {
    let mut json = json!({
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": usage.completion,
        "totalTokenCount": usage.total(),
    });
    if usage.cached() > 0 {
        json["cachedContentTokenCount"] = json!(usage.cached());
    }
    json
}

fn function_call_part(name: &str, args: &Value) -> Value {
    json!({
        "functionCall": { "name": name, "args": args },
        "thoughtSignature": MOCK_THOUGHT_SIGNATURE,
    })
}

/// One `GenerateContentResponse`: a single candidate with `parts`, and `finishReason`
/// only when `finish` (always `STOP`: Gemini says so for function calls too).
fn response(answer: &Answer, id: &str, parts: Value, finish: bool, usage: Value) -> Value {
    let mut candidate = json!({ "content": { "role": "model", "parts": parts }, "index": 0 });
    if finish {
        candidate["finishReason"] = json!("STOP");
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": answer.model,
        "responseId": id,
    })
}

fn response_id() -> String {
    format!("mockresp{}", answer::serial())
}

/// The whole `generateContent` reply.
pub(super) fn generate_content(answer: &Answer) -> Value {
    let part = match &answer.said {
        Said::Text(pieces) => json!({ "text": pieces.concat() }),
        Said::ToolCall { name, args } => function_call_part(name, args),
    };
    let usage = usage_json(&answer.usage);
    response(answer, &response_id(), json!([part]), true, usage)
}

/// The `alt=sse` frames: data-only, no `[DONE]`. Text goes one piece per frame; frames
/// before the last carry only the prompt side of `usageMetadata`, the last one adds
/// `finishReason` and the full usage. A function call arrives whole in one frame.
pub(super) fn stream(answer: &Answer) -> Vec<Event> {
    let id = response_id();
    let mut parts: Vec<Value> = match &answer.said {
        Said::Text(pieces) => pieces.iter().map(|text| json!({ "text": text })).collect(),
        Said::ToolCall { name, args } => vec![function_call_part(name, args)],
    };
    if parts.is_empty() {
        parts.push(json!({ "text": "" }));
    }
    let last = parts.len() - 1;
    let partial_usage = json!({
        "promptTokenCount": answer.usage.prompt,
        "totalTokenCount": answer.usage.prompt,
    });
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let usage = if i == last {
                usage_json(&answer.usage)
            } else {
                partial_usage.clone()
            };
            let frame = response(answer, &id, json!([part]), i == last, usage);
            Event::data(frame.to_string()).content()
        })
        .collect()
}

/// `GET /v1beta/models`: `models/<id>` names with their generation methods.
pub(super) fn model_list(ids: &[String]) -> Value {
    let models: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({
                "name": format!("models/{id}"),
                "version": "001",
                "displayName": id,
                "description": "A mock model.",
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            })
        })
        .collect();
    json!({ "models": models })
}
