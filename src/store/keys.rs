//! Team keys created at run time (through the admin API). Owns the
//! `team_keys` rows; must never see a key's plaintext: only its SHA-256
//! digest is stored.

use super::record::{from_sql_int, to_sql_int};
use super::StoreError;
use rusqlite::{params, Connection, Row};

/// A team key as stored: its grant and limits, and the digest of the secret.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKey {
    pub name: String,
    /// SHA-256 of the key; the key itself is shown once and never kept.
    pub sha256: [u8; 32],
    /// Model globs the key may use (stored as a JSON array).
    pub models: Vec<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<String>,
    pub expires_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

const COLUMNS: &str = "name, sha256_hex, models, rpm, tpm, budget_usd, budget_period, \
     expires_at_ms, created_at_ms";

pub(super) fn all(conn: &Connection) -> Result<Vec<StoredKey>, StoreError> {
    let mut statement =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM team_keys ORDER BY name"))?;
    let rows = statement.query_map([], raw_row)?;
    let mut keys = Vec::new();
    for raw in rows {
        keys.push(raw?.parse()?);
    }
    Ok(keys)
}

pub(super) fn one(conn: &Connection, name: &str) -> Result<Option<StoredKey>, StoreError> {
    let mut statement =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM team_keys WHERE name = ?1"))?;
    let mut rows = statement.query_map(params![name], raw_row)?;
    match rows.next() {
        Some(raw) => Ok(Some(raw?.parse()?)),
        None => Ok(None),
    }
}

pub(super) fn insert(conn: &Connection, k: &StoredKey) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "INSERT INTO team_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    let models = models_json(&k.models)?;
    let result = statement.execute(params![
        k.name,
        hex::encode(k.sha256),
        models,
        k.rpm,
        k.tpm.map(to_sql_int),
        k.budget_usd,
        k.budget_period,
        k.expires_at_ms,
        k.created_at_ms,
    ]);
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_name(&e) => Err(StoreError::NameTaken(k.name.clone())),
        Err(e) => Err(e.into()),
    }
}

/// Replaces every field of the key named `k.name`.
pub(super) fn update(conn: &Connection, k: &StoredKey) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(
        "UPDATE team_keys SET sha256_hex = ?2, models = ?3, rpm = ?4, tpm = ?5, \
         budget_usd = ?6, budget_period = ?7, expires_at_ms = ?8, created_at_ms = ?9 \
         WHERE name = ?1",
    )?;
    let models = models_json(&k.models)?;
    let changed = statement.execute(params![
        k.name,
        hex::encode(k.sha256),
        models,
        k.rpm,
        k.tpm.map(to_sql_int),
        k.budget_usd,
        k.budget_period,
        k.expires_at_ms,
        k.created_at_ms,
    ])?;
    if changed == 0 {
        return Err(StoreError::NotFound(k.name.clone()));
    }
    Ok(())
}

pub(super) fn delete(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let mut statement = conn.prepare_cached("DELETE FROM team_keys WHERE name = ?1")?;
    Ok(statement.execute(params![name])? > 0)
}

/// The primary key (the name) already exists; any other constraint is a
/// plain error.
fn is_duplicate_name(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

fn models_json(models: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(models)
        .map_err(|e| StoreError::Sqlite(format!("encoding a key's models: {e}")))
}

/// A row as SQLite returns it, before the columns SQLite cannot check
/// (the digest, the JSON list) are parsed.
struct RawKey {
    name: String,
    sha256_hex: String,
    models: String,
    rpm: Option<u32>,
    tpm: Option<i64>,
    budget_usd: Option<f64>,
    budget_period: Option<String>,
    expires_at_ms: Option<i64>,
    created_at_ms: i64,
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawKey> {
    Ok(RawKey {
        name: row.get(0)?,
        sha256_hex: row.get(1)?,
        models: row.get(2)?,
        rpm: row.get(3)?,
        tpm: row.get(4)?,
        budget_usd: row.get(5)?,
        budget_period: row.get(6)?,
        expires_at_ms: row.get(7)?,
        created_at_ms: row.get(8)?,
    })
}

impl RawKey {
    fn parse(self) -> Result<StoredKey, StoreError> {
        // The messages name the key and the column, never the stored text.
        let mut sha256 = [0u8; 32];
        hex::decode_to_slice(&self.sha256_hex, &mut sha256).map_err(|_| {
            StoreError::Sqlite(format!(
                "team key {}: sha256_hex is not a SHA-256 digest",
                self.name
            ))
        })?;
        let models: Vec<String> = serde_json::from_str(&self.models).map_err(|_| {
            StoreError::Sqlite(format!(
                "team key {}: models is not a JSON list of strings",
                self.name
            ))
        })?;
        Ok(StoredKey {
            name: self.name,
            sha256,
            models,
            rpm: self.rpm,
            tpm: self.tpm.map(from_sql_int),
            budget_usd: self.budget_usd,
            budget_period: self.budget_period,
            expires_at_ms: self.expires_at_ms,
            created_at_ms: self.created_at_ms,
        })
    }
}
