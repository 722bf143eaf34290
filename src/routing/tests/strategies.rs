//! `least-usage` and `cost`, on configs parsed from literal YAML with
//! prices set on the parsed config.

use super::{pairs, router, BASE};
use crate::config::{load_str, Config, Price};
use crate::routing::{clock, Health, Router, Signal, Skip};
use std::sync::Arc;

fn router_with(yaml: &str, edit: impl FnOnce(&mut Config)) -> Router {
    let env = |k: &str| (k == "K").then(|| "sk".to_string());
    let mut config = load_str("t.yaml", yaml, &env).expect("valid config").config;
    edit(&mut config);
    Router::new(&config, Arc::new(Health::new(&config)))
}

fn usd(input: f64, output: f64) -> Option<Price> {
    Some(Price {
        input,
        output,
        cached_input: input,
    })
}

fn order(r: &Router, name: &str) -> Vec<usize> {
    let plan = r.plan(name).expect("known");
    plan.try_order.iter().map(|c| c.instance).collect()
}

fn rate_limit(r: &Router, name: &str, instance: usize) {
    let plan = r.plan(name).expect("known");
    let c = plan.try_order.iter().find(|c| c.instance == instance);
    let ticket = r.health().begin(c.expect("usable")).expect("admitted");
    ticket.finish(Signal::RateLimited(None));
}

const SEVEN: &str = r#"
routing: { strategy: cost }
providers:
  - { id: a, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: b, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: c, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: d, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: e, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: f, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: g, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
"#;

/// Blended per 1M tokens: a 6, b unpriced, c free, d 1 (its model's own
/// price), e free (its model's price over the instance's 10), f 7.875
/// (cheapest prompt of the priced ones, dearest reply), g 6.
fn seven_priced(config: &mut Config) {
    let i = &mut config.instances;
    i[0].price = usd(3.0, 15.0);
    i[2].price = Some(Price::FREE);
    i[3].options.entry("m".into()).or_default().price = usd(1.0, 1.0);
    i[4].price = usd(10.0, 10.0);
    i[4].options.entry("m".into()).or_default().price = Some(Price::FREE);
    i[5].price = usd(0.5, 30.0);
    i[6].price = usd(5.0, 9.0);
}

#[test]
fn cost_puts_free_first_then_cheaper_then_unpriced_with_ties_in_config_order() {
    let r = router_with(SEVEN, seven_priced);
    for _ in 0..3 {
        assert_eq!(
            order(&r, "m"),
            vec![2, 4, 3, 0, 6, 5, 1],
            "and never rotates"
        );
    }
    rate_limit(&r, "m", 2);
    let plan = r.plan("m").expect("known");
    let tried: Vec<usize> = plan.try_order.iter().map(|c| c.instance).collect();
    assert_eq!(tried, vec![4, 3, 0, 6, 5, 1]);
    assert!(matches!(plan.skipped[..], [(2, Skip::CoolingDown(_))]));
}

#[test]
fn cost_prices_a_name_the_client_gives_when_it_asks() {
    let yaml = r#"
providers:
  - { id: a, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [x-listed] }
  - { id: b, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [x-listed] }
models:
  - name: "x-*"
    strategy: cost
    targets: [ { provider: a }, { provider: b } ]
"#;
    let r = router_with(yaml, |config| {
        config.instances[0].price = usd(2.0, 2.0);
        let b = config.instances[1].options.entry("x-listed".into());
        b.or_default().price = Some(Price::FREE);
    });
    assert_eq!(order(&r, "x-listed"), vec![1, 0], "b's model is free");
    assert_eq!(order(&r, "x-other"), vec![0, 1], "b has no price for it");
}

#[test]
fn cost_orders_pinned_requests_too() {
    let r = router_with(SEVEN, |config| {
        config.instances[0].price = usd(1.0, 1.0);
        config.instances[1].price = Some(Price::FREE);
    });
    let pinned = order(&r, "openai-compatible/other");
    assert_eq!(
        pinned,
        vec![1, 0, 2, 3, 4, 5, 6],
        "unpriced last, in config order"
    );
}

fn least_usage() -> Router {
    router(&BASE.replace(
        "providers:",
        "routing: { strategy: least-usage }\nproviders:",
    ))
}

fn firsts(r: &Router, n: usize) -> Vec<usize> {
    (0..n).map(|_| order(r, "llama")[0]).collect()
}

#[test]
fn least_usage_follows_todays_tokens_for_that_model() {
    let r = least_usage();
    let (h, now) = (r.health(), clock::unix_secs());
    h.add_tokens(0, "llama", 500, now);
    h.add_tokens(1, "llama", 100, now);
    h.add_tokens(2, "llama", 300, now);
    h.add_tokens(1, "small", 9_000, now);
    for _ in 0..3 {
        assert_eq!(order(&r, "llama"), vec![1, 2, 0], "no tie: no rotation");
    }
    h.add_tokens(1, "llama", 1_000, now);
    assert_eq!(order(&r, "llama"), vec![2, 0, 1]);
    assert_eq!(h.tokens_today(1, "llama", now), 1_100);
    assert_eq!(h.tokens_today(0, "small", now), 0, "counted per model");
}

#[test]
fn least_usage_rotates_among_equals() {
    let r = least_usage();
    let seen = firsts(&r, 3);
    assert!([0, 1, 2].iter().all(|i| seen.contains(i)), "{seen:?}");
    r.health().add_tokens(0, "llama", 50, clock::unix_secs());
    let seen = firsts(&r, 4);
    assert!(!seen.contains(&0), "{seen:?}");
    assert!(seen.contains(&1) && seen.contains(&2), "{seen:?}");
}

#[test]
fn least_usage_starts_again_on_a_new_utc_day() {
    let r = least_usage();
    let (h, now) = (r.health(), clock::unix_secs());
    let yesterday = now - 86_400;
    h.add_tokens(0, "llama", 1_000, yesterday);
    h.add_tokens(1, "llama", 1_000, yesterday);
    h.add_tokens(2, "llama", 10, now);
    assert_eq!(h.tokens_today(0, "llama", yesterday), 1_000);
    assert_eq!(h.tokens_today(0, "llama", now), 0);
    let seen = firsts(&r, 4);
    assert!(
        !seen.contains(&2),
        "yesterday's tokens do not count: {seen:?}"
    );
    assert!(seen.contains(&0) && seen.contains(&1), "{seen:?}");
    h.add_tokens(0, "llama", 1, now);
    assert_eq!(h.tokens_today(0, "llama", yesterday), 0, "the day moved on");
    h.add_tokens(0, "llama", 5_000, yesterday);
    assert_eq!(
        h.tokens_today(0, "llama", now),
        1,
        "a late charge for yesterday"
    );
}

#[test]
fn least_usage_skips_a_cooling_candidate() {
    let r = least_usage();
    let now = clock::unix_secs();
    r.health().add_tokens(0, "llama", 20, now);
    r.health().add_tokens(2, "llama", 10, now);
    rate_limit(&r, "llama", 1);
    let plan = r.plan("llama").expect("known");
    assert_eq!(
        pairs(&plan.try_order),
        vec![(2, "llama".into()), (0, "llama".into())]
    );
    assert!(matches!(plan.skipped[..], [(1, Skip::CoolingDown(_))]));
}

#[test]
fn unlisted_names_share_one_counter_and_seeding_adds() {
    let r = least_usage();
    let (h, now) = (r.health(), clock::unix_secs());
    h.add_tokens(3, "x", 5, now);
    h.seed_tokens(3, "y", 7, now);
    assert_eq!(
        h.tokens_today(3, "x", now),
        12,
        "the instance's unlisted slot"
    );
    assert_eq!(h.tokens_today(3, "llama3.2", now), 0);
    h.seed_tokens(3, "llama3.2", 40, now);
    h.add_tokens(3, "llama3.2", 2, now);
    assert_eq!(h.tokens_today(3, "llama3.2", now), 42);
    h.add_tokens(99, "llama", 5, now);
    assert_eq!(h.tokens_today(99, "llama", now), 0, "no such instance");
    assert_eq!(h.tokens_today(0, "llama", now), 0, "not charged to slot 0");
}
