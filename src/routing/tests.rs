//! Model resolution per CONTRACT, on configs parsed from literal YAML.

use super::*;
use crate::config::load_str;

fn router(yaml: &str) -> Router {
    let env = |k: &str| (k == "K").then(|| "sk".to_string());
    let loaded = load_str("t.yaml", yaml, &env).expect("valid config");
    Router::new(&loaded.config)
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
    assert_eq!(r.resolve("gpt-9"), Err(UnknownModel("gpt-9".into())));
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
