//! modelgate: a self-hosted LLM gateway on Pingora.
//!
//! Clients speak the OpenAI API to one base URL. For each request the gateway
//! reads the JSON body to learn the `model`, resolves it to an ordered list of
//! candidates (provider instance + upstream model name), and tries them in
//! turn with the whole body replayed, until one answers with something worth
//! delivering. Failover happens only before the first byte goes to the
//! client; after that, bytes (SSE included) pass through as they arrive.
//!
//! The shape of the crate:
//! - [`config`]: `gateway.yaml` → a validated, plain-data [`config::Config`].
//! - [`routing`]: model names → candidates; strategies; what is known about
//!   each instance (cooldowns, circuit breakers, health checks); endpoint
//!   pools with DNS re-resolution (pingora-load-balancing).
//! - [`providers`]: provider types as a table (base URL, auth, wire format).
//! - [`proxy`]: the Pingora HTTP application, the upstream exchange, the
//!   failover classifier, header rewriting, local endpoints.
//! - [`auth`], [`error`], [`secret`]: gateway keys; the one error enum and its
//!   OpenAI envelope; secrets that never print.
//! - [`metrics`], [`access_log`]: Prometheus metrics on the admin listener;
//!   one JSON line per request.
//! - [`server`]: the Pingora server wiring used by `main`: bootstrap as a
//!   service (zero-downtime upgrades), draining, health checks, metrics.

pub mod access_log;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod providers;
pub mod proxy;
pub mod routing;
pub mod secret;
pub mod server;
