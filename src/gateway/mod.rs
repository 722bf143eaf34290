//! The gateway as a Pingora HTTP application (`HttpServerApp`): Pingora
//! accepts connections and parses each request head; the gateway answers
//! and owns the upstream exchange itself. It does not sit on Pingora's
//! `ProxyHttp` loop: that loop replays at most 64 KiB of request body on
//! retry (LLM requests are routinely larger), and its per-request state,
//! which the gateway never used, was a 14 KiB future copied on every
//! request. Pingora still provides the server, the downstream HTTP sessions
//! and keep-alive, pooled upstream connections, TLS, and graceful restarts.
//!
//! A request, step by step (each step is one module):
//! 1. `process_new_http` reads the head; a head Pingora cannot parse gets a
//!    400 and the connection closes.
//! 2. [`Gateway::serve`], the path table below, picks the handler: `/health`
//!    and `/v1/models` are answered locally (`local`); an API route is
//!    authenticated (`teams`) and handed to `failover`.
//! 3. `failover` reads the body (`client`), parses it (`dialect`), checks the
//!    key's grant, asks `routing` for a plan and walks it.
//! 4. `attempt` runs one candidate: headers rewritten (`headers`), sent over
//!    a pooled connection (`upstream`), the response head judged by
//!    `classify` (deliver, pass through, or fail over).
//! 5. `deliver` writes a decided response: whole, or streamed as it comes.
//! 6. Errors go out in the client's dialect (`error`, `respond`); the
//!    request record (`observe`) is counted and logged once.
//!
//! Must not: decide routing policy (that is `routing`) or know a wire
//! format beyond "which dialect" (that is `dialect`).

mod attempt;
mod classify;
mod client;
mod connection;
mod cors;
mod deliver;
mod encoding;
mod error;
mod failover;
mod headers;
mod ledger;
mod local;
mod respond;
mod state;
mod usage;

pub use classify::{classify, final_error, Failure, Served, Verdict};
pub use connection::Sweeper;
pub use error::{truncate, GatewayError};
pub use state::{Parts, State};

use crate::dialect::ApiRoute;
use crate::observe::RequestCtx;
use crate::teams::Caller;
use async_trait::async_trait;
use connection::{Next, Refused, Slot};
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use pingora::ErrorType;
use pingora_timeout::fast_timeout::fast_timeout;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct Gateway {
    state: Arc<State>,
}

impl Gateway {
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// Answer one request whose head was read, then count and log it.
    async fn answer(&self, session: &mut ServerSession, ctx: &mut RequestCtx) {
        ctx.request_id = request_id(session);
        ctx.cors = self.state.cors.allow(session.req_header());
        // A client that stops reading must not hold an upstream connection
        // (and the stream's buffers) for as long as the stream lasts: a
        // write that cannot proceed for `timeouts.idle` ends the response.
        session.set_write_timeout(Some(self.state.timeouts.idle));
        self.state.metrics.request_started(ctx);
        if self.state.draining.load(Ordering::Relaxed) {
            session.set_keepalive(None);
        }
        let mut caller = None;
        if let Err(e) = self.serve(session, ctx, &mut caller).await {
            respond::fail(session, ctx, &e).await;
        }
        ledger::settle(&self.state, ctx, caller.as_ref());
        self.state.metrics.request_finished(ctx);
        self.state.access_log.write(ctx);
    }

    /// The path table: every branch writes a response or returns the error
    /// the client gets.
    async fn serve(
        &self,
        session: &mut ServerSession,
        ctx: &mut RequestCtx,
        caller: &mut Option<Caller>,
    ) -> Result<(), GatewayError> {
        let state = &self.state;
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let is_get = method == http::Method::GET || method == http::Method::HEAD;
        let not_allowed = || GatewayError::MethodNotAllowed {
            method: method.to_string(),
            path: truncate(&path, 200),
        };
        if method == http::Method::CONNECT {
            // A tunnel request changes how the connection is framed: answer
            // and close, as Pingora's own proxy does.
            session.set_keepalive(None);
            return Err(not_allowed());
        }
        if state.cors.is_on() && cors::is_preflight(req) {
            // A browser asks before a cross-origin call; no key is sent.
            ctx.route = "preflight";
            if ctx.cors.is_none() {
                return Err(GatewayError::OriginNotAllowed);
            }
            return respond::preflight(session, ctx)
                .await
                .map_err(|_| GatewayError::Internal);
        }
        // One address's rate, before anything else is looked at (health
        // checks aside: a monitor must not be locked out by a busy office).
        if path != "/health" {
            (state.teams.check_address(client_ip(session))).map_err(|retry_after| {
                state.metrics.rejected(None, "per_ip");
                GatewayError::AddressRateLimited { retry_after }
            })?;
        }
        // `GET /v1/models/{id}`, decoded once.
        let one_model = if is_get { model_id(&path) } else { None };
        match (path.as_str(), ApiRoute::from_path(&path)) {
            // Per-instance state, never a secret; no key needed.
            ("/health", _) if is_get => {
                ctx.route = "health";
                let (status, body) = local::health(state);
                respond::json(session, ctx, status, body)
                    .await
                    .map_err(|_| GatewayError::Internal)
            }
            // Every name this key may ask for, in OpenAI's list format.
            ("/v1/models" | "/models", _) if is_get => {
                ctx.route = "models";
                let shape = local::ListShape::of(&req.headers);
                ctx.dialect = shape.dialect();
                let caller = authenticate(state, session, ctx, caller)?;
                let body = local::models(state, &caller, shape);
                respond::json(session, ctx, 200, body)
                    .await
                    .map_err(|_| GatewayError::Internal)
            }
            // One name of that list, or 404.
            _ if one_model.is_some() => {
                ctx.route = "models";
                let shape = local::ListShape::of(&req.headers);
                ctx.dialect = shape.dialect();
                let caller = authenticate(state, session, ctx, caller)?;
                let id = one_model.unwrap_or_default();
                let body = local::model(state, &caller, &id, shape)
                    .ok_or_else(|| GatewayError::UnknownModel(truncate(&id, 200)))?;
                respond::json(session, ctx, 200, body)
                    .await
                    .map_err(|_| GatewayError::Internal)
            }
            // The caller's own usage, or everyone's for the admin key.
            ("/v1/usage", _) if is_get => {
                ctx.route = "usage";
                usage::serve(state, session, ctx).await
            }
            // An API call (`/v1/messages?beta=true` too: the query is not
            // part of the path): authenticate, hold the key to its budget
            // and limits, then route with failover.
            (_, Some(route)) if method == http::Method::POST => {
                ctx.route = route.label();
                ctx.dialect = route.dialect();
                let caller = authenticate(state, session, ctx, caller)?;
                // Recorded from here on, refused by a limit or not: an
                // unknown key's requests are not (a flood of them must
                // not fill the store).
                ctx.api_call = true;
                ledger::admit(state, ctx, &caller)?;
                failover::serve(state, session, ctx, route, &caller).await
            }
            // Codex first tries Responses over a WebSocket: refused at once
            // (and the connection closed) so that it falls back to HTTP.
            (_, Some(ApiRoute::Responses)) if is_websocket(req) => {
                ctx.route = ApiRoute::Responses.label();
                session.set_keepalive(None);
                Err(GatewayError::WebSocketRefused)
            }
            (_, Some(_)) | ("/health" | "/v1/models" | "/models" | "/v1/usage", _) => {
                Err(not_allowed())
            }
            _ => Err(GatewayError::UnknownPath(truncate(&path, 200))),
        }
    }

    /// A request head Pingora could not parse: a 400 in OpenAI's envelope
    /// (nothing else can be trusted on that connection), then close.
    async fn malformed(&self, session: ServerSession, e: &pingora::Error) {
        if e.etype() == &ErrorType::InvalidHTTPHeader {
            self.refuse(session, &GatewayError::MalformedRequest).await;
        } else {
            close(session).await;
        }
    }

    /// Answer `err` without reading further (in OpenAI's envelope: the
    /// request may not even have been read), then close; all of it within
    /// `REFUSAL_WRITE`, whether the client reads or not.
    async fn refuse(&self, mut session: ServerSession, err: &GatewayError) {
        let mut ctx = RequestCtx::new();
        ctx.request_id = new_request_id();
        session.set_keepalive(None);
        session.set_write_timeout(Some(REFUSAL_WRITE));
        let answer = async {
            respond::fail(&mut session, &mut ctx, err).await;
            session.shutdown().await;
        };
        let _ = fast_timeout(REFUSAL_WRITE, answer).await;
    }
}

/// The caller by its gateway key, named in the request record and kept
/// in `slot` (its usage is charged to it when the request ends).
fn authenticate(
    state: &State,
    session: &ServerSession,
    ctx: &mut RequestCtx,
    slot: &mut Option<Caller>,
) -> Result<Caller, GatewayError> {
    let caller = state.teams.authenticate(&session.req_header().headers)?;
    ctx.key_name = caller.name.clone();
    *slot = Some(caller.clone());
    Ok(caller)
}

/// The client's address (a Unix socket has none).
fn client_ip(session: &ServerSession) -> Option<std::net::IpAddr> {
    Some(session.client_addr()?.as_inet()?.ip())
}

/// The `{id}` of `/v1/models/{id}` (or `/models/{id}`), percent-decoded:
/// ids may hold a `/` (`groq/llama-3.1-8b-instant`), sent raw or as `%2F`.
fn model_id(path: &str) -> Option<String> {
    let id = (path.strip_prefix("/v1/models/"))
        .or_else(|| path.strip_prefix("/models/"))
        .filter(|id| !id.is_empty())?;
    let decoded = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .ok()?;
    Some(decoded.into_owned())
}

/// A WebSocket upgrade request.
fn is_websocket(req: &pingora::http::RequestHeader) -> bool {
    req.headers
        .get(http::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

fn request_id(session: &ServerSession) -> String {
    session
        .req_header()
        .headers
        .get(headers::X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_string)
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[async_trait]
impl HttpServerApp for Gateway {
    /// One request on a connection: read its head within
    /// `connections.request_head` (an idle keep-alive connection is let go
    /// once the server shuts down), answer it, wait for the next request's
    /// first byte (`connection`), and hand the connection back to Pingora
    /// for it.
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        let table = &self.state.connections;
        // The connection's place: carried over from its previous request,
        // or taken now by a new connection.
        let slot = match (session.take_connection_user_context()).map(|c| c.downcast::<Slot>()) {
            Some(Ok(slot)) => Ok(slot),
            _ => {
                let ip = session
                    .client_addr()
                    .and_then(|a| a.as_inet())
                    .map(|a| a.ip());
                table.admit(ip).map(Box::new)
            }
        };
        let limits = table.limits();
        let head_within = match &slot {
            Ok(slot) if slot.unawaited => limits.request_head + limits.keepalive_idle,
            Ok(_) => limits.request_head,
            // Refused: its head is read only to answer why, and not for
            // long (the descriptor it holds is not counted anywhere).
            Err(_) => limits.request_head.min(REFUSED_HEAD),
        };
        // Bytes after a request's body are the next request (RFC 9112
        // §9.3.2), served in order: without this, Pingora's client watch
        // reads them as "data after the body", the request was taken for
        // abandoned, and the rest of the bytes were read as a new request.
        session.set_pipelining_enabled(true);
        let mut stopping = shutdown.clone();
        let read = tokio::select! {
            biased;
            read = fast_timeout(head_within, session.read_request()) => read,
            _ = stopping.wait_for(|&stop| stop) => return None,
        };
        match read {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return None,
            Ok(Err(e)) => {
                self.malformed(session, &e).await;
                return None;
            }
            Err(_) => {
                let err = match slot {
                    Err(refused) => refused_error(refused),
                    // A TLS keep-alive connection whose wait for a next
                    // request ran out: idle, not slow; closed without a
                    // word like any idle one (a 408 could be read as the
                    // answer to a request sent at that moment).
                    Ok(slot) if slot.unawaited => {
                        close(session).await;
                        return None;
                    }
                    Ok(_) => GatewayError::RequestTimeout {
                        part: "head",
                        limit_s: head_within.as_secs().max(1),
                    },
                };
                self.refuse(session, &err).await;
                return None;
            }
        }
        let mut slot = match slot {
            Ok(slot) => slot,
            Err(refused) => {
                self.refuse(session, &refused_error(refused)).await;
                return None;
            }
        };
        if *shutdown.borrow() {
            session.set_keepalive(None);
        }
        let mut ctx = RequestCtx::new();
        self.answer(&mut session, &mut ctx).await;
        let mut settings = HttpPersistentSettings::for_session(&session);
        let reusable = session.finish().await.ok().flatten()?;
        let (mut stream, pipelined) = reusable.into_parts();
        match pipelined {
            Some(prefix) if !prefix.is_empty() => settings.set_pipelined_prefix(prefix),
            _ => match table.next_request(&mut stream, &slot).await {
                Next::Request => slot.unawaited = false,
                Next::Unknown => slot.unawaited = true,
                Next::Close => return None,
            },
        }
        settings.set_user_context(slot);
        Some(ReusedHttpStream::new(stream, Some(settings)))
    }
}

/// Close a connection without a word (bounded: a TLS close may write).
async fn close(mut session: ServerSession) {
    let _ = fast_timeout(REFUSAL_WRITE, session.shutdown()).await;
}

/// How long a refusal (or a close) may take to write, read or not.
const REFUSAL_WRITE: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest a refused connection may take to send the head its refusal
/// answers.
const REFUSED_HEAD: std::time::Duration = std::time::Duration::from_secs(1);

fn refused_error(refused: Refused) -> GatewayError {
    match refused {
        Refused::PerAddress(max) => GatewayError::TooManyConnections(max),
        Refused::Full => GatewayError::AtCapacity,
    }
}
