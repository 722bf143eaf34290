//! Why the gateway cannot start: one variant per thing that can be wrong,
//! each printed as the lines an operator reads (never a key).

use crate::config::{ConfigErrors, ServerConfError};
use crate::observe::{AccessLogError, MetricsError};
use crate::upstream::BadHeader;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `gateway.yaml`: one line per problem, with its key path and line.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// `pingora.yaml`, or a path it names.
    #[error("{0}")]
    ServerConf(#[from] ServerConfError),
    #[error("listen `{addr}`: {why}")]
    Listen { addr: SocketAddr, why: String },
    #[error("listen `{addr}`: TLS certificate `{cert}` or key `{key}`: {why}")]
    Tls {
        addr: SocketAddr,
        cert: String,
        key: String,
        why: String,
    },
    #[error("{0}")]
    AccessLog(#[from] AccessLogError),
    #[error("metrics: {0}")]
    Metrics(#[from] MetricsError),
    #[error("{0}")]
    BadHeader(#[from] BadHeader),
    #[error("cannot handle SIGUSR1: {0}")]
    Signal(std::io::Error),
    /// The store (`store:`) cannot be opened or read.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}
