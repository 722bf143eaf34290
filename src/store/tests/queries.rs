//! Reports, spend, slots and keys, read back after a flush.

use super::*;

#[test]
fn totals_and_every_grouping() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    sample().into_iter().for_each(|r| store.record(r));
    store.flush().unwrap();
    assert_eq!(store.pending(), 0);

    let alice = totals(2, 11, 6, 2, 0.75);
    let bob = totals(1, 20, 10, 0, 0.0);
    let bare = totals(1, 0, 0, 0, 0.0);
    let by_key = store.usage(&query(GroupBy::Key)).unwrap();
    assert_eq!(by_key.total, totals(4, 31, 16, 2, 0.75));
    assert_eq!(
        by_key.rows,
        vec![row("-", bare), row("alice", alice), row("bob", bob)]
    );

    let by_model = store.usage(&query(GroupBy::Model)).unwrap().rows;
    assert_eq!(
        by_model,
        vec![row("-", bare), row("claude", bob), row("gpt-4o", alice)]
    );

    let by_instance = store.usage(&query(GroupBy::Instance)).unwrap().rows;
    let alice_early = totals(1, 10, 5, 2, 0.5);
    let alice_late = totals(1, 1, 1, 0, 0.25);
    assert_eq!(
        by_instance,
        vec![
            row("-", bare),
            row("an-1", bob),
            row("oa-1", alice_early),
            row("oa-2", alice_late)
        ]
    );

    let by_day = store.usage(&query(GroupBy::Day)).unwrap().rows;
    assert_eq!(
        by_day,
        vec![
            row("2024-01-01", totals(2, 30, 15, 2, 0.5)),
            row("2024-01-02", totals(2, 1, 1, 0, 0.25)),
        ]
    );
}

#[test]
fn key_filter_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    sample().into_iter().for_each(|r| store.record(r));
    store.flush().unwrap();

    let alice_only = UsageQuery {
        key: Some("alice".to_owned()),
        ..query(GroupBy::Model)
    };
    let report = store.usage(&alice_only).unwrap();
    assert_eq!(report.rows, vec![row("gpt-4o", totals(2, 11, 6, 2, 0.75))]);
    assert_eq!(report.total, totals(2, 11, 6, 2, 0.75));

    // `from` is inclusive, `to` exclusive: bob's record sits on `from`,
    // alice's late one on `to`.
    let window = UsageQuery {
        from_ms: DAY1_10H + HOUR,
        to_ms: DAY2 + 5,
        ..query(GroupBy::Key)
    };
    let rows = store.usage(&window).unwrap().rows;
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["-", "bob"]);

    let empty = UsageQuery {
        from_ms: DAY2 + 6,
        ..query(GroupBy::Day)
    };
    let report = store.usage(&empty).unwrap();
    assert_eq!(
        report,
        UsageReport {
            total: Totals::default(),
            rows: vec![]
        }
    );
}

#[test]
fn spend_and_tokens_by_slot() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    sample().into_iter().for_each(|r| store.record(r));
    store.flush().unwrap();

    assert_eq!(store.spend("alice", 0).unwrap(), 0.75);
    assert_eq!(store.spend("alice", DAY2).unwrap(), 0.25);
    assert_eq!(store.spend("bob", 0).unwrap(), 0.0, "unknown cost counts 0");
    assert_eq!(store.spend("nobody", 0).unwrap(), 0.0);

    let slots = store.tokens_by_slot(0).unwrap();
    let slot = |i: &str, m: &str, n| (i.to_owned(), m.to_owned(), n);
    assert_eq!(
        slots,
        vec![
            slot("an-1", "claude-up", 30),
            slot("oa-1", "gpt-4o-up", 15),
            slot("oa-2", "gpt-4o-up", 2),
        ]
    );
    assert_eq!(
        store.tokens_by_slot(DAY2).unwrap(),
        vec![slot("oa-2", "gpt-4o-up", 2)]
    );
}

#[test]
fn key_crud() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let alice = stored_key("alice");
    store.insert_key(&alice).unwrap();
    let taken = store.insert_key(&alice).unwrap_err();
    assert!(
        matches!(taken, StoreError::NameTaken(ref n) if n == "alice"),
        "{taken}"
    );

    let bare = StoredKey {
        models: vec![],
        rpm: None,
        tpm: None,
        budget_usd: None,
        budget_period: None,
        expires_at_ms: None,
        ..stored_key("bob")
    };
    store.insert_key(&bare).unwrap();
    assert_eq!(store.keys().unwrap(), vec![alice.clone(), bare.clone()]);
    assert_eq!(store.key("bob").unwrap(), Some(bare));
    assert_eq!(store.key("carol").unwrap(), None);

    let changed = StoredKey {
        rpm: Some(5),
        models: vec!["*".to_owned()],
        ..alice
    };
    store.update_key(&changed).unwrap();
    assert_eq!(store.key("alice").unwrap(), Some(changed));
    let missing = store.update_key(&stored_key("carol")).unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound(ref n) if n == "carol"),
        "{missing}"
    );

    assert!(store.delete_key("alice").unwrap());
    assert!(!store.delete_key("alice").unwrap());
    assert_eq!(store.key("alice").unwrap(), None);
}

#[test]
fn the_digest_is_stored_as_hex() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    store.insert_key(&stored_key("alice")).unwrap();
    let raw = Connection::open(db(&dir)).unwrap();
    let stored: String = raw
        .query_row("SELECT sha256_hex FROM team_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, "ab".repeat(32));
}

#[test]
fn group_by_names_round_trip() {
    for g in GroupBy::ALL {
        assert_eq!(g.name().parse::<GroupBy>(), Ok(g));
    }
    assert_eq!(
        "week".parse::<GroupBy>(),
        Err(UnknownGroupBy("week".to_owned()))
    );
}
