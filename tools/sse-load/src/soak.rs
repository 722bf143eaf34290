//! The soak: open `--streams` SSE streams spread over `--ramp` seconds, each
//! on its own connection, wait for each one's first byte, hold them all for
//! `--hold` seconds (reading what arrives), then close them all at once. With
//! `--watch-pid`, the proxy's RSS is sampled before, once all are open, during
//! the hold, and `--settle` seconds after closing. Every phase is bounded.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use tokio::sync::watch;

use crate::client::{next_data, Conn, Target};
use crate::procfs::status_kb;
use crate::stats::{histogram, micros, Percentiles};

#[derive(Args, Debug)]
pub struct SoakArgs {
    /// Streams to open (one connection each; mind `ulimit -n`).
    #[arg(short = 'n', long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    streams: u32,
    /// Seconds over which the streams are opened, evenly spread.
    #[arg(long, default_value_t = 10)]
    ramp: u64,
    /// Seconds to hold them all open.
    #[arg(long, default_value_t = 60)]
    hold: u64,
    /// Seconds to wait after closing before the last RSS sample.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Seconds a stream may take to deliver its first byte.
    #[arg(long, default_value_t = 30)]
    first_byte_timeout: u64,
    /// The process whose RSS to sample (the proxy under test).
    #[arg(long, value_name = "PID")]
    watch_pid: Option<u32>,
    /// Seconds between RSS samples during the hold.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    sample_every: u64,
}

#[derive(Default)]
struct Counters {
    opened: AtomicU64,
    open: AtomicU64,
    failed: AtomicU64,
    ended_early: AtomicU64,
}

#[derive(Serialize, Default)]
pub struct Rss {
    before_kb: Option<u64>,
    all_open_kb: Option<u64>,
    max_during_kb: Option<u64>,
    end_of_hold_kb: Option<u64>,
    after_kb: Option<u64>,
    /// `VmHWM` at the end: the peak over the process's life.
    peak_kb: Option<u64>,
    /// (all_open − before) / streams open.
    kb_per_stream: Option<f64>,
    /// During the hold, every `--sample-every` seconds.
    samples_kb: Vec<u64>,
}

#[derive(Serialize)]
pub struct SoakReport {
    mode: &'static str,
    streams: u32,
    /// Streams whose first byte arrived.
    opened: u64,
    /// Connect/send failures and first-byte timeouts.
    failed: u64,
    /// Streams that ended (or broke) before the hold was over.
    ended_early: u64,
    open_at_start_of_hold: u64,
    open_at_end_of_hold: u64,
    open_phase_s: f64,
    hold_s: u64,
    ttfb_us: Percentiles,
    rss: Rss,
}

pub async fn run(target: Arc<Target>, a: &SoakArgs) -> Result<SoakReport, String> {
    let rss = |field: &str| a.watch_pid.map(|pid| status_kb(pid, field)).transpose();
    let mut mem = Rss {
        before_kb: rss("VmRSS")?,
        ..Rss::default()
    };
    let counters = Arc::new(Counters::default());
    let (release, released) = watch::channel(false);
    let start = Instant::now();
    let fb_timeout = Duration::from_secs(a.first_byte_timeout);
    let mut tasks = Vec::with_capacity(a.streams as usize);
    for i in 0..a.streams {
        let delay = Duration::from_secs(a.ramp) * i / a.streams;
        tasks.push(tokio::spawn(hold_one(
            target.clone(),
            delay,
            fb_timeout,
            counters.clone(),
            released.clone(),
        )));
    }
    // Open phase: until every stream is open or failed, or the deadline.
    let deadline = start + Duration::from_secs(a.ramp) + fb_timeout + Duration::from_secs(1);
    while counters.opened.load(Relaxed) + counters.failed.load(Relaxed) < u64::from(a.streams)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_phase = start.elapsed();
    let open_at_start = counters.open.load(Relaxed);
    mem.all_open_kb = rss("VmRSS")?;
    hold(a, &rss, &mut mem).await?;
    let open_at_end = counters.open.load(Relaxed);
    // Closing: every task drops its connection on release.
    let _ = release.send(true);
    let mut ttfb = histogram()?;
    for t in tasks {
        if let Ok(Ok(Some(us))) = tokio::time::timeout(Duration::from_secs(5), t).await {
            ttfb.saturating_record(us);
        }
    }
    tokio::time::sleep(Duration::from_secs(a.settle)).await;
    mem.after_kb = rss("VmRSS")?;
    mem.peak_kb = rss("VmHWM")?;
    if let (Some(b), Some(o)) = (mem.before_kb, mem.all_open_kb) {
        mem.kb_per_stream = Some(o.saturating_sub(b) as f64 / open_at_start.max(1) as f64);
    }
    Ok(SoakReport {
        mode: "soak",
        streams: a.streams,
        opened: counters.opened.load(Relaxed),
        failed: counters.failed.load(Relaxed),
        ended_early: counters.ended_early.load(Relaxed),
        open_at_start_of_hold: open_at_start,
        open_at_end_of_hold: open_at_end,
        open_phase_s: open_phase.as_secs_f64(),
        hold_s: a.hold,
        ttfb_us: Percentiles::of(&ttfb),
        rss: mem,
    })
}

/// The hold: sample RSS every `--sample-every` seconds until `--hold` is over.
async fn hold(
    a: &SoakArgs,
    rss: &impl Fn(&str) -> Result<Option<u64>, String>,
    mem: &mut Rss,
) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs(a.hold);
    while let Some(left) = end
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
    {
        tokio::time::sleep(left.min(Duration::from_secs(a.sample_every))).await;
        if let Some(kb) = rss("VmRSS")? {
            mem.samples_kb.push(kb);
            mem.max_during_kb = mem.max_during_kb.max(Some(kb));
        }
    }
    mem.end_of_hold_kb = mem.samples_kb.last().copied().or(mem.all_open_kb);
    Ok(())
}

/// One stream: wait its turn, open, read until released. Returns its time to
/// first byte in µs, or `None` if it never opened.
async fn hold_one(
    target: Arc<Target>,
    delay: Duration,
    fb_timeout: Duration,
    counters: Arc<Counters>,
    mut released: watch::Receiver<bool>,
) -> Option<u64> {
    tokio::time::sleep(delay).await;
    let started = Instant::now();
    let opened = tokio::time::timeout(fb_timeout, async {
        let mut conn = Conn::connect(&target).await.ok()?;
        let resp = conn.send(&target).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let mut body = resp.into_body();
        next_data(&mut body).await.ok()??;
        Some((conn, body))
    })
    .await;
    let Ok(Some((_conn, mut body))) = opened else {
        counters.failed.fetch_add(1, Relaxed);
        return None;
    };
    let ttfb = micros(started.elapsed());
    counters.opened.fetch_add(1, Relaxed);
    counters.open.fetch_add(1, Relaxed);
    loop {
        tokio::select! {
            _ = released.changed() => return Some(ttfb),
            chunk = next_data(&mut body) => {
                if !matches!(chunk, Ok(Some(_))) {
                    counters.open.fetch_sub(1, Relaxed);
                    counters.ended_early.fetch_add(1, Relaxed);
                    return Some(ttfb);
                }
            }
        }
    }
}
