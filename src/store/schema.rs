//! The database file: opening a connection with the settings every
//! connection needs, and the schema migrations. Owns the table layout; must
//! not read or write rows.
//!
//! The schema version is SQLite's `PRAGMA user_version`. Version `n` is
//! reached by running `MIGRATIONS[n - 1]` on a database at version `n - 1`,
//! so a new version is one more entry at the end of the list (never an edit
//! of an old one: files in the field have already run it).

use super::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Every migration, in order; the schema version this binary knows is the
/// length of the list.
const MIGRATIONS: &[&str] = &[V1];

/// Usage records and run-time team keys. Tokens and cost are NULL when
/// unknown (an unpriced model, a provider that does not report usage), so
/// "unknown" never reads as "zero" in a single record; sums count NULL as 0.
/// The key digest is hex text: readable with the `sqlite3` shell, and still
/// only a digest.
const V1: &str = "
CREATE TABLE usage (
    id                INTEGER PRIMARY KEY,
    ts_ms             INTEGER NOT NULL,
    request_id        TEXT    NOT NULL,
    key               TEXT,
    route             TEXT    NOT NULL,
    requested_model   TEXT,
    instance          TEXT,
    upstream_model    TEXT,
    status            INTEGER NOT NULL,
    stream            INTEGER NOT NULL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    cached_tokens     INTEGER,
    cost_usd          REAL,
    latency_ms        INTEGER NOT NULL
);
CREATE INDEX usage_ts ON usage (ts_ms);
CREATE INDEX usage_key_ts ON usage (key, ts_ms);
CREATE TABLE team_keys (
    name          TEXT    PRIMARY KEY NOT NULL,
    sha256_hex    TEXT    NOT NULL,
    models        TEXT    NOT NULL,
    rpm           INTEGER,
    tpm           INTEGER,
    budget_usd    REAL,
    budget_period TEXT,
    expires_at_ms INTEGER,
    created_at_ms INTEGER NOT NULL
);
";

/// The schema version this binary creates and understands.
pub(super) fn known_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Opens one connection to `path` (creating the file if missing) with the
/// settings every connection of the store shares.
///
/// - WAL: readers never block the writer and the writer never blocks
///   readers, and two processes (old and new during a graceful upgrade) can
///   share the file.
/// - `synchronous=NORMAL`: in WAL mode a killed process loses nothing that
///   was committed; only a power loss can lose the last commits. `FULL`
///   would add an fsync per commit for that case alone.
/// - `busy_timeout`: while the other process of a hand-over holds the write
///   lock, wait for it instead of failing at once.
pub(super) fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let open_error = |reason: String| StoreError::Open {
        path: path.display().to_string(),
        reason,
    };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent {
        if !dir.is_dir() {
            return Err(open_error(format!(
                "the directory {} does not exist",
                dir.display()
            )));
        }
    }
    let conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| open_error(e.to_string()))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| open_error(e.to_string()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(open_error(format!(
            "the file system refused WAL journal mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| open_error(e.to_string()))?;
    // Room for every statement the store prepares (eight report shapes,
    // spend, slots, five for keys), so none is parsed again per call.
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Brings the database up to [`known_version`]. The check and the steps run
/// in one write transaction, so two processes opening a new file at once do
/// not both create the tables. A database from a newer binary is refused:
/// this one cannot know what the newer schema means.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = known_version();
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    let done = usize::try_from(found).unwrap_or(0);
    for (index, step) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(step)?;
        // `PRAGMA` takes no bound parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
    }
    tx.commit()?;
    Ok(())
}
