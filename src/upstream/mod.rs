//! The provider side of the wire: an instance ready to be sent a request
//! ([`Upstream`]: endpoint + key + auth headers, built once at load), the
//! connector with its pooled HTTP/1 connections, the endpoint pools that
//! re-resolve DNS and check TCP health, and the active health prober.
//!
//! Must not: choose candidates or decide a retry (routing and the gateway
//! do), or know a wire format beyond the provider's auth headers.

mod batch;
mod connector;
mod endpoints;
mod instance;
mod probe;

pub use batch::BodyBatches;
pub use connector::{exchange, read_chunk, status, Connector, ReadError, UpSession, Wire};
pub use endpoints::{DnsDiscovery, EndpointPool, Endpoints};
pub use instance::{BadHeader, Upstream};
pub use probe::Prober;
