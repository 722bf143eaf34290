//! Active health checks that cost nothing: every `health_check.interval`,
//! each instance's model list (`GET {base_url}/models`, Azure's
//! `/openai/models`) with its own key — free on every provider, and it
//! proves the key as well as the server — over the same pooled connector as
//! real traffic. The result goes to `routing::Health`, which weighs it
//! against real traffic.
//!
//! A key that a request got a 401/403 for is *suspect*: `Health` wakes the
//! prober, which re-checks that key at once, with nothing from the request.
//!
//! The first periodic check runs one interval after start: until then every
//! instance counts as healthy (nothing is marked down before it is checked).

use super::connector::{self, Connector, Wire};
use super::Upstream;
use crate::config::HealthCheckConf;
use crate::dialect::Dialect;
use crate::routing::{Health, Probe};
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::RequestHeader;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub struct Prober {
    upstreams: Arc<[Upstream]>,
    connector: Arc<Connector>,
    health: Arc<Health>,
    interval: Duration,
    timeout: Duration,
    /// `timeouts.idle`, for the reply bodies it discards.
    idle: Duration,
}

impl Prober {
    pub fn new(
        upstreams: Arc<[Upstream]>,
        connector: Arc<Connector>,
        health: Arc<Health>,
        checks: HealthCheckConf,
        idle: Duration,
    ) -> Self {
        Self {
            upstreams,
            connector,
            health,
            interval: checks.interval,
            timeout: checks.timeout,
            idle,
        }
    }

    async fn check(&self, i: usize) {
        let Some(up) = self.upstreams.get(i) else {
            return;
        };
        // No address up: the endpoint's own check already shows it unhealthy.
        let Some(addr) = up.endpoint.address().await else {
            return;
        };
        let probe = match tokio::time::timeout(self.timeout, self.get_models(up, addr)).await {
            Ok(Ok(status)) => Probe::Answered(status),
            Ok(Err(e)) => {
                log::debug!(
                    "instance {}: health check failed: {}",
                    up.id,
                    e.etype().as_str()
                );
                Probe::NoAnswer
            }
            Err(_) => Probe::NoAnswer,
        };
        self.health.probed(i, probe, self.interval);
    }

    async fn get_models(&self, up: &Upstream, addr: std::net::SocketAddr) -> pingora::Result<u16> {
        let peer = up.peer(addr);
        let path = up.models_path();
        let mut req = RequestHeader::build_no_case("GET", path.as_bytes(), Some(4))?;
        req.insert_header(http::header::HOST, up.host_header.clone())?;
        req.insert_header(http::header::USER_AGENT, "modelgate-health-check")?;
        for (name, value) in &up.auth {
            req.insert_header(name.clone(), value.clone())?;
        }
        let wire = Wire::new(&req, &Bytes::new())?;
        let (stream, _) = self.connector.connect(&peer).await?;
        let conn = connector::exchange(stream, &peer, &wire).await?;
        let status = match (connector::status(&conn), up.dialect) {
            // Gemini answers a bad key with a 400; a model list has no
            // request of its own to be wrong.
            (400, Dialect::Gemini) => 401,
            (status, _) => status,
        };
        self.connector.discard(conn, &peer, self.idle).await;
        Ok(status)
    }
}

#[async_trait]
impl BackgroundService for Prober {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let every: Vec<usize> = (0..self.upstreams.len()).collect();
        let mut next = Instant::now() + self.interval;
        loop {
            let due = tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep_until(next) => every.clone(),
                () = self.health.recheck_wanted() => self.health.suspects(),
            };
            futures::future::join_all(due.iter().map(|&i| self.check(i))).await;
            if Instant::now() >= next {
                next = Instant::now() + self.interval;
            }
        }
    }
}
