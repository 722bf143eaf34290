//! The request record: per-request state, filled in as the request moves
//! along; metrics and the access log read it once the request is over.

use crate::dialect::{Dialect, Usage};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One upstream attempt, for the access log and metrics.
#[derive(Debug, Clone)]
pub struct AttemptLog {
    pub instance: Arc<str>,
    /// The status code, or `timeout`, `connect_error`, `bad_response`,
    /// `client_left`.
    pub outcome: Cow<'static, str>,
    pub ms: u64,
}

#[derive(Debug)]
pub struct RequestCtx {
    pub start: Instant,
    pub request_id: String,
    /// The gateway key's name, once authenticated.
    pub key_name: Option<Arc<str>>,
    pub route: &'static str,
    /// An API call by a known key (or on an open gateway), routed or
    /// refused by a limit: recorded in the store and counted under its key.
    pub api_call: bool,
    /// The client's dialect: errors are answered in it.
    pub dialect: Dialect,
    pub requested_model: Option<String>,
    pub stream: bool,
    /// Whether the response body went out without a `Content-Length` (so
    /// its end can still be framed after an upstream failure).
    pub chunked: bool,
    /// The instance and upstream model that served (or last failed), and
    /// the instance's index (as routing numbers them).
    pub instance: Option<Arc<str>>,
    pub instance_index: Option<usize>,
    pub upstream_model: Option<Arc<str>>,
    pub attempts: u32,
    pub status: u16,
    /// When the first response byte went to the client.
    pub first_byte: Option<Instant>,
    /// Why the request ended badly, for the log (never a secret).
    pub note: Option<String>,
    pub attempt_log: Vec<AttemptLog>,
    /// Time spent waiting on upstreams (connect to response head), over
    /// every attempt: the rest of the time to first byte is the gateway's.
    pub upstream_wait: Duration,
    pub bytes_in: usize,
    pub bytes_out: usize,
    pub usage: Option<Usage>,
    /// What the usage cost, where the model has a price.
    pub cost_usd: Option<f64>,
    /// OpenAI's `x-ratelimit-*` headers, for a key with rate limits: on
    /// every response to it.
    pub rate_limit: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Counted in the in-flight gauge (so the metrics take it out once).
    pub in_flight: bool,
    /// `Access-Control-Allow-Origin` for every response, when the request
    /// comes from an origin `cors` allows.
    pub cors: Option<http::HeaderValue>,
}

impl RequestCtx {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            request_id: String::new(),
            key_name: None,
            route: "-",
            api_call: false,
            dialect: Dialect::OpenAi,
            requested_model: None,
            stream: false,
            chunked: false,
            instance: None,
            instance_index: None,
            upstream_model: None,
            attempts: 0,
            status: 0,
            first_byte: None,
            note: None,
            attempt_log: Vec::new(),
            upstream_wait: Duration::ZERO,
            bytes_in: 0,
            bytes_out: 0,
            usage: None,
            cost_usd: None,
            rate_limit: Vec::new(),
            in_flight: false,
            cors: None,
        }
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}

/// A status code as a label, without allocating for the common ones.
pub fn status_label(status: u16) -> Cow<'static, str> {
    match status {
        200 => "200".into(),
        400 => "400".into(),
        401 => "401".into(),
        403 => "403".into(),
        404 => "404".into(),
        429 => "429".into(),
        500 => "500".into(),
        502 => "502".into(),
        503 => "503".into(),
        504 => "504".into(),
        other => other.to_string().into(),
    }
}
