//! One usage record and how a batch of them becomes rows. Owns the mapping
//! between [`UsageRecord`] and the `usage` table; must not decide when a
//! batch is written (the writer does).

use rusqlite::{params, Connection, TransactionBehavior};

/// What the gateway knows about one finished request. `None` is "unknown"
/// (no key on an open gateway, a model with no price, a provider that did
/// not report usage) and is stored as NULL, never as zero.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    /// When the request arrived, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    pub request_id: String,
    /// The gateway key's name (never the key itself).
    pub key: Option<String>,
    pub route: String,
    /// The `model` the client asked for.
    pub requested_model: Option<String>,
    /// The instance that answered (the last one tried).
    pub instance: Option<String>,
    pub upstream_model: Option<String>,
    pub status: u16,
    pub stream: bool,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
}

const INSERT: &str = "INSERT INTO usage (ts_ms, request_id, key, route, requested_model, \
     instance, upstream_model, status, stream, prompt_tokens, completion_tokens, \
     cached_tokens, cost_usd, latency_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// Writes `records` in one transaction: all of them or none. `IMMEDIATE`
/// takes the write lock up front, so a busy database (the other process of
/// a hand-over) is waited for by the busy timeout at `BEGIN` rather than
/// failing half-way.
pub(super) fn insert_batch(conn: &mut Connection, records: &[UsageRecord]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(INSERT)?;
        for r in records {
            insert.execute(params![
                r.ts_ms,
                r.request_id,
                r.key,
                r.route,
                r.requested_model,
                r.instance,
                r.upstream_model,
                r.status,
                r.stream,
                r.prompt_tokens.map(to_sql_int),
                r.completion_tokens.map(to_sql_int),
                r.cached_tokens.map(to_sql_int),
                r.cost_usd,
                to_sql_int(r.latency_ms),
            ])?;
        }
    }
    tx.commit()
}

/// SQLite integers are signed 64-bit; a count past `i64::MAX` cannot occur
/// in practice, and saturating keeps a record rather than failing a batch.
pub(super) fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The way back: a negative count can only come from a hand-edited file.
pub(super) fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
