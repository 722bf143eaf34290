//! For an operator at a shell: `modelgate keys create|list|update|revoke` against a
//! running gateway (its output, and exit 1 with one message when it cannot), and the
//! team settings `modelgate -t` refuses, one line per problem.

use super::{alice, chat, rate_headers, refused, rig, ALICE};
use crate::support::*;
use serde_json::{json, Value};

/// A copy of `gw`'s gateway.yaml in a directory of its own, with the admin
/// listener's real address in place of port 0: what an operator's file says.
fn cli_config(gw: &Gateway) -> tempfile::TempDir {
    let yaml = std::fs::read_to_string(gw.dir().join("gateway.yaml")).expect("gateway.yaml");
    let admin = gw.admin_url("");
    let admin = admin.strip_prefix("http://").expect("http");
    let yaml = yaml.replace(
        "admin_listen: \"127.0.0.1:0\"",
        &format!("admin_listen: \"{admin}\""),
    );
    assert!(yaml.contains(admin), "{yaml}");
    let dir = tempfile::tempdir().expect("dir");
    write_file(dir.path(), "gateway.yaml", &yaml);
    dir
}

/// `modelgate -g gateway.yaml keys <args>` in `dir`: (exit code, stdout, stderr).
async fn keys_cli(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let dir = dir.to_path_buf();
    let mut all = vec!["-g".to_string(), "gateway.yaml".into(), "keys".into()];
    all.extend(args.iter().map(|a| a.to_string()));
    let run = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        run_modelgate_in(&dir, &args, &[])
    });
    run.await.expect("the CLI run")
}

/// The JSON a `keys create` printed before its `key (shown once ...)` line, and the key.
fn created_by_cli(out: &str) -> (Value, String) {
    let (view, key_line) = out.trim_end().rsplit_once('\n').expect("two parts");
    let key = key_line.strip_prefix("key (shown once, store it now): ");
    let key = key.unwrap_or_else(|| panic!("no key line: {out}"));
    (
        serde_json::from_str(view).expect("a JSON view"),
        key.to_string(),
    )
}

#[tokio::test]
async fn the_keys_command_manages_keys_through_the_admin_api() {
    let (gw, up) = rig(&alice(""), Behaviour::chat_ok(), "").await;
    let cli = cli_config(&gw);
    let args = ["create", "carol", "--models", "m1", "--rpm", "2"];
    let budget = ["--budget-usd", "5", "--budget-period", "weekly"];
    let (code, out, err) = keys_cli(cli.path(), &[&args[..], &budget[..]].concat()).await;
    assert_eq!(code, 0, "{out}{err}");
    let (view, key) = created_by_cli(&out);
    assert_eq!(view["name"], "carol");
    assert_eq!(view["source"], "store");
    assert_eq!(view["models"], json!(["m1"]));
    assert_eq!(view["rate_limit"], json!({ "rpm": 2, "tpm": null }));
    assert_eq!(
        view["budget"],
        json!({ "usd": 5.0, "period": "weekly", "spent_usd": 0.0 })
    );
    assert!(
        view.get("key").is_none(),
        "the key is shown once, on its own line"
    );
    let r = chat(&gw, "m1", &key).await;
    assert_eq!(
        (r.status().as_u16(), rate_headers(&r, "requests").0),
        (200, "2".into())
    );

    let (code, out, err) = keys_cli(cli.path(), &["list"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "NAME   SOURCE  MODELS  RPM  TPM  BUDGET                       EXPIRES\n\
         alice  file    *       -    -    -                            -\n\
         carol  store   m1      2    -    $5.0 weekly (spent $0.0000)  -\n"
    );
    assert!(
        !out.contains(&key) && !out.contains(ALICE),
        "a secret listed"
    );

    let (code, out, err) = keys_cli(cli.path(), &["update", "carol", "--rpm", "7"]).await;
    assert_eq!(code, 0, "{err}");
    let view: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(view["rate_limit"]["rpm"], 7);
    assert_eq!(view["budget"]["period"], "weekly", "left out, so kept");
    let r = chat(&gw, "m1", &key).await;
    assert_eq!(rate_headers(&r, "requests").0, "7");

    let (code, out, err) = keys_cli(cli.path(), &["revoke", "carol"]).await;
    assert_eq!(code, 0, "{err}");
    let revoked: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(revoked, json!({ "name": "carol", "revoked": true }));
    refused(chat(&gw, "m1", &key).await, 401, "invalid_api_key").await;
    assert_eq!(up.posts(), 2);
}

#[tokio::test]
async fn the_keys_command_exits_1_with_a_message_when_it_cannot_do_it() {
    let (gw, _up) = rig(&alice(""), Behaviour::chat_ok(), "").await;
    let cli = cli_config(&gw);
    let (code, out, err) = keys_cli(cli.path(), &["update", "alice", "--rpm", "1"]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "modelgate keys: PATCH /admin/keys/alice: 409: `alice` is defined in gateway.yaml: \
         change it there and reload\n"
    );
    let wrong = ["--admin-key", "wrong-admin-key-0123456789", "list"];
    let (code, _, err) = keys_cli(cli.path(), &wrong).await;
    assert_eq!(code, 1);
    assert!(
        err.starts_with("modelgate keys: GET /admin/keys: 401: "),
        "{err}"
    );
    let closed = closed_base_url();
    let closed = closed.strip_suffix("/v1").expect("a base URL");
    let (code, _, err) = keys_cli(cli.path(), &["--admin-url", closed, "list"]).await;
    assert_eq!(code, 1);
    let expected = format!("modelgate keys: cannot reach the admin API at {closed}: ");
    assert!(err.starts_with(&expected), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let elsewhere = tempfile::tempdir().expect("dir");
    write_file(elsewhere.path(), "gateway.yaml", "providers: []\n");
    let (code, _, err) = keys_cli(elsewhere.path(), &["list"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no admin listener"), "{err}");
    assert!(!err.contains(ADMIN_KEY), "the admin key printed");
}

/// Runs `modelgate -t -g gw.yaml` on `yaml`: (exit code, stderr).
fn dash_t(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("dir");
    write_file(dir.path(), "gw.yaml", yaml);
    let (code, out, err) = run_modelgate_in(dir.path(), &["-t", "-g", "gw.yaml"], &[]);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.is_empty() || code == 0, "{out}");
    (code, err)
}

#[test]
fn team_config_mistakes_exit_1_with_one_line_each() {
    let (code, err) = dash_t(
        "listen: \"127.0.0.1:1\"
store: \"postgres://user:hunter2@db/modelgate\"
auth:
  admin_key: short
  per_ip: { rpm: 0 }
  keys:
    - name: alice
      key: sk-alice-0123456789
      rate_limit: { rpm: 0, tpm: 0 }
    - { name: bob, key: sk-bob-0123456789, budget: { usd: -1, period: monthly } }
providers:
  - id: a
    type: openai-compatible
    base_url: \"http://127.0.0.1:9\"
    price: cheap
    models:
      - { name: m, price: { input: -1, output: 2 } }
",
    );
    assert_eq!(code, 1);
    let expected = "\
gw.yaml:2: store: must be `sqlite:<path>`, e.g. `sqlite:/var/lib/modelgate/modelgate.db` (a relative path is taken from this file's directory)
gw.yaml:4: auth.admin_key: too short to guess-proof; use at least 16 characters
gw.yaml:5: auth.per_ip.rpm: must be at least 1
gw.yaml:9: auth.keys[0].rate_limit.rpm: must be at least 1
gw.yaml:9: auth.keys[0].rate_limit.tpm: must be at least 1
gw.yaml:10: auth.keys[1].budget.usd: must be a number of US dollars, 0 or more
gw.yaml:15: providers[0].price: `cheap` is not a price: write `free` or { input, output, cached_input } (USD per million tokens)
gw.yaml:17: providers[0].models[0].price.input: must be a number of US dollars per million tokens, 0 or more
";
    assert_eq!(err, expected);
    assert!(!err.contains("hunter2"), "a store URL's password printed");
}

/// `period: yearly` is a problem of its own: it must not hide the other problems
/// of the same `auth:` block (every problem is reported in one run).
#[test]
fn a_bad_budget_period_does_not_hide_the_other_auth_problems() {
    let (code, err) = dash_t(
        "listen: \"127.0.0.1:1\"
auth:
  admin_key: short
  keys:
    - { name: alice, key: sk-alice-0123456789, rate_limit: { rpm: 0 }, budget: { usd: 5, period: yearly } }
providers:
  - { id: a, type: openai-compatible, base_url: \"http://127.0.0.1:9\", models: [m] }
",
    );
    assert_eq!(code, 1);
    let mut lines: Vec<&str> = err.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "gw.yaml:3: auth.admin_key: too short to guess-proof; use at least 16 characters",
            "gw.yaml:5: auth.keys[0].budget.period: unknown variant `yearly`, expected one of `daily`, `weekly`, `monthly`, `total`",
            "gw.yaml:5: auth.keys[0].rate_limit.rpm: must be at least 1",
        ],
        "{err}"
    );
}
