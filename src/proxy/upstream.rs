//! An instance ready for the request path: its auth header and `Host` built
//! once at load (the key never gets formatted again), its endpoint pool, and
//! the peer settings for Pingora's connector.

use crate::config::{Instance, Timeouts};
use crate::providers::{upstream_path, ApiRoute, AuthStyle, BaseUrl, ProviderType, WireFormat};
use crate::routing::EndpointPool;
use http::header::{HeaderName, HeaderValue};
use pingora::upstreams::peer::HttpPeer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a pooled upstream connection may sit idle before it is closed.
pub const POOL_IDLE: Duration = Duration::from_secs(30);

pub struct Upstream {
    pub id: Arc<str>,
    pub kind: ProviderType,
    pub models: Vec<String>,
    pub wire: WireFormat,
    pub base: BaseUrl,
    pub api_version: Option<String>,
    pub endpoint: Arc<EndpointPool>,
    pub host_header: HeaderValue,
    /// Sensitive: never logged, never shown by `Debug` of the header map.
    pub auth: Option<(HeaderName, HeaderValue)>,
    connect_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("instance `{0}`: its key or host cannot be sent in an HTTP header")]
pub struct BadHeader(pub String);

impl Upstream {
    pub fn new(
        inst: &Instance,
        endpoint: Arc<EndpointPool>,
        timeouts: &Timeouts,
    ) -> Result<Self, BadHeader> {
        let bad = || BadHeader(inst.id.clone());
        let spec = inst.kind.spec();
        let auth = match &inst.api_key {
            None => None,
            Some(key) => {
                let (name, text) = match spec.auth {
                    AuthStyle::Bearer => (
                        http::header::AUTHORIZATION,
                        format!("Bearer {}", key.expose()),
                    ),
                    AuthStyle::ApiKeyHeader => {
                        (HeaderName::from_static("api-key"), key.expose().to_string())
                    }
                };
                let mut value = HeaderValue::from_str(&text).map_err(|_| bad())?;
                value.set_sensitive(true);
                Some((name, value))
            }
        };
        Ok(Self {
            id: Arc::from(inst.id.as_str()),
            kind: inst.kind,
            models: inst.models.clone(),
            wire: spec.wire,
            base: inst.base_url.clone(),
            api_version: inst.api_version.clone(),
            endpoint,
            host_header: HeaderValue::from_str(&inst.base_url.host_header()).map_err(|_| bad())?,
            auth,
            connect_timeout: timeouts.connect,
        })
    }

    pub fn path(&self, route: ApiRoute, model: &str) -> String {
        upstream_path(
            self.wire,
            &self.base,
            route,
            model,
            self.api_version.as_deref(),
        )
    }

    /// The peer for one attempt at `addr`.
    pub fn peer(&self, addr: SocketAddr) -> HttpPeer {
        let mut peer = HttpPeer::new(addr, self.base.tls, self.base.host.clone());
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.total_connection_timeout = Some(self.connect_timeout);
        peer.options.idle_timeout = Some(POOL_IDLE);
        peer
    }
}
