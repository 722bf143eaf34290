//! Header rewriting in both directions. Upstream: an allow-list of the
//! client's headers, plus the instance's own auth (built once at load,
//! marked sensitive), `Host` and `x-request-id`.
//! Downstream: the provider's headers minus hop-by-hop ones and cookies,
//! plus `x-request-id` and the `x-modelgate-*` routing headers.

use crate::upstream::Upstream;
use http::header::{self, HeaderName};
use pingora::http::{RequestHeader, ResponseHeader};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_UPSTREAM_REQUEST_ID: HeaderName = HeaderName::from_static("x-upstream-request-id");
const X_PROVIDER: HeaderName = HeaderName::from_static("x-modelgate-provider");
const X_MODEL: HeaderName = HeaderName::from_static("x-modelgate-model");
const X_ATTEMPTS: HeaderName = HeaderName::from_static("x-modelgate-attempts");

/// The only client headers forwarded upstream. An allow-list, because a
/// client header can change whose account pays or get a shared key banned:
/// `OpenAI-Organization: org-bogus` next to a provider key makes OpenAI
/// answer 401, which took that key out of rotation for everyone. Forwarded:
/// content negotiation, the client's `user-agent`, the SDKs' `x-stainless-*`
/// telemetry, API version and beta flags (`openai-beta`, `anthropic-version`,
/// `anthropic-beta`), and OpenRouter's app attribution (`http-referer`,
/// `x-title`). Never: credentials, cookies, `Forwarded`/`X-Forwarded-*`,
/// hop-by-hop headers, or `accept-encoding` (the gateway reads upstream
/// bodies, so it asks for identity encoding). `x-request-id`, `host`,
/// `content-length` and the instance's auth are set by the gateway.
const FORWARD_UPSTREAM: &[&str] = &[
    "accept",
    "content-type",
    "user-agent",
    "openai-beta",
    "anthropic-version",
    "anthropic-beta",
    "http-referer",
    "x-title",
];

/// Forwarded upstream by prefix (see `FORWARD_UPSTREAM`), at most
/// `MAX_PREFIXED` of them: the SDKs send about ten, and a request with a
/// few hundred made an upstream drop the connection, which counts against
/// the instance's breaker for everyone.
const FORWARD_UPSTREAM_PREFIX: &str = "x-stainless-";
const MAX_PREFIXED: usize = 24;

/// Meaningful only to a provider of the client's own dialect: not sent
/// when the request is translated (an OpenAI-format provider has no use
/// for Claude Code's betas, and Anthropic's version is the gateway's own).
const DIALECT_HEADERS: &[&str] = &["openai-beta", "anthropic-version", "anthropic-beta"];

fn forwarded_upstream(name: &HeaderName, translated: bool) -> bool {
    let name = name.as_str();
    if translated && DIALECT_HEADERS.contains(&name) {
        return false;
    }
    FORWARD_UPSTREAM.contains(&name) || name.starts_with(FORWARD_UPSTREAM_PREFIX)
}

/// Never passed back to the client.
const DROP_DOWNSTREAM: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
    // A provider's cookies belong to the gateway's account, not to the client.
    "set-cookie",
    // Names the provider account behind the key.
    "openai-organization",
    "openai-project",
    "x-request-id",
    // The provider's CORS policy is not the gateway's (see `cors`).
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
];

fn listed_in_connection(connection: Option<&http::HeaderValue>, name: &HeaderName) -> bool {
    connection.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(name.as_str()))
    })
}

/// The request header sent to `up` (`translated`: the body is in the
/// provider's dialect, not the client's).
pub fn upstream_request(
    client: &RequestHeader,
    up: &Upstream,
    path: &str,
    body_len: usize,
    request_id: &str,
    translated: bool,
) -> pingora::Result<RequestHeader> {
    let mut req =
        RequestHeader::build_no_case("POST", path.as_bytes(), Some(client.headers.len() + 4))?;
    let connection = client.headers.get(header::CONNECTION);
    let mut prefixed = 0;
    for (name, value) in client.headers.iter() {
        if !forwarded_upstream(name, translated) || listed_in_connection(connection, name) {
            continue;
        }
        if name.as_str().starts_with(FORWARD_UPSTREAM_PREFIX) {
            prefixed += 1;
            if prefixed > MAX_PREFIXED {
                continue;
            }
        }
        req.append_header(name.clone(), value.clone())?;
    }
    req.insert_header(header::HOST, up.host_header.clone())?;
    req.insert_header(header::CONTENT_LENGTH, body_len)?;
    if translated || !client.headers.contains_key(header::CONTENT_TYPE) {
        req.insert_header(header::CONTENT_TYPE, "application/json")?;
    }
    for (name, value) in &up.auth {
        // On pass-through the client's own API version wins: it is what its
        // body was written for. The instance's is the default.
        if !translated && name == "anthropic-version" && client.headers.contains_key(name) {
            continue;
        }
        req.insert_header(name.clone(), value.clone())?;
    }
    req.insert_header(X_REQUEST_ID, request_id)?;
    Ok(req)
}

/// What the gateway adds to every routed response.
pub struct Routed<'a> {
    pub request_id: &'a str,
    pub instance: &'a str,
    pub model: &'a str,
    pub attempts: u32,
}

/// The response header for the client, from the provider's.
pub fn client_response(
    upstream: &ResponseHeader,
    routed: &Routed<'_>,
    extra: usize,
) -> pingora::Result<ResponseHeader> {
    // Room for the routed headers and `extra` more (a key's rate limits),
    // so that adding them never regrows the map.
    let room = upstream.headers.len() + 5 + extra;
    let mut resp = ResponseHeader::build_no_case(upstream.status, Some(room))?;
    let connection = upstream.headers.get(header::CONNECTION);
    for (name, value) in upstream.headers.iter() {
        if DROP_DOWNSTREAM.contains(&name.as_str()) || listed_in_connection(connection, name) {
            continue;
        }
        resp.append_header(name.clone(), value.clone())?;
    }
    if let Some(id) = upstream.headers.get(X_REQUEST_ID) {
        resp.insert_header(X_UPSTREAM_REQUEST_ID, id.clone())?;
    }
    add_routed(&mut resp, routed)?;
    Ok(resp)
}

pub fn add_routed(resp: &mut ResponseHeader, routed: &Routed<'_>) -> pingora::Result<()> {
    resp.insert_header(X_REQUEST_ID, routed.request_id)?;
    resp.insert_header(X_PROVIDER, routed.instance)?;
    resp.insert_header(X_MODEL, routed.model)?;
    resp.insert_header(X_ATTEMPTS, routed.attempts)?;
    Ok(())
}
