//! Loading literal configs: defaults, expansion, and the exact messages a
//! user sees for mistakes (one per problem, with line and key path).

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "KEY_A" => Some("sk-live-aaaa".into()),
        "KEY_B" => Some("sk-live-bbbb".into()),
        "EMPTY" => Some(String::new()),
        "SECRET_LIST" => Some("sk-live-secret-value".into()),
        _ => None,
    }
}

fn load(yaml: &str) -> Result<Loaded, ConfigErrors> {
    load_str("gw.yaml", yaml, &env)
}

fn errors(yaml: &str) -> String {
    load(yaml)
        .expect_err("config should be rejected")
        .to_string()
}

#[test]
fn minimal_config_gets_contract_defaults() {
    let l = load("providers:\n  - { id: a, type: groq, api_key: \"${KEY_A}\", models: [m] }\n")
        .expect("valid");
    let c = &l.config;
    let plain = Listen {
        addr: "0.0.0.0:8080".parse().expect("addr"),
        tls: None,
    };
    assert_eq!(c.listen, vec![plain]);
    assert_eq!(c.routing, Routing::default());
    assert_eq!(c.connections, Connections::default());
    assert_eq!(c.connections.request_head.as_secs(), 10);
    assert!(c.cors.allow_origins.is_empty(), "CORS is off by default");
    assert_eq!(
        c.instances[0].base_url.to_string(),
        "https://api.groq.com/openai/v1"
    );
    assert_eq!(
        c.instances[0].api_key.as_ref().map(Secret::expose),
        Some("sk-live-aaaa")
    );
    assert!(
        l.warnings.iter().any(|w| w.contains("open")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn full_example_file_loads() {
    let text = include_str!("../../gateway.yaml.example");
    let env = |k: &str| Some(format!("value-of-{k}"));
    let l = load_str("gateway.yaml.example", text, &env).expect("the shipped example is valid");
    let ids: Vec<&str> = l.config.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["groq-1", "groq-2#1", "groq-2#2", "openai", "azure", "local", "claude", "gemini-1"]
    );
    assert_eq!(l.config.aliases.len(), 3);
    let keys = &l.config.auth;
    assert_eq!(keys[0].budget.map(|b| b.usd), Some(50.0));
    assert_eq!(keys[1].rate_limit.rpm, Some(60));
    assert_eq!(l.config.instances[0].price, Some(Price::FREE));
}

#[test]
fn variables_work_inside_flow_collections_and_quotes() {
    let l = load("providers:\n  - {id: a, type: groq, api_keys: [${KEY_A}, ${KEY_B}], models: [m]}\n  - id: b\n    type: openai-compatible\n    base_url: \"http://127.0.0.1:${PORT:-9}/v1\"\n    api_key: pre$${X}post\n    models: [m]\n")
        .expect("valid");
    let keys: Vec<&str> = l
        .config
        .instances
        .iter()
        .filter_map(|i| i.api_key.as_ref().map(Secret::expose))
        .collect();
    assert_eq!(keys, vec!["sk-live-aaaa", "sk-live-bbbb", "pre${X}post"]);
    assert_eq!(l.config.instances[2].base_url.port, 9);
}

#[test]
fn routing_values_and_units_parse() {
    let l = load(
        "listen: [\"127.0.0.1:1\", \"[::1]:2\"]\nrouting:\n  strategy: round-robin\n  max_attempts: 2\n  cooldown: 90s\n  timeouts: { connect: 250ms, first_byte: 2m, idle: 1h }\n  max_body: 1MiB\nproviders:\n  - { id: a, type: openai-compatible, base_url: \"http://127.0.0.1:9/v1\", models: [m] }\n",
    )
    .expect("valid");
    let r = &l.config.routing;
    assert_eq!(l.config.listen.len(), 2);
    assert_eq!(
        (r.strategy, r.max_attempts, r.max_body),
        (crate::config::Strategy::RoundRobin, 2, 1 << 20)
    );
    assert_eq!(r.cooldown, Duration::from_secs(90));
    assert_eq!(r.timeouts.connect, Duration::from_millis(250));
    assert_eq!(r.timeouts.idle, Duration::from_secs(3600));
    assert_eq!(
        l.config.instances[0].api_key, None,
        "keyless local endpoint"
    );
}

#[test]
fn unset_or_empty_keys_skip_the_instance_with_a_warning() {
    let l = load(
        "providers:\n  - { id: a, type: groq, api_key: \"${NOPE}\", models: [m] }\n  - { id: b, type: groq, api_keys: [\"${KEY_A}\", \"${EMPTY}\", \"${KEY_B}\"], models: [m] }\n",
    )
    .expect("valid");
    let ids: Vec<&str> = l.config.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec!["b#1", "b#3"]);
    assert!(
        l.warnings
            .contains(&"instance `a` skipped: `NOPE` is not set".to_string()),
        "{:?}",
        l.warnings
    );
    assert!(
        l.warnings
            .contains(&"instance `b#2` skipped: its key is empty".to_string()),
        "{:?}",
        l.warnings
    );
}

#[test]
fn gateway_keys_plain_or_sha256() {
    let l = load(concat!(
        "auth:\n  keys:\n    - { name: a, key: \"${KEY_A}\" }\n",
        "    - { name: b, key_sha256: \"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\", models: [\"x-*\"] }\n",
        "providers:\n  - { id: p, type: openai-compatible, base_url: \"http://127.0.0.1:9\", models: [m] }\n"
    ))
    .expect("valid");
    let keys = &l.config.auth;
    assert_eq!(keys[1].sha256[..2], [0x2c, 0x26]);
    assert_eq!(keys[0].models, vec!["*".to_string()]);
    assert_eq!(keys[1].models, vec!["x-*".to_string()]);
}

#[test]
fn every_problem_is_reported_with_line_and_path() {
    let yaml = r#"listen: "127.0.0.1:notaport"
routing:
  max_attempts: many
  tmeouts: { connect: 5s }
  cooldown: 5x
providers:
  - id: g1
    type: grok
    models: [a]
  - id: g2
    type: groq
    api_key: ${KEY_A}
    models: [a]
  - id: g2
    type: openai-compatible
    models: [b]
models:
  - name: fast
    targets: [ { provider: nowhere, model: a }, { model: zzz } ]
bogus: true
"#;
    let expected = "\
gw.yaml:1: listen: `127.0.0.1:notaport` is not an address like `0.0.0.0:8080` or `[::1]:8080`
gw.yaml:3: routing.max_attempts: expected a whole number
gw.yaml:4: routing.tmeouts: unknown key `tmeouts` (expected one of: strategy, max_attempts, cooldown, bad_key_cooldown, circuit_breaker, health_check, timeouts, max_body)
gw.yaml:5: routing.cooldown: invalid duration `5x` (unknown time unit \"…\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)); use e.g. `90s`, `5m`, `1h`
gw.yaml:8: providers[0].type: unknown variant `grok`, expected one of `openai`, `groq`, `cerebras`, `openrouter`, `together`, `fireworks`, `mistral`, `deepseek`, `xai`, `sambanova`, `perplexity`, `openai-compatible`, `azure`, `anthropic`, `anthropic-compatible`, `gemini`
gw.yaml:14: providers[2].id: duplicate provider id `g2`
gw.yaml:14: providers[2].base_url: required for type `openai-compatible`
gw.yaml:19: models[0].targets[0].provider: no provider with id or type `nowhere`
gw.yaml:19: models[0].targets[1].model: no provider lists model `zzz`
gw.yaml:20: bogus: unknown key `bogus` (expected one of: listen, admin_listen, access_log, cors, connections, auth, store, routing, providers, models)";
    assert_eq!(errors(yaml), expected);
}

#[test]
fn listen_entries_may_carry_tls_files() {
    let yaml = "listen: [\"127.0.0.1:1\", { addr: \"127.0.0.1:2\", tls: { cert: /etc/c.pem, key: /etc/k.pem } }]\n\
                providers: [ { id: a, type: groq, api_key: k, models: [m] } ]\n";
    let c = load(yaml).expect("valid").config;
    assert_eq!(c.listen[0].tls, None);
    let tls = c.listen[1].tls.clone().expect("tls");
    assert_eq!(c.listen[1].addr.port(), 2);
    assert_eq!(
        (tls.cert.to_str(), tls.key.to_str()),
        (Some("/etc/c.pem"), Some("/etc/k.pem"))
    );
    let bad = "listen: [{ addr: \"nowhere\", tls: { cert: c, key: k } }]\n\
               providers: [ { id: a, type: groq, api_key: k, models: [m] } ]\n";
    assert_eq!(
        errors(bad),
        "gw.yaml:1: listen.addr: `nowhere` is not an address like `0.0.0.0:8080` or `[::1]:8080`"
    );
}

#[test]
fn connection_limits_and_cors_origins_are_checked() {
    let yaml = "\
providers: [ { id: a, type: groq, api_key: k, models: [m] } ]
connections: { request_head: 0s, body: 30s, max_per_ip: 0 }
cors: { allow_origins: [\"https://chat.example.com\", \"*\", \"https://x.example.com/app\", \"chat.example.com\"] }
";
    assert_eq!(
        errors(yaml),
        "\
gw.yaml:2: connections.request_head: must be longer than zero
gw.yaml:2: connections.max_per_ip: must be at least 1
gw.yaml:3: cors.allow_origins[2]: `https://x.example.com/app` is not an origin: write `*` or scheme://host[:port], without a path
gw.yaml:3: cors.allow_origins[3]: `chat.example.com` is not an origin: write `*` or scheme://host[:port], without a path"
    );
    let typo = "providers: [ { id: a, type: groq, api_key: k, models: [m] } ]\n\
                connections: { keepalive_idle: soon, max_per_ip: many }\n";
    assert_eq!(
        errors(typo),
        "\
gw.yaml:2: connections.keepalive_idle: invalid duration `soon` (expected number at 0); use e.g. `90s`, `5m`, `1h`
gw.yaml:2: connections.max_per_ip: expected a whole number"
    );
    let ok = "providers: [ { id: a, type: groq, api_key: k, models: [m] } ]\n\
              connections: { body: 5m, max_per_ip: 8 }\n\
              cors: { allow_origins: [\"http://localhost:3000\"] }\n";
    let c = load(ok).expect("valid").config;
    assert_eq!(c.connections.body.as_secs(), 300);
    assert_eq!(c.connections.max_per_ip, 8);
    assert_eq!(c.connections.keepalive_idle.as_secs(), 60);
    assert_eq!(
        c.cors.allow_origins,
        vec!["http://localhost:3000".to_string()]
    );
}

#[test]
fn structural_mistakes() {
    assert_eq!(
        errors("providers: []\nlisten: 1\nlisten: 2\n"),
        "gw.yaml:3: duplicate key `listen`"
    );
    assert_eq!(
        errors("- a\n- b\n"),
        "gw.yaml:1: the file must be a mapping (listen:, providers:, ...)"
    );
    assert_eq!(
        errors("listen: \"127.0.0.1:1\"\n"),
        "gw.yaml: providers: required: list at least one provider instance"
    );
    assert_eq!(
        errors("providers:\n  - { id: a, type: groq, api_key: x, api_keys: [y], models: [m] }\n"),
        "gw.yaml:2: providers[0]: give either `api_key` or `api_keys`, not both"
    );
    assert_eq!(
        errors("providers:\n  - { id: a, type: groq, models: [m] }\n"),
        "gw.yaml:2: providers[0]: type `groq` needs `api_key` or `api_keys`"
    );
    assert_eq!(
        errors("providers:\n  - { id: a, type: groq, api_key: x, models: [m], base_url: \"ftp://h\" }\n"),
        "gw.yaml:2: providers[0].base_url: `ftp://h` must start with http:// or https://"
    );
    assert_eq!(
        errors("routing: { timeouts: { idle: 0s } }\nproviders:\n  - { id: a, type: groq, api_key: x, models: [m] }\n"),
        "gw.yaml:1: routing.timeouts.idle: must be longer than zero"
    );
}

#[test]
fn unset_variables_outside_keys_are_errors() {
    assert_eq!(
        errors("listen: \"${LISTEN_ADDR}\"\nproviders:\n  - { id: a, type: groq, api_key: x, models: [m] }\n"),
        "gw.yaml:1: listen: environment variable `LISTEN_ADDR` is not set (write `${LISTEN_ADDR:-default}` for a default)"
    );
    assert_eq!(
        errors("auth:\n  keys: [ { name: a, key: \"${NOPE}\" } ]\nproviders:\n  - { id: a, type: groq, api_key: x, models: [m] }\n"),
        "gw.yaml:2: auth.keys[0].key: environment variable `NOPE` is not set (write `${NOPE:-default}` for a default)\n\
         gw.yaml:2: auth.keys[0].key: is empty"
    );
}

#[test]
fn errors_never_echo_secret_values() {
    let msgs = [
        errors(
            "providers:\n  - { id: a, type: groq, api_keys: \"${SECRET_LIST}\", models: [m] }\n",
        ),
        errors(
            "providers:\n  - { id: a, type: groq, api_key: [\"${SECRET_LIST}\"], models: [m] }\n",
        ),
        errors(
            "providers:\n  - { id: a, type: groq, api_key: \"${SECRET_LIST} x\", models: [m] }\n",
        ),
    ];
    for m in msgs {
        assert!(!m.contains("sk-live"), "secret leaked: {m}");
        assert!(m.starts_with("gw.yaml:2: providers[0]"), "{m}");
    }
}

#[test]
fn models_may_carry_an_output_limit_and_a_reasoning_switch() {
    let yaml = "providers:\n  - id: a\n    type: groq\n    api_key: k\n    models:\n      - plain\n      - { name: big, max_output_tokens: 32768, reasoning: false }\n";
    let c = load(yaml).expect("valid").config;
    let inst = &c.instances[0];
    assert_eq!(inst.models, vec!["plain".to_string(), "big".to_string()]);
    let big = inst.options.get("big").copied().expect("options");
    assert_eq!(big.max_output_tokens, Some(32768));
    assert_eq!(big.reasoning, Some(false));
    assert!(!inst.options.contains_key("plain"));
    let typo = "providers:\n  - id: a\n    type: groq\n    api_key: k\n    models: [ { name: big, max_output_token: 1 } ]\n";
    let err = errors(typo);
    assert!(err.contains("providers[0].models"), "{err}");
}

/// `auth` (limits, budgets, admin key, per address), `store` and prices.
mod teams;
