//! What the gateway knows about each instance right now, and the one place
//! that turns an attempt's outcome into that knowledge:
//! per-model cooldowns (429s and emptied rate-limit windows), keys suspected
//! (401/403, re-checked by a probe at once) or taken out of rotation (a
//! confirmed 401/403, or a 402), the circuit breaker, active-probe health, the
//! requests in flight (least-busy), time to first byte (latency) and tokens
//! used today (least-usage).
//!
//! Everything is atomics in flat vectors built at load, so the request path
//! reads and writes without a lock; only breaker transitions take a mutex.

use super::breaker::{BreakerState, CircuitBreaker, Rejected, Trial};
use super::clock::{self, Millis};
use super::usage::{utc_day, TokensToday};
use super::Candidate;
use crate::config::{Config, Instance};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::Notify;

/// A 429 that says "retry now" (`Retry-After: 0`, a reset already past by
/// our clock) still rests the instance this long: retrying it at once
/// would mostly buy another 429.
const MIN_COOLDOWN: Duration = Duration::from_secs(1);

/// Weight of a new time-to-first-byte sample in the moving average (of 10).
const EWMA_NEW: u64 = 3;

/// Why a candidate is not tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Rate-limited for this model; recovers after the duration.
    CoolingDown(Duration),
    /// Circuit breaker open; half-opens after the duration.
    Open(Duration),
    /// Half-open and its trial requests are all out.
    TrialInFlight,
    /// The provider rejected the key (its status); back after the duration.
    Disabled(u16, Duration),
    /// The provider answered 401/403 (its status) and the key is being
    /// re-checked; the duration is the longest the re-check may take.
    Suspect(u16, Duration),
    /// Failed its health checks, or no address of its endpoint is up.
    Unhealthy,
}

impl Skip {
    /// When the candidate may be usable again, if known.
    pub fn retry_in(&self) -> Option<Duration> {
        match self {
            Self::CoolingDown(d) | Self::Open(d) | Self::Disabled(_, d) | Self::Suspect(_, d) => {
                Some(*d)
            }
            Self::TrialInFlight | Self::Unhealthy => None,
        }
    }
}

/// How an attempt ended, as far as the instance's health is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// A 2xx reached the client. `broke`: the upstream failed mid-body.
    Served { ttfb: Duration, broke: bool },
    /// A 4xx that is the request's own fault: the instance works.
    PassedThrough,
    /// 429, with the provider's hint if it gave one.
    RateLimited(Option<Duration>),
    /// 401/403 (the key may be bad: re-checked before it is taken out) or
    /// 402 (out of credit: taken out at once).
    KeyRejected(u16),
    /// 5xx, timeout, connect error, a reply that is not HTTP or not JSON.
    Failed,
}

/// Timings that decide how long an instance stays out.
#[derive(Debug, Clone, Copy)]
pub struct Penalties {
    pub cooldown: Duration,
    pub bad_key: Duration,
    /// The longest a suspect key waits for its re-check before it takes
    /// traffic again anyway (a health check that cannot run must not keep
    /// a key out for good).
    pub recheck: Duration,
}

pub struct InstanceHealth {
    id: String,
    in_flight: AtomicU32,
    breaker: CircuitBreaker,
    disabled_until: AtomicU64,
    disabled_status: AtomicU16,
    /// Until when the key is suspect (0: it is not), and the status that
    /// made it so.
    suspect_until: AtomicU64,
    suspect_status: AtomicU16,
    probe_down: AtomicBool,
    probe_failures: AtomicU32,
    /// Last time real traffic got a good answer, plus one (0: never).
    passive_ok: AtomicU64,
    first_slot: usize,
    models: Vec<String>,
}

/// One (instance, model): its cooldown, its latency average and its
/// tokens today. Each instance has one more slot shared by models it does
/// not list.
#[derive(Default)]
pub struct Slot {
    cool_until: AtomicU64,
    ewma_us: AtomicU64,
    samples: AtomicU32,
    measured_at: AtomicU64,
    tokens: TokensToday,
}

pub struct Health {
    instances: Vec<InstanceHealth>,
    slots: Vec<Slot>,
    penalties: Penalties,
    /// Wakes the prober when a key became suspect.
    recheck: Notify,
}

impl Health {
    pub fn new(config: &Config) -> Self {
        let mut first_slot = 0;
        let instances: Vec<InstanceHealth> = config
            .instances
            .iter()
            .map(|inst| {
                let h = InstanceHealth::new(inst, config, first_slot);
                first_slot += inst.models.len() + 1;
                h
            })
            .collect();
        Self {
            instances,
            slots: (0..first_slot).map(|_| Slot::default()).collect(),
            penalties: Penalties {
                cooldown: config.routing.cooldown,
                bad_key: config.routing.bad_key_cooldown,
                recheck: config.routing.health_check.timeout * 2 + Duration::from_secs(1),
            },
            recheck: Notify::new(),
        }
    }

    /// The slot of `model` on instance `i`.
    pub fn slot(&self, i: usize, model: &str) -> usize {
        self.instances.get(i).map_or(0, |h| {
            let pos = h.models.iter().position(|m| m == model);
            h.first_slot + pos.unwrap_or(h.models.len())
        })
    }

    /// An operator's reset of instance `i`: every model's cooldown
    /// cleared, the key no longer suspect or out, the breaker closed.
    pub fn reset(&self, i: usize) {
        let Some(h) = self.instances.get(i) else {
            return;
        };
        let slots = self.slots.get(h.first_slot..=h.first_slot + h.models.len());
        for slot in slots.into_iter().flatten() {
            slot.cool_until.store(0, Relaxed);
        }
        h.disabled_until.store(0, Relaxed);
        // The next health check says again whether it is down.
        h.probe_down.store(false, Relaxed);
        h.probe_failures.store(0, Relaxed);
        h.suspect_until.store(0, Relaxed);
        h.breaker.close();
    }

    pub fn in_flight(&self, i: usize) -> u32 {
        self.instances
            .get(i)
            .map_or(0, |h| h.in_flight.load(Relaxed))
    }

    /// Time-to-first-byte average in µs (`None`: never measured) and when
    /// it was last measured.
    pub fn latency(&self, slot: usize) -> (Option<u64>, Millis) {
        match self.slots.get(slot) {
            Some(s) if s.samples.load(Relaxed) > 0 => {
                (Some(s.ewma_us.load(Relaxed)), s.measured_at.load(Relaxed))
            }
            Some(s) => (None, s.measured_at.load(Relaxed)),
            None => (None, 0),
        }
    }

    /// Charge `tokens` (prompt + completion) served by `instance` for
    /// `model` to today's count. A name the instance does not list (a glob
    /// or a pin sends the client's) shares the instance's one slot for
    /// unlisted names, as its cooldown does. An unknown instance is ignored.
    pub fn add_tokens(&self, instance: usize, model: &str, tokens: u64, now_unix_s: u64) {
        if let Some(t) = self.tokens_of(instance, model) {
            t.add(utc_day(now_unix_s), tokens);
        }
    }

    /// At start, before traffic, today's totals from the store (once
    /// traffic runs, the store also holds what was already counted here).
    /// It adds, like [`Self::add_tokens`]: names sharing the unlisted slot
    /// are seeded one by one and must sum.
    pub fn seed_tokens(&self, instance: usize, model: &str, tokens: u64, now_unix_s: u64) {
        self.add_tokens(instance, model, tokens, now_unix_s);
    }

    /// Tokens `instance` served for `model` on the UTC day of `now_unix_s`.
    pub fn tokens_today(&self, instance: usize, model: &str, now_unix_s: u64) -> u64 {
        (self.tokens_of(instance, model)).map_or(0, |t| t.on(utc_day(now_unix_s)))
    }

    /// Tokens counted in `slot` on `day` (a candidate's slot, for ordering).
    pub fn tokens_on(&self, slot: usize, day: u64) -> u64 {
        self.slots.get(slot).map_or(0, |s| s.tokens.on(day))
    }

    fn tokens_of(&self, instance: usize, model: &str) -> Option<&TokensToday> {
        // `slot` answers 0 for an unknown instance: that is someone else's.
        self.instances.get(instance)?;
        Some(&self.slots.get(self.slot(instance, model))?.tokens)
    }

    /// Whether `c` is worth trying now (checked before ordering).
    pub fn available(&self, c: &Candidate, now: Millis) -> Result<(), Skip> {
        let Some(h) = self.instances.get(c.instance) else {
            return Err(Skip::Unhealthy);
        };
        h.usable(now)?;
        if let Some(slot) = self.slots.get(c.slot) {
            let until = slot.cool_until.load(Relaxed);
            if now < until {
                return Err(Skip::CoolingDown(clock::until(now, until)));
            }
        }
        h.breaker.would_admit(now).map_err(|r| rejected(r, now))
    }

    /// Start an attempt on `c`: admitted by its breaker, counted in flight
    /// until the ticket is finished or dropped.
    pub fn begin(&self, c: &Candidate) -> Result<Ticket<'_>, Skip> {
        let h = self.instances.get(c.instance).ok_or(Skip::Unhealthy)?;
        let now = clock::now();
        // The plan may be minutes old by now (earlier attempts timing out).
        self.available(c, now)?;
        let trial = h.breaker.admit(now).map_err(|r| rejected(r, now))?;
        h.in_flight.fetch_add(1, Relaxed);
        Ok(Ticket {
            health: self,
            instance: c.instance,
            slot: c.slot,
            trial,
            done: false,
        })
    }

    fn apply(&self, instance: usize, slot: usize, trial: Trial, signal: Signal) {
        let (Some(h), Some(s)) = (self.instances.get(instance), self.slots.get(slot)) else {
            return;
        };
        let now = clock::now();
        match signal {
            Signal::Served { ttfb, broke } => {
                s.observe(ttfb, now);
                if broke {
                    h.failure(trial, now);
                } else {
                    h.success(trial, now);
                }
            }
            Signal::PassedThrough => h.success(trial, now),
            Signal::RateLimited(hint) => {
                let d = hint.map_or(self.penalties.cooldown, |d| d.max(MIN_COOLDOWN));
                s.cool(now, d);
                h.breaker.release(trial);
            }
            Signal::KeyRejected(status @ (401 | 403)) => {
                // One request must not bench a shared key: its own headers
                // or body may have caused the rejection. The prober asks
                // again with nothing but the key.
                if h.suspect(status, now, self.penalties.recheck) {
                    self.recheck.notify_one();
                }
                h.breaker.release(trial);
            }
            Signal::KeyRejected(status) => {
                h.disable(status, now, self.penalties.bad_key);
                h.breaker.release(trial);
            }
            Signal::Failed => h.failure(trial, now),
        }
    }

    /// Resolves when some key became suspect since the last call.
    pub async fn recheck_wanted(&self) {
        self.recheck.notified().await;
    }

    /// The instances whose keys wait for a re-check.
    pub fn suspects(&self) -> Vec<usize> {
        let now = clock::now();
        (self.instances.iter().enumerate())
            .filter(|(_, h)| now < h.suspect_until.load(Relaxed))
            .map(|(i, _)| i)
            .collect()
    }

    /// An active health check's result on instance `i`: whether the
    /// instance answers (5xx, 408 and no answer count against it), and
    /// what its answer says about the key: a suspect key that gets 401/403
    /// again leaves rotation for `bad_key_cooldown`, any other answer clears
    /// it; a key out of rotation for a 401/403 comes back on a 2xx.
    pub fn probed(&self, i: usize, probe: Probe, interval: Duration) {
        let Some(h) = self.instances.get(i) else {
            return;
        };
        let now = clock::now();
        if let Probe::Answered(status) = probe {
            h.key_checked(status, now, self.penalties.bad_key);
        }
        let outcome = match probe {
            Probe::Answered(status) => probe_outcome(status),
            Probe::NoAnswer => ProbeOutcome::Down,
        };
        match outcome {
            ProbeOutcome::Up => {
                h.probe_failures.store(0, Relaxed);
                if h.probe_down.swap(false, Relaxed) {
                    log::info!("instance {}: health check passes again", h.id);
                }
            }
            ProbeOutcome::Down => {
                // Real traffic that succeeded within the last interval
                // outweighs a failed probe.
                let last_ok = h.passive_ok.load(Relaxed);
                let recent_ok = last_ok != 0
                    && now.saturating_sub(last_ok - 1) < interval.as_millis() as Millis;
                let n = h.probe_failures.fetch_add(1, Relaxed) + 1;
                if !recent_ok && n >= PROBE_FAILURES && !h.probe_down.swap(true, Relaxed) {
                    log::warn!("instance {}: failed {n} health checks, taken out", h.id);
                }
            }
        }
    }

    /// What `/health` shows for instance `i`.
    pub fn report(&self, i: usize, endpoint_up: bool) -> Option<Report> {
        let h = self.instances.get(i)?;
        let now = clock::now();
        let cooling: Vec<(&str, Duration)> = h
            .models
            .iter()
            .enumerate()
            .filter_map(|(k, m)| {
                let until = self.slots.get(h.first_slot + k)?.cool_until.load(Relaxed);
                (now < until).then(|| (m.as_str(), clock::until(now, until)))
            })
            .collect();
        let disabled = h.disabled_until.load(Relaxed);
        let suspect = h.suspect_until.load(Relaxed);
        let (state, retry_in) = if now < disabled {
            (InstanceState::Disabled, Some(clock::until(now, disabled)))
        } else if now < suspect {
            (InstanceState::Suspect, None)
        } else {
            match h.breaker.state(now) {
                BreakerState::Open(until) => (InstanceState::Open, Some(clock::until(now, until))),
                BreakerState::HalfOpen => (InstanceState::HalfOpen, None),
                BreakerState::Closed if !endpoint_up || h.probe_down.load(Relaxed) => {
                    (InstanceState::Unhealthy, None)
                }
                BreakerState::Closed if !h.models.is_empty() && cooling.len() == h.models.len() => {
                    (
                        InstanceState::CoolingDown,
                        cooling.iter().map(|(_, d)| *d).min(),
                    )
                }
                BreakerState::Closed => (InstanceState::Healthy, None),
            }
        };
        let cooling = cooling
            .into_iter()
            .map(|(m, d)| (m.to_string(), d))
            .collect();
        Some(Report {
            state,
            retry_in,
            cooling,
            in_flight: h.in_flight.load(Relaxed),
        })
    }
}

/// Consecutive failed probes that take an instance out (one is a blip).
pub const PROBE_FAILURES: u32 = 2;

/// What an active health check's reply says: 5xx and 408 mean down;
/// anything else proves the instance answers — a 429, a 404 from a server
/// without `/models`, and a 401/403 too: OpenAI's restricted keys without
/// the `model.read` scope get 401 on `GET /models` yet serve chat, so only
/// real traffic may take a key out of rotation.
pub fn probe_outcome(status: u16) -> ProbeOutcome {
    match status {
        408 | 500..=599 => ProbeOutcome::Down,
        _ => ProbeOutcome::Up,
    }
}

/// What an active health check got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// An HTTP answer with this status.
    Answered(u16),
    /// A connect error, a timeout, or a reply that is not HTTP.
    NoAnswer,
}

/// Whether an active health check says the instance is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Healthy,
    CoolingDown,
    Open,
    HalfOpen,
    Unhealthy,
    Disabled,
    /// Its key got a 401/403 and is being re-checked.
    Suspect,
}

impl InstanceState {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::CoolingDown => "cooling_down",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::Unhealthy => "unhealthy",
            Self::Disabled => "disabled",
            Self::Suspect => "suspect",
        }
    }
}

/// One instance's line in `/health`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub state: InstanceState,
    pub retry_in: Option<Duration>,
    /// Models in cooldown, with the time left.
    pub cooling: Vec<(String, Duration)>,
    pub in_flight: u32,
}

fn rejected(r: Rejected, now: Millis) -> Skip {
    match r {
        Rejected::Open(until) => Skip::Open(clock::until(now, until)),
        Rejected::TrialInFlight => Skip::TrialInFlight,
    }
}

impl InstanceHealth {
    fn new(inst: &Instance, config: &Config, first_slot: usize) -> Self {
        Self {
            id: inst.id.clone(),
            in_flight: AtomicU32::new(0),
            breaker: CircuitBreaker::new(config.routing.circuit_breaker),
            disabled_until: AtomicU64::new(0),
            disabled_status: AtomicU16::new(0),
            suspect_until: AtomicU64::new(0),
            suspect_status: AtomicU16::new(0),
            probe_down: AtomicBool::new(false),
            probe_failures: AtomicU32::new(0),
            passive_ok: AtomicU64::new(0),
            first_slot,
            models: inst.models.clone(),
        }
    }

    fn usable(&self, now: Millis) -> Result<(), Skip> {
        let until = self.disabled_until.load(Relaxed);
        if now < until {
            let status = self.disabled_status.load(Relaxed);
            return Err(Skip::Disabled(status, clock::until(now, until)));
        }
        let suspect = self.suspect_until.load(Relaxed);
        if now < suspect {
            let status = self.suspect_status.load(Relaxed);
            return Err(Skip::Suspect(status, clock::until(now, suspect)));
        }
        if self.probe_down.load(Relaxed) {
            return Err(Skip::Unhealthy);
        }
        Ok(())
    }

    fn success(&self, trial: Trial, now: Millis) {
        self.breaker.success(trial);
        // At most one store per millisecond-ish: skip when already current.
        if self.passive_ok.load(Relaxed) != now + 1 {
            self.passive_ok.store(now + 1, Relaxed);
        }
        if self.probe_down.load(Relaxed) {
            self.probe_down.store(false, Relaxed);
            self.probe_failures.store(0, Relaxed);
        }
    }

    fn failure(&self, trial: Trial, now: Millis) {
        if self.breaker.failure(trial, now) {
            log::warn!("instance {}: circuit breaker opened", self.id);
        }
    }

    /// Hold the key out of traffic until its re-check; `false` if it
    /// already is suspect or out of rotation (nothing new to check).
    fn suspect(&self, status: u16, now: Millis, window: Duration) -> bool {
        if now < self.disabled_until.load(Relaxed) {
            return false;
        }
        self.suspect_status.store(status, Relaxed);
        let before = self.suspect_until.swap(clock::after(now, window), Relaxed);
        if before > now {
            return false;
        }
        log::info!(
            "instance {}: upstream answered {status}; re-checking its key before taking it out",
            self.id
        );
        true
    }

    /// What a health check's status says about the key (see `probed`).
    fn key_checked(&self, status: u16, now: Millis, bad_key: Duration) {
        if self.suspect_until.swap(0, Relaxed) > now {
            if matches!(status, 401 | 403) {
                self.disable(status, now, bad_key);
            } else {
                log::info!(
                    "instance {}: its key passed the re-check ({status}); still in rotation",
                    self.id
                );
            }
            return;
        }
        let disabled_for_key = matches!(self.disabled_status.load(Relaxed), 401 | 403);
        if (200..300).contains(&status)
            && disabled_for_key
            && now < self.disabled_until.swap(0, Relaxed)
        {
            log::info!(
                "instance {}: its key passes the health check again; back in rotation",
                self.id
            );
        }
    }

    /// Take the key out of rotation; logged once per outage, not per request.
    fn disable(&self, status: u16, now: Millis, for_: Duration) {
        self.disabled_status.store(status, Relaxed);
        let before = self
            .disabled_until
            .fetch_max(clock::after(now, for_), Relaxed);
        if before <= now {
            log::warn!(
                "instance {}: key rejected ({status}); out of rotation for {}",
                self.id,
                humantime::format_duration(for_)
            );
        }
    }
}

impl Slot {
    /// Extend the cooldown to `now + d`; a shorter hint never shortens it.
    fn cool(&self, now: Millis, d: Duration) {
        self.cool_until.fetch_max(clock::after(now, d), Relaxed);
    }

    fn observe(&self, ttfb: Duration, now: Millis) {
        let x = ttfb.as_micros().min(u128::from(u64::MAX)) as u64;
        let n = self.samples.fetch_add(1, Relaxed);
        let avg = if n == 0 {
            x
        } else {
            let old = self.ewma_us.load(Relaxed);
            (old * (10 - EWMA_NEW) + x * EWMA_NEW) / 10
        };
        self.ewma_us.store(avg, Relaxed);
        self.measured_at.store(now, Relaxed);
    }
}

/// One admitted attempt. Finish it with the outcome; dropping it unfinished
/// (the client left, the task ended) only gives back its in-flight count
/// and any half-open trial slot.
pub struct Ticket<'h> {
    health: &'h Health,
    instance: usize,
    slot: usize,
    trial: Trial,
    done: bool,
}

impl Ticket<'_> {
    /// The response head says this (instance, model) just emptied a rate-
    /// limit window: rest it now, not when a long stream ends.
    pub fn exhausted(&self, for_: Duration) {
        if let (Some(h), Some(s)) = (
            self.health.instances.get(self.instance),
            self.health.slots.get(self.slot),
        ) {
            s.cool(clock::now(), for_);
            log::info!(
                "instance {}: a rate-limit window is empty, resting it for {for_:?}",
                h.id
            );
        }
    }

    pub fn finish(mut self, signal: Signal) {
        self.done = true;
        self.health
            .apply(self.instance, self.slot, self.trial, signal);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.health.instances.get(self.instance) {
            h.in_flight.fetch_sub(1, Relaxed);
            if !self.done {
                h.breaker.release(self.trial);
            }
        }
    }
}
