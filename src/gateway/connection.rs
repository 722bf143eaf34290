//! Client connections, held to `connections:` so that no client — slow,
//! idle or many — can keep the gateway from answering the next one:
//! a cap per client address, the wait for the next request on a keep-alive
//! connection (closed after `keepalive_idle`, or at once when the process
//! runs short of file descriptors and this is one of the oldest idle ones).
//! The request head and body deadlines are applied where they are read
//! (`process_new_http`, `client`).
//!
//! Each connection owns a [`Slot`] from its first request to its close; it
//! travels between requests in Pingora's per-connection context, and its
//! drop gives the connection's place back.

use crate::config;
use crate::routing::clock;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Idle connections closed at once when a new one finds the table over
/// capacity: a batch, so that a flood of new connections does not walk the
/// idle list one by one.
const EVICT_BATCH: usize = 32;

pub struct Table {
    limits: config::Connections,
    /// Open client connections beyond which the oldest idle ones are closed
    /// (the rest of the process's file descriptors stay for upstreams,
    /// logs and the listeners).
    capacity: usize,
    open: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    /// Connections waiting for their next request, oldest first.
    idle: Mutex<BTreeMap<u64, Arc<Notify>>>,
    next_idle: AtomicU64,
    /// When capacity was last logged, plus one (0: never).
    last_warned: AtomicU64,
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
    ip: Option<IpAddr>,
    evict: Arc<Notify>,
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
        Self {
            limits,
            capacity: fd_limit.saturating_sub(reserve).max(16),
            open: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            idle: Mutex::new(BTreeMap::new()),
            next_idle: AtomicU64::new(0),
            last_warned: AtomicU64::new(0),
        }
    }

    pub fn limits(&self) -> &config::Connections {
        &self.limits
    }

    /// A place for a new connection from `ip`, closing the oldest idle
    /// connections first if the table is full.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Slot, Refused> {
        if let Some(ip) = ip {
            let mut per_ip = lock(&self.per_ip);
            let n = per_ip.entry(ip).or_insert(0);
            if *n >= self.limits.max_per_ip {
                return Err(Refused::PerAddress(self.limits.max_per_ip));
            }
            *n += 1;
        }
        let slot = Slot {
            table: self.clone(),
            ip,
            evict: Arc::new(Notify::new()),
            unawaited: false,
        };
        let open = self.open.fetch_add(1, Relaxed) + 1;
        if open > self.capacity && self.evict_oldest(open - self.capacity) == 0 {
            // Dropping the slot gives its place back.
            return Err(Refused::Full);
        }
        Ok(slot)
    }

    /// Close up to a batch of the oldest idle connections (at least
    /// `wanted`); returns how many were told to close.
    fn evict_oldest(&self, wanted: usize) -> usize {
        let mut idle = lock(&self.idle);
        let mut n = 0;
        while n < wanted.max(EVICT_BATCH) {
            let Some((_, evict)) = idle.pop_first() else {
                break;
            };
            evict.notify_one();
            n += 1;
        }
        drop(idle);
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

    /// Wait for the next request on a keep-alive connection: its first
    /// byte within `keepalive_idle`, unless the connection is evicted or the
    /// server stops first.
    pub async fn next_request(
        &self,
        stream: &mut Stream,
        slot: &Slot,
        shutdown: &ShutdownWatch,
    ) -> Next {
        let seq = self.next_idle.fetch_add(1, Relaxed);
        lock(&self.idle).insert(seq, slot.evict.clone());
        let mut stopping = shutdown.clone();
        let mut first = [0u8; 1];
        let next = tokio::select! {
            biased;
            _ = stopping.wait_for(|&stop| stop) => Next::Close,
            () = slot.evict.notified() => Next::Close,
            peeked = tokio::time::timeout(self.limits.keepalive_idle, stream.try_peek(&mut first)) => {
                match peeked {
                    Ok(Ok(true)) => Next::Request,
                    Ok(Ok(false)) => Next::Unknown,
                    Ok(Err(_)) | Err(_) => Next::Close,
                }
            }
        };
        lock(&self.idle).remove(&seq);
        next
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.open.fetch_sub(1, Relaxed);
        if let Some(ip) = self.ip {
            let mut per_ip = lock(&self.table.per_ip);
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}
