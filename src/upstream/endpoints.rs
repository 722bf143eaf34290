//! Upstream endpoints (scheme + host + port) as pingora-load-balancing pools.
//! Provider hosts rotate their IPs, so each pool's discovery re-resolves DNS
//! periodically; a TCP health check marks dead addresses. Keys are not
//! backends here: pingora's `Backend` identity ignores extension data, so an
//! instance (endpoint + key) only borrows an address from its endpoint's pool.
//! One background service drives every pool, instead of a thread per pool.

use crate::config::{Config, HealthCheckConf};
use async_trait::async_trait;
use pingora::lb::discovery::ServiceDiscovery;
use pingora::lb::health_check::TcpHealthCheck;
use pingora::lb::selection::RoundRobin;
use pingora::lb::{Backend, LoadBalancer};
use pingora::protocols::l4::socket::SocketAddr as PingoraAddr;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often a host name is resolved again.
const DNS_REFRESH: Duration = Duration::from_secs(60);

/// Resolves `host:port` on every `discover`; an IP literal needs no lookup.
pub struct DnsDiscovery {
    host: String,
    port: u16,
}

#[async_trait]
impl ServiceDiscovery for DnsDiscovery {
    async fn discover(&self) -> pingora::Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        let addrs: Vec<SocketAddr> = match self.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, self.port)],
            Err(_) => tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map_err(|e| {
                    pingora::Error::because(
                        pingora::ErrorType::ConnectNoRoute,
                        format!("resolving {}", self.host),
                        e,
                    )
                })?
                .collect(),
        };
        let backends = addrs
            .into_iter()
            .map(|a| Backend {
                addr: PingoraAddr::Inet(a),
                weight: 1,
                ext: Default::default(),
            })
            .collect();
        Ok((backends, HashMap::new()))
    }
}

/// One endpoint's pool of addresses.
pub struct EndpointPool {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    lb: LoadBalancer<RoundRobin>,
    resolved: AtomicBool,
}

impl EndpointPool {
    fn new(host: &str, port: u16, tls: bool, hc: &HealthCheckConf) -> Self {
        let discovery = DnsDiscovery {
            host: host.to_string(),
            port,
        };
        let backends = pingora::lb::Backends::new(Box::new(discovery));
        let mut lb = LoadBalancer::<RoundRobin>::from_backends(backends);
        let mut check = TcpHealthCheck::new();
        check.peer_template.options.connection_timeout = Some(hc.timeout);
        // One refused connect is a blip; two in a row take the address out.
        check.consecutive_failure = 2;
        check.consecutive_success = 1;
        lb.set_health_check(check);
        let pool = Self {
            host: host.into(),
            port,
            tls,
            lb,
            resolved: AtomicBool::new(false),
        };
        if host.parse::<IpAddr>().is_ok() {
            // An IP literal resolves without I/O: the pool is ready before start.
            use futures::FutureExt;
            if let Some(Ok(())) = pool.lb.update().now_or_never() {
                pool.resolved.store(true, Ordering::Release);
            }
        }
        pool
    }

    /// A healthy address, resolving the host first if no pass has run yet
    /// (a request right after start or upgrade must not fail for that).
    pub async fn address(&self) -> Option<SocketAddr> {
        if !self.resolved.load(Ordering::Acquire) {
            self.refresh().await;
        }
        match self.lb.select(b"", 256)?.addr {
            PingoraAddr::Inet(a) => Some(a),
            PingoraAddr::Unix(_) => None,
        }
    }

    /// Whether any address is currently healthy (for `/health`).
    pub fn is_healthy(&self) -> bool {
        self.lb.select(b"", 256).is_some()
    }

    async fn refresh(&self) {
        match self.lb.update().await {
            Ok(()) => self.resolved.store(true, Ordering::Release),
            Err(e) => log::warn!("endpoint {}:{}: {e}", self.host, self.port),
        }
    }
}

/// Every endpoint of the config, deduplicated.
pub struct Endpoints {
    pools: Vec<Arc<EndpointPool>>,
    health: HealthCheckConf,
}

impl Endpoints {
    /// The pools, and for each instance (by index) its pool's index.
    pub fn new(config: &Config) -> (Self, Vec<usize>) {
        let mut pools: Vec<Arc<EndpointPool>> = Vec::new();
        let mut of_instance = Vec::with_capacity(config.instances.len());
        let hc = &config.routing.health_check;
        for inst in &config.instances {
            let b = &inst.base_url;
            let found = pools
                .iter()
                .position(|p| p.host == b.host && p.port == b.port && p.tls == b.tls);
            let idx = found.unwrap_or_else(|| {
                pools.push(Arc::new(EndpointPool::new(&b.host, b.port, b.tls, hc)));
                pools.len() - 1
            });
            of_instance.push(idx);
        }
        (Self { pools, health: *hc }, of_instance)
    }

    pub fn get(&self, idx: usize) -> Option<&Arc<EndpointPool>> {
        self.pools.get(idx)
    }

    /// The background work: DNS refresh and health checks of every pool.
    pub fn refresher(&self) -> EndpointRefresher {
        EndpointRefresher {
            pools: self.pools.clone(),
            health: self.health,
        }
    }
}

pub struct EndpointRefresher {
    pools: Vec<Arc<EndpointPool>>,
    health: HealthCheckConf,
}

#[async_trait]
impl BackgroundService for EndpointRefresher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut next_dns = Instant::now();
        let mut next_check = Instant::now() + self.health.interval;
        loop {
            let now = Instant::now();
            if now >= next_dns {
                futures::future::join_all(self.pools.iter().map(|p| p.refresh())).await;
                next_dns = now + DNS_REFRESH;
            }
            if now >= next_check {
                let checks = self
                    .pools
                    .iter()
                    .map(|p| p.lb.backends().run_health_check(true));
                futures::future::join_all(checks).await;
                next_check = Instant::now() + self.health.interval;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep_until(next_dns.min(next_check)) => {}
            }
        }
    }
}
