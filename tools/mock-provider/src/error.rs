//! The mock's errors and the HTTP responses that carry them (400, 401, 403,
//! 404, 405, 413, and the injected `--fail-every` failures), in the envelope
//! of the request's dialect: OpenAI's `{"error":{"message","type","param",
//! "code"}}`, Anthropic's `{"type":"error","error":{"type","message"}}`
//! (`anthropic.rs` names the types) or Gemini's `{"error":{"code","message",
//! "status","details"?}}` (`gemini.rs` names the statuses).

use hyper::header::{HeaderValue, ALLOW, RETRY_AFTER};
use hyper::{Method, Response, StatusCode};
use serde::Serialize;

use crate::body::MockBody;
use crate::dialect::Dialect;
use crate::response::json_response;
use crate::{anthropic, gemini};

/// An error answered with OpenAI's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The envelope's `type` field.
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
    /// Adds `Retry-After: 1` (the injected failures).
    pub retry_after: bool,
    /// Adds an `Allow` header (405).
    pub allow: Option<&'static str>,
    /// What went wrong where the dialects word it differently.
    pub cause: Cause,
}

/// Failures each provider answers with its own status or wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Worded the same everywhere (only the envelope differs).
    Plain,
    /// `--require-key` and no key in any header the mock reads.
    MissingKey,
    /// `--require-key` and a key that is not the one.
    WrongKey,
    /// A `--fail-every` failure.
    Injected,
    /// No such path.
    NotFound,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: false,
            allow: None,
            cause: Cause::Plain,
        }
    }

    /// 400 `invalid_request_error`.
    pub fn invalid(
        message: impl Into<String>,
        param: Option<&'static str>,
        code: Option<&'static str>,
    ) -> Self {
        ApiError {
            param,
            code,
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
        }
    }

    pub fn not_json() -> Self {
        Self::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, \
             but what was sent was not valid JSON.)",
            None,
            None,
        )
    }

    /// 401 for `--require-key` (`cause` is `MissingKey` or `WrongKey`).
    pub fn unauthorized(cause: Cause, message: impl Into<String>) -> Self {
        ApiError {
            code: Some("invalid_api_key"),
            cause,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
        }
    }

    /// Unknown path: OpenAI answers 404 with "Invalid URL (METHOD /path)".
    pub fn not_found(method: &Method, path: &str) -> Self {
        let message = format!("Invalid URL ({method} {path})");
        ApiError {
            cause: Cause::NotFound,
            ..Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
        }
    }

    /// Known path, wrong method.
    pub fn method_not_allowed(method: &Method, path: &str, allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                format!("Invalid URL ({method} {path})"),
            )
        }
    }

    pub fn too_large(limit: usize) -> Self {
        let message = format!("Request body too large: the limit is {limit} bytes.");
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            message,
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// The failure `--fail-every` injects, shaped like the provider's own.
    pub fn injected(status: StatusCode) -> Self {
        let base = match status.as_u16() {
            429 => ApiError {
                code: Some("rate_limit_exceeded"),
                ..Self::new(
                    status,
                    "requests",
                    "Rate limit reached for requests (injected by mock-provider --fail-every).",
                )
            },
            500..=599 => Self::new(
                status,
                "server_error",
                "The server had an error while processing your request \
                 (injected by mock-provider --fail-every).",
            ),
            _ => Self::new(
                status,
                "invalid_request_error",
                "Request rejected (injected by mock-provider --fail-every).",
            ),
        };
        ApiError {
            retry_after: true,
            cause: Cause::Injected,
            ..base
        }
    }

    /// OpenAI's envelope as JSON bytes.
    pub fn body(&self) -> Vec<u8> {
        let envelope = Envelope {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param,
                code: self.code,
            },
        };
        // Plain strings only: serialization cannot fail; keep a fallback anyway.
        serde_json::to_vec(&envelope).unwrap_or_else(|_| {
            br#"{"error":{"message":"error","type":"server_error","param":null,"code":null}}"#
                .to_vec()
        })
    }

    /// The response in `dialect`'s envelope. Gemini states the retry delay in
    /// the body (`RetryInfo`), not in a `Retry-After` header.
    pub fn into_response(self, dialect: Dialect) -> Response<MockBody> {
        let (status, body) = match dialect {
            Dialect::OpenAi => (self.status, self.body()),
            Dialect::Anthropic => (self.status, anthropic::error_body(&self)),
            Dialect::Gemini => gemini::error_body(&self),
        };
        let mut response = json_response(status, body);
        let headers = response.headers_mut();
        if self.retry_after && dialect != Dialect::Gemini {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(allow) = self.allow {
            headers.insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn envelope_has_the_four_openai_fields() {
        let err = ApiError::invalid("bad", Some("model"), Some("invalid_type"));
        let value: Value = serde_json::from_slice(&err.body()).expect("json");
        assert_eq!(
            value,
            json!({"error": {"message": "bad", "type": "invalid_request_error",
                             "param": "model", "code": "invalid_type"}})
        );
    }

    #[test]
    fn injected_429_is_a_rate_limit_with_retry_after() {
        let response =
            ApiError::injected(StatusCode::TOO_MANY_REQUESTS).into_response(Dialect::OpenAi);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        let err = ApiError::injected(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.kind, "server_error");
        assert!(err.retry_after);
    }
}
