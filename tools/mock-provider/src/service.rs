//! Per-request handling: tells the dialect from the path, reads the body,
//! checks `--require-key` (in any of the three providers' key headers),
//! routes to the endpoint (the OpenAI ones here, the Anthropic ones in
//! `anthropic_api`, the Gemini ones in `gemini_api`), injects `--fail-every`
//! failures, asks `tools` for the answer under `--tool-calls`, and picks the
//! response body (whole JSON, lazy SSE, or an SSE stream paced by
//! `--chunk-delay-ms`). Errors answer in the request's dialect.

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

use crate::body::{EventSource, MockBody};
use crate::dialect::Dialect;
use crate::error::{ApiError, Cause};
use crate::models::Catalog;
use crate::request::{parse_chat, parse_completion, parse_embedding};
use crate::response::{self, json_response, Reply};
use crate::sse::{EventStream, Kind};
use crate::tools::{self, Answer};
use crate::{anthropic_api, embedding, gemini_api};

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
    /// The models `GET …/models` lists.
    pub models: Catalog,
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
            models: Catalog::default(),
            id_seed: id_seed & 0xffff_ffff_ffff,
            ids: AtomicU64::new(0),
        }
    }

    /// A response id unique to this process run, e.g. `chatcmpl-…`.
    pub fn next_id(&self, prefix: &str) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{:012x}{n:08x}", self.id_seed)
    }

    /// Counts a request to a known endpoint for `--fail-every`.
    pub fn check_fail(&self) -> Result<(), ApiError> {
        match &self.fail {
            Some(fail) => fail.check(),
            None => Ok(()),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    let dialect = Dialect::of(req.uri().path(), req.headers());
    let response = route(&state, dialect, req)
        .await
        .unwrap_or_else(|e| e.into_response(dialect));
    if let Some((started, method, uri)) = started {
        eprintln!(
            "{method} {uri} -> {} ({:.1?})",
            response.status().as_u16(),
            started.elapsed()
        );
    }
    Ok(response)
}

async fn route(
    state: &State,
    dialect: Dialect,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, ApiError> {
    let (parts, body) = req.into_parts();
    // Read the whole body first, even for errors, so keep-alive survives.
    let body = read_body(body).await?;
    if let Some(required) = state.require_key.as_deref() {
        check_key(required, &parts.headers, parts.uri.query())?;
    }
    let (method, path) = (&parts.method, parts.uri.path());
    match dialect {
        Dialect::OpenAi => openai(state, method, path, &body),
        Dialect::Anthropic => anthropic_api::route(state, method, path, &body),
        Dialect::Gemini => gemini_api::route(state, method, path, parts.uri.query(), &body),
    }
}

/// The OpenAI endpoints, exactly as before the other dialects came.
fn openai(
    state: &State,
    method: &Method,
    path: &str,
    body: &Bytes,
) -> Result<Response<MockBody>, ApiError> {
    let endpoint = match path.strip_prefix("/v1").unwrap_or(path) {
        "/chat/completions" => Endpoint::Chat,
        "/completions" => Endpoint::Completion,
        "/embeddings" => Endpoint::Embedding,
        "/models" => Endpoint::Models,
        _ => return Err(ApiError::not_found(method, path)),
    };
    let (allowed, allow) = match endpoint {
        Endpoint::Models => (Method::GET, "GET"),
        _ => (Method::POST, "POST"),
    };
    if method != allowed {
        return Err(ApiError::method_not_allowed(method, path, allow));
    }
    state.check_fail()?;

    let created = now();
    let (kind, req, prefix) = match endpoint {
        Endpoint::Models => {
            let models = state.models.ids();
            return Ok(json_response(
                StatusCode::OK,
                crate::models::openai(&models)?,
            ));
        }
        Endpoint::Embedding => {
            let req = parse_embedding(body)?;
            return Ok(json_response(StatusCode::OK, embedding::embeddings(&req)?));
        }
        Endpoint::Chat => (Kind::Chat, parse_chat(body)?, "chatcmpl-"),
        Endpoint::Completion => (Kind::Completion, parse_completion(body)?, "cmpl-"),
    };
    let answer = if kind == Kind::Chat && state.tool_calls {
        tools::answer(body, &req.model)?
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

/// Where clients put their key: OpenAI's `Authorization: Bearer` (which
/// Anthropic's SDK also sends for an auth token), Anthropic's `x-api-key`,
/// Gemini's `x-goog-api-key`.
const KEY_HEADERS: [&str; 2] = ["x-api-key", "x-goog-api-key"];

/// `--require-key`: one of the key headers (or Gemini's `?key=` query
/// parameter) must carry the key. Any path accepts any of them; the error
/// answers in the path's dialect.
fn check_key(required: &str, headers: &HeaderMap, query: Option<&str>) -> Result<(), ApiError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let others = KEY_HEADERS
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .map(str::trim);
    let in_query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("key="));
    let mut given = bearer.into_iter().chain(others).chain(in_query).peekable();
    if given.peek().is_none() {
        return Err(ApiError::unauthorized(
            Cause::MissingKey,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    }
    if given.any(|key| key == required) {
        return Ok(());
    }
    Err(ApiError::unauthorized(
        Cause::WrongKey,
        "Incorrect API key provided. The mock-provider was started with --require-key.",
    ))
}

/// A `text/event-stream` response; paced by a task when there is a delay.
pub fn sse_response<E: EventSource>(mut events: E, delay: Duration) -> Response<MockBody> {
    let body = if delay.is_zero() {
        events.into_body()
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
        let missing = check_key("k", &headers, None).expect_err("no header");
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing.code, Some("invalid_api_key"));
        assert_eq!(missing.cause, Cause::MissingKey);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer nope"));
        let wrong = check_key("k", &headers, None).expect_err("wrong key");
        assert_eq!(wrong.cause, Cause::WrongKey);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        assert!(check_key("k", &headers, None).is_ok());
    }

    #[test]
    fn require_key_takes_the_anthropic_and_gemini_headers_and_query() {
        for name in KEY_HEADERS {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static("nope"));
            assert!(check_key("k", &headers, None).is_err(), "{name}");
            headers.insert(name, HeaderValue::from_static("k"));
            assert!(check_key("k", &headers, None).is_ok(), "{name}");
        }
        let headers = HeaderMap::new();
        assert!(check_key("k", &headers, Some("alt=sse&key=k")).is_ok());
        let wrong = check_key("k", &headers, Some("key=x")).expect_err("wrong");
        assert_eq!(wrong.cause, Cause::WrongKey);
    }

    #[test]
    fn ids_are_unique_and_prefixed() {
        let state = State::new(20, Duration::ZERO, None, None, false, false);
        let (a, b) = (state.next_id("chatcmpl-"), state.next_id("chatcmpl-"));
        assert!(a.starts_with("chatcmpl-") && a != b);
    }
}
