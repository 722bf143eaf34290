//! The gateway as a Pingora HTTP application (`HttpServerApp`): Pingora
//! accepts connections and parses each request head; the gateway answers
//! and owns the upstream exchange itself (see `exchange`). It does not sit
//! on Pingora's `ProxyHttp` loop: that loop replays at most 64 KiB of
//! request body on retry (LLM requests are routinely larger), and its
//! per-request state, which the gateway never used, was a 14 KiB future
//! copied on every request. Pingora still provides the server, the
//! downstream HTTP sessions and keep-alive, pooled upstream connections (its
//! transport connector and H1 client, see `conn`), TLS, and graceful restarts.

mod batch;
mod body;
mod classify;
mod conn;
mod ctx;
mod deliver;
mod drain;
mod exchange;
mod forward;
mod headers;
mod local;
mod probe;
mod respond;
mod upstream;
mod usage;

pub use body::RequestBody;
pub use classify::{classify, final_error, status_label, Failure, Served, Verdict};
pub use conn::Connector;
pub use ctx::RequestCtx;
pub use drain::Drain;
pub use probe::Prober;
pub use upstream::{BadHeader, Upstream};
pub use usage::Usage;

use crate::access_log::AccessLog;
use crate::auth::Auth;
use crate::config::{Config, Timeouts};
use crate::error::{truncate, GatewayError};
use crate::metrics::Metrics;
use crate::providers::ApiRoute;
use crate::routing::{Endpoints, Health, Report, Router};
use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use pingora::ErrorType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Everything the request path reads; built once at load, shared read-only.
pub struct State {
    pub auth: Auth,
    pub router: Router,
    pub upstreams: Vec<Upstream>,
    pub connector: Connector,
    pub timeouts: Timeouts,
    pub max_body: u64,
    pub max_attempts: u32,
    pub cooldown: Duration,
    /// Set once a graceful upgrade or stop began (see `drain`).
    pub draining: AtomicBool,
    pub metrics: Metrics,
    pub access_log: AccessLog,
}

impl State {
    pub fn new(
        config: &Config,
        endpoints: &Endpoints,
        of_instance: &[usize],
        connector: Connector,
        access_log: AccessLog,
    ) -> Result<Self, String> {
        let upstreams = config
            .instances
            .iter()
            .zip(of_instance)
            .map(|(inst, &e)| match endpoints.get(e) {
                Some(pool) => Upstream::new(inst, pool.clone(), &config.routing.timeouts),
                None => Err(BadHeader(inst.id.clone())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let router = Router::new(config, Arc::new(Health::new(config)));
        // Model labels: the routable names, nothing a client made up.
        let names = router.model_names().iter().map(|n| n.id.clone());
        let metrics = Metrics::new(names).map_err(|e| format!("metrics: {e}"))?;
        Ok(Self {
            auth: Auth::new(&config.auth),
            router,
            upstreams,
            connector,
            timeouts: config.routing.timeouts,
            max_body: config.routing.max_body,
            max_attempts: config.routing.max_attempts,
            cooldown: config.routing.cooldown,
            draining: AtomicBool::new(false),
            metrics,
            access_log,
        })
    }

    /// Each instance with what is known about it now (for `/health` and
    /// the instance gauges).
    pub fn reports(&self) -> impl Iterator<Item = (&Upstream, Report)> + '_ {
        let health = self.router.health();
        (self.upstreams.iter().enumerate())
            .filter_map(move |(i, up)| Some((up, health.report(i, up.endpoint.is_healthy())?)))
    }
}

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
        self.state.metrics.request_started(ctx);
        if self.state.draining.load(Ordering::Relaxed) {
            session.set_keepalive(None);
        }
        if let Err(e) = self.serve(session, ctx).await {
            forward::fail(session, ctx, &e).await;
        }
        self.state.metrics.request_finished(ctx);
        self.state.access_log.write(ctx);
    }

    /// Route one request to its handler; every branch writes a response.
    async fn serve(
        &self,
        session: &mut ServerSession,
        ctx: &mut RequestCtx,
    ) -> Result<(), GatewayError> {
        let state = &self.state;
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let is_get = method == http::Method::GET || method == http::Method::HEAD;
        if method == http::Method::CONNECT {
            // A tunnel request changes how the connection is framed: answer
            // and close, as Pingora's own proxy does.
            session.set_keepalive(None);
            return Err(GatewayError::MethodNotAllowed {
                method: method.to_string(),
                path: truncate(&path, 200),
            });
        }
        match (path.as_str(), ApiRoute::from_path(&path)) {
            ("/health", _) if is_get => {
                ctx.route = "health";
                let (status, body) = local::health(state);
                respond::json(session, ctx, status, body)
                    .await
                    .map_err(|_| GatewayError::Internal)
            }
            ("/v1/models" | "/models", _) if is_get => {
                ctx.route = "models";
                let caller = state.auth.authenticate(&session.req_header().headers)?;
                ctx.key_name = caller.name.clone();
                let body = local::models(state, &caller);
                respond::json(session, ctx, 200, body)
                    .await
                    .map_err(|_| GatewayError::Internal)
            }
            (_, Some(route)) if method == http::Method::POST => {
                ctx.route = route.label();
                let caller = state.auth.authenticate(&session.req_header().headers)?;
                ctx.key_name = caller.name.clone();
                forward::handle(state, session, ctx, route, &caller).await
            }
            (_, Some(_)) | ("/health" | "/v1/models" | "/models", _) => {
                Err(GatewayError::MethodNotAllowed {
                    method: method.to_string(),
                    path: truncate(&path, 200),
                })
            }
            _ => Err(GatewayError::UnknownPath(truncate(&path, 200))),
        }
    }

    /// A request head Pingora could not parse: a 400 in OpenAI's envelope
    /// (nothing else can be trusted on that connection), then close.
    async fn malformed(&self, mut session: ServerSession, e: &pingora::Error) {
        if e.etype() == &ErrorType::InvalidHTTPHeader {
            let mut ctx = RequestCtx::new();
            ctx.request_id = new_request_id();
            session.set_keepalive(None);
            forward::fail(&mut session, &mut ctx, &GatewayError::MalformedRequest).await;
        }
        session.shutdown().await;
    }
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
    /// One request on a connection: read its head (an idle keep-alive
    /// connection is let go once the server shuts down), answer it, and hand
    /// the connection back to Pingora for the next one.
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        let mut stopping = shutdown.clone();
        let read = tokio::select! {
            biased;
            read = session.read_request() => read,
            _ = stopping.wait_for(|&stop| stop) => return None,
        };
        match read {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                self.malformed(session, &e).await;
                return None;
            }
        }
        if *shutdown.borrow() {
            session.set_keepalive(None);
        }
        let mut ctx = RequestCtx::new();
        self.answer(&mut session, &mut ctx).await;
        let settings = HttpPersistentSettings::for_session(&session);
        let reusable = session.finish().await.ok().flatten()?;
        Some(ReusedHttpStream::from_reusable_stream(reusable, settings))
    }
}
