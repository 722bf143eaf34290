//! modelgate's integration tests: one binary that spawns the real `modelgate` with temp
//! configs on port 0 (it logs the ports it binds), in front of programmable mock
//! upstreams (`support`).
//! Tests assert what a user sees (status, headers, bytes) and what the upstreams saw
//! (hit counts, forwarded headers and bodies). Readiness is polled, never slept for.

// Test code: a failed expectation should panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

// Self-tests of the support code; they need no working gateway.
mod mock_dialects_selftest;
mod mock_responses_selftest;
mod mock_selftest;
mod mock_wire_selftest;

// Gateway tests, one module per concern, added as the product lands:
mod claude_code;
mod cli;
mod codex;
mod connections;
mod cors;
mod dialects;
mod encoding;
mod failover;
mod fuzz;
mod hardening;
mod messages;
mod observability;
mod proxy;
mod routing;
mod sdk_clients;
mod service;
mod streaming;
mod teams_limits;
mod teams_usage;
mod tls_listener;
