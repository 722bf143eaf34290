//! Everything the request path reads, built once at load and shared
//! read-only by every request.

use super::connection;
use super::cors::Cors;
use crate::config::{Config, Timeouts};
use crate::observe::{AccessLog, Metrics, MetricsError};
use crate::routing::{Health, Report, Router};
use crate::teams::Teams;
use crate::upstream::{Connector, Upstream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// `/v1/usage` queries run at once (the store answers one at a time anyway).
const USAGE_QUERIES: usize = 2;

pub struct State {
    /// Keys, limits, budgets and the usage store.
    pub teams: Teams,
    pub router: Router,
    /// By instance index, as routing numbers them.
    pub upstreams: Arc<[Upstream]>,
    pub connector: Arc<Connector>,
    pub timeouts: Timeouts,
    pub max_body: u64,
    pub max_attempts: u32,
    pub cooldown: Duration,
    /// Set once a graceful upgrade or stop began: every response from then
    /// on closes its connection.
    pub draining: AtomicBool,
    pub metrics: Metrics,
    pub access_log: AccessLog,
    /// Client connections and their limits.
    pub connections: Arc<connection::Table>,
    pub cors: Cors,
    /// `/v1/usage` queries run on blocking threads: a few at a time, so
    /// that a key hammering it queues instead of filling the blocking pool.
    pub usage_queries: tokio::sync::Semaphore,
}

/// What the server built for the request path to share.
pub struct Parts {
    pub teams: Teams,
    pub upstreams: Arc<[Upstream]>,
    pub connector: Arc<Connector>,
    pub health: Arc<Health>,
    pub access_log: AccessLog,
    /// The process's file descriptor limit.
    pub fd_limit: u64,
}

impl State {
    /// Fails only if the metrics cannot be built.
    pub fn new(config: &Config, parts: Parts) -> Result<Self, MetricsError> {
        let router = Router::new(config, parts.health);
        // Model labels: the routable names, nothing a client made up.
        let metrics = Metrics::new(router.model_names().iter().map(|n| n.id.clone()))?;
        Ok(Self {
            teams: parts.teams,
            router,
            upstreams: parts.upstreams,
            connector: parts.connector,
            timeouts: config.routing.timeouts,
            max_body: config.routing.max_body,
            max_attempts: config.routing.max_attempts,
            cooldown: config.routing.cooldown,
            draining: AtomicBool::new(false),
            metrics,
            access_log: parts.access_log,
            connections: Arc::new(connection::Table::new(config.connections, parts.fd_limit)),
            cors: Cors::new(&config.cors),
            usage_queries: tokio::sync::Semaphore::new(USAGE_QUERIES),
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
