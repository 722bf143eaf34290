//! CORS for browser clients (`cors.allow_origins`): the preflight answer,
//! and the `Access-Control-*` headers on every response to an allowed
//! origin. Off unless configured. A provider's own `Access-Control-*`
//! headers never reach the client (`headers`): they describe the provider's
//! policy, not the gateway's.

use crate::config;
use http::header::{self, HeaderName, HeaderValue};
use pingora::http::{RequestHeader, ResponseHeader};

/// What a browser script may read from a response besides the safelisted
/// headers: the ids that tie a reply to the logs, when to retry, and the
/// key's rate limits.
const EXPOSED: &str = "x-request-id, x-modelgate-provider, x-modelgate-model, \
    x-modelgate-attempts, retry-after, x-ratelimit-limit-requests, \
    x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, \
    x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens";
const METHODS: &str = "GET, POST, OPTIONS";
/// Request headers allowed when a preflight names none it wants.
const DEFAULT_HEADERS: &str = "authorization, content-type";
/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE: &str = "3600";

pub struct Cors {
    any: bool,
    origins: Vec<HeaderValue>,
}

impl Cors {
    pub fn new(conf: &config::Cors) -> Self {
        Self {
            any: conf.allow_origins.iter().any(|o| o == "*"),
            origins: (conf.allow_origins.iter())
                .filter(|o| *o != "*")
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for this request, if it
    /// comes from an allowed origin (`*` when any origin is).
    pub fn allow(&self, req: &RequestHeader) -> Option<HeaderValue> {
        if !self.is_on() {
            return None;
        }
        let origin = req.headers.get(header::ORIGIN)?;
        if self.any {
            return Some(HeaderValue::from_static("*"));
        }
        self.origins.iter().find(|o| *o == origin).cloned()
    }
}

/// Whether `req` is a CORS preflight (an `OPTIONS` asking for a method).
pub fn is_preflight(req: &RequestHeader) -> bool {
    req.method == http::Method::OPTIONS
        && req
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The headers every response to an allowed origin carries.
pub fn add(resp: &mut ResponseHeader, allow: &HeaderValue) -> pingora::Result<()> {
    resp.insert_header(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow.clone())?;
    resp.insert_header(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED)?;
    if allow.as_bytes() != b"*" {
        resp.append_header(header::VARY, "Origin")?;
    }
    Ok(())
}

/// The preflight's answer headers (beyond `add`): the methods, the request
/// headers the browser asked for (any: the gateway's own checks decide),
/// and how long to remember it.
pub fn add_preflight(resp: &mut ResponseHeader, req: &RequestHeader) -> pingora::Result<()> {
    resp.insert_header(header::ACCESS_CONTROL_ALLOW_METHODS, METHODS)?;
    let asked = (req.headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS))
        .filter(|v| is_header_list(v.as_bytes()))
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_HEADERS));
    resp.insert_header(header::ACCESS_CONTROL_ALLOW_HEADERS, asked)?;
    resp.insert_header(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE)?;
    Ok(())
}

/// A comma-separated list of header names, as browsers send in
/// `Access-Control-Request-Headers`.
fn is_header_list(v: &[u8]) -> bool {
    v.len() <= 1024
        && v.split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .all(|name| HeaderName::from_bytes(name).is_ok())
}
