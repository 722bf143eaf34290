//! The keys of issue 14 on literal configs: per-key rate limits and budgets,
//! the admin key, the per-address limit, the store and prices; each rule
//! accepted and refused, with the exact message a user reads.

use super::*;
use crate::providers::ProviderType;
use sha2::Digest;
use std::path::PathBuf;

/// A provider line every config below needs.
const PROVIDER: &str = "providers: [ { id: p, type: groq, api_key: k, models: [m] } ]\n";

const ADMIN: &str = "adm-0123456789abcdef";

fn team_env(name: &str) -> Option<String> {
    match name {
        "ADMIN" => Some(ADMIN.into()),
        "SHORT" => Some("adm-0123".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn team_load(yaml: &str) -> Result<Loaded, ConfigErrors> {
    load_str("gw.yaml", yaml, &team_env)
}

fn team_errors(yaml: &str) -> String {
    team_load(yaml)
        .expect_err("config should be rejected")
        .to_string()
}

#[test]
fn keys_carry_rate_limits_and_budgets() {
    let yaml = format!(
        "auth:\n  keys:\n\
         \x20   - {{ name: a, key: ka, rate_limit: {{ rpm: 60, tpm: 100000 }}, budget: {{ usd: 12.5, period: monthly }} }}\n\
         \x20   - {{ name: b, key: kb, rate_limit: {{ tpm: 5000 }}, budget: {{ usd: 0, period: total }} }}\n\
         \x20   - {{ name: c, key: kc }}\n{PROVIDER}"
    );
    let keys = team_load(&yaml).expect("valid").config.auth;
    assert_eq!(
        keys[0].rate_limit,
        RateLimit {
            rpm: Some(60),
            tpm: Some(100_000)
        }
    );
    assert_eq!(
        keys[0].budget,
        Some(Budget {
            usd: 12.5,
            period: BudgetPeriod::Monthly
        })
    );
    assert_eq!(
        (keys[1].rate_limit.rpm, keys[1].rate_limit.tpm),
        (None, Some(5000))
    );
    assert_eq!(
        keys[1].budget.map(|b| (b.usd, b.period)),
        Some((0.0, BudgetPeriod::Total))
    );
    assert_eq!(keys[2].rate_limit, RateLimit::default(), "unlimited");
    assert_eq!(keys[2].budget, None);
}

#[test]
fn limit_and_budget_values_are_checked_all_at_once() {
    let yaml = format!(
        "auth:\n  keys:\n\
         \x20   - {{ name: a, key: ka, rate_limit: {{ rpm: 0, tpm: 0 }} }}\n\
         \x20   - {{ name: b, key: kb, budget: {{ usd: -1, period: daily }} }}\n\
         \x20   - {{ name: c, key: kc, budget: {{ usd: NaN, period: weekly }} }}\n\
         \x20   - {{ name: d, key: kd, budget: {{ usd: 5, period: yearly }} }}\n{PROVIDER}"
    );
    assert_eq!(
        team_errors(&yaml),
        "\
gw.yaml:3: auth.keys[0].rate_limit.rpm: must be at least 1
gw.yaml:3: auth.keys[0].rate_limit.tpm: must be at least 1
gw.yaml:4: auth.keys[1].budget.usd: must be a number of US dollars, 0 or more
gw.yaml:5: auth.keys[2].budget.usd: must be a number of US dollars, 0 or more
gw.yaml:6: auth.keys[3].budget.period: unknown variant `yearly`, expected one of `daily`, `weekly`, `monthly`, `total`"
    );
}

#[test]
fn limit_and_budget_shapes_are_checked_all_at_once() {
    let yaml = format!(
        "auth:\n  keys:\n\
         \x20   - {{ name: a, key: ka, rate_limit: {{ rpm: -1, tpm: 1.5, rqm: 3 }} }}\n\
         \x20   - {{ name: b, key: kb, budget: {{ usd: 5 }} }}\n{PROVIDER}"
    );
    assert_eq!(
        team_errors(&yaml),
        "\
gw.yaml:3: auth.keys[0].rate_limit.rpm: expected a whole number
gw.yaml:3: auth.keys[0].rate_limit.tpm: expected a whole number
gw.yaml:3: auth.keys[0].rate_limit.rqm: unknown key `rqm` (expected one of: rpm, tpm)
gw.yaml:4: auth.keys[1].budget: missing field `period`"
    );
}

#[test]
fn admin_key_and_per_ip_limit() {
    let yaml = format!(
        "admin_listen: \"127.0.0.1:9090\"\nauth:\n  admin_key: ${{ADMIN}}\n  per_ip: {{ rpm: 600 }}\n{PROVIDER}"
    );
    let l = team_load(&yaml).expect("valid");
    assert_eq!(l.config.admin_key.as_ref().map(Secret::expose), Some(ADMIN));
    assert_eq!(l.config.per_ip, Some(PerIp { rpm: 600 }));
    assert!(l.config.auth.is_empty(), "keys are optional under auth");
    assert_eq!(
        l.warnings,
        vec![
            "auth: no gateway keys in the file; until team keys are created through the \
             admin API, the gateway is open to anyone who can reach it"
                .to_string()
        ]
    );
    let plain = team_load(PROVIDER).expect("valid").config;
    assert_eq!((plain.admin_key, plain.per_ip), (None, None), "both off");
}

#[test]
fn an_unset_or_empty_admin_key_turns_the_admin_api_off() {
    let keys = "  keys: [ { name: a, key: ka } ]\n";
    for (value, why) in [
        ("${NOPE}", "`NOPE` is not set"),
        ("\"${EMPTY}\"", "empty"),
        ("\"\"", "empty"),
    ] {
        let yaml =
            format!("admin_listen: \"127.0.0.1:0\"\nauth:\n  admin_key: {value}\n{keys}{PROVIDER}");
        let l = team_load(&yaml).expect("valid: the admin API is optional");
        assert_eq!(l.config.admin_key, None, "{value}");
        assert_eq!(
            l.warnings,
            vec![format!("auth.admin_key: {why}; the admin API is off")]
        );
    }
    let no_listener = format!("auth:\n  admin_key: ${{ADMIN}}\n{keys}{PROVIDER}");
    assert_eq!(
        team_load(&no_listener).expect("valid").warnings,
        vec![
            "auth.admin_key: set, but the admin API is served on `admin_listen`, which is not set"
                .to_string()
        ]
    );
}

#[test]
fn a_weak_or_shared_admin_key_is_refused_without_printing_it() {
    let yaml = format!(
        "auth:\n  admin_key: ${{SHORT}}\n  per_ip: {{ rpm: 0 }}\n  keys: [ {{ name: a, key: ka }} ]\n{PROVIDER}"
    );
    let short = team_errors(&yaml);
    assert_eq!(
        short,
        "\
gw.yaml:2: auth.admin_key: too short to guess-proof; use at least 16 characters
gw.yaml:3: auth.per_ip.rpm: must be at least 1"
    );
    let spaced = format!("auth:\n  admin_key: \"adm 0123456789abcdef\"\n{PROVIDER}");
    assert_eq!(
        team_errors(&spaced),
        "gw.yaml:2: auth.admin_key: the key has spaces or characters an HTTP header cannot carry"
    );
    // The same value as a team key: given in plain, or as its SHA-256.
    let digest = hex::encode(sha2::Sha256::digest(ADMIN.as_bytes()));
    for team in ["key: ${ADMIN}".to_string(), format!("key_sha256: {digest}")] {
        let yaml = format!(
            "auth:\n  admin_key: ${{ADMIN}}\n  keys:\n    - {{ name: ops, {team} }}\n{PROVIDER}"
        );
        let shared = team_errors(&yaml);
        assert_eq!(
            shared,
            "gw.yaml:2: auth.admin_key: is the key of `ops` too; the admin key must be a key of its own",
            "{team}"
        );
        assert!(!shared.contains(ADMIN));
    }
    assert!(!short.contains("adm-0123"), "{short}");
}

#[test]
fn per_ip_needs_rpm() {
    assert_eq!(
        team_errors(&format!("auth:\n  per_ip: {{ }}\n{PROVIDER}")),
        "gw.yaml:2: auth.per_ip: missing field `rpm`"
    );
}

fn store_of(yaml: &str) -> PathBuf {
    let Store::Sqlite(path) = team_load(yaml).expect("valid").config.store;
    path
}

#[test]
fn store_is_a_sqlite_path() {
    assert_eq!(store_of(PROVIDER), PathBuf::from("modelgate.db"));
    assert_eq!(
        store_of(&format!(
            "store: sqlite:/var/lib/modelgate/usage.db\n{PROVIDER}"
        )),
        PathBuf::from("/var/lib/modelgate/usage.db")
    );
    assert_eq!(
        store_of(&format!("store: sqlite:data/usage.db\n{PROVIDER}")),
        PathBuf::from("data/usage.db"),
        "no file: relative to the working directory"
    );
    for bad in [
        "\"postgres://user:hunter2@db/modelgate\"",
        "modelgate.db",
        "\"sqlite:\"",
        "\"sqlite:///var/lib/x.db\"",
    ] {
        let msg = team_errors(&format!("store: {bad}\n{PROVIDER}"));
        assert_eq!(
            msg,
            "gw.yaml:1: store: must be `sqlite:<path>`, e.g. `sqlite:/var/lib/modelgate/modelgate.db` \
             (a relative path is taken from this file's directory)",
            "{bad}"
        );
    }
}

#[test]
fn a_relative_store_is_beside_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("gateway.yaml");
    let load_with = |store: &str| {
        std::fs::write(&file, format!("{store}{PROVIDER}")).expect("write");
        let Store::Sqlite(path) = load_file(&file).expect("valid").config.store;
        path
    };
    assert_eq!(load_with(""), dir.path().join("modelgate.db"));
    assert_eq!(
        load_with("store: sqlite:data/usage.db\n"),
        dir.path().join("data/usage.db")
    );
    assert_eq!(
        load_with("store: sqlite:/srv/usage.db\n"),
        PathBuf::from("/srv/usage.db")
    );
}

#[test]
fn prices_per_entry_and_per_model() {
    let yaml = "\
providers:
  - id: free-tier
    type: groq
    api_key: k
    price: free
    models: [llama-3.3-70b-versatile]
  - id: paid
    type: openai
    api_keys: [k1, k2]
    price: { input: 2, output: 8 }
    models:
      - gpt-4.1
      - { name: gpt-4.1-mini, price: { input: 0.4, output: 1.6, cached_input: 0.1 } }
  - id: shipped
    type: openai
    api_key: k
    models: [gpt-4.1-mini, my-finetune]
  - id: local
    type: openai-compatible
    base_url: http://127.0.0.1:9/v1
    models: [llama3.2, { name: tuned, price: free }]
";
    let c = team_load(yaml).expect("valid").config;
    let by_id = |id: &str| c.instances.iter().find(|i| i.id == id).expect(id);
    let free = by_id("free-tier");
    assert_eq!(free.price, Some(Price::FREE));
    assert_eq!(free.price_of("llama-3.3-70b-versatile"), Some(Price::FREE));
    let own = Price {
        input: 2.0,
        output: 8.0,
        cached_input: 2.0,
    };
    for id in ["paid#1", "paid#2"] {
        assert_eq!(by_id(id).price_of("gpt-4.1"), Some(own), "{id}");
        assert_eq!(
            by_id(id).price_of("gpt-4.1-mini"),
            Some(Price {
                input: 0.4,
                output: 1.6,
                cached_input: 0.1
            }),
            "a model's own price wins over the entry's"
        );
    }
    let shipped = by_id("shipped");
    assert_eq!(shipped.price, None);
    assert_eq!(
        shipped.price_of("gpt-4.1-mini"),
        crate::providers::shipped_price(ProviderType::Openai, "gpt-4.1-mini")
    );
    assert_eq!(
        shipped.price_of("gpt-4.1-mini").map(|p| p.input),
        Some(0.40),
        "the shipped table"
    );
    assert_eq!(shipped.price_of("my-finetune"), None, "unpriced");
    let local = by_id("local");
    assert_eq!(local.price_of("llama3.2"), None, "unpriced");
    assert_eq!(local.price_of("tuned"), Some(Price::FREE));
}

#[test]
fn price_values_are_checked_all_at_once() {
    let yaml = "\
providers:
  - id: a
    type: groq
    api_key: k
    price: paid
    models: [m]
  - id: b
    type: groq
    api_key: k
    price: { input: -1, output: inf, cached_input: -0.5 }
    models: [m, { name: n, price: gratis }, { name: o, price: { input: 1, output: -2 } }]
";
    assert_eq!(
        team_errors(yaml),
        "\
gw.yaml:5: providers[0].price: `paid` is not a price: write `free` or { input, output, cached_input } (USD per million tokens)
gw.yaml:10: providers[1].price.input: must be a number of US dollars per million tokens, 0 or more
gw.yaml:10: providers[1].price.output: must be a number of US dollars per million tokens, 0 or more
gw.yaml:10: providers[1].price.cached_input: must be a number of US dollars per million tokens, 0 or more
gw.yaml:11: providers[1].models[1].price: `gratis` is not a price: write `free` or { input, output, cached_input } (USD per million tokens)
gw.yaml:11: providers[1].models[2].price.output: must be a number of US dollars per million tokens, 0 or more"
    );
}

#[test]
fn price_shapes_keep_precise_errors() {
    let yaml = "\
providers:
  - { id: a, type: groq, api_key: k, models: [m], price: { input: 1, cache: 3 } }
  - { id: b, type: groq, api_key: k, models: [m], price: [1, 2] }
  - { id: c, type: groq, api_key: k, models: [ { name: m, price: { input: x, output: 2 } } ] }
  - { id: d, type: groq, api_key: k, models: [ { name: m, price: { input: 1, outptu: 2 } } ] }
";
    assert_eq!(
        team_errors(yaml),
        "\
gw.yaml:2: providers[0].price.cache: unknown key `cache` (expected one of: input, output, cached_input)
gw.yaml:2: providers[0].price: missing field `output`
gw.yaml:3: providers[1].price: invalid type: sequence, expected `free`, or { input, output, cached_input }
gw.yaml:4: providers[2].models[0].price.input: expected a number
gw.yaml:5: providers[3].models[0].price.outptu: unknown key `outptu` (expected one of: input, output, cached_input)
gw.yaml:5: providers[3].models[0].price: missing field `output`"
    );
}

/// What `modelgate -t` prints for a file with a mistake in every new key.
#[test]
fn every_new_key_reports_its_problem_in_one_run() {
    let yaml = "\
store: mysql:modelgate
auth:
  admin_key: ${SHORT}
  per_ip: { rpm: 0 }
  keys:
    - name: a
      key: ka
      rate_limit: { rpm: 0 }
      budget: { usd: -5, period: daily }
providers:
  - id: p
    type: groq
    api_key: k
    price: { input: 1, output: -1 }
    models: [ { name: m, price: cheap } ]
";
    assert_eq!(
        team_errors(yaml),
        "\
gw.yaml:1: store: must be `sqlite:<path>`, e.g. `sqlite:/var/lib/modelgate/modelgate.db` (a relative path is taken from this file's directory)
gw.yaml:3: auth.admin_key: too short to guess-proof; use at least 16 characters
gw.yaml:4: auth.per_ip.rpm: must be at least 1
gw.yaml:8: auth.keys[0].rate_limit.rpm: must be at least 1
gw.yaml:9: auth.keys[0].budget.usd: must be a number of US dollars, 0 or more
gw.yaml:14: providers[0].price.output: must be a number of US dollars per million tokens, 0 or more
gw.yaml:15: providers[0].models[0].price: `cheap` is not a price: write `free` or { input, output, cached_input } (USD per million tokens)"
    );
}
