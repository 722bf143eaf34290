//! The real Codex CLI (npm `@openai/codex`, pinned in `tests/clients/package.json`,
//! installed by `scripts/setup.sh`) against the gateway in front of an
//! OpenAI-format chat provider: Codex speaks only the Responses API, so every
//! turn is translated to chat and back. A plain prompt, and a tool loop in which
//! the provider asks for `exec_command` and the next request carries its output.
//! Codex runs offline: a fresh `CODEX_HOME` and `HOME`, a custom provider that
//! names the gateway, no traffic but the gateway. And the WebSocket Codex tries
//! first, refused at once.

use crate::support::{
    assert_tool_output_sent, bases, cli_bin, instances_yaml, posted, run_cli, Behaviour, Gateway,
    MockUpstream,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "sk-codex-test";

async fn gateway(mock: &MockUpstream) -> Gateway {
    let mut yaml = instances_yaml("", &bases(&[mock]), &["m1"]);
    yaml.push_str(&format!(
        "auth:\n  keys:\n    - {{ name: codex, key: {KEY} }}\n"
    ));
    Gateway::builder(&yaml).instance_keys(1).start().await
}

/// `codex exec` with the gateway as a custom Responses provider: its final
/// message (stdout) and its log (stderr).
async fn codex(gw: &Gateway, prompt: &str) -> (String, String) {
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work dir");
    let provider = format!(
        "model_providers.mg={{ name = \"modelgate\", base_url = \"http://{}/v1\", env_key = \"MG_KEY\", wire_api = \"responses\" }}",
        gw.addr()
    );
    let mut cmd = tokio::process::Command::new(cli_bin("codex"));
    cmd.args(["exec", "--skip-git-repo-check", "-m", "m1", "-c"])
        .arg(provider)
        .args(["-c", "model_provider=mg"])
        .arg(prompt)
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CODEX_HOME", home.path())
        .env("MG_KEY", KEY);
    run_cli(cmd, gw).await
}

#[tokio::test]
async fn codex_answers_a_prompt_through_an_openai_format_chat_provider() {
    let mock =
        MockUpstream::start(Behaviour::ok().content("Hi from the provider behind modelgate."));
    let gw = gateway(&mock).await;
    let (answer, _) = codex(&gw, "say hi").await;
    assert_eq!(answer.trim(), "Hi from the provider behind modelgate.");
    let posts = posted(&mock);
    assert_eq!(posts.len(), 1, "one model request");
    assert_eq!(posts[0].path, "/v1/chat/completions");
    let body = posts[0].json();
    assert_eq!(body["model"], "m1");
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["messages"][0]["role"], "system",
        "Codex's instructions first"
    );
    for field in [
        "input",
        "instructions",
        "store",
        "include",
        "prompt_cache_key",
    ] {
        assert!(body.get(field).is_none(), "{field} sent to a chat provider");
    }
}

#[tokio::test]
async fn codex_runs_a_command_when_the_provider_asks_and_sends_back_its_output() {
    let mock = MockUpstream::start(Behaviour::sequence(vec![
        Behaviour::tool_call("exec_command", json!({"cmd": "echo hello-from-tool"})),
        Behaviour::ok().content("The command printed hello-from-tool."),
    ]));
    let gw = gateway(&mock).await;
    let (answer, log) = codex(&gw, "run echo hello-from-tool").await;
    assert_eq!(
        answer.trim(),
        "The command printed hello-from-tool.",
        "{log}"
    );
    let posts = posted(&mock);
    assert_eq!(posts.len(), 2, "the call, then the answer to its output");
    assert_tool_output_sent(&posts[1].json(), "exec_command", "hello-from-tool");
}

/// Codex first asks for Responses over a WebSocket (`GET /v1/responses` with
/// `Upgrade: websocket`): a 404 at once, so that it falls back to HTTP without
/// waiting; nothing goes upstream.
#[tokio::test]
async fn a_websocket_upgrade_on_v1_responses_is_404_at_once() {
    let mock = MockUpstream::start(Behaviour::ok());
    let gw = gateway(&mock).await;
    let started = Instant::now();
    let response = (gw.client().get(gw.url("/v1/responses")))
        .bearer_auth(KEY)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 404);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(2), "answered after {waited:?}");
    let error: Value = response.json().await.expect("an error body");
    assert!(error["error"]["message"].is_string(), "{error}");
    assert_eq!(mock.posts(), 0);
}
