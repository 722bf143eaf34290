//! A routed API request from body to response: read the body (bounded by
//! `max_body`), parse what routing needs, check the key's model globs,
//! plan candidates (usable ones in strategy order, the rest skipped with a
//! reason), then walk them — at most `max_attempts` upstream attempts, the
//! whole body replayed to each — until one serves. Each attempt holds a
//! routing ticket and reports its outcome, which is how cooldowns, breakers,
//! least-busy and latency learn.

use super::body::RequestBody;
use super::classify::{final_error, Failure};
use super::ctx::AttemptLog;
use super::exchange::{self, Attempt, Outcome};
use super::{respond, RequestCtx, State};
use crate::auth::Caller;
use crate::error::{truncate, GatewayError};
use crate::providers::ApiRoute;
use crate::routing::Skip;
use bytes::BytesMut;
use pingora::protocols::http::ServerSession;
use std::time::Instant;

pub async fn handle(
    state: &State,
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
    route: ApiRoute,
    caller: &Caller,
) -> Result<(), GatewayError> {
    let body = read_body(session, state.max_body).await?;
    ctx.bytes_in = body.len();
    let body = RequestBody::parse(body)?;
    ctx.requested_model = Some(body.model.clone());
    ctx.stream = body.stream;
    if !state.auth.allows(caller, &body.model) {
        return Err(GatewayError::ModelNotAllowed {
            key: caller.name.as_deref().unwrap_or("-").to_string(),
            model: truncate(&body.model, 200),
        });
    }
    let plan = state
        .router
        .plan(&body.model)
        .map_err(|_| GatewayError::UnknownModel(truncate(&body.model, 200)))?;
    let mut failures: Vec<(String, Failure)> = plan
        .skipped
        .iter()
        .filter_map(|&(i, skip)| {
            Some((
                state.upstreams.get(i)?.id.to_string(),
                Failure::Skipped(skip),
            ))
        })
        .collect();
    let health = state.router.health();
    for candidate in plan.try_order {
        if ctx.attempts >= state.max_attempts {
            break;
        }
        let Some(up) = state.upstreams.get(candidate.instance) else {
            continue;
        };
        let skipped = |skip| (up.id.to_string(), Failure::Skipped(skip));
        let Some(addr) = up.endpoint.address().await else {
            failures.push(skipped(Skip::Unhealthy));
            continue;
        };
        let ticket = match health.begin(&candidate) {
            Ok(ticket) => ticket,
            Err(skip) => {
                failures.push(skipped(skip));
                continue;
            }
        };
        ctx.attempts += 1;
        ctx.instance = Some(up.id.clone());
        ctx.upstream_model = Some(candidate.model.clone());
        let attempt = Attempt {
            up,
            addr,
            path: up.path(route, &candidate.model),
            body: body.for_model(&candidate.model),
            model: &candidate.model,
            stream: body.stream,
            ticket: &ticket,
        };
        let started = Instant::now();
        let outcome = exchange::run(state, session, ctx, attempt).await;
        let elapsed = started.elapsed();
        let (label, waited) = match &outcome {
            Outcome::Served(s) => (s.label(), s.ttfb().unwrap_or(elapsed)),
            Outcome::Failed(f) => (f.label(), elapsed),
        };
        ctx.upstream_wait += waited;
        ctx.attempt_log.push(AttemptLog {
            instance: up.id.clone(),
            outcome: label,
            ms: elapsed.as_millis() as u64,
        });
        match outcome {
            Outcome::Served(served) => {
                if let Some(signal) = served.signal() {
                    ticket.finish(signal);
                }
                return Ok(());
            }
            Outcome::Failed(f) => {
                log::info!(
                    "request {}: attempt {} on {} failed: {f:?}",
                    ctx.request_id,
                    ctx.attempts,
                    up.id
                );
                if let Some(signal) = f.signal() {
                    ticket.finish(signal);
                }
                failures.push((up.id.to_string(), f));
            }
        }
    }
    Err(final_error(&body.model, &failures, state.cooldown))
}

/// The whole request body, or 413 past `limit` (checked against
/// `Content-Length` before reading a byte, and again while reading chunked).
async fn read_body(session: &mut ServerSession, limit: u64) -> Result<bytes::Bytes, GatewayError> {
    let too_large = GatewayError::BodyTooLarge { limit };
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        session.set_keepalive(None);
        return Err(too_large);
    }
    let expects_continue = session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        session
            .write_continue_response()
            .await
            .map_err(|_| GatewayError::Internal)?;
    }
    let mut buf = BytesMut::with_capacity(declared.map_or(16 * 1024, |n| n as usize));
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if (buf.len() + chunk.len()) as u64 > limit {
                    session.set_keepalive(None);
                    return Err(too_large);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(_) => {
                session.set_keepalive(None);
                return Err(GatewayError::InvalidJson(
                    "the request body could not be read completely".into(),
                ));
            }
        }
    }
}

/// Write `err` for a request that could not be served.
pub async fn fail(session: &mut ServerSession, ctx: &mut RequestCtx, err: &GatewayError) {
    if let Err(e) = respond::error(session, ctx, err).await {
        log::debug!(
            "request {}: error response not delivered: {}",
            ctx.request_id,
            e.etype().as_str()
        );
    }
}
