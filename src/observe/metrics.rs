//! Prometheus metrics, served by Pingora's Prometheus service on the admin
//! listener (`admin_listen`, `GET /metrics`). Everything about a request is
//! recorded once, from its finished `RequestCtx`, when the gateway is done
//! with it;
//! instance states are read from `routing::Health` at scrape time.
//!
//! Labels never carry secrets or unbounded values: routes are a fixed set,
//! instances come from the config, a model is a configured name or `other`,
//! a status is an HTTP status code or a failure kind.

use super::RequestCtx;
use pingora_prometheus::prometheus::core::{Collector, Desc};
use pingora_prometheus::prometheus::proto::MetricFamily;
use pingora_prometheus::prometheus::{
    self, exponential_buckets, histogram_opts, opts, CounterVec, Histogram, HistogramVec,
    IntCounterVec, IntGauge, IntGaugeVec,
};
use std::collections::HashSet;
use std::time::Duration;

pub struct Metrics {
    requests: IntCounterVec,
    attempts: IntCounterVec,
    failovers: IntCounterVec,
    ttfb: HistogramVec,
    duration: HistogramVec,
    overhead: Histogram,
    tokens: IntCounterVec,
    key_requests: IntCounterVec,
    key_tokens: IntCounterVec,
    key_cost: CounterVec,
    rejections: IntCounterVec,
    store_pending: IntGauge,
    store_dropped: IntGauge,
    in_flight: IntGauge,
    open_streams: IntGauge,
    /// Model names that may be labels: every routable name of the config.
    known_models: HashSet<String>,
}

/// Holds a stream in the open-streams gauge until dropped.
pub struct OpenStream<'a>(&'a IntGauge);

impl Drop for OpenStream<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Seconds, from 1 ms to about 2 min: time to first byte and whole requests.
fn latency_buckets() -> Vec<f64> {
    exponential_buckets(0.001, 2.0, 18).unwrap_or_default()
}

impl Metrics {
    /// Metrics not yet registered anywhere (see [`Self::register`]).
    pub fn new(known_models: impl IntoIterator<Item = String>) -> prometheus::Result<Self> {
        Ok(Self {
            requests: IntCounterVec::new(
                opts!("modelgate_requests_total", "Requests answered, by route, requested model, serving instance and status."),
                &["route", "model", "instance", "status"],
            )?,
            attempts: IntCounterVec::new(
                opts!("modelgate_upstream_attempts_total", "Upstream attempts by instance and outcome (status code, timeout, connect_error, bad_response, client_left)."),
                &["instance", "outcome"],
            )?,
            failovers: IntCounterVec::new(
                opts!("modelgate_failovers_total", "Attempts that failed and moved on to another candidate, by the instance that failed."),
                &["instance"],
            )?,
            ttfb: HistogramVec::new(
                histogram_opts!("modelgate_time_to_first_byte_seconds", "Request start to the first response byte sent to the client.", latency_buckets()),
                &["route"],
            )?,
            duration: HistogramVec::new(
                histogram_opts!("modelgate_request_duration_seconds", "Request start to the end of the response.", latency_buckets()),
                &["route", "stream"],
            )?,
            overhead: Histogram::with_opts(histogram_opts!(
                "modelgate_gateway_overhead_seconds",
                "Time to first byte minus the time spent waiting on upstreams: the gateway's own share.",
                exponential_buckets(0.000_025, 2.0, 16)?
            ))?,
            tokens: IntCounterVec::new(
                opts!("modelgate_tokens_total", "Tokens as reported in the response's usage, by instance, upstream model and kind (prompt, completion)."),
                &["instance", "model", "kind"],
            )?,
            key_requests: IntCounterVec::new(
                opts!("modelgate_key_requests_total", "Requests by team key name (`-` on an open gateway)."),
                &["key"],
            )?,
            key_tokens: IntCounterVec::new(
                opts!("modelgate_key_tokens_total", "Tokens by team key name and kind (prompt, completion, cached)."),
                &["key", "kind"],
            )?,
            key_cost: CounterVec::new(
                opts!("modelgate_key_cost_usd_total", "Cost in US dollars by team key name (priced models only)."),
                &["key"],
            )?,
            rejections: IntCounterVec::new(
                opts!("modelgate_limit_rejections_total", "Requests refused without an upstream call, by key name and reason (rpm, tpm, budget, per_ip)."),
                &["key", "reason"],
            )?,
            store_pending: IntGauge::new("modelgate_usage_records_pending", "Usage records accepted but not yet committed to the store (a growing number means the writer falls behind).")?,
            store_dropped: IntGauge::new("modelgate_usage_records_dropped", "Usage records given up since start (the writer held too many, or could not commit at a stop); each is also logged.")?,
            in_flight: IntGauge::new("modelgate_requests_in_flight", "Requests being served now.")?,
            open_streams: IntGauge::new("modelgate_open_streams", "Streamed responses being passed through now.")?,
            known_models: known_models.into_iter().collect(),
        })
    }

    /// Into the default registry, which Pingora's Prometheus service serves.
    pub fn register(&self) -> prometheus::Result<()> {
        let all: [Box<dyn Collector>; 15] = [
            Box::new(self.store_dropped.clone()),
            Box::new(self.key_requests.clone()),
            Box::new(self.key_tokens.clone()),
            Box::new(self.key_cost.clone()),
            Box::new(self.rejections.clone()),
            Box::new(self.store_pending.clone()),
            Box::new(self.requests.clone()),
            Box::new(self.attempts.clone()),
            Box::new(self.failovers.clone()),
            Box::new(self.ttfb.clone()),
            Box::new(self.duration.clone()),
            Box::new(self.overhead.clone()),
            Box::new(self.tokens.clone()),
            Box::new(self.in_flight.clone()),
            Box::new(self.open_streams.clone()),
        ];
        for c in all {
            prometheus::register(c)?;
        }
        Ok(())
    }

    pub fn request_started(&self, ctx: &mut RequestCtx) {
        self.in_flight.inc();
        ctx.in_flight = true;
    }

    pub fn stream_opened(&self) -> OpenStream<'_> {
        self.open_streams.inc();
        OpenStream(&self.open_streams)
    }

    /// A request refused by a key's (or an address's) limit or budget.
    pub fn rejected(&self, key: Option<&str>, reason: &'static str) {
        (self
            .rejections
            .with_label_values(&[key.unwrap_or("-"), reason]))
        .inc();
    }

    /// Records waiting for the store's writer, and those given up.
    pub fn store_backlog(&self, pending: u64, dropped: u64) {
        self.store_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.store_dropped
            .set(i64::try_from(dropped).unwrap_or(i64::MAX));
    }

    fn model<'a>(&self, name: Option<&'a str>) -> &'a str {
        match name {
            None => "-",
            Some(m) if self.known_models.contains(m) => m,
            Some(_) => "other",
        }
    }

    /// Everything about one finished request.
    pub fn request_finished(&self, ctx: &RequestCtx) {
        let instance = ctx.instance.as_deref().unwrap_or("-");
        let status = super::status_label(ctx.status);
        let model = self.model(ctx.requested_model.as_deref());
        self.requests
            .with_label_values(&[ctx.route, model, instance, &status])
            .inc();
        for (n, a) in ctx.attempt_log.iter().enumerate() {
            self.attempts
                .with_label_values(&[a.instance.as_ref(), a.outcome.as_ref()])
                .inc();
            if n + 1 < ctx.attempt_log.len() {
                self.failovers
                    .with_label_values(&[a.instance.as_ref()])
                    .inc();
            }
        }
        if let Some(first) = ctx.first_byte {
            let ttfb = first.duration_since(ctx.start);
            self.ttfb
                .with_label_values(&[ctx.route])
                .observe(ttfb.as_secs_f64());
            if !ctx.attempt_log.is_empty() {
                let own = ttfb.saturating_sub(ctx.upstream_wait);
                self.overhead.observe(own.as_secs_f64());
            }
        }
        let stream = if ctx.stream { "true" } else { "false" };
        self.duration
            .with_label_values(&[ctx.route, stream])
            .observe(ctx.start.elapsed().as_secs_f64());
        if let Some(u) = ctx.usage {
            let model = self.model(ctx.upstream_model.as_deref());
            for (kind, n) in [
                ("prompt", u.prompt_tokens),
                ("completion", u.completion_tokens),
            ] {
                self.tokens
                    .with_label_values(&[instance, model, kind])
                    .inc_by(n);
            }
        }
        if ctx.api_call {
            self.key_finished(ctx);
        }
        // Last: a scrape that sees the gauge at zero sees every counter above.
        if ctx.in_flight {
            self.in_flight.dec();
        }
    }
}

impl Metrics {
    /// An API call's count, tokens and cost under its key's name.
    fn key_finished(&self, ctx: &RequestCtx) {
        let key = ctx.key_name.as_deref().unwrap_or("-");
        self.key_requests.with_label_values(&[key]).inc();
        if let Some(u) = ctx.usage {
            for (kind, n) in [
                ("prompt", u.prompt_tokens),
                ("completion", u.completion_tokens),
                ("cached", u.cached_tokens),
            ] {
                self.key_tokens.with_label_values(&[key, kind]).inc_by(n);
            }
        }
        if let Some(cost) = ctx.cost_usd {
            self.key_cost.with_label_values(&[key]).inc_by(cost);
        }
    }
}

/// One instance's state for the `modelgate_instance_*` gauges.
pub struct InstanceGauge {
    pub id: String,
    pub state: &'static str,
    pub retry_in: Option<Duration>,
    pub cooling_models: usize,
    pub in_flight: u32,
}

/// The instance gauges, computed at scrape time from live state.
pub struct InstanceStates<F> {
    read: F,
    descs: Vec<Desc>,
}

const STATES: [&str; 6] = [
    "healthy",
    "cooling_down",
    "open",
    "half_open",
    "unhealthy",
    "disabled",
];

fn instance_gauges() -> prometheus::Result<[IntGaugeVec; 4]> {
    Ok([
        IntGaugeVec::new(
            opts!("modelgate_instance_state", "1 for the instance's current state (healthy, cooling_down, open, half_open, unhealthy, disabled), else 0."),
            &["instance", "state"],
        )?,
        IntGaugeVec::new(
            opts!("modelgate_instance_retry_in_seconds", "Seconds until a cooling, open or disabled instance may serve again."),
            &["instance"],
        )?,
        IntGaugeVec::new(
            opts!("modelgate_instance_cooling_models", "Models of the instance in a rate-limit cooldown."),
            &["instance"],
        )?,
        IntGaugeVec::new(
            opts!("modelgate_instance_in_flight", "Requests in flight on the instance."),
            &["instance"],
        )?,
    ])
}

impl<F: Fn() -> Vec<InstanceGauge> + Send + Sync> InstanceStates<F> {
    pub fn new(read: F) -> prometheus::Result<Self> {
        let descs = instance_gauges()?
            .iter()
            .flat_map(|g| g.desc().into_iter().cloned())
            .collect();
        Ok(Self { read, descs })
    }
}

impl<F: Fn() -> Vec<InstanceGauge> + Send + Sync> Collector for InstanceStates<F> {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok([state, retry, cooling, in_flight]) = instance_gauges() else {
            return Vec::new();
        };
        for g in (self.read)() {
            for s in STATES {
                state
                    .with_label_values(&[g.id.as_str(), s])
                    .set(i64::from(g.state == s));
            }
            let secs = g
                .retry_in
                .map_or(0, |d| crate::routing::clock::ceil_secs(d) as i64);
            retry.with_label_values(&[g.id.as_str()]).set(secs);
            cooling
                .with_label_values(&[g.id.as_str()])
                .set(g.cooling_models as i64);
            in_flight
                .with_label_values(&[g.id.as_str()])
                .set(i64::from(g.in_flight));
        }
        [state, retry, cooling, in_flight]
            .iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}
