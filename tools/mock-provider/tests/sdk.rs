//! The mock proven with the official SDKs: each test starts the real
//! mock-provider binary and runs one script of `tests/sdk/` with the Python
//! of the venv `scripts/setup.sh` installs (`target/clients/venv`, holding the
//! `openai`, `anthropic` and `google-genai` versions pinned in
//! `tests/clients/requirements.txt`). A missing venv fails the test: the
//! clients are part of the suite, not an option.

// Test code: a failed expectation should panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::Mock;

/// One script run: Python's start-up and the SDK imports take a few seconds
/// of it on a busy machine; the requests themselves milliseconds.
const SCRIPT_TIME: Duration = Duration::from_secs(120);

const KEY: &str = "sk-mock-sdk-test";

/// The repository root (this crate lives in `tools/mock-provider`).
fn repo() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest)
}

fn python() -> PathBuf {
    let python = repo().join("target/clients/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh, which installs the official SDKs \
         (tests/clients/requirements.txt) these tests drive",
        python.display()
    );
    python
}

/// Runs `tests/sdk/<script>` with `MOCK_URL` (and the other `env`) set; fails
/// the test with the script's output if it fails or outlives `SCRIPT_TIME`.
fn run(script: &str, mock: &Mock, env: &[(&str, String)]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(script);
    let mut command = Command::new(python());
    command
        .arg(&path)
        .env("MOCK_URL", mock.url())
        .env("MOCK_KEY", KEY)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Nothing from the environment may steer the SDKs elsewhere.
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_GENAI_USE_VERTEXAI",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(name, value)| (name, value)));
    let child = command.spawn().expect("the venv's python starts");
    let pid = child.id();
    let (done, outcome) = mpsc::channel::<std::io::Result<Output>>();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match outcome.recv_timeout(SCRIPT_TIME) {
        Ok(output) => output.expect("the script's output"),
        Err(_) => {
            // Only the process this test started, by its id.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{script} ran longer than {SCRIPT_TIME:?}");
        }
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).ends_with(": ok\n"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn anthropic_sdk_creates_streams_counts_and_lists() {
    let mock = Mock::start(&["--require-key", KEY]);
    run("anthropic_messages.py", &mock, &[]);
}

#[test]
fn anthropic_sdk_gets_a_tool_use_and_an_answer_to_its_result() {
    let mock = Mock::start(&["--tool-calls", "--chunks", "6"]);
    run("anthropic_tools.py", &mock, &[]);
}

#[test]
fn anthropic_sdk_maps_overload_rate_limit_and_bad_request() {
    let overloaded = Mock::start(&["--fail-every", "1", "--fail-status", "529"]);
    let limited = Mock::start(&["--fail-every", "1", "--fail-status", "429"]);
    let plain = Mock::start(&[]);
    let env = [
        ("MOCK_RATE_URL", limited.url()),
        ("MOCK_PLAIN_URL", plain.url()),
    ];
    run("anthropic_errors.py", &overloaded, &env);
}

#[test]
fn gemini_sdk_generates_streams_counts_and_lists() {
    let mock = Mock::start(&["--require-key", KEY]);
    run("gemini.py", &mock, &[]);
}

#[test]
fn gemini_sdk_gets_a_signed_function_call_and_an_answer_to_its_response() {
    let mock = Mock::start(&["--tool-calls"]);
    run("gemini_tools.py", &mock, &[]);
}

#[test]
fn gemini_sdk_maps_resource_exhausted_and_unavailable() {
    let limited = Mock::start(&["--fail-every", "1", "--fail-status", "429"]);
    let unavailable = Mock::start(&["--fail-every", "1", "--fail-status", "503"]);
    run(
        "gemini_errors.py",
        &limited,
        &[("MOCK_UNAVAILABLE_URL", unavailable.url())],
    );
}

#[test]
fn openai_sdk_still_chats_streams_and_lists() {
    let mock = Mock::start(&[]);
    run("openai_chat.py", &mock, &[]);
}
