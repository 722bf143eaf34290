//! The closed loop: `--concurrency` workers, each with its own keep-alive
//! connection, send one request after another until the deadline. Requests
//! started during the warm-up are not recorded; requests started in the
//! measured window are, even if they end after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use crate::client::{Conn, Target};
use crate::stats::{Percentiles, Recorder};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Requests in flight at all times (one connection each).
    #[arg(short, long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,
    /// Measured seconds, after the warm-up.
    #[arg(short, long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(short, long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds one connect or one whole exchange may take.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

#[derive(Serialize)]
pub struct BenchReport {
    mode: &'static str,
    concurrency: u32,
    duration_s: f64,
    /// From the end of the warm-up to the last recorded response.
    elapsed_s: f64,
    requests: u64,
    errors: u64,
    non_2xx: u64,
    socket_errors: u64,
    timeouts: u64,
    incomplete: u64,
    retried: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_error: Option<String>,
    rps: f64,
    bytes_per_request: u64,
    ttfb_us: Percentiles,
    total_us: Percentiles,
}

/// The measured window.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

impl Window {
    fn counts(&self, started: Instant) -> bool {
        started >= self.from
    }
}

pub async fn run(target: Arc<Target>, args: &BenchArgs) -> Result<BenchReport, String> {
    let secs = |name: &str, v: f64| {
        Duration::try_from_secs_f64(v)
            .map_err(|_| format!("--{name} must be a number of seconds ≥ 0"))
    };
    let (warmup, duration, timeout) = (
        secs("warmup", args.warmup)?,
        secs("duration", args.duration)?,
        secs("timeout", args.timeout)?,
    );
    let from = Instant::now() + warmup;
    let window = Window {
        from,
        until: from + duration,
    };
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        workers.push(tokio::spawn(worker(
            target.clone(),
            window,
            timeout,
            Recorder::new()?,
        )));
    }
    let mut all = Recorder::new()?;
    for w in workers {
        all.merge(&w.await.map_err(|e| format!("worker failed: {e}"))?)?;
    }
    let elapsed = all
        .last_done
        .map_or(duration, |t| t.saturating_duration_since(from))
        .max(duration);
    Ok(BenchReport {
        mode: "bench",
        concurrency: args.concurrency,
        duration_s: duration.as_secs_f64(),
        elapsed_s: elapsed.as_secs_f64(),
        requests: all.requests,
        errors: all.errors(),
        non_2xx: all.non_2xx,
        socket_errors: all.socket_errors,
        timeouts: all.timeouts,
        incomplete: all.incomplete,
        retried: all.retried,
        first_error: all.first_error.clone(),
        rps: all.requests as f64 / elapsed.as_secs_f64().max(1e-9),
        bytes_per_request: all.bytes.checked_div(all.requests).unwrap_or(0),
        ttfb_us: Percentiles::of(&all.ttfb),
        total_us: Percentiles::of(&all.total),
    })
}

async fn worker(
    target: Arc<Target>,
    window: Window,
    timeout: Duration,
    mut rec: Recorder,
) -> Recorder {
    let mut conn: Option<Conn> = None;
    while Instant::now() < window.until {
        let started = Instant::now();
        let mut c = match conn.take().filter(Conn::is_open) {
            Some(c) => c,
            None => match tokio::time::timeout(timeout, Conn::connect(&target)).await {
                Ok(Ok(c)) => c,
                failed => {
                    if window.counts(started) {
                        let timed_out = failed.is_err();
                        rec.fail(timed_out, || match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => "connect: timed out".into(),
                        });
                    }
                    // Back off a little so a dead target is not a busy loop.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        match tokio::time::timeout(timeout, c.exchange(&target)).await {
            Ok(Ok(x)) => {
                if window.counts(started) {
                    rec.record(&x);
                }
                conn = Some(c);
            }
            Ok(Err(e)) if window.counts(started) => rec.fail(false, || e.to_string()),
            Err(_) if window.counts(started) => rec.fail(true, || "exchange: timed out".into()),
            Ok(Err(_)) | Err(_) => {}
        }
    }
    rec
}
