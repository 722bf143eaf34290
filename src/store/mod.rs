//! The embedded database (SQLite): usage records and run-time team keys.
//! Owns the file, its schema and the background writer; knows nothing of
//! the rest of the crate (plain data in, plain data out). Must never make
//! the request path wait on the disk: [`Store::record`] only hands the
//! record to the writer thread, which commits in batches.
//!
//! Two connections per [`Store`]: the writer thread's own, and a *direct*
//! one behind a mutex for the rare calls that answer at once (usage
//! reports, spend, key changes). Those calls block: async callers run them
//! with `spawn_blocking`. In WAL mode the reads never wait for the writer.
//!
//! Fork-safe: the gateway opens the store before Pingora daemonises (a
//! `fork`, which keeps no thread and must not carry a SQLite connection
//! into the child). So the writer thread starts with the first record, and
//! the direct connection is opened again in a process that did not open it.

mod keys;
mod query;
mod record;
mod schema;
mod writer;

pub use keys::StoredKey;
pub use query::{GroupBy, Totals, UnknownGroupBy, UsageQuery, UsageReport};
pub use record::UsageRecord;

use rusqlite::Connection;
use std::path::Path;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use writer::{Counters, Message, Writer};

/// What went wrong in the store. Messages name files, keys and columns,
/// never stored values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the store has schema version {found}, newer than this modelgate knows ({known}): \
         run a newer modelgate, or point `store:` at another file"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("a key named `{0}` already exists")]
    NameTaken(String),
    #[error("no key named `{0}`")]
    NotFound(String),
    #[error("store: {0}")]
    Sqlite(String),
    #[error("the store's writer has stopped")]
    Stopped,
    #[error("the store did not commit within the flush timeout ({pending} records pending)")]
    FlushTimeout { pending: u64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            // The only variant whose message carries a stored value.
            rusqlite::Error::IntegralValueOutOfRange(column, _) => {
                StoreError::Sqlite(format!("an integer out of range in column {column}"))
            }
            other => StoreError::Sqlite(other.to_string()),
        }
    }
}

/// The numbers that shape the writer; tests shrink them.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// How long after its first record a batch is committed.
    batch_delay: Duration,
    /// A batch this large is committed at once.
    batch_size: usize,
    /// How long after a failed commit the next try is.
    retry_delay: Duration,
    /// How long a connection waits for another's write lock.
    busy_timeout: Duration,
    /// Pending records past which new ones are dropped (and counted).
    pending_cap: u64,
    /// How long [`Store::flush`] waits.
    flush_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            batch_delay: Duration::from_millis(200),
            batch_size: 1000,
            retry_delay: Duration::from_secs(1),
            busy_timeout: Duration::from_secs(5),
            pending_cap: 1_000_000,
            flush_timeout: Duration::from_secs(10),
        }
    }
}

/// A handle on the store; clones share one writer thread and connection.
/// Dropping the last one waits for the writer's final commit (a clean stop
/// loses nothing), retrying for up to 10 s if the file is locked.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Started by the first record or flush (see the module doc).
    writer: OnceLock<Result<WriterThread, String>>,
    counters: Arc<Counters>,
    direct: Mutex<Direct>,
    tuning: Tuning,
}

/// The direct connection and the process that opened it.
struct Direct {
    pid: u32,
    conn: Option<Connection>,
}

/// The writer thread and the way in. Dropped with the last [`Store`]:
/// closing the channel tells the thread to commit what it holds and end,
/// and the join makes a clean stop wait for that commit.
struct WriterThread {
    inbox: Option<Sender<Message>>,
    thread: Option<JoinHandle<()>>,
}

impl WriterThread {
    fn send(&self, message: Message) -> Result<(), StoreError> {
        let inbox = self.inbox.as_ref().ok_or(StoreError::Stopped)?;
        inbox.send(message).map_err(|_| StoreError::Stopped)
    }

    /// Wakes the thread now rather than at its next round.
    fn wake(&self) {
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        drop(self.inbox.take());
        self.wake();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("store: the writer thread panicked; uncommitted usage is lost");
            }
        }
    }
}

impl Store {
    /// Opens (or creates) the database at `path` and starts its writer. The
    /// directory must exist. Migrates an older schema; refuses a newer one.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_tuned(path, Tuning::default())
    }

    fn open_tuned(path: &Path, tuning: Tuning) -> Result<Store, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        let mut conn = schema::connect(path, tuning.busy_timeout)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            StoreError::NewerSchema { .. } => e,
            other => open_error(other.to_string()),
        })?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: OnceLock::new(),
                counters: Arc::new(Counters::default()),
                direct: Mutex::new(Direct {
                    pid: std::process::id(),
                    conn: Some(conn),
                }),
                tuning,
            }),
        })
    }

    /// The writer thread, started on first use.
    fn writer(&self) -> Result<&WriterThread, StoreError> {
        let inner = &self.inner;
        let started = inner.writer.get_or_init(|| {
            let conn = schema::connect(&inner.path, inner.tuning.busy_timeout)
                .map_err(|e| e.to_string())?;
            let (inbox, outbox) = mpsc::channel();
            let writer = Writer::new(conn, Arc::clone(&inner.counters), inner.tuning);
            let thread = std::thread::Builder::new()
                .name("modelgate-store".to_owned())
                .spawn(move || writer.run(outbox))
                .map_err(|e| format!("cannot start the writer thread: {e}"))?;
            Ok(WriterThread {
                inbox: Some(inbox),
                thread: Some(thread),
            })
        });
        started.as_ref().map_err(|why| {
            log::error!("store: {why}");
            StoreError::Stopped
        })
    }

    /// Hands a record to the writer. Never blocks on the disk and never
    /// fails; past the cap on pending records it is dropped, counted in
    /// [`Store::dropped`] and logged.
    pub fn record(&self, r: UsageRecord) {
        let inner = &self.inner;
        if !inner.counters.admit(inner.tuning.pending_cap) {
            return;
        }
        if self
            .writer()
            .and_then(|w| w.send(Message::Record(r)))
            .is_err()
        {
            inner.counters.lose(1, "the writer thread has stopped");
        }
    }

    /// Records accepted and not yet committed (nor dropped).
    pub fn pending(&self) -> u64 {
        self.inner.counters.pending()
    }

    /// Records given up: over the cap, or left uncommitted at a stop.
    pub fn dropped(&self) -> u64 {
        self.inner.counters.dropped()
    }

    /// Blocks until every record accepted before the call is committed, or
    /// the flush timeout (10 s) passes.
    pub fn flush(&self) -> Result<(), StoreError> {
        if self.inner.writer.get().is_none() {
            // Nothing was ever recorded: nothing to wait for.
            return Ok(());
        }
        let (reply, answer) = mpsc::channel();
        let writer = self.writer()?;
        writer.send(Message::Flush(reply))?;
        writer.wake();
        match answer.recv_timeout(self.inner.tuning.flush_timeout) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(StoreError::FlushTimeout {
                pending: self.pending(),
            }),
            Err(RecvTimeoutError::Disconnected) => Err(StoreError::Stopped),
        }
    }

    /// The usage report for `q` (blocking).
    pub fn usage(&self, q: &UsageQuery) -> Result<UsageReport, StoreError> {
        self.with_direct(|c| query::usage(c, q))
    }

    /// What `key` spent since `since_ms` (blocking); unknown costs count 0.
    pub fn spend(&self, key: &str, since_ms: i64) -> Result<f64, StoreError> {
        self.with_direct(|c| query::spend(c, key, since_ms))
    }

    /// Prompt + completion tokens per (instance, upstream model) since
    /// `since_ms`, ordered by both (blocking).
    pub fn tokens_by_slot(&self, since_ms: i64) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.with_direct(|c| query::tokens_by_slot(c, since_ms))
    }

    /// Every stored team key, by name.
    pub fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        self.with_direct(keys::all)
    }

    pub fn key(&self, name: &str) -> Result<Option<StoredKey>, StoreError> {
        self.with_direct(|c| keys::one(c, name))
    }

    /// Adds a key; [`StoreError::NameTaken`] if one has its name.
    pub fn insert_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        self.with_direct(|c| keys::insert(c, k))
    }

    /// Replaces the key named `k.name`; [`StoreError::NotFound`] if none.
    pub fn update_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        self.with_direct(|c| keys::update(c, k))
    }

    /// Removes a key; `false` if there was none.
    pub fn delete_key(&self, name: &str) -> Result<bool, StoreError> {
        self.with_direct(|c| keys::delete(c, name))
    }

    /// The direct connection. A panic while it was held cannot leave it
    /// half-changed (every change is one statement), so a poisoned lock is
    /// taken as it is.
    fn with_direct<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut direct = (self.inner.direct.lock()).unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        if direct.pid != pid {
            // Opened before a fork: the parent's, never to be used (nor
            // closed) here.
            std::mem::forget(direct.conn.take());
            direct.pid = pid;
        }
        let conn = match direct.conn.take() {
            Some(conn) => conn,
            None => schema::connect(&self.inner.path, self.inner.tuning.busy_timeout)?,
        };
        let out = f(&conn);
        direct.conn = Some(conn);
        out
    }
}

#[cfg(test)]
mod tests;
