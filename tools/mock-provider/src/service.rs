//! Per-request handling: reads the body, checks `--require-key`, routes to
//! the endpoint, injects `--fail-every` failures, asks `tools` for the answer
//! under `--tool-calls`, and picks the response body (whole JSON, lazy SSE,
//! or an SSE stream paced by `--chunk-delay-ms`).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use crate::body::MockBody;
use crate::embedding;
use crate::error::ApiError;
use crate::request::{parse_chat, parse_completion, parse_embedding};
use crate::response::{self, json_response, Reply};
use crate::sse::{EventStream, Kind};
use crate::tools::{self, Answer};

/// Largest request body read (bigger ones get 413).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// Fails every `every`-th request counted (1-based: requests N, 2N, ...).
pub struct FailEvery {
    every: u64,
    status: StatusCode,
    seen: AtomicU64,
}

impl FailEvery {
    pub fn new(every: u64, status: StatusCode) -> Self {
        FailEvery {
            every: every.max(1),
            status,
            seen: AtomicU64::new(0),
        }
    }

    /// Counts one request; the error it must get, if it is an N-th one.
    pub fn check(&self) -> Result<(), ApiError> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if n % self.every == 0 {
            Err(ApiError::injected(self.status))
        } else {
            Ok(())
        }
    }
}

/// Settings shared by all connections.
pub struct State {
    pub chunks: usize,
    pub chunk_delay: Duration,
    pub require_key: Option<String>,
    pub fail: Option<FailEvery>,
    pub log: bool,
    /// `--tool-calls`: chat requests with `tools` get tool calls.
    pub tool_calls: bool,
    id_seed: u64,
    ids: AtomicU64,
}

impl State {
    pub fn new(
        chunks: usize,
        chunk_delay: Duration,
        require_key: Option<String>,
        fail: Option<FailEvery>,
        log: bool,
        tool_calls: bool,
    ) -> Self {
        let id_seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        State {
            chunks,
            chunk_delay,
            require_key,
            fail,
            log,
            tool_calls,
            id_seed: id_seed & 0xffff_ffff_ffff,
            ids: AtomicU64::new(0),
        }
    }

    /// A response id unique to this process run, e.g. `chatcmpl-…`.
    fn next_id(&self, prefix: &str) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{:012x}{n:08x}", self.id_seed)
    }
}

#[derive(Clone, Copy)]
enum Endpoint {
    Chat,
    Completion,
    Embedding,
    Models,
}

/// The hyper service function.
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, Infallible> {
    let started = state
        .log
        .then(|| (Instant::now(), req.method().clone(), req.uri().clone()));
    let response = route(&state, req)
        .await
        .unwrap_or_else(ApiError::into_response);
    if let Some((started, method, uri)) = started {
        eprintln!(
            "{method} {uri} -> {} ({:.1?})",
            response.status().as_u16(),
            started.elapsed()
        );
    }
    Ok(response)
}

async fn route(state: &State, req: Request<Incoming>) -> Result<Response<MockBody>, ApiError> {
    let (parts, body) = req.into_parts();
    // Read the whole body first, even for errors, so keep-alive survives.
    let body = read_body(body).await?;
    check_key(state.require_key.as_deref(), &parts.headers)?;

    let path = parts.uri.path();
    let endpoint = match path.strip_prefix("/v1").unwrap_or(path) {
        "/chat/completions" => Endpoint::Chat,
        "/completions" => Endpoint::Completion,
        "/embeddings" => Endpoint::Embedding,
        "/models" => Endpoint::Models,
        _ => return Err(ApiError::not_found(&parts.method, path)),
    };
    let (allowed, allow) = match endpoint {
        Endpoint::Models => (Method::GET, "GET"),
        _ => (Method::POST, "POST"),
    };
    if parts.method != allowed {
        return Err(ApiError::method_not_allowed(&parts.method, path, allow));
    }
    if let Some(fail) = &state.fail {
        fail.check()?;
    }

    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (kind, req, prefix) = match endpoint {
        Endpoint::Models => return Ok(json_response(StatusCode::OK, response::models()?)),
        Endpoint::Embedding => {
            let req = parse_embedding(&body)?;
            return Ok(json_response(StatusCode::OK, embedding::embeddings(&req)?));
        }
        Endpoint::Chat => (Kind::Chat, parse_chat(&body)?, "chatcmpl-"),
        Endpoint::Completion => (Kind::Completion, parse_completion(&body)?, "cmpl-"),
    };
    let answer = if kind == Kind::Chat && state.tool_calls {
        tools::answer(&body, &req.model)?
    } else {
        Answer::Usual
    };
    let id = state.next_id(prefix);
    if req.stream {
        let events = EventStream::new(
            kind,
            id,
            created,
            req.model,
            state.chunks,
            req.include_usage,
            req.prompt_tokens,
        )
        .answer(answer);
        return Ok(sse_response(events, state.chunk_delay));
    }
    let reply = Reply {
        id: &id,
        created,
        model: &req.model,
        prompt_tokens: req.prompt_tokens,
    };
    let json = match kind {
        Kind::Chat => response::chat_completion(&reply, &answer)?,
        Kind::Completion => response::text_completion(&reply)?,
    };
    Ok(json_response(StatusCode::OK, json))
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(MAX_BODY)),
        Err(e) => Err(ApiError::invalid(
            format!("Could not read the request body: {e}"),
            None,
            None,
        )),
    }
}

/// `--require-key`: the request must carry `Authorization: Bearer <key>`.
fn check_key(required: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(required) = required else {
        return Ok(());
    };
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(key) if key == required => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            "Incorrect API key provided. The mock-provider was started with --require-key.",
        )),
        None => Err(ApiError::unauthorized(
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )),
    }
}

/// A `text/event-stream` response; paced by a task when there is a delay.
fn sse_response(mut events: EventStream, delay: Duration) -> Response<MockBody> {
    let body = if delay.is_zero() {
        MockBody::Events(events)
    } else {
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            while !events.is_done() {
                if events.paced_before_next() {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        // The client went away: stop producing.
                        _ = tx.closed() => return,
                    }
                }
                let Some(event) = events.next() else { return };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        MockBody::Paced(rx)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_every_hits_each_nth_request() {
        let fail = FailEvery::new(3, StatusCode::TOO_MANY_REQUESTS);
        let outcomes: Vec<bool> = (0..9).map(|_| fail.check().is_err()).collect();
        assert_eq!(
            outcomes,
            vec![false, false, true, false, false, true, false, false, true]
        );
        let err = fail
            .check()
            .and_then(|()| fail.check())
            .and_then(|()| fail.check());
        assert_eq!(
            err.map_err(|e| e.status),
            Err(StatusCode::TOO_MANY_REQUESTS)
        );
    }

    #[test]
    fn fail_every_one_fails_everything() {
        let fail = FailEvery::new(1, StatusCode::SERVICE_UNAVAILABLE);
        assert!((0..5).all(|_| fail.check().is_err()));
    }

    #[test]
    fn require_key_checks_the_bearer_token() {
        let mut headers = HeaderMap::new();
        assert!(check_key(None, &headers).is_ok());
        let missing = check_key(Some("k"), &headers).expect_err("no header");
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing.code, Some("invalid_api_key"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer nope"));
        assert!(check_key(Some("k"), &headers).is_err());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        assert!(check_key(Some("k"), &headers).is_ok());
    }

    #[test]
    fn ids_are_unique_and_prefixed() {
        let state = State::new(20, Duration::ZERO, None, None, false, false);
        let (a, b) = (state.next_id("chatcmpl-"), state.next_id("chatcmpl-"));
        assert!(a.starts_with("chatcmpl-") && a != b);
    }
}
