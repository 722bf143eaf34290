//! A team key's account on the request path. Before routing: whether the
//! key may ask now (its budget, `rpm`, `tpm`), and the `x-ratelimit-*`
//! headers every response to a limited key carries. When a routed request
//! ends: its exact usage priced, recorded in the store (in the background),
//! charged to the key (tokens to `tpm`, dollars to the budget) and to
//! routing's tokens-today (`least-usage`).

use super::{GatewayError, State};
use crate::observe::RequestCtx;
use crate::store::UsageRecord;
use crate::teams::{cost_usd, now_ms, now_ns, Caller, LimitKind, RateHeaders, Refusal};
use std::time::Duration;

/// Hold `caller` to its budget and limits before anything is sent upstream.
pub fn admit(state: &State, ctx: &mut RequestCtx, caller: &Caller) -> Result<(), GatewayError> {
    let key = || caller.name.as_deref().unwrap_or("-").to_string();
    match state.teams.admit(caller) {
        Ok(headers) => {
            put_headers(ctx, &headers);
            Ok(())
        }
        Err(Refusal::Limited(limited)) => {
            put_headers(ctx, &limited.headers);
            let (what, reason, limit) = match limited.kind {
                LimitKind::Requests => ("requests", "rpm", limited.headers.requests),
                LimitKind::Tokens => ("tokens", "tpm", limited.headers.tokens),
            };
            state.metrics.rejected(caller.name.as_deref(), reason);
            Err(GatewayError::KeyRateLimited {
                key: key(),
                what,
                limit: limit.map_or(0, |s| s.limit),
                retry_after: limited.retry_after,
            })
        }
        Err(Refusal::OverBudget(over)) => {
            if let Some(k) = &caller.key {
                put_headers(ctx, &k.limiter.headers(now_ns()));
            }
            state.metrics.rejected(caller.name.as_deref(), "budget");
            let period = (caller.key.as_ref())
                .and_then(|k| k.budget)
                .map_or("total", |b| b.period.name());
            let retry_after = (over.until_ms)
                .map(|until| Duration::from_millis((until - now_ms()).max(0) as u64));
            Err(GatewayError::OverBudget {
                key: key(),
                usd: over.usd,
                spent: over.spent,
                period,
                retry_after,
            })
        }
    }
}

fn put_headers(ctx: &mut RequestCtx, headers: &RateHeaders) {
    headers.each(|name, value| ctx.rate_limit.push((name, value)));
}

/// A request is over: price its usage and account for it. Every API call
/// is recorded, refused ones too (with no tokens); `/health`, `/v1/models`
/// and `/v1/usage` are not.
pub fn settle(state: &State, ctx: &mut RequestCtx, caller: Option<&Caller>) {
    if !ctx.api_call {
        return;
    }
    let up = ctx.instance_index.and_then(|i| state.upstreams.get(i));
    let model = ctx.upstream_model.as_deref();
    let price = up.zip(model).and_then(|(up, m)| up.price_of(m));
    let usage = ctx.usage;
    ctx.cost_usd = usage
        .zip(price)
        .map(|(u, p)| cost_usd(p, u.prompt_tokens, u.completion_tokens, u.cached_tokens));
    let tokens = usage.map_or(0, |u| u.prompt_tokens + u.completion_tokens);
    if let Some(caller) = caller {
        state.teams.settle(caller, tokens, ctx.cost_usd);
    }
    if let (Some(i), Some(m), true) = (ctx.instance_index, model, tokens > 0) {
        let now_s = (now_ms() / 1000).max(0) as u64;
        state.router.health().add_tokens(i, m, tokens, now_s);
    }
    if let Some(store) = &state.teams.store {
        store.record(record(ctx));
        state
            .metrics
            .store_backlog(store.pending(), store.dropped());
    }
}

/// What the store keeps of a request.
fn record(ctx: &RequestCtx) -> UsageRecord {
    let usage = ctx.usage;
    UsageRecord {
        // When the request arrived.
        ts_ms: now_ms() - ctx.start.elapsed().as_millis() as i64,
        request_id: ctx.request_id.clone(),
        key: ctx.key_name.as_deref().map(str::to_string),
        route: ctx.route.to_string(),
        requested_model: ctx.requested_model.clone(),
        instance: ctx.instance.as_deref().map(str::to_string),
        upstream_model: ctx.upstream_model.as_deref().map(str::to_string),
        status: ctx.status,
        stream: ctx.stream,
        prompt_tokens: usage.map(|u| u.prompt_tokens),
        completion_tokens: usage.map(|u| u.completion_tokens),
        cached_tokens: usage.map(|u| u.cached_tokens),
        cost_usd: ctx.cost_usd,
        latency_ms: ctx.start.elapsed().as_millis() as u64,
    }
}
