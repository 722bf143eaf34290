//! The real Codex CLI (npm `@openai/codex`, pinned in `tests/clients/package.json`,
//! installed by `scripts/setup.sh`) against the gateway in front of an
//! OpenAI-format chat provider: Codex speaks only the Responses API, so every
//! turn is translated to chat and back. A plain prompt, and a tool loop in which
//! the provider asks for `exec_command` and the next request carries its output.
//! Codex runs offline: a fresh `CODEX_HOME` and `HOME`, a custom provider that
//! names the gateway, no traffic but the gateway. And the WebSocket Codex tries
//! first, refused at once.

use crate::support::{bases, instances_yaml, Behaviour, Gateway, MockUpstream};
use serde_json::json;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

const KEY: &str = "sk-codex-test";
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn codex_bin() -> PathBuf {
    let bin =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node_modules/.bin/codex");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/setup.sh (it installs the test clients)",
        bin.display()
    );
    bin
}

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
    let mut cmd = tokio::process::Command::new(codex_bin());
    cmd.args(["exec", "--skip-git-repo-check", "-m", "m1", "-c"])
        .arg(provider)
        .args(["-c", "model_provider=mg"])
        .arg(prompt)
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CODEX_HOME", home.path())
        .env("MG_KEY", KEY)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_LIMIT, cmd.output())
        .await
        .expect("codex finished in time")
        .expect("codex runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "codex failed ({}): {stdout}\n{stderr}\ngateway log:\n{}",
        output.status,
        gw.logs()
    );
    (stdout, stderr)
}

#[tokio::test]
async fn codex_answers_a_prompt_through_an_openai_format_chat_provider() {
    let mock =
        MockUpstream::start(Behaviour::ok().content("Hi from the provider behind modelgate."));
    let gw = gateway(&mock).await;
    let (answer, _) = codex(&gw, "say hi").await;
    assert_eq!(answer.trim(), "Hi from the provider behind modelgate.");
    let posts: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
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
    let posts: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2, "the call, then the answer to its output");
    let second = posts[1].json();
    let messages = second["messages"].as_array().expect("messages");
    let call = messages
        .iter()
        .find_map(|m| m["tool_calls"].get(0))
        .expect("the assistant's call in the history");
    assert_eq!(call["function"]["name"], "exec_command");
    let output = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the command's output");
    assert_eq!(output["tool_call_id"], call["id"]);
    assert!(
        output["content"].to_string().contains("hello-from-tool"),
        "{output}"
    );
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
