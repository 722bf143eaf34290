//! The real Claude Code CLI (npm `@anthropic-ai/claude-code`, pinned in
//! `tests/clients/package.json`, installed by `scripts/setup.sh`) against the
//! gateway in front of an OpenAI-format provider: a plain prompt, and a tool
//! loop in which the provider asks for Claude Code's Bash tool and the next
//! request carries the command's output. Claude Code runs offline: a fresh
//! `HOME`, no traffic but the gateway.

use crate::support::{
    assert_tool_output_sent, bases, cli_bin, instances_yaml, posted, run_cli, Behaviour, Gateway,
    MockUpstream,
};
use serde_json::{json, Value};

const KEY: &str = "sk-claude-code-test";

/// A gateway whose `claude-*` glob sends Claude Code's own model names to
/// the OpenAI-format `mock` as `m1`, with one team key.
async fn gateway(mock: &MockUpstream) -> Gateway {
    let mut yaml = instances_yaml("", &bases(&[mock]), &["m1"]);
    yaml.push_str("models:\n  - name: \"claude-*\"\n    targets: [ { model: m1 } ]\n");
    yaml.push_str(&format!(
        "auth:\n  keys:\n    - {{ name: cc, key: {KEY} }}\n"
    ));
    Gateway::builder(&yaml).instance_keys(1).start().await
}

/// `claude -p <prompt> --output-format json` and its parsed result.
async fn claude(gw: &Gateway, prompt: &str, extra: &[&str]) -> Value {
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work dir");
    let mut cmd = tokio::process::Command::new(cli_bin("claude"));
    cmd.arg("-p")
        .arg(prompt)
        .args(["--output-format", "json"])
        .args(extra)
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", format!("http://{}", gw.addr()))
        .env("ANTHROPIC_AUTH_TOKEN", KEY)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS", "1");
    let (stdout, _) = run_cli(cmd, gw).await;
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("claude's JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn claude_code_answers_a_prompt_through_an_openai_format_provider() {
    let mock =
        MockUpstream::start(Behaviour::ok().content("Hi from the provider behind modelgate."));
    let gw = gateway(&mock).await;
    let result = claude(&gw, "say hi", &[]).await;
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(
        result["result"], "Hi from the provider behind modelgate.",
        "{result}"
    );
    assert!(
        result["usage"]["input_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{result}"
    );
    // The provider got OpenAI chat, streamed with usage, none of Claude
    // Code's Anthropic-only fields, its key not the client's.
    let posts = posted(&mock);
    assert_eq!(posts.len(), 1, "one model request");
    let seen = &posts[0];
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-test-1"));
    let body = seen.json();
    assert_eq!(body["model"], "m1");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    for field in [
        "thinking",
        "system",
        "metadata",
        "output_config",
        "context_management",
    ] {
        assert!(body.get(field).is_none(), "{field} sent upstream");
    }
    let max_tokens = body["max_tokens"].as_u64().expect("max_tokens");
    assert!(max_tokens > 0);
}

#[tokio::test]
async fn claude_code_runs_bash_when_the_provider_asks_and_sends_back_the_output() {
    let mock = MockUpstream::start(Behaviour::sequence(vec![
        Behaviour::tool_call(
            "Bash",
            json!({"command": "echo hello-from-tool", "description": "Say hello"}),
        ),
        Behaviour::ok().content("The command printed hello-from-tool."),
    ]));
    let gw = gateway(&mock).await;
    let result = claude(&gw, "run echo hello-from-tool", &["--allowedTools", "Bash"]).await;
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(
        result["result"], "The command printed hello-from-tool.",
        "{result}"
    );
    let posts = posted(&mock);
    assert_eq!(posts.len(), 2, "the call, then the answer to its result");
    assert_tool_output_sent(&posts[1].json(), "Bash", "hello-from-tool");
}
