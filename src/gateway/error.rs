//! The one error enum of the request path and its single mapping to the wire:
//! a status, and an envelope in the client's dialect (OpenAI's
//! `{"error": {"message", "type", "code", "param"}}` for every route today).
//! Messages name instances and models, never keys; a client-supplied value is
//! echoed only after truncation, inside JSON (escaped by serde_json).

use crate::dialect::{BodyError, Dialect, ErrorReply, MAX_MODEL_LEN};
use crate::routing::clock::ceil_secs;
use crate::teams::AuthError;
use bytes::Bytes;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    #[error("The request is not valid HTTP/1.1.")]
    MalformedRequest,
    #[error("The request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("The request body must be a JSON object with a string `model`.")]
    MissingModel,
    #[error("`model` must be at most {max} bytes long, without control characters.")]
    BadModelName { max: usize },
    #[error("`{field}` must be {expected}.")]
    InvalidField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("Missing gateway key: send `Authorization: Bearer <key>` (or `x-api-key: <key>`).")]
    MissingKey,
    #[error("Incorrect gateway key provided.")]
    UnknownKey,
    #[error("The gateway key provided has expired.")]
    KeyExpired,
    #[error("Rate limit reached for key `{key}` on {what} per min: limit {limit}. Try again in {}s.", ceil_secs(*retry_after))]
    KeyRateLimited {
        key: String,
        /// `requests` or `tokens`.
        what: &'static str,
        limit: u64,
        retry_after: Duration,
    },
    #[error("Key `{key}` has used its budget of ${usd} ({period}): ${spent:.6} spent. It is refused until the period rolls over.")]
    OverBudget {
        key: String,
        usd: f64,
        spent: f64,
        period: &'static str,
        /// Until the period rolls over (none for a `total` budget).
        retry_after: Option<Duration>,
    },
    #[error("Too many requests from this address; try again in {}s.", ceil_secs(*retry_after).max(1))]
    AddressRateLimited { retry_after: Duration },
    #[error("{0}")]
    BadQuery(String),
    #[error("Usage records cannot be read right now.")]
    StoreUnavailable,
    #[error("Gateway key `{key}` is not allowed to use model `{model}`.")]
    ModelNotAllowed { key: String, model: String },
    #[error("The model `{0}` does not exist. GET /v1/models lists the available models.")]
    UnknownModel(String),
    #[error("Model `{model}` is served only by providers that cannot serve {route}.")]
    RouteNotServed { model: String, route: &'static str },
    /// The request body cannot be put in the provider's dialect (the
    /// client's fault: its own dialect's rules were broken).
    #[error("{0}")]
    Untranslatable(String),
    #[error("The request body could not be decoded ({0}).")]
    Undecodable(String),
    #[error("Content-Encoding `{0}` is not supported: send the body as is, or with gzip or zstd.")]
    UnsupportedEncoding(String),
    #[error("Unknown request path: {0}. See /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/messages, /v1/models.")]
    UnknownPath(String),
    #[error("Responses over a WebSocket are not served here: POST /v1/responses over HTTP.")]
    WebSocketRefused,
    #[error("Method {method} is not allowed on {path}.")]
    MethodNotAllowed { method: String, path: String },
    #[error("The request body is larger than the gateway's limit of {limit} bytes.")]
    BodyTooLarge { limit: u64 },
    #[error("The request {part} did not arrive within {limit_s} s.")]
    RequestTimeout { part: &'static str, limit_s: u64 },
    #[error("Too many open connections from this address (the limit is {0}).")]
    TooManyConnections(u32),
    #[error("The gateway is at its connection limit; try again shortly.")]
    AtCapacity,
    #[error("This origin may not call the gateway from a browser (see cors.allow_origins).")]
    OriginNotAllowed,
    #[error("Every candidate for model `{model}` is rate-limited: {summary}")]
    AllRateLimited {
        model: String,
        retry_after: Duration,
        summary: String,
    },
    #[error("Every upstream attempt for model `{model}` failed: {summary}")]
    UpstreamFailed { model: String, summary: String },
    #[error("No provider instance can serve model `{model}` right now: {summary}")]
    NoCandidate {
        model: String,
        /// The soonest a skipped candidate recovers, if any says.
        retry_after: Option<Duration>,
        summary: String,
    },
    #[error(
        "Every upstream attempt for model `{model}` timed out before the first byte: {summary}"
    )]
    UpstreamTimeout { model: String, summary: String },
    #[error("Internal gateway error.")]
    Internal,
}

impl GatewayError {
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedRequest
            | Self::InvalidJson(_)
            | Self::MissingModel
            | Self::BadModelName { .. }
            | Self::InvalidField { .. }
            | Self::RouteNotServed { .. }
            | Self::Untranslatable(_)
            | Self::Undecodable(_)
            | Self::BadQuery(_) => 400,
            Self::MissingKey | Self::UnknownKey | Self::KeyExpired => 401,
            Self::ModelNotAllowed { .. } | Self::OriginNotAllowed => 403,
            Self::UnknownModel(_) | Self::UnknownPath(_) | Self::WebSocketRefused => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::RequestTimeout { .. } => 408,
            Self::BodyTooLarge { .. } => 413,
            Self::UnsupportedEncoding(_) => 415,
            Self::AllRateLimited { .. }
            | Self::TooManyConnections(_)
            | Self::KeyRateLimited { .. }
            | Self::OverBudget { .. }
            | Self::AddressRateLimited { .. } => 429,
            Self::Internal => 500,
            Self::UpstreamFailed { .. } => 502,
            Self::NoCandidate { .. } | Self::AtCapacity | Self::StoreUnavailable => 503,
            Self::UpstreamTimeout { .. } => 504,
        }
    }

    /// `(type, code, param)` of the envelope.
    fn kind(&self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Self::MalformedRequest => ("invalid_request_error", "malformed_request", None),
            Self::InvalidJson(_) => ("invalid_request_error", "invalid_json", None),
            Self::MissingModel => ("invalid_request_error", "missing_model", Some("model")),
            Self::BadModelName { .. } => ("invalid_request_error", "invalid_model", Some("model")),
            Self::InvalidField { field, .. } => {
                ("invalid_request_error", "invalid_type", Some(field))
            }
            Self::RouteNotServed { .. } => ("invalid_request_error", "unsupported_route", None),
            Self::Untranslatable(_) => ("invalid_request_error", "invalid_request", None),
            Self::Undecodable(_) => ("invalid_request_error", "invalid_encoding", None),
            Self::UnsupportedEncoding(_) => ("invalid_request_error", "unsupported_encoding", None),
            Self::MissingKey => ("invalid_request_error", "missing_api_key", None),
            Self::UnknownKey => ("invalid_request_error", "invalid_api_key", None),
            Self::KeyExpired => ("invalid_request_error", "expired_api_key", None),
            // OpenAI's own types: which limit was hit.
            Self::KeyRateLimited { what, .. } => (*what, "rate_limit_exceeded", None),
            Self::OverBudget { .. } => ("insufficient_quota", "insufficient_quota", None),
            Self::AddressRateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded", None),
            Self::BadQuery(_) => ("invalid_request_error", "invalid_query", None),
            Self::StoreUnavailable => ("service_unavailable", "store_unavailable", None),
            Self::ModelNotAllowed { .. } => {
                ("permission_error", "model_not_allowed", Some("model"))
            }
            Self::UnknownModel(_) => ("invalid_request_error", "model_not_found", Some("model")),
            Self::UnknownPath(_) => ("invalid_request_error", "unknown_url", None),
            Self::WebSocketRefused => ("invalid_request_error", "websocket_not_supported", None),
            Self::MethodNotAllowed { .. } => ("invalid_request_error", "method_not_allowed", None),
            Self::BodyTooLarge { .. } => ("invalid_request_error", "request_too_large", None),
            Self::RequestTimeout { .. } => ("invalid_request_error", "request_timeout", None),
            Self::TooManyConnections(_) => ("rate_limit_error", "too_many_connections", None),
            Self::AtCapacity => ("service_unavailable", "at_capacity", None),
            Self::OriginNotAllowed => ("permission_error", "origin_not_allowed", None),
            Self::AllRateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded", None),
            Self::UpstreamFailed { .. } => ("upstream_error", "upstream_failed", None),
            Self::NoCandidate { .. } => ("service_unavailable", "no_available_provider", None),
            Self::UpstreamTimeout { .. } => ("timeout_error", "upstream_timeout", None),
            Self::Internal => ("server_error", "internal_error", None),
        }
    }

    /// Whole seconds for `Retry-After`, where the error carries one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::AllRateLimited { retry_after, .. }
            | Self::NoCandidate {
                retry_after: Some(retry_after),
                ..
            }
            | Self::KeyRateLimited { retry_after, .. }
            | Self::AddressRateLimited { retry_after, .. }
            | Self::OverBudget {
                retry_after: Some(retry_after),
                ..
            } => Some(ceil_secs(*retry_after).max(1)),
            _ => None,
        }
    }

    /// The JSON body for a client of `dialect`.
    pub fn envelope(&self, dialect: Dialect) -> Bytes {
        let (kind, code, param) = self.kind();
        let message = self.to_string();
        dialect.error_body(&ErrorReply {
            status: self.status(),
            kind,
            code,
            param,
            message: &message,
        })
    }
}

impl From<AuthError> for GatewayError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::MissingKey => Self::MissingKey,
            AuthError::UnknownKey => Self::UnknownKey,
            AuthError::Expired => Self::KeyExpired,
        }
    }
}

impl From<BodyError> for GatewayError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::NotJson(why) => Self::InvalidJson(truncate(&why, 200)),
            BodyError::MissingModel => Self::MissingModel,
            BodyError::BadModel => Self::BadModelName { max: MAX_MODEL_LEN },
            BodyError::InvalidField { field, expected } => Self::InvalidField { field, expected },
        }
    }
}

/// Shorten client-supplied text before it goes into a message.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_openai_shape() {
        let e = GatewayError::UnknownModel("gpt-9".into());
        let v: serde_json::Value =
            serde_json::from_slice(&e.envelope(Dialect::OpenAi)).expect("json");
        assert_eq!(e.status(), 404);
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/v1/models")));
    }

    #[test]
    fn retry_after_rounds_up() {
        let e = GatewayError::AllRateLimited {
            model: "m".into(),
            retry_after: Duration::from_millis(1500),
            summary: String::new(),
        };
        assert_eq!(e.retry_after_secs(), Some(2));
        assert_eq!(GatewayError::MissingKey.retry_after_secs(), None);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
