//! Per-request state, filled in as the request moves along; `logging` reads
//! it for the access-log line.

use std::sync::Arc;
use std::time::Instant;

#[derive(Debug)]
pub struct RequestCtx {
    pub start: Instant,
    pub request_id: String,
    /// The gateway key's name, once authenticated.
    pub key_name: Option<Arc<str>>,
    pub route: &'static str,
    pub requested_model: Option<String>,
    pub stream: bool,
    /// Whether the response body went out without a `Content-Length` (so
    /// its end can still be framed after an upstream failure).
    pub chunked: bool,
    /// The instance and upstream model that served (or last failed).
    pub instance: Option<Arc<str>>,
    pub upstream_model: Option<Arc<str>>,
    pub attempts: u32,
    pub status: u16,
    /// When the first response byte went to the client.
    pub first_byte: Option<Instant>,
    /// Why the request ended badly, for the log (never a secret).
    pub note: Option<String>,
}

impl RequestCtx {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            request_id: String::new(),
            key_name: None,
            route: "-",
            requested_model: None,
            stream: false,
            chunked: false,
            instance: None,
            upstream_model: None,
            attempts: 0,
            status: 0,
            first_byte: None,
            note: None,
        }
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
