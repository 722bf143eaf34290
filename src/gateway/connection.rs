//! Client connections, held to `connections:` so that no client — slow,
//! idle or many — can keep the gateway from answering the next one:
//! a cap per client address, the wait for the next request on a keep-alive
//! connection (closed after `keepalive_idle`, at once when the process
//! runs short of file descriptors and this is one of the oldest idle ones,
//! and when the server stops).
//! The request head and body deadlines are applied where they are read
//! (`process_new_http`, `client`).
//!
//! Each connection owns a [`Slot`] from its first request to its close; it
//! travels between requests in Pingora's per-connection context, and its
//! drop gives the connection's place back. Per request, the wait costs a
//! few atomics, a waker registration and a one-byte peek; no timer: a
//! [`Sweeper`] ticks a coarse clock and closes the connections idle for
//! `keepalive_idle` (within an eighth of it, a second at most). The table
//! is locked only when a connection opens or closes, and scanned once a
//! tick and when it is full.
//!
//! A TLS stream cannot be peeked: there the wait for the next request is the
//! head read itself, under one deadline (`keepalive_idle` + `request_head`),
//! and such a connection is not among those closed early under pressure.

use crate::config;
use crate::routing::clock;
use async_trait::async_trait;
use futures::task::AtomicWaker;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

/// Idle connections closed at once when a new one finds the table over
/// capacity: a batch, so that a flood of new connections does not scan the
/// table for each one.
const EVICT_BATCH: usize = 32;

pub struct Table {
    limits: config::Connections,
    /// Open client connections beyond which the oldest idle ones are closed
    /// (the rest of the process's file descriptors stay for upstreams,
    /// logs and the listeners).
    capacity: usize,
    open: AtomicUsize,
    /// Of those, the ones told to close and not closed yet: counted out, so
    /// that new connections arriving meanwhile do not evict more.
    evicting: AtomicUsize,
    /// Connections by address, and every open connection's shared state:
    /// touched when a connection opens or closes, never per request.
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    next_idle: AtomicU64,
    /// Set when the server stops: every idle connection closes, and so does
    /// every connection that goes idle from then on.
    closing: AtomicBool,
    /// When capacity was last logged, plus one (0: never).
    last_warned: AtomicU64,
    /// The coarse clock of idle waits, advanced by the [`Sweeper`] every
    /// `period`; a connection idle for `idle_ticks` of them is closed.
    tick: AtomicU64,
    period: Duration,
    idle_ticks: u64,
}

#[derive(Default)]
struct Registry {
    per_ip: HashMap<IpAddr, u32>,
    open: HashMap<u64, Arc<Shared>>,
}

/// What the table may read or change of a connection while it waits.
#[derive(Default)]
struct Shared {
    /// The tick its current idle wait began, plus one (0: busy).
    idle_since: AtomicU64,
    /// The order in which idle waits began (the oldest is closed first
    /// under pressure; ticks are too coarse to tell).
    idle_order: AtomicU64,
    evicted: AtomicBool,
    waker: AtomicWaker,
}

/// Why a new connection is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its address holds `max_per_ip` connections already.
    PerAddress(u32),
    /// Every connection the process can hold is busy (none idle to close).
    Full,
}

/// One open client connection's place in the table.
pub struct Slot {
    table: Arc<Table>,
    id: u64,
    ip: Option<IpAddr>,
    shared: Arc<Shared>,
    /// The next request's first byte was not awaited (a TLS stream cannot
    /// be peeked): its head deadline includes `keepalive_idle`.
    pub unawaited: bool,
}

/// How the wait for a keep-alive connection's next request ended.
pub enum Next {
    /// Its first byte is there.
    Request,
    /// The stream cannot be peeked; read the head with the longer deadline.
    Unknown,
    /// Idle too long, closed by the client, evicted, or the server stops.
    Close,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Table {
    /// `fd_limit`: the process's file descriptor limit; a quarter of it (at
    /// least 64) is kept for everything that is not a client connection.
    pub fn new(limits: config::Connections, fd_limit: u64) -> Self {
        let fd_limit = usize::try_from(fd_limit).unwrap_or(usize::MAX);
        let reserve = (fd_limit / 4).max(64);
        let period =
            (limits.keepalive_idle / 8).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let idle_ticks = limits.keepalive_idle.as_nanos().div_ceil(period.as_nanos());
        Self {
            limits,
            capacity: fd_limit.saturating_sub(reserve).max(16),
            open: AtomicUsize::new(0),
            evicting: AtomicUsize::new(0),
            registry: Mutex::new(Registry::default()),
            next_id: AtomicU64::new(0),
            next_idle: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            last_warned: AtomicU64::new(0),
            tick: AtomicU64::new(0),
            period,
            idle_ticks: u64::try_from(idle_ticks).unwrap_or(u64::MAX),
        }
    }

    pub fn limits(&self) -> &config::Connections {
        &self.limits
    }

    /// A place for a new connection from `ip`, closing the oldest idle
    /// connections first if the table is full.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Slot, Refused> {
        let id = self.next_id.fetch_add(1, Relaxed);
        let shared = Arc::new(Shared::default());
        {
            let mut registry = lock(&self.registry);
            if let Some(ip) = ip {
                let n = registry.per_ip.entry(ip).or_insert(0);
                if *n >= self.limits.max_per_ip {
                    return Err(Refused::PerAddress(self.limits.max_per_ip));
                }
                *n += 1;
            }
            registry.open.insert(id, shared.clone());
        }
        let slot = Slot {
            table: self.clone(),
            id,
            ip,
            shared,
            unawaited: false,
        };
        let open = self.open.fetch_add(1, Relaxed) + 1;
        let staying = open.saturating_sub(self.evicting.load(Relaxed));
        if staying > self.capacity && self.evict_oldest(staying - self.capacity) == 0 {
            // Dropping the slot gives its place back.
            return Err(Refused::Full);
        }
        Ok(slot)
    }

    /// Close the oldest idle connections, a batch of at least `wanted`;
    /// returns how many were told to close.
    fn evict_oldest(&self, wanted: usize) -> usize {
        let mut idle: Vec<(u64, Arc<Shared>)> = {
            let registry = lock(&self.registry);
            (registry.open.values())
                .filter(|s| s.idle_since.load(SeqCst) != 0 && !s.evicted.load(Relaxed))
                .map(|s| (s.idle_order.load(Relaxed), s.clone()))
                .collect()
        };
        let n = wanted.max(EVICT_BATCH).min(idle.len());
        if n < idle.len() {
            idle.select_nth_unstable_by_key(n, |(order, _)| *order);
        }
        for (_, s) in &idle[..n] {
            if s.evict() {
                self.evicting.fetch_add(1, Relaxed);
            }
        }
        // Logged at most once a minute: a flood of connections must not
        // become a flood of log lines.
        let now = clock::now() + 1;
        let last = self.last_warned.load(Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= 60_000;
        if n > 0
            && due
            && (self.last_warned)
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            log::warn!(
                "client connections at capacity ({}): closing the oldest idle ones",
                self.capacity
            );
        }
        n
    }

    /// The server stops: close every idle connection now, and every one
    /// that goes idle from now on.
    pub fn close_idle(&self) {
        self.closing.store(true, SeqCst);
        self.evict_idle(|_| true);
    }

    /// One tick of the coarse clock: close the connections idle too long.
    fn sweep(&self) {
        let now = self.tick.fetch_add(1, SeqCst) + 1;
        // `since` is the tick a wait began at plus one; `now` the new tick
        // (a wait that began during this sweep may be ahead of it).
        self.evict_idle(|since| now.saturating_sub(since) >= self.idle_ticks);
    }

    /// Tell every idle connection whose wait `stale` picks (by the tick it
    /// began at, plus one) to close.
    fn evict_idle(&self, stale: impl Fn(u64) -> bool) {
        let registry = lock(&self.registry);
        for s in registry.open.values() {
            let since = s.idle_since.load(SeqCst);
            if since != 0 && stale(since) && s.evict() {
                self.evicting.fetch_add(1, Relaxed);
            }
        }
    }

    /// Wait for the next request on a keep-alive connection: its first
    /// byte, unless the connection is closed first (idle for
    /// `keepalive_idle`, evicted, or the server stops).
    pub async fn next_request(&self, stream: &mut Stream, slot: &Slot) -> Next {
        let shared = &slot.shared;
        let order = self.next_idle.fetch_add(1, Relaxed);
        shared.idle_order.store(order, Relaxed);
        shared.idle_since.store(self.tick.load(Relaxed) + 1, SeqCst);
        if self.closing.load(SeqCst) {
            return Next::Close;
        }
        let evicted = std::future::poll_fn(|cx| {
            shared.waker.register(cx.waker());
            if shared.evicted.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let mut first = [0u8; 1];
        // A request that arrived wins over an eviction decided meanwhile.
        let next = tokio::select! {
            biased;
            peeked = stream.try_peek(&mut first) => match peeked {
                Ok(true) => Next::Request,
                Ok(false) => Next::Unknown,
                Err(_) => Next::Close,
            },
            () = evicted => Next::Close,
        };
        shared.idle_since.store(0, SeqCst);
        next
    }
}

/// The background task that keeps the table's clock, closes idle
/// connections, and closes them all when the server stops.
pub struct Sweeper(pub Arc<Table>);

#[async_trait]
impl BackgroundService for Sweeper {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut ticks = tokio::time::interval(self.0.period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = ticks.tick() => self.0.sweep(),
            }
        }
        self.0.close_idle();
    }
}

impl Shared {
    /// Tell the connection to close; `false` if it already was.
    fn evict(&self) -> bool {
        let first = !self.evicted.swap(true, SeqCst);
        self.waker.wake();
        first
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.open.fetch_sub(1, Relaxed);
        if self.shared.evicted.load(SeqCst) {
            self.table.evicting.fetch_sub(1, Relaxed);
        }
        let mut registry = lock(&self.table.registry);
        registry.open.remove(&self.id);
        if let Some(ip) = self.ip {
            if let Some(n) = registry.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    registry.per_ip.remove(&ip);
                }
            }
        }
    }
}
