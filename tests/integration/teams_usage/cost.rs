//! What requests cost: prices from the config (per instance, overridden per model),
//! `price: free`, and an unpriced model (cost `null` in its record, 0 in every sum, its
//! tokens still counted); and the per-key Prometheus counters that move with them.

use super::{chat_text, rows, teams_yaml, Sums, ADMIN_KEY, ALICE_KEY};
use crate::support::{
    chat_body, chat_stream_body, metric, settled_metrics, usage_report, wait_for_usage, Behaviour,
    Gateway, MockUpstream,
};
use serde_json::Value;

/// Floating-point sums of per-request costs are compared to this.
const TOLERANCE: f64 = 1e-9;

/// A key limited to one request a minute.
const DAVE_KEY: &str = "gw-dave-usage-secret-0003";

fn assert_usd(got: &Value, want: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {got}"));
    assert!(
        (got - want).abs() < TOLERANCE,
        "{what}: {got} USD, want {want}"
    );
}

/// Every request reports 1000 prompt tokens (200 of them cached) and 500 completion.
fn usage_mock() -> MockUpstream {
    MockUpstream::start(Behaviour::ok().usage(1000, 500, 200))
}

/// `priced`: $2 / $8 / $0.50 cached per million for `m-inst`, its own $0.25 / $1
/// (cached at the input price) for `m-own`; `free` (`m-free`); `unpriced` (an
/// openai-compatible model the shipped table cannot know: `m-unpriced`).
fn priced_providers(base: &str) -> String {
    format!(
        "  - id: priced\n    type: openai-compatible\n    base_url: {base}\n\
         \x20   price: {{ input: 2, output: 8, cached_input: 0.5 }}\n\
         \x20   models:\n      - m-inst\n      - {{ name: m-own, price: {{ input: 0.25, output: 1 }} }}\n\
         \x20 - id: free\n    type: openai-compatible\n    base_url: {base}\n    price: free\n    models: [m-free]\n\
         \x20 - id: unpriced\n    type: openai-compatible\n    base_url: {base}\n    models: [m-unpriced]\n"
    )
}

/// (requested model, cost) of every record in the store at `db`, by model.
fn stored_costs(db: &std::path::Path) -> Vec<(String, Option<f64>)> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(db, flags).expect("open the store");
    let mut query = (conn
        .prepare("SELECT requested_model, cost_usd FROM usage ORDER BY requested_model"))
    .expect("the usage table");
    let rows = query.query_map([], |row| Ok((row.get(0)?, row.get(1)?)));
    rows.expect("read usage")
        .map(|r| r.expect("a record"))
        .collect()
}

#[tokio::test]
async fn cost_comes_from_config_prices_free_is_zero_and_an_unpriced_model_is_null() {
    let mock = usage_mock();
    let yaml = teams_yaml(None, "", &priced_providers(&mock.base_url()));
    let gw = Gateway::builder(&yaml).admin_listen().start().await;
    for (model, stream) in [
        ("m-inst", false),
        ("m-inst", true),
        ("m-own", false),
        ("m-free", false),
        ("m-unpriced", true),
    ] {
        let body = if stream {
            chat_stream_body(model)
        } else {
            chat_body(model)
        };
        chat_text(&gw, &body, Some(ALICE_KEY)).await;
    }
    assert_eq!(mock.posts(), 5);

    // 800 uncached + 200 cached prompt tokens, 500 completion tokens, per request.
    let inst = (800.0 * 2.0 + 200.0 * 0.5 + 500.0 * 8.0) / 1e6;
    let own = (800.0 * 0.25 + 200.0 * 0.25 + 500.0 * 1.0) / 1e6;
    let report = wait_for_usage(&gw, "group_by=model", Some(ADMIN_KEY), 5).await;
    let per_request = Sums {
        requests: 1,
        prompt: 1000,
        completion: 500,
        cached: 200,
    };
    let times = |n: u64| Sums {
        requests: n,
        prompt: n * 1000,
        completion: n * 500,
        cached: n * 200,
    };
    let want = [
        ("m-free", per_request, 0.0),
        ("m-inst", times(2), 2.0 * inst),
        ("m-own", per_request, own),
        ("m-unpriced", per_request, 0.0),
    ];
    let got = rows(&report);
    let want_rows: Vec<(String, Sums)> = want.iter().map(|(m, s, _)| (m.to_string(), *s)).collect();
    assert_eq!(
        got, want_rows,
        "tokens are counted, priced or not: {report}"
    );
    for (row, (model, _, cost)) in report["rows"].as_array().unwrap().iter().zip(want) {
        assert_usd(&row["cost_usd"], cost, model);
    }
    assert_usd(&report["total"]["cost_usd"], 2.0 * inst + own, "total");
    let (_, by_instance) = usage_report(&gw, "group_by=instance", Some(ADMIN_KEY)).await;
    let costs: Vec<(&str, f64)> = (by_instance["rows"].as_array().unwrap().iter())
        .map(|r| {
            (
                r["instance"].as_str().unwrap(),
                r["cost_usd"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        costs.iter().map(|c| c.0).collect::<Vec<_>>(),
        ["free", "priced", "unpriced"]
    );
    assert_eq!((costs[0].1, costs[2].1), (0.0, 0.0));
    assert!(
        (costs[1].1 - (2.0 * inst + own)).abs() < TOLERANCE,
        "{by_instance}"
    );

    // In the records themselves, free is a cost of 0 and unpriced is no cost at all.
    let stored = stored_costs(&gw.dir().join("modelgate.db"));
    let models: Vec<&str> = stored.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        models,
        ["m-free", "m-inst", "m-inst", "m-own", "m-unpriced"]
    );
    assert_eq!(stored[0].1, Some(0.0));
    assert_eq!(stored[4].1, None, "an unpriced model's cost is null");
    for (i, want) in [(1, inst), (2, inst), (3, own)] {
        let got = stored[i]
            .1
            .unwrap_or_else(|| panic!("{:?} has no cost", stored[i]));
        assert!(
            (got - want).abs() < TOLERANCE,
            "{:?}: want {want}",
            stored[i]
        );
    }
}

#[tokio::test]
async fn per_key_metrics_count_requests_tokens_and_cost() {
    let mock = MockUpstream::start(Behaviour::ok().usage(100, 20, 30));
    let dave = format!("    - {{ name: dave, key: \"{DAVE_KEY}\", rate_limit: {{ rpm: 1 }} }}\n");
    let providers = format!(
        "  - id: priced\n    type: openai-compatible\n    base_url: {}\n\
         \x20   price: {{ input: 2, output: 8, cached_input: 0.5 }}\n    models: [m1]\n",
        mock.base_url()
    );
    let gw = Gateway::builder(&teams_yaml(None, &dave, &providers))
        .admin_listen()
        .start()
        .await;
    let text = settled_metrics(&gw).await;
    let count =
        |text: &str, name: &str, labels: &[(&str, &str)]| metric(text, name, labels).unwrap_or(0.0);
    let requests = "modelgate_key_requests_total";
    assert_eq!(
        count(&text, requests, &[("key", "alice")]),
        0.0,
        "nothing yet"
    );

    chat_text(&gw, &chat_body("m1"), Some(ALICE_KEY)).await;
    chat_text(&gw, &chat_stream_body("m1"), Some(ALICE_KEY)).await;
    chat_text(&gw, &chat_body("m1"), Some(DAVE_KEY)).await;
    let limited = gw
        .post_json_with_key("/v1/chat/completions", &chat_body("m1"), DAVE_KEY)
        .await;
    assert_eq!(limited.status(), 429, "dave's second request in a minute");
    assert_eq!(mock.posts(), 3, "no upstream call for the refused one");

    // 70 uncached at $2, 30 cached at $0.50, 20 completion at $8, per million.
    let cost = (70.0 * 2.0 + 30.0 * 0.5 + 20.0 * 8.0) / 1e6;
    let expect = |text: &str, key: &str, requests_n: f64, done: f64| {
        assert_eq!(
            count(text, requests, &[("key", key)]),
            requests_n,
            "{key} requests:\n{text}"
        );
        for (kind, per) in [("prompt", 100.0), ("completion", 20.0), ("cached", 30.0)] {
            let tokens = count(
                text,
                "modelgate_key_tokens_total",
                &[("key", key), ("kind", kind)],
            );
            assert_eq!(tokens, done * per, "{key} {kind} tokens:\n{text}");
        }
        let usd = count(text, "modelgate_key_cost_usd_total", &[("key", key)]);
        assert!(
            (usd - done * cost).abs() < TOLERANCE,
            "{key} cost {usd}:\n{text}"
        );
    };
    let text = settled_metrics(&gw).await;
    expect(&text, "alice", 2.0, 2.0);
    // The refused request is one of dave's requests, with no tokens and no cost.
    expect(&text, "dave", 2.0, 1.0);
    let rejections = [("key", "dave"), ("reason", "rpm")];
    assert_eq!(
        count(&text, "modelgate_limit_rejections_total", &rejections),
        1.0
    );

    chat_text(&gw, &chat_body("m1"), Some(ALICE_KEY)).await;
    let text = settled_metrics(&gw).await;
    expect(&text, "alice", 3.0, 3.0);
    expect(&text, "dave", 2.0, 1.0);
    assert_eq!(
        count(&text, requests, &[("key", "bob")]),
        0.0,
        "bob sent nothing"
    );
}
