//! What survives: restarts, stops, hand-overs, busy and failing commits.

use super::*;

#[test]
fn a_restart_keeps_records_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let before = Store::open(&db(&dir)).unwrap();
    sample().into_iter().for_each(|r| before.record(r));
    before.insert_key(&stored_key("alice")).unwrap();
    before.flush().unwrap();
    let report = before.usage(&query(GroupBy::Day)).unwrap();
    drop(before);

    let after = Store::open(&db(&dir)).unwrap();
    assert_eq!(after.usage(&query(GroupBy::Day)).unwrap(), report);
    assert_eq!(after.keys().unwrap(), vec![stored_key("alice")]);
}

#[test]
fn a_clean_stop_without_flush_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let clone = store.clone();
    for i in 0..1500 {
        clone.record(routed(DAY1_10H + i, "alice", "gpt-4o", "oa-1"));
    }
    drop(clone);
    drop(store);
    assert_eq!(count(&Store::open(&db(&dir)).unwrap()), 1500);
}

#[test]
fn two_processes_share_the_file_during_a_hand_over() {
    let dir = tempfile::tempdir().unwrap();
    let old = Store::open(&db(&dir)).unwrap();
    let new = Store::open(&db(&dir)).unwrap();
    let writers: Vec<_> = [old.clone(), new.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            std::thread::spawn(move || {
                for i in 0..500 {
                    let key = if n == 0 { "old" } else { "new" };
                    store.record(routed(DAY1_10H + i, key, "gpt-4o", "oa-1"));
                }
                store.flush().unwrap();
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    let rows = old.usage(&query(GroupBy::Key)).unwrap().rows;
    assert_eq!(
        rows.iter().map(|(_, t)| t.requests).collect::<Vec<_>>(),
        [500, 500]
    );
    assert_eq!(count(&new), 1000);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(&db(&dir)).unwrap());
    let raw = Connection::open(db(&dir)).unwrap();
    raw.execute_batch("PRAGMA user_version = 7").unwrap();
    drop(raw);
    let refused = Store::open(&db(&dir)).err().unwrap();
    assert!(matches!(
        refused,
        StoreError::NewerSchema { found: 7, known: 1 }
    ));
    let message = refused.to_string();
    assert!(message.contains('7') && message.contains('1'), "{message}");
}

#[test]
fn a_new_file_gets_the_current_version_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(&db(&dir)).unwrap());
    let raw = Connection::open(db(&dir)).unwrap();
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!((version, mode.as_str()), (1, "wal"));
}

#[test]
fn a_missing_directory_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent").join("modelgate.db");
    let error = Store::open(&path).err().unwrap();
    assert!(matches!(error, StoreError::Open { .. }), "{error}");
    assert!(error.to_string().contains("absent"), "{error}");
}

#[test]
fn records_are_committed_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    store.record(routed(DAY1_10H, "alice", "gpt-4o", "oa-1"));
    let deadline = Instant::now() + Duration::from_secs(2);
    while store.pending() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(store.pending(), 0);
    assert_eq!(count(&store), 1);
}

#[test]
fn a_busy_database_delays_the_batch_without_losing_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_tuned(&db(&dir), quick()).unwrap();
    let blocker = lock(&db(&dir));
    for i in 0..3 {
        store.record(routed(DAY1_10H + i, "alice", "gpt-4o", "oa-1"));
    }
    let late = store.flush().unwrap_err();
    assert!(
        matches!(late, StoreError::FlushTimeout { pending: 3 }),
        "{late}"
    );
    blocker.execute_batch("COMMIT").unwrap();
    store.flush().unwrap();
    assert_eq!((store.pending(), store.dropped(), count(&store)), (0, 0, 3));
}

#[test]
fn past_the_cap_records_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        pending_cap: 10,
        ..quick()
    };
    let store = Store::open_tuned(&db(&dir), tuning).unwrap();
    let blocker = lock(&db(&dir));
    for i in 0..15 {
        store.record(routed(DAY1_10H + i, "alice", "gpt-4o", "oa-1"));
    }
    assert_eq!((store.pending(), store.dropped()), (10, 5));
    blocker.execute_batch("COMMIT").unwrap();
    store.flush().unwrap();
    assert_eq!(
        (store.pending(), store.dropped(), count(&store)),
        (0, 5, 10)
    );
}

#[test]
fn a_store_is_shared_across_threads() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<Store>();
}
