//! Reading usage back: the report behind `/v1/usage`, a key's spend for its
//! budget, and the tokens per instance and model for `least-usage` routing.
//! Owns the read queries; must not write.
//!
//! Tokens and cost that are unknown (NULL) count as 0 in every sum.

use super::record::from_sql_int;
use super::StoreError;
use rusqlite::{params, Connection, Row};

/// What rows of a usage report are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The gateway key's name.
    Key,
    /// The model the client asked for.
    Model,
    /// The instance that answered.
    Instance,
    /// The UTC date, `YYYY-MM-DD`.
    Day,
}

impl GroupBy {
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Key,
        GroupBy::Model,
        GroupBy::Instance,
        GroupBy::Day,
    ];

    /// The name used in `group_by=` and as the row's field name.
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Key => "key",
            GroupBy::Model => "model",
            GroupBy::Instance => "instance",
            GroupBy::Day => "day",
        }
    }

    /// The SQL expression grouped on: a fixed string per variant, so no
    /// caller text ever reaches the SQL.
    fn column(self) -> &'static str {
        match self {
            GroupBy::Key => "key",
            GroupBy::Model => "requested_model",
            GroupBy::Instance => "instance",
            GroupBy::Day => "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')",
        }
    }
}

/// A `group_by` value that is none of `key`, `model`, `instance`, `day`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown group_by `{0}`: expected key, model, instance or day")]
pub struct UnknownGroupBy(pub String);

impl std::str::FromStr for GroupBy {
    type Err = UnknownGroupBy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.name() == text)
            .ok_or_else(|| UnknownGroupBy(text.to_owned()))
    }
}

/// Which records a report covers and how it groups them.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    /// Inclusive, milliseconds since the Unix epoch.
    pub from_ms: i64,
    /// Exclusive.
    pub to_ms: i64,
    /// Only this key's records (a team key asking for its own usage).
    pub key: Option<String>,
    pub group_by: GroupBy,
}

/// Sums over a set of records.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cached_tokens += other.cached_tokens;
        self.cost_usd += other.cost_usd;
    }
}

/// A usage report: the total, and one row per group value in order. A
/// record whose group value is unknown (no key, no instance) is in the row
/// named `-`.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageReport {
    pub total: Totals,
    pub rows: Vec<(String, Totals)>,
}

/// The sums every report row carries. `TOTAL` is SQLite's NULL-safe float
/// sum (0.0 over no values, where `SUM` gives NULL).
const SUMS: &str = "COUNT(*), COALESCE(SUM(prompt_tokens), 0), \
     COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cached_tokens), 0), TOTAL(cost_usd)";

pub(super) fn usage(conn: &Connection, q: &UsageQuery) -> Result<UsageReport, StoreError> {
    // Two texts rather than `(?3 IS NULL OR key = ?3)`, so the planner can
    // use the (key, ts_ms) index when a key is given.
    let filter = match q.key {
        Some(_) => "key = ?3 AND ts_ms >= ?1 AND ts_ms < ?2",
        None => "ts_ms >= ?1 AND ts_ms < ?2",
    };
    let sql = format!(
        "SELECT COALESCE({column}, '-') AS grp, {SUMS} FROM usage WHERE {filter} \
         GROUP BY grp ORDER BY grp",
        column = q.group_by.column(),
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = match &q.key {
        Some(key) => statement.query_map(params![q.from_ms, q.to_ms, key], report_row)?,
        None => statement.query_map(params![q.from_ms, q.to_ms], report_row)?,
    };
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut total = Totals::default();
    for (_, sums) in &rows {
        total.add(sums);
    }
    Ok(UsageReport { total, rows })
}

fn report_row(row: &Row<'_>) -> rusqlite::Result<(String, Totals)> {
    Ok((
        row.get(0)?,
        Totals {
            requests: from_sql_int(row.get(1)?),
            prompt_tokens: from_sql_int(row.get(2)?),
            completion_tokens: from_sql_int(row.get(3)?),
            cached_tokens: from_sql_int(row.get(4)?),
            cost_usd: row.get(5)?,
        },
    ))
}

pub(super) fn spend(conn: &Connection, key: &str, since_ms: i64) -> Result<f64, StoreError> {
    let mut statement =
        conn.prepare_cached("SELECT TOTAL(cost_usd) FROM usage WHERE key = ?1 AND ts_ms >= ?2")?;
    Ok(statement.query_row(params![key, since_ms], |row| row.get(0))?)
}

pub(super) fn tokens_by_slot(
    conn: &Connection,
    since_ms: i64,
) -> Result<Vec<(String, String, u64)>, StoreError> {
    // A record without an instance or upstream model was never routed: it
    // used no slot.
    let mut statement = conn.prepare_cached(
        "SELECT instance, upstream_model, \
         COALESCE(SUM(prompt_tokens), 0) + COALESCE(SUM(completion_tokens), 0) \
         FROM usage WHERE ts_ms >= ?1 AND instance IS NOT NULL AND upstream_model IS NOT NULL \
         GROUP BY instance, upstream_model ORDER BY instance, upstream_model",
    )?;
    let rows = statement.query_map(params![since_ms], |row| {
        Ok((row.get(0)?, row.get(1)?, from_sql_int(row.get(2)?)))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
