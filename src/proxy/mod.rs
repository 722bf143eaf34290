//! The `ProxyHttp` implementation. modelgate answers every request inside
//! `request_filter` and owns the upstream exchange itself (see `exchange`):
//! Pingora's proxy loop replays at most 64 KiB of request body on retry, and
//! LLM requests are routinely larger. Pingora still provides the server,
//! the downstream HTTP sessions, pooled upstream connections (its
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
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
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

    /// Route one request to its handler; every branch writes a response.
    async fn serve(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), GatewayError> {
        let state = &self.state;
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let is_get = method == http::Method::GET || method == http::Method::HEAD;
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
}

fn request_id(session: &Session) -> String {
    session
        .req_header()
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string)
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    /// No downstream modules: the default installs a (disabled) compression
    /// module whose filters would still run on every SSE chunk.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    /// The whole request is served here, so this always returns `Ok(true)`:
    /// local endpoints, auth, body, routing, and the upstream attempt loop.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.request_id = request_id(session);
        self.state.metrics.request_started(ctx);
        if self.state.draining.load(Ordering::Relaxed) {
            session.as_downstream_mut().set_keepalive(None);
        }
        if let Err(e) = self.serve(session, ctx).await {
            forward::fail(session, ctx, &e).await;
        }
        Ok(true)
    }

    /// Never reached: `request_filter` always answers. Pingora requires it.
    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        Err(Error::explain(
            ErrorType::InternalError,
            "modelgate serves every request in request_filter",
        ))
    }

    /// Only reached if Pingora itself fails before `request_filter` answers
    /// (e.g. a malformed request head): answer in OpenAI's envelope.
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        log::debug!(
            "request {}: pingora error {}",
            ctx.request_id,
            e.etype().as_str()
        );
        forward::fail(session, ctx, &GatewayError::Internal).await;
        FailToProxy {
            error_code: 500,
            can_reuse_downstream: false,
        }
    }

    /// Once per request, after the response: metrics and the JSON access
    /// log line, both from the finished context.
    async fn logging(&self, _session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        self.state.metrics.request_finished(ctx);
        self.state.access_log.write(ctx);
    }
}
