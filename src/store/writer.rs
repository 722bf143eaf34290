//! The background writer: the one thread that writes usage records. Owns
//! batching, commit timing, retrying failed commits and the counters that
//! say how far behind it is; must never make a caller wait on the disk
//! (callers only push onto an unbounded channel).
//!
//! The thread does not wait on the channel: it sleeps (`park_timeout`) and
//! drains what arrived when it wakes. Blocked on `recv`, it was woken by
//! every record — a futex wake-up and a spin per request, measured at ~4k
//! instructions per request plus the system call. A flush (and the last
//! handle going) wakes it at once with `unpark`.
//!
//! A batch is committed within 200 ms of the wake-up that found its first
//! record (so within ~400 ms of it), or at once when it reaches 1000
//! records, so a `kill -9` loses well under a second. A failed
//! commit (the other process of a hand-over holding the lock past the busy
//! timeout, a full disk) keeps the records in memory and is retried; a
//! record leaves memory only once committed, or when the cap on pending
//! records is reached (counted and logged, never silent).

use super::record::{insert_batch, UsageRecord};
use super::Tuning;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Past this many records held, one transaction would grow without bound;
/// a backlog is committed in transactions of this size.
const CHUNK: usize = 5_000;

/// Pending records past which the writer is said to be falling behind.
const BEHIND: u64 = 50_000;

/// How long a stop keeps retrying before it gives the held records up.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What callers send the writer thread. Nearly every message is a record:
/// boxing it to shrink the rare flush would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(super) enum Message {
    Record(UsageRecord),
    /// Answered once every record sent before it is committed.
    Flush(Sender<()>),
}

/// Counters shared by the callers and the writer thread. `pending` is what
/// was accepted and is neither committed nor dropped yet.
#[derive(Default)]
pub(super) struct Counters {
    accepted: AtomicU64,
    committed: AtomicU64,
    dropped: AtomicU64,
    drop_log: LogThrottle,
}

impl Counters {
    pub(super) fn pending(&self) -> u64 {
        let accepted = self.accepted.load(Ordering::Acquire);
        let done = self.committed.load(Ordering::Acquire) + self.dropped.load(Ordering::Acquire);
        accepted.saturating_sub(done)
    }

    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Acquire)
    }

    /// Counts a record in; `false` when the cap is reached and it must be
    /// dropped instead (already counted and logged here).
    pub(super) fn admit(&self, cap: u64) -> bool {
        if self.pending() >= cap {
            self.accepted.fetch_add(1, Ordering::AcqRel);
            self.lose(1, "the writer holds too many uncommitted records");
            return false;
        }
        self.accepted.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Counts accepted records as dropped, with a (throttled) error line.
    pub(super) fn lose(&self, n: u64, why: &str) {
        let total = self.dropped.fetch_add(n, Ordering::AcqRel) + n;
        if self.drop_log.allow() {
            log::error!("store: dropping usage records: {why} ({total} dropped so far)");
        }
    }
}

/// Lets a message through at most once per 10 s, so a failing disk under
/// load fills the log with one line per period rather than one per record.
pub(super) struct LogThrottle {
    start: Instant,
    /// Milliseconds after `start` of the last message, plus one (0: never).
    last: AtomicU64,
}

impl Default for LogThrottle {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }
}

impl LogThrottle {
    const PERIOD_MS: u64 = 10_000;

    pub(super) fn allow(&self) -> bool {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let now = elapsed.saturating_add(1);
        let last = self.last.load(Ordering::Acquire);
        if last != 0 && now.saturating_sub(last) < Self::PERIOD_MS {
            return false;
        }
        self.last
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// The writer thread's state.
pub(super) struct Writer {
    conn: rusqlite::Connection,
    counters: Arc<Counters>,
    tuning: Tuning,
    /// Received and not yet committed, oldest first.
    held: Vec<UsageRecord>,
    /// Records received so far (the position a flush waits for).
    received: u64,
    committed: u64,
    /// Flushes waiting for `committed` to reach their position.
    waiters: Vec<(u64, Sender<()>)>,
    /// When the next commit is due; `None` while nothing is held.
    due: Option<Instant>,
    /// The last commit failed: wait for `due` instead of committing early.
    backing_off: bool,
    failure_log: LogThrottle,
    behind_log: LogThrottle,
}

impl Writer {
    pub(super) fn new(conn: rusqlite::Connection, counters: Arc<Counters>, tuning: Tuning) -> Self {
        Self {
            conn,
            counters,
            tuning,
            held: Vec::new(),
            received: 0,
            committed: 0,
            waiters: Vec::new(),
            due: None,
            backing_off: false,
            failure_log: LogThrottle::default(),
            behind_log: LogThrottle::default(),
        }
    }

    /// The thread's body: runs until every `Sender` is gone, then commits
    /// what it holds and returns.
    pub(super) fn run(mut self, inbox: Receiver<Message>) {
        loop {
            loop {
                match inbox.try_recv() {
                    Ok(Message::Record(record)) => self.hold(record),
                    Ok(Message::Flush(reply)) => self.flush(reply),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.stop(),
                }
            }
            let now = Instant::now();
            if self.due.is_some_and(|due| due <= now) {
                self.commit();
            }
            let sleep = (self.due)
                .map_or(self.tuning.batch_delay, |due| {
                    due.saturating_duration_since(now)
                })
                .min(self.tuning.batch_delay);
            std::thread::park_timeout(sleep);
        }
    }

    fn hold(&mut self, record: UsageRecord) {
        self.held.push(record);
        self.received += 1;
        if self.due.is_none() {
            self.due = Some(Instant::now() + self.tuning.batch_delay);
        }
        if self.held.len() >= self.tuning.batch_size && !self.backing_off {
            self.commit();
        }
    }

    fn flush(&mut self, reply: Sender<()>) {
        self.waiters.push((self.received, reply));
        // One attempt now even while backing off: someone is waiting.
        self.commit();
    }

    /// Commits everything held, oldest first; on a failure keeps the rest
    /// and schedules a retry.
    fn commit(&mut self) {
        while !self.held.is_empty() {
            let n = self.held.len().min(CHUNK);
            if let Err(e) = insert_batch(&mut self.conn, &self.held[..n]) {
                self.failed(&e);
                self.answer_waiters();
                return;
            }
            self.held.drain(..n);
            let n = u64::try_from(n).unwrap_or(u64::MAX);
            self.committed += n;
            self.counters.committed.fetch_add(n, Ordering::AcqRel);
        }
        self.due = None;
        self.backing_off = false;
        self.answer_waiters();
        let pending = self.counters.pending();
        if pending > BEHIND && self.behind_log.allow() {
            log::warn!("store: the usage writer is {pending} records behind");
        }
    }

    fn failed(&mut self, e: &rusqlite::Error) {
        self.due = Some(Instant::now() + self.tuning.retry_delay);
        self.backing_off = true;
        if self.failure_log.allow() {
            let held = self.held.len();
            match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    log::warn!(
                        "store: the database stayed locked by another process; \
                         {held} usage records held, retrying"
                    );
                }
                _ => log::error!(
                    "store: committing usage failed: {e}; {held} records held, retrying"
                ),
            }
        }
    }

    fn answer_waiters(&mut self) {
        let committed = self.committed;
        self.waiters.retain(|(position, reply)| {
            if *position > committed {
                return true;
            }
            // The caller may have given up waiting; nothing to tell it then.
            let _ = reply.send(());
            false
        });
    }

    /// Every handle is gone: commit what is held, retrying for a while (the
    /// other process of a hand-over may hold the lock), then give up loudly.
    fn stop(mut self) {
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            self.commit();
            if self.held.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                let lost = u64::try_from(self.held.len()).unwrap_or(u64::MAX);
                // Not throttled: this is the last thing the writer says.
                self.counters.dropped.fetch_add(lost, Ordering::AcqRel);
                log::error!("store: stopping with {lost} usage records not committed");
                return;
            }
            std::thread::sleep(self.tuning.retry_delay.min(Duration::from_millis(250)));
        }
    }
}
