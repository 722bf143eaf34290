//! A routed API request from body to response: read the body (bounded by
//! `max_body`), parse what routing needs, check the key's model globs,
//! plan candidates (usable ones in strategy order, the rest skipped with a
//! reason), then walk them — at most `max_attempts` upstream attempts, the
//! whole body replayed to each — until one serves. Each attempt holds a
//! routing ticket and reports its outcome, which is how cooldowns, breakers,
//! least-busy and latency learn.

use super::attempt::{self, Attempt, Outcome};
use super::classify::{final_error, Failure};
use super::{client, GatewayError, State};
use crate::dialect::{ApiRoute, RequestBody};
use crate::observe::{AttemptLog, RequestCtx};
use crate::routing::{Candidate, Skip, Ticket};
use crate::teams::Caller;
use crate::upstream::Upstream;
use pingora::protocols::http::ServerSession;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Why each candidate did not serve, by instance id.
type Failures = Vec<(String, Failure)>;

/// Serve one request on `route`: every branch either writes a response or
/// returns the error the client gets.
pub async fn serve(
    state: &State,
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
    route: ApiRoute,
    caller: &Caller,
) -> Result<(), GatewayError> {
    let body = client::read_body(
        session,
        state.max_body,
        state.connections.limits().body,
        state.timeouts.idle,
    )
    .await?;
    ctx.bytes_in = body.len();
    let body = RequestBody::parse(body)?;
    ctx.requested_model = Some(body.model.clone());
    ctx.stream = body.stream;
    if !state.auth.allows(caller, &body.model) {
        return Err(GatewayError::ModelNotAllowed {
            key: caller.name.as_deref().unwrap_or("-").to_string(),
            model: super::truncate(&body.model, 200),
        });
    }
    let plan = (state.router.plan(&body.model))
        .map_err(|_| GatewayError::UnknownModel(super::truncate(&body.model, 200)))?;
    let mut failures: Failures = (plan.skipped.iter())
        .filter_map(|&(i, skip)| Some((skipped_id(state, i)?, Failure::Skipped(skip))))
        .collect();
    // The attempt is awaited in this loop, not in a helper: a nested future
    // is moved into its parent's state when awaited, and an attempt's is
    // large (measured: ~4k instructions per request per extra layer).
    for candidate in plan.try_order {
        if ctx.attempts >= state.max_attempts {
            break;
        }
        let Some(up) = state.upstreams.get(candidate.instance) else {
            continue;
        };
        let Some(addr) = up.endpoint.address().await else {
            failures.push((up.id.to_string(), Failure::Skipped(Skip::Unhealthy)));
            continue;
        };
        let ticket = match state.router.health().begin(&candidate) {
            Ok(ticket) => ticket,
            Err(skip) => {
                failures.push((up.id.to_string(), Failure::Skipped(skip)));
                continue;
            }
        };
        let attempt = start(ctx, up, addr, &body, &candidate, route, &ticket);
        let started = Instant::now();
        let outcome = attempt::run(state, session, ctx, attempt).await;
        if finish(ctx, &up.id, outcome, started, ticket, &mut failures) {
            return Ok(());
        }
    }
    Err(final_error(&body.model, &failures, state.cooldown))
}

fn skipped_id(state: &State, instance: usize) -> Option<String> {
    Some(state.upstreams.get(instance)?.id.to_string())
}

/// Count an attempt on `up` and say what it sends.
fn start<'a>(
    ctx: &mut RequestCtx,
    up: &'a Upstream,
    addr: SocketAddr,
    body: &RequestBody,
    candidate: &'a Candidate,
    route: ApiRoute,
    ticket: &'a Ticket<'a>,
) -> Attempt<'a> {
    ctx.attempts += 1;
    ctx.instance = Some(up.id.clone());
    ctx.upstream_model = Some(candidate.model.clone());
    let model = &candidate.model;
    Attempt {
        up,
        addr,
        path: up.path(route, model),
        body: body.for_model(model),
        model,
        stream: body.stream,
        ticket,
    }
}

/// Record an attempt's outcome and tell routing; `true` once the request
/// is over (served, or the client left), `false` to try the next candidate.
fn finish(
    ctx: &mut RequestCtx,
    instance: &Arc<str>,
    outcome: Outcome,
    started: Instant,
    ticket: Ticket<'_>,
    failures: &mut Failures,
) -> bool {
    record(ctx, instance, &outcome, started);
    match outcome {
        Outcome::Served(served) => {
            if let Some(signal) = served.signal() {
                ticket.finish(signal);
            }
            true
        }
        Outcome::Failed(f) => {
            log::info!(
                "request {}: attempt {} on {instance} failed: {f:?}",
                ctx.request_id,
                ctx.attempts,
            );
            if let Some(signal) = f.signal() {
                ticket.finish(signal);
            }
            failures.push((instance.to_string(), f));
            false
        }
    }
}

/// Put one attempt into the request record.
fn record(
    ctx: &mut RequestCtx,
    instance: &std::sync::Arc<str>,
    outcome: &Outcome,
    started: Instant,
) {
    let elapsed = started.elapsed();
    let (label, waited) = match outcome {
        Outcome::Served(s) => (s.label(), s.ttfb().unwrap_or(elapsed)),
        Outcome::Failed(f) => (f.label(), elapsed),
    };
    ctx.upstream_wait += waited;
    ctx.attempt_log.push(AttemptLog {
        instance: instance.clone(),
        outcome: label,
        ms: elapsed.as_millis() as u64,
    });
}
