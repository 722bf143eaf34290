//! The real CLI clients (Claude Code, Codex) as tests run them: installed by
//! `scripts/setup.sh` under `tests/clients/node_modules`, each run bounded in
//! time, and what a tool loop must have sent the provider.

use super::{Gateway, MockUpstream, RecordedRequest};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// One CLI run may take a few seconds; a hung one fails its test, not the suite.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The installed CLI `name` (`claude`, `codex`); fails the test when missing.
pub fn cli_bin(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/node_modules/.bin")
        .join(name);
    assert!(
        bin.exists(),
        "{} is missing: run scripts/setup.sh (it installs the test clients)",
        bin.display()
    );
    bin
}

/// Runs `cmd` (already given its arguments, environment and directory) to
/// its end within `RUN_LIMIT`; its stdout and stderr. A failed run fails the
/// test, with the gateway's log.
pub async fn run_cli(mut cmd: tokio::process::Command, gw: &Gateway) -> (String, String) {
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(RUN_LIMIT, cmd.output())
        .await
        .expect("the client finished in time")
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "the client failed ({}): {stdout}\n{stderr}\ngateway log:\n{}",
        output.status,
        gw.logs()
    );
    (stdout, stderr)
}

/// The POST requests `mock` received, in order.
pub fn posted(mock: &MockUpstream) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// A chat request that goes on after a tool loop's first turn: its history
/// has the assistant's call of `tool`, and the tool's output (holding
/// `expected`) in a `tool` message paired with that call.
pub fn assert_tool_output_sent(body: &Value, tool: &str, expected: &str) {
    let messages = body["messages"].as_array().expect("messages");
    let call = messages
        .iter()
        .find_map(|m| m["tool_calls"].get(0))
        .expect("the assistant's call in the history");
    assert_eq!(call["function"]["name"], tool);
    let output = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the tool's output");
    assert_eq!(output["tool_call_id"], call["id"]);
    assert!(output["content"].to_string().contains(expected), "{output}");
}
