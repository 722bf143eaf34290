//! Error envelopes, one per dialect: how a client of that dialect expects an
//! error the gateway decided itself (its SDK parses it into a typed error).
//! - OpenAI: `{"error": {"message", "type", "code", "param"}}`.
//! - Anthropic: `{"type": "error", "error": {"type", "message"}}`, the
//!   error type following the status (`invalid_request_error` for a 400,
//!   `rate_limit_error` for a 429, `overloaded_error` for a 529, ...).
//! - Gemini: `{"error": {"code", "message", "status"}}` with Google's
//!   canonical status names (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, ...).

use super::Dialect;
use bytes::Bytes;
use serde_json::json;

/// An error the gateway answers itself, before it is put in an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorReply<'a> {
    pub status: u16,
    /// OpenAI's `type` (`invalid_request_error`, `rate_limit_error`, ...).
    pub kind: &'static str,
    /// OpenAI's `code` (`model_not_found`, ...).
    pub code: &'static str,
    pub param: Option<&'static str>,
    pub message: &'a str,
}

impl Dialect {
    /// The JSON body of `e` for a client of this dialect.
    pub fn error_body(self, e: &ErrorReply<'_>) -> Bytes {
        let body = match self {
            Self::OpenAi | Self::Responses => json!({
                "error": { "message": e.message, "type": e.kind, "code": e.code, "param": e.param }
            }),
            Self::Anthropic => json!({
                "type": "error",
                "error": { "type": anthropic_type(e.status), "message": e.message }
            }),
            Self::Gemini => json!({
                "error": { "code": e.status, "message": e.message, "status": google_status(e.status) }
            }),
        };
        Bytes::from(body.to_string())
    }
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

fn google_status(status: u16) -> &'static str {
    match status {
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        400..=499 => "INVALID_ARGUMENT",
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16) -> ErrorReply<'static> {
        ErrorReply {
            status,
            kind: "rate_limit_error",
            code: "rate_limit_exceeded",
            param: None,
            message: "slow down",
        }
    }

    fn parse(b: Bytes) -> serde_json::Value {
        serde_json::from_slice(&b).expect("json")
    }

    #[test]
    fn each_dialect_has_its_own_envelope() {
        let v = parse(Dialect::OpenAi.error_body(&reply(429)));
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
        assert_eq!(v["error"]["param"], serde_json::Value::Null);
        assert_eq!(v["error"]["message"], "slow down");
        let v = parse(Dialect::Anthropic.error_body(&reply(429)));
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["error"]["message"], "slow down");
        let v = parse(Dialect::Gemini.error_body(&reply(429)));
        assert_eq!(v["error"]["code"], 429);
        assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    }

    #[test]
    fn statuses_map_to_each_dialects_names() {
        let cases = [
            (400, "invalid_request_error", "INVALID_ARGUMENT"),
            (401, "authentication_error", "UNAUTHENTICATED"),
            (403, "permission_error", "PERMISSION_DENIED"),
            (404, "not_found_error", "NOT_FOUND"),
            (413, "request_too_large", "INVALID_ARGUMENT"),
            (500, "api_error", "INTERNAL"),
            (502, "api_error", "INTERNAL"),
            (503, "api_error", "UNAVAILABLE"),
            (504, "timeout_error", "DEADLINE_EXCEEDED"),
        ];
        for (status, anthropic, google) in cases {
            assert_eq!(anthropic_type(status), anthropic, "{status}");
            assert_eq!(google_status(status), google, "{status}");
        }
    }
}
