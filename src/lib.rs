//! modelgate: a self-hosted LLM gateway on Pingora.
//!
//! Clients send API requests to one base URL. For each request the gateway
//! reads the body to learn the `model`, resolves it to an ordered list of
//! candidates (provider instance + upstream model name), and tries them in
//! turn with the whole body replayed, until one answers with something worth
//! delivering. Failover happens only before the first byte goes to the
//! client; after that, bytes (SSE included) pass through as they arrive.
//!
//! A request flows one way through the rooms of the crate:
//!
//! ```text
//! client → gateway → (teams, routing) → dialect → upstream → dialect → client
//!              └──────────── observe (record, metrics, access log) ─┘
//! ```
//!
//! - [`server`]: the process (services, listeners, `-t`, graceful hand-over).
//! - [`gateway`]: the Pingora HTTP application; its `mod.rs` is the path table.
//! - [`teams`]: who may ask (gateway keys and their model globs).
//! - [`routing`]: model name → candidates; strategies; cooldowns, breakers.
//! - [`dialect`]: wire formats: request bodies, usage, error envelopes. Pure.
//! - [`upstream`]: instances ready for the wire, the connector, health probes.
//! - [`observe`]: the request record, Prometheus metrics, the access log.
//! - [`config`]: `gateway.yaml` and `pingora.yaml` → validated plain data.
//! - [`providers`]: provider types as a table (base URL, auth, dialect).
//! - [`store`]: the embedded database (SQLite), written in the background.
//!
//! No folder imports one that sits before it in this list, except `server`
//! and `gateway`, which wire the others together.

pub mod config;
pub mod dialect;
pub mod gateway;
pub mod observe;
pub mod providers;
pub mod routing;
pub mod server;
pub mod store;
pub mod teams;
pub mod upstream;
