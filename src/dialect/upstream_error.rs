//! A provider's error reply, put in the client's dialect when the two
//! differ: the provider's status and its own message, in the envelope the
//! client's SDK parses (an OpenAI client of an Anthropic upstream gets
//! `{"error": {...}}`, an Anthropic client of an OpenAI upstream gets
//! `{"type": "error", ...}`). Whatever the provider's body holds beyond its
//! message is dropped; a body that is not a known envelope is quoted,
//! shortened, as the message.

use super::envelope::ErrorReply;
use super::Dialect;
use bytes::Bytes;
use serde_json::Value;

/// The longest provider message passed on.
const MAX_MESSAGE: usize = 2000;

/// The error body for a client of `client`, from the provider's `body`
/// answered with `status`.
pub fn translate(body: &[u8], status: u16, client: Dialect) -> Bytes {
    let message = message(body).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("The provider answered {status} with no message.")
        } else {
            text.to_string()
        }
    });
    let message = shorten(&message);
    client.error_body(&ErrorReply {
        status,
        kind: openai_type(status),
        code: "upstream_error",
        param: None,
        message: &message,
    })
}

/// The message of an error envelope in any of the dialects: OpenAI's and
/// Anthropic's `error.message`, Gemini's too (also wrapped in an array,
/// as its compatibility endpoints send it), or a bare `error` string.
pub fn message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    let error = value.get("error")?;
    let text = match error {
        Value::String(s) => s.as_str(),
        other => other.get("message")?.as_str()?,
    };
    Some(text.to_string())
}

/// OpenAI's error `type` for a provider's status.
fn openai_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(b: Bytes) -> Value {
        serde_json::from_slice(&b).expect("json")
    }

    #[test]
    fn an_anthropic_error_reaches_an_openai_client_in_its_envelope() {
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 200000 > 64000"},"request_id":"req_1"}"#;
        let v = parse(translate(body, 400, Dialect::OpenAi));
        assert_eq!(v["error"]["message"], "max_tokens: 200000 > 64000");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn an_openai_or_gemini_error_reaches_an_anthropic_client_in_its_envelope() {
        let body = br#"{"error":{"message":"context too long","type":"invalid_request_error","code":null}}"#;
        let v = parse(translate(body, 400, Dialect::Anthropic));
        assert_eq!(
            v,
            json!({"type":"error","error":{"type":"invalid_request_error","message":"context too long"}})
        );
        let gemini =
            br#"[{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}]"#;
        let v = parse(translate(gemini, 404, Dialect::Anthropic));
        assert_eq!(v["error"]["type"], "not_found_error");
        assert_eq!(v["error"]["message"], "models/x is not found");
    }

    #[test]
    fn a_body_that_is_no_envelope_is_quoted_and_bounded() {
        let v = parse(translate(b"upstream says no", 422, Dialect::Anthropic));
        assert_eq!(v["error"]["message"], "upstream says no");
        let long = "x".repeat(10_000);
        let v = parse(translate(long.as_bytes(), 400, Dialect::OpenAi));
        let message = v["error"]["message"].as_str().expect("message");
        assert!(message.chars().count() <= MAX_MESSAGE + 1);
        let v = parse(translate(b"", 409, Dialect::OpenAi));
        assert_eq!(
            v["error"]["message"],
            "The provider answered 409 with no message."
        );
    }
}
