//! Model resolution as documented, on configs parsed from literal YAML.

use super::*;
use crate::config::load_str;

pub fn router(yaml: &str) -> Router {
    let env = |k: &str| (k == "K").then(|| "sk".to_string());
    let loaded = load_str("t.yaml", yaml, &env).expect("valid config");
    Router::new(&loaded.config, Arc::new(Health::new(&loaded.config)))
}

impl Router {
    /// The try order, for tests that only care about resolution.
    fn resolve(&self, name: &str) -> Result<Vec<Candidate>, UnknownModel> {
        self.plan(name).map(|p| p.try_order)
    }
}

const BASE: &str = r#"
providers:
  - { id: g1, type: groq, api_key: "${K}", models: [llama, small] }
  - { id: g2, type: groq, api_keys: ["${K}", "${K}"], models: [llama] }
  - { id: local, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [llama3.2] }
models:
  - name: fast
    targets: [ { provider: g1, model: small }, { provider: local, model: llama3.2 } ]
  - name: coding
    targets: [ { model: llama }, { model: llama3.2 } ]
"#;

fn pairs(c: &[Candidate]) -> Vec<(usize, String)> {
    c.iter()
        .map(|c| (c.instance, c.model.to_string()))
        .collect()
}

#[test]
fn real_model_lists_its_instances_in_config_order() {
    let r = router(BASE);
    assert_eq!(
        pairs(&r.resolve("llama").expect("known")),
        vec![
            (0, "llama".into()),
            (1, "llama".into()),
            (2, "llama".into())
        ]
    );
}

#[test]
fn alias_targets_rewrite_the_model() {
    let r = router(BASE);
    assert_eq!(
        pairs(&r.resolve("fast").expect("alias")),
        vec![(0, "small".into()), (3, "llama3.2".into())]
    );
    let coding = pairs(&r.resolve("coding").expect("chain"));
    assert_eq!(coding.len(), 4);
    assert_eq!(coding[3], (3, "llama3.2".into()));
}

#[test]
fn provider_prefix_pins_instances_by_id_or_type() {
    let r = router(BASE);
    assert_eq!(
        pairs(&r.resolve("g2/llama").expect("id")),
        vec![(1, "llama".into()), (2, "llama".into())]
    );
    assert_eq!(pairs(&r.resolve("groq/other").expect("type")).len(), 3);
    assert_eq!(
        pairs(&r.resolve("local/x").expect("any model")),
        vec![(3, "x".into())]
    );
    assert!(r.resolve("nope/llama").is_err());
    assert!(r.resolve("g1/").is_err());
}

#[test]
fn auto_round_robins_over_every_instance() {
    let r = router(BASE);
    let firsts: Vec<usize> = (0..4)
        .map(|_| r.resolve("auto").expect("auto")[0].instance)
        .collect();
    assert_eq!(firsts, vec![0, 1, 2, 3]);
    assert_eq!(r.resolve("auto").expect("auto")[0].model.as_ref(), "llama");
}

#[test]
fn unknown_model_is_an_error_and_names_list_everything() {
    let r = router(BASE);
    assert_eq!(r.resolve("gpt-9").err(), Some(UnknownModel("gpt-9".into())));
    let names: Vec<&str> = r.model_names().iter().map(|n| n.id.as_str()).collect();
    for n in [
        "auto",
        "llama",
        "small",
        "llama3.2",
        "g1/llama",
        "local/llama3.2",
        "fast",
        "coding",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
}

fn first(r: &Router, name: &str) -> usize {
    r.resolve(name).expect("known")[0].instance
}

fn finish(r: &Router, name: &str, signal: Signal) -> usize {
    let c = r.resolve(name).expect("known")[0].clone();
    let ticket = r.health().begin(&c).expect("admitted");
    ticket.finish(signal);
    c.instance
}

fn ok() -> Signal {
    Signal::Served {
        ttfb: std::time::Duration::from_millis(5),
        broke: false,
    }
}

#[test]
fn a_429_cools_that_instance_for_that_model_only() {
    let r = router(BASE);
    assert_eq!(finish(&r, "llama", Signal::RateLimited(None)), 0);
    let plan = r.plan("llama").expect("known");
    assert_eq!(
        pairs(&plan.try_order),
        vec![(1, "llama".into()), (2, "llama".into())]
    );
    assert!(matches!(plan.skipped[..], [(0, Skip::CoolingDown(d))] if d.as_secs() > 50));
    assert_eq!(
        first(&r, "small"),
        0,
        "the same key still serves its other model"
    );
}

#[test]
fn a_rejected_key_is_suspect_on_every_route_until_its_recheck() {
    use std::time::Duration;
    let interval = Duration::from_secs(30);
    let r = router(BASE);
    assert_eq!(finish(&r, "llama", Signal::KeyRejected(401)), 0);
    assert_eq!(first(&r, "llama"), 1, "no traffic while suspect");
    let plan = r.plan("small").expect("known");
    assert!(plan.try_order.is_empty());
    assert!(matches!(plan.skipped[..], [(0, Skip::Suspect(401, _))]));
    assert_eq!(r.health().suspects(), vec![0]);
    assert_eq!(
        r.health().report(0, true).unwrap().state,
        InstanceState::Suspect
    );

    // The re-check answers: the key works, so the request was at fault.
    r.health().probed(0, Probe::Answered(200), interval);
    assert_eq!(first(&r, "llama"), 0);
    assert!(r.health().suspects().is_empty());

    // Rejected again, and the re-check is rejected too: out of rotation.
    finish(&r, "llama", Signal::KeyRejected(403));
    r.health().probed(0, Probe::Answered(401), interval);
    let plan = r.plan("small").expect("known");
    assert!(matches!(plan.skipped[..], [(0, Skip::Disabled(401, _))]));
    // A periodic check that is still refused changes nothing ...
    r.health().probed(0, Probe::Answered(401), interval);
    assert!(matches!(
        r.plan("small").expect("known").skipped[..],
        [(0, Skip::Disabled(401, _))]
    ));
    // ... a passing one brings the key back.
    r.health().probed(0, Probe::Answered(200), interval);
    assert_eq!(first(&r, "small"), 0);
}

#[test]
fn a_402_takes_the_key_out_at_once_and_a_model_list_does_not_bring_it_back() {
    let r = router(BASE);
    finish(&r, "llama", Signal::KeyRejected(402));
    assert!(r.health().suspects().is_empty(), "nothing to re-check");
    let skipped = |r: &Router| r.plan("small").expect("known").skipped.clone();
    assert!(matches!(skipped(&r)[..], [(0, Skip::Disabled(402, _))]));
    // Listing models is free when a key is out of credit: no proof of credit.
    let interval = std::time::Duration::from_secs(30);
    r.health().probed(0, Probe::Answered(200), interval);
    assert!(matches!(skipped(&r)[..], [(0, Skip::Disabled(402, _))]));
}

#[test]
fn a_suspect_key_whose_recheck_never_comes_takes_traffic_again() {
    // health_check.timeout 1ms: the re-check window is 1 s and 2 ms.
    let yaml = BASE.replace(
        "providers:",
        "routing: { health_check: { timeout: 1ms } }\nproviders:",
    );
    let r = router(&yaml);
    finish(&r, "llama", Signal::KeyRejected(401));
    assert_eq!(first(&r, "llama"), 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(first(&r, "llama"), 0);
}

#[test]
fn failures_open_the_breaker_and_a_success_resets_the_count() {
    let yaml = BASE.replace(
        "providers:",
        "routing: { circuit_breaker: { failures: 2 } }\nproviders:",
    );
    let r = router(&yaml);
    finish(&r, "small", Signal::Failed);
    finish(&r, "small", ok());
    finish(&r, "small", Signal::Failed);
    assert_eq!(first(&r, "small"), 0, "not two in a row yet");
    finish(&r, "small", Signal::Failed);
    let plan = r.plan("small").expect("known");
    assert!(matches!(plan.skipped[..], [(0, Skip::Open(_))]));
    assert_eq!(first(&r, "llama"), 1, "the whole instance is out");
}

#[test]
fn least_busy_prefers_the_instance_with_fewer_in_flight() {
    let yaml = BASE.replace(
        "providers:",
        "routing: { strategy: least-busy }\nproviders:",
    );
    let r = router(&yaml);
    let busy = r.resolve("llama").expect("known");
    let _a = r.health().begin(&busy[0]).expect("admitted");
    let _b = r.health().begin(&busy[1]).expect("admitted");
    for _ in 0..3 {
        assert_eq!(first(&r, "llama"), 2);
    }
    drop(_a);
    let firsts: Vec<usize> = (0..4).map(|_| first(&r, "llama")).collect();
    assert!(!firsts.contains(&1), "{firsts:?}");
    assert!(
        firsts.contains(&0) && firsts.contains(&2),
        "ties rotate: {firsts:?}"
    );
}

#[test]
fn latency_prefers_the_fastest_and_explores_the_stalest() {
    let yaml = BASE.replace("providers:", "routing: { strategy: latency }\nproviders:");
    let r = router(&yaml);
    let all = r.resolve("llama").expect("known");
    for (c, ms) in all.iter().zip([30, 5, 80]) {
        r.health()
            .begin(c)
            .expect("admitted")
            .finish(Signal::Served {
                ttfb: std::time::Duration::from_millis(ms),
                broke: false,
            });
    }
    let firsts: Vec<usize> = (0..order::EXPLORE_EVERY * 2)
        .map(|_| first(&r, "llama"))
        .collect();
    let fast = firsts.iter().filter(|&&i| i == 1).count();
    assert!(fast >= firsts.len() - 2, "{firsts:?}");
    assert!(firsts.iter().any(|&i| i != 1), "explores: {firsts:?}");
    assert_eq!(
        r.resolve("llama").expect("known").len(),
        3,
        "failover keeps everyone"
    );
}

#[test]
fn weighted_skips_a_cooling_target_and_keeps_the_ratio_of_the_rest() {
    let yaml = r#"
routing: { strategy: priority }
providers:
  - { id: a, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: b, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
  - { id: c, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m] }
models:
  - name: w
    strategy: weighted
    targets: [ { provider: a, weight: 3 }, { provider: b, weight: 1 }, { provider: c, weight: 1 } ]
"#;
    let r = router(yaml);
    let count = |r: &Router, n: usize| {
        let mut seen = [0; 3];
        for _ in 0..n {
            seen[first(r, "w")] += 1;
        }
        seen
    };
    assert_eq!(count(&r, 50), [30, 10, 10]);
    let b = r.resolve("m").expect("known")[1].clone();
    r.health()
        .begin(&b)
        .expect("admitted")
        .finish(Signal::RateLimited(None));
    let seen = count(&r, 50);
    assert_eq!(seen[1], 0);
    assert_eq!(seen[0] + seen[2], 50);
    assert!(seen[0] >= 30, "{seen:?}");
}

#[test]
fn probes_take_an_instance_out_after_two_failures_unless_traffic_succeeds() {
    use std::time::Duration;
    let r = router(BASE);
    let interval = Duration::from_secs(30);
    r.health().probed(0, Probe::NoAnswer, interval);
    assert_eq!(first(&r, "small"), 0, "one failed probe is a blip");
    r.health().probed(0, Probe::NoAnswer, interval);
    let plan = r.plan("small").unwrap();
    assert!(
        matches!(plan.skipped[..], [(0, Skip::Unhealthy)]),
        "{plan:?}"
    );
    r.health().probed(0, Probe::Answered(200), interval);
    assert_eq!(first(&r, "small"), 0);
    // Real traffic that just succeeded outweighs failing probes.
    finish(&r, "small", ok());
    for _ in 0..3 {
        r.health().probed(0, Probe::NoAnswer, interval);
    }
    assert_eq!(first(&r, "small"), 0);
    let report = r.health().report(0, true).unwrap();
    assert_eq!(report.state, InstanceState::Healthy);
}

#[test]
fn probe_replies_read_like_a_client_would() {
    assert_eq!(probe_outcome(200), ProbeOutcome::Up);
    assert_eq!(
        probe_outcome(404),
        ProbeOutcome::Up,
        "no /models, but it answers"
    );
    assert_eq!(
        probe_outcome(429),
        ProbeOutcome::Up,
        "rate-limited is alive"
    );
    assert_eq!(
        probe_outcome(401),
        ProbeOutcome::Up,
        "restricted keys 401 on /models"
    );
    assert_eq!(probe_outcome(403), ProbeOutcome::Up);
    for s in [408, 500, 502, 503, 504] {
        assert_eq!(probe_outcome(s), ProbeOutcome::Down, "{s}");
    }
}

#[test]
fn a_longer_hint_extends_a_cooldown_and_a_shorter_one_never_shortens_it() {
    use std::time::Duration;
    let r = router(BASE);
    let c = r.resolve("small").unwrap()[0].clone();
    // Three requests in flight at once, answered 429 one after the other.
    let tickets: Vec<Ticket<'_>> = (0..3)
        .map(|_| r.health().begin(&c).expect("admitted"))
        .collect();
    let left = |r: &Router| r.health().report(0, true).unwrap().cooling[0].1;
    let mut hints = [100, 5, 500].into_iter();
    let mut after = Vec::new();
    for t in tickets {
        let secs = hints.next().unwrap();
        t.finish(Signal::RateLimited(Some(Duration::from_secs(secs))));
        after.push(left(&r));
    }
    assert!(after[0] > Duration::from_secs(95));
    assert!(
        after[1] > Duration::from_secs(95),
        "5 s must not shorten 100 s"
    );
    assert!(after[2] > Duration::from_secs(495));
    assert!(
        r.health().begin(&c).is_err(),
        "begin re-checks the cooldown"
    );
}

#[test]
fn pinned_requests_share_their_prefix_rotation() {
    let yaml = BASE.replace(
        "providers:",
        "routing: { strategy: round-robin }\nproviders:",
    );
    let r = router(&yaml);
    let firsts: Vec<usize> = (0..3).map(|_| first(&r, "groq/anything")).collect();
    assert_eq!(
        firsts,
        vec![0, 1, 2],
        "rotates although each request builds its list"
    );
}

#[test]
fn a_glob_entry_sends_the_requested_name_or_its_targets_model() {
    let yaml = r#"
providers:
  - { id: claude, type: anthropic, api_key: "${K}", models: [claude-sonnet-4-5] }
  - { id: g1, type: groq, api_key: "${K}", models: [llama] }
models:
  - name: "claude-*"
    targets: [ { provider: claude }, { model: llama } ]
"#;
    let r = router(yaml);
    assert_eq!(
        pairs(&r.resolve("claude-opus-5-5").expect("glob")),
        vec![(0, "claude-opus-5-5".into()), (1, "llama".into())]
    );
    // A listed name the glob matches goes the glob's way too (globs come
    // before the instances' own lists), with the client's name kept.
    assert_eq!(
        pairs(&r.resolve("claude-sonnet-4-5").expect("glob")),
        vec![(0, "claude-sonnet-4-5".into()), (1, "llama".into())]
    );
    assert!(r.resolve("gpt-4o").is_err());
    assert!(r.model_names().iter().all(|m| m.id != "claude-*"));
    // Each dialect is known per candidate, for translation.
    let c = r.resolve("claude-x").expect("glob");
    assert_eq!(c[0].dialect, Dialect::Anthropic);
    assert_eq!(c[1].dialect, Dialect::OpenAi);
}

mod strategies;
