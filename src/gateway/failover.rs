//! A routed API request from body to response: read the body (bounded by
//! `max_body`), parse what routing needs, check the key's model globs,
//! plan candidates (usable ones in strategy order, the rest skipped with a
//! reason), then walk them — at most `max_attempts` upstream attempts, the
//! whole body replayed to each — until one serves. Each attempt holds a
//! routing ticket and reports its outcome, which is how cooldowns, breakers,
//! least-busy and latency learn.

use super::attempt::{self, Attempt, Outcome, Translation};
use super::classify::{final_error, Failure};
use super::{client, encoding, GatewayError, State};
use crate::dialect::pair::Pair;
use crate::dialect::translate::RequestOptions;
use crate::dialect::{strip_unsigned_thinking, with_include_usage, ApiRoute, Dialect, RequestBody};
use crate::observe::{AttemptLog, RequestCtx};
use crate::routing::{Candidate, Plan, Skip, Ticket};
use crate::teams::Caller;
use crate::upstream::Upstream;
use bytes::Bytes;
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
    let body = encoding::decode(&session.req_header().headers, body, state.max_body)?;
    let body = RequestBody::parse(body)?;
    ctx.requested_model = Some(body.model.clone());
    ctx.stream = body.stream;
    if !caller.allows(&body.model) {
        return Err(GatewayError::ModelNotAllowed {
            key: caller.name.as_deref().unwrap_or("-").to_string(),
            model: super::truncate(&body.model, 200),
        });
    }
    let mut plan = (state.router.plan(&body.model))
        .map_err(|_| GatewayError::UnknownModel(super::truncate(&body.model, 200)))?;
    if !keep_servable(state, &mut plan, route) {
        return Err(GatewayError::RouteNotServed {
            model: super::truncate(&body.model, 200),
            route: route.label(),
        });
    }
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
        let attempt = start(ctx, up, addr, &body, &candidate, route, &ticket)?;
        let started = Instant::now();
        let outcome = attempt::run(state, session, ctx, attempt).await;
        if finish(ctx, &up.id, outcome, started, ticket, &mut failures) {
            return Ok(());
        }
    }
    if route == ApiRoute::CountTokens {
        // No Anthropic upstream counted: an estimate beats an error.
        return count_locally(session, ctx, &body).await;
    }
    Err(final_error(&body.model, &failures, state.cooldown))
}

/// Leave out the candidates whose provider cannot serve `route` at all
/// (embeddings on Gemini, say); `false` when none is left of a plan that
/// had some. `count_tokens` never fails that way: it is answered with an
/// estimate when no Anthropic provider can count.
fn keep_servable(state: &State, plan: &mut Plan, route: ApiRoute) -> bool {
    let servable =
        |i: usize| (state.upstreams.get(i)).is_some_and(|up| route.upstream(up.dialect).is_some());
    let had_any = !plan.try_order.is_empty() || !plan.skipped.is_empty();
    plan.try_order.retain(|c| servable(c.instance));
    plan.skipped.retain(|&(i, _)| servable(i));
    let left = !plan.try_order.is_empty() || !plan.skipped.is_empty();
    left || !had_any || route == ApiRoute::CountTokens
}

/// `{"input_tokens": N}` estimated from the request itself.
async fn count_locally(
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
    body: &RequestBody,
) -> Result<(), GatewayError> {
    let n = crate::dialect::estimate_input_tokens(&body.bytes).ok_or(GatewayError::MissingModel)?;
    ctx.note = Some("token count estimated: no Anthropic provider counted it".into());
    let reply = Bytes::from(serde_json::json!({ "input_tokens": n }).to_string());
    super::respond::json(session, ctx, 200, reply)
        .await
        .map_err(|_| GatewayError::Internal)
}

fn skipped_id(state: &State, instance: usize) -> Option<String> {
    Some(state.upstreams.get(instance)?.id.to_string())
}

/// Count an attempt on `up` and say what it sends: the client's body as
/// it is (the model name aside) when the provider speaks the client's
/// dialect, else translated for it from the client's original bytes.
fn start<'a>(
    ctx: &mut RequestCtx,
    up: &'a Upstream,
    addr: SocketAddr,
    body: &RequestBody,
    candidate: &'a Candidate,
    route: ApiRoute,
    ticket: &'a Ticket<'a>,
) -> Result<Attempt<'a>, GatewayError> {
    ctx.attempts += 1;
    ctx.instance = Some(up.id.clone());
    ctx.instance_index = Some(candidate.instance);
    ctx.upstream_model = Some(candidate.model.clone());
    let model = &candidate.model;
    // A provider that serves Responses itself gets the request as it is.
    let native = route == ApiRoute::Responses && up.native_responses;
    let upstream_route = match native {
        true => route,
        false => route.upstream(up.dialect).unwrap_or(route),
    };
    let path = up.path(upstream_route, model, body.stream);
    let pair = (!native)
        .then(|| Pair::between(route.dialect(), up.dialect))
        .flatten();
    // Usage is exact only if the provider reports it: an OpenAI-format
    // stream does so when asked, and the client's stream then loses that
    // one chunk again (`deliver`). Where a provider refuses the option,
    // its tokens are recorded as unknown.
    let asks_usage = up.dialect != Dialect::OpenAi || up.kind.accepts_stream_options();
    let mut strip_usage = false;
    let (body_out, translation) = match pair {
        None if up.dialect == Dialect::Anthropic => {
            let out = body.for_model(model);
            // Thinking blocks another provider's reasoning became would
            // be refused by Anthropic as unsigned.
            let out = strip_unsigned_thinking(&out).map_or(out, Bytes::from);
            (out, None)
        }
        None if body.stream
            && !body.stream_usage
            && asks_usage
            && matches!(route, ApiRoute::ChatCompletions | ApiRoute::Completions) =>
        {
            let out = body.for_model(model);
            match with_include_usage(&out) {
                Some(asked) => {
                    strip_usage = true;
                    (Bytes::from(asked), None)
                }
                None => (out, None),
            }
        }
        None => (body.for_model(model), None),
        Some(pair) => {
            let (max_output_tokens, reasoning) = up.model_options(model);
            let opts = RequestOptions {
                model: model.to_string(),
                max_output_tokens,
                stream_usage: body.stream && asks_usage,
                reasoning,
            };
            let translated = (pair.request(&body.bytes, &opts))
                .map_err(|e| GatewayError::Untranslatable(e.message()))?;
            let translation = Translation {
                pair,
                tool_names: translated.tool_names,
                client_model: body.model.clone(),
                include_usage: body.stream && body.stream_usage,
            };
            (Bytes::from(translated.body), Some(translation))
        }
    };
    Ok(Attempt {
        up,
        addr,
        path,
        body: body_out,
        model,
        stream: body.stream,
        ticket,
        translation,
        strip_usage,
    })
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
