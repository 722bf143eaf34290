//! Active health checks that cost nothing: every `health_check.interval`,
//! `GET {base_url}/models` with each OpenAI-style instance's own key (free on
//! every provider, and it proves the key as well as the server), over the
//! same pooled connector as real traffic. Instances of other wire formats
//! rely on their endpoint pool's TCP check. The verdict goes to
//! `routing::Health`, which weighs it against real traffic.
//!
//! The first check runs one interval after start: until then every
//! instance counts as healthy (nothing is marked down before it is checked).

use super::connector::{self, Connector, Wire};
use super::Upstream;
use crate::config::HealthCheckConf;
use crate::routing::{probe_outcome, Health, ProbeOutcome};
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
        let outcome = match tokio::time::timeout(self.timeout, self.get_models(up, addr)).await {
            Ok(Ok(status)) => probe_outcome(status),
            Ok(Err(e)) => {
                log::debug!(
                    "instance {}: health check failed: {}",
                    up.id,
                    e.etype().as_str()
                );
                ProbeOutcome::Down
            }
            Err(_) => ProbeOutcome::Down,
        };
        self.health.probed(i, outcome, self.interval);
    }

    async fn get_models(&self, up: &Upstream, addr: std::net::SocketAddr) -> pingora::Result<u16> {
        let peer = up.peer(addr);
        let path = format!("{}/models", up.base.path_prefix);
        let mut req = RequestHeader::build_no_case("GET", path.as_bytes(), Some(4))?;
        req.insert_header(http::header::HOST, up.host_header.clone())?;
        req.insert_header(http::header::USER_AGENT, "modelgate-health-check")?;
        for (name, value) in &up.auth {
            req.insert_header(name.clone(), value.clone())?;
        }
        let wire = Wire::new(&req, &Bytes::new())?;
        let (stream, _) = self.connector.connect(&peer).await?;
        let conn = connector::exchange(stream, &peer, &wire).await?;
        let status = connector::status(&conn);
        self.connector.discard(conn, &peer, self.idle).await;
        Ok(status)
    }
}

#[async_trait]
impl BackgroundService for Prober {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let probed: Vec<usize> = (self.upstreams.iter().enumerate())
            .filter(|(_, up)| up.health_checked())
            .map(|(i, _)| i)
            .collect();
        if probed.is_empty() {
            return;
        }
        let mut next = Instant::now() + self.interval;
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep_until(next) => {}
            }
            futures::future::join_all(probed.iter().map(|&i| self.check(i))).await;
            next = Instant::now() + self.interval;
        }
    }
}
