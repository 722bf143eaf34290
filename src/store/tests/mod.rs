//! Helpers shared by the store's tests: a sample of records over two days
//! and a way to hold the write lock as another process would.

use super::*;
use std::time::Instant;

/// 2024-01-01T10:00:00Z and 2024-01-02T00:00:00Z.
const DAY1_10H: i64 = 1_704_103_200_000;
const DAY2: i64 = 1_704_153_600_000;
const HOUR: i64 = 3_600_000;

fn db(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("modelgate.db")
}

/// A routed, priced, successful record; tests change what they look at.
fn routed(ts_ms: i64, key: &str, model: &str, instance: &str) -> UsageRecord {
    UsageRecord {
        ts_ms,
        request_id: format!("req-{ts_ms}"),
        key: Some(key.to_owned()),
        route: "/v1/chat/completions".to_owned(),
        requested_model: Some(model.to_owned()),
        instance: Some(instance.to_owned()),
        upstream_model: Some(format!("{model}-up")),
        status: 200,
        stream: false,
        prompt_tokens: Some(10),
        completion_tokens: Some(5),
        cached_tokens: Some(2),
        cost_usd: Some(0.5),
        latency_ms: 120,
    }
}

/// A request refused before routing: nothing known but the time.
fn unrouted(ts_ms: i64) -> UsageRecord {
    UsageRecord {
        ts_ms,
        request_id: "req-bare".to_owned(),
        key: None,
        route: "/v1/chat/completions".to_owned(),
        requested_model: None,
        instance: None,
        upstream_model: None,
        status: 400,
        stream: true,
        prompt_tokens: None,
        completion_tokens: None,
        cached_tokens: None,
        cost_usd: None,
        latency_ms: 1,
    }
}

/// Four records over two days: alice twice, bob once (usage unknown), and
/// one with no key, model or instance.
fn sample() -> Vec<UsageRecord> {
    let bob = UsageRecord {
        prompt_tokens: Some(20),
        completion_tokens: Some(10),
        cached_tokens: None,
        cost_usd: None,
        stream: true,
        ..routed(DAY1_10H + HOUR, "bob", "claude", "an-1")
    };
    let alice_late = UsageRecord {
        prompt_tokens: Some(1),
        completion_tokens: Some(1),
        cached_tokens: Some(0),
        cost_usd: Some(0.25),
        ..routed(DAY2 + 5, "alice", "gpt-4o", "oa-2")
    };
    vec![
        routed(DAY1_10H, "alice", "gpt-4o", "oa-1"),
        bob,
        unrouted(DAY2),
        alice_late,
    ]
}

fn totals(requests: u64, prompt: u64, completion: u64, cached: u64, cost: f64) -> Totals {
    Totals {
        requests,
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        cost_usd: cost,
    }
}

fn query(group_by: GroupBy) -> UsageQuery {
    UsageQuery {
        from_ms: 0,
        to_ms: i64::MAX,
        key: None,
        group_by,
    }
}

fn row(name: &str, t: Totals) -> (String, Totals) {
    (name.to_owned(), t)
}

fn stored_key(name: &str) -> StoredKey {
    StoredKey {
        name: name.to_owned(),
        sha256: [0xab; 32],
        models: vec!["gpt-*".to_owned(), "claude".to_owned()],
        rpm: Some(60),
        tpm: Some(100_000),
        budget_usd: Some(12.5),
        budget_period: Some("month".to_owned()),
        expires_at_ms: Some(DAY2),
        created_at_ms: DAY1_10H,
    }
}

fn count(store: &Store) -> u64 {
    store.usage(&query(GroupBy::Key)).unwrap().total.requests
}

/// A second connection that holds the write lock, as the other process of
/// a hand-over does mid-commit.
fn lock(path: &Path) -> Connection {
    let blocker = Connection::open(path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    blocker
}

fn quick() -> Tuning {
    Tuning {
        busy_timeout: Duration::from_millis(20),
        retry_delay: Duration::from_millis(50),
        flush_timeout: Duration::from_millis(300),
        ..Tuning::default()
    }
}

mod durability;
mod queries;
