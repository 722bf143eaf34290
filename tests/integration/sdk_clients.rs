//! The official SDKs as clients of the real gateway, every client dialect against every
//! provider dialect: Python's `openai` (chat completions and the Responses API) and
//! `anthropic` (Messages) packages, pinned in `tests/clients/requirements.txt` and
//! installed into `target/clients/venv` by `scripts/setup.sh`, run the scripts of
//! `tests/clients/sdk/` against a gateway in front of mock upstreams speaking OpenAI
//! (chat, or Responses natively), Anthropic Messages or Gemini. Each script prints one JSON line of what the SDK observed (parsed objects,
//! exception classes, the bytes it sent); the tests assert on that line *and* on what
//! the mock received, in the provider's own dialect. A missing venv fails the tests: the
//! clients are part of the suite, not an option.

mod anthropic_sdk;
mod failover;
mod openai_sdk;
mod responses_sdk;

use crate::support::{typed_provider_yaml, Gateway, MockUpstream, RecordedRequest};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// The one gateway key the scripts use; never sent upstream.
const KEY: &str = "sk-sdk-client-test";
/// One script run: Python's start-up and the SDK imports take a few seconds of it on a
/// busy machine, the calls milliseconds. A hung run fails its test, not the suite.
const SCRIPT_TIME: Duration = Duration::from_secs(60);
/// The 1x1 PNG the scripts send (`common.PNG`), base64 as the providers want it.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// The wire format of one provider instance in a test gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upstream {
    OpenAi,
    Anthropic,
    Gemini,
    /// OpenAI itself (`type: openai`): it serves the Responses API natively, so a
    /// Responses request passes through untranslated.
    Responses,
}

impl Upstream {
    fn provider_type(self) -> &'static str {
        match self {
            Upstream::OpenAi => "openai-compatible",
            Upstream::Anthropic => "anthropic-compatible",
            Upstream::Gemini => "gemini",
            Upstream::Responses => "openai",
        }
    }

    /// The model each test's instance of this dialect serves.
    fn model(self) -> &'static str {
        match self {
            Upstream::OpenAi | Upstream::Responses => "gpt-x",
            Upstream::Anthropic => "claude-x",
            Upstream::Gemini => "gemini-x",
        }
    }

    /// The base URL the provider type expects of a mock (`/v1`, Gemini's `/v1beta`).
    fn base_url(self, mock: &MockUpstream) -> String {
        match self {
            Upstream::OpenAi | Upstream::Anthropic | Upstream::Responses => mock.base_url(),
            Upstream::Gemini => mock.url("/v1beta"),
        }
    }

    /// The path a conversation request for `model` arrives on at the mock (OpenAI's
    /// Responses: a Responses request; OpenAI's chat completions are not this helper's).
    fn path(self, model: &str, stream: bool) -> String {
        match (self, stream) {
            (Upstream::OpenAi, _) => "/v1/chat/completions".to_string(),
            (Upstream::Anthropic, _) => "/v1/messages".to_string(),
            (Upstream::Responses, _) => "/v1/responses".to_string(),
            (Upstream::Gemini, false) => format!("/v1beta/models/{model}:generateContent"),
            (Upstream::Gemini, true) => {
                format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
            }
        }
    }

    /// Asserts the upstream got this instance's key (`sk-test-<n>`) the provider's way
    /// (Anthropic: with one `anthropic-version`), and nothing of the client's gateway key.
    fn assert_auth(self, seen: &RecordedRequest, n: usize) {
        let key = format!("sk-test-{n}");
        match self {
            Upstream::OpenAi | Upstream::Responses => {
                assert_eq!(
                    seen.header("authorization"),
                    Some(format!("Bearer {key}").as_str())
                );
            }
            Upstream::Anthropic => {
                assert_eq!(seen.header("x-api-key"), Some(key.as_str()));
                // Which version is the tests' business; one there must be.
                let versions = seen.header_all("anthropic-version");
                assert_eq!(versions.len(), 1, "{:?}", seen.headers);
            }
            Upstream::Gemini => assert_eq!(seen.header("x-goog-api-key"), Some(key.as_str())),
        }
        let leaked = seen.headers.iter().find(|(_, v)| v.contains(KEY));
        assert!(
            leaked.is_none(),
            "the client's key went upstream: {leaked:?}"
        );
    }
}

/// One `providers:` entry: instance `id` of `kind` at `mock`, key `${KEY_<n>}`.
fn instance(id: &str, kind: Upstream, mock: &MockUpstream, n: usize, models: &[&str]) -> String {
    let key = format!("KEY_{n}");
    typed_provider_yaml(
        id,
        kind.provider_type(),
        &kind.base_url(mock),
        Some(&key),
        models,
    )
}

/// A gateway with the scripts' key and these `providers:` entries (keys `KEY_1..=n`),
/// then `rest` (top-level blocks such as `models:`).
async fn gateway(providers: &[String], rest: &str) -> Gateway {
    let yaml = format!(
        "auth:\n  keys:\n    - {{ name: sdk, key: {KEY} }}\nproviders:\n{}{rest}",
        providers.concat()
    );
    Gateway::builder(&yaml)
        .instance_keys(providers.len())
        .start()
        .await
}

/// A gateway with one instance of `kind` at `mock`, serving `kind.model()`.
async fn single(kind: Upstream, mock: &MockUpstream) -> Gateway {
    gateway(&[instance("u1", kind, mock, 1, &[kind.model()])], "").await
}

/// The model requests the mock received, in order (health checks are `GET`s).
fn posts(mock: &MockUpstream) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// Which script: one per SDK, the scenario chosen by argument.
#[derive(Clone, Copy, Debug)]
enum Sdk {
    OpenAi,
    /// The `openai` package's Responses API (`client.responses`).
    OpenAiResponses,
    Anthropic,
}

fn python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/clients/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (it installs the official SDKs of \
         tests/clients/requirements.txt that these tests drive)",
        python.display()
    );
    python
}

/// Runs `scenario` of `sdk`'s script against `gw` asking for `model`, and returns the
/// JSON line it printed. Fails the test with the script's output and the gateway's logs
/// if it fails or outlives `SCRIPT_TIME`. The environment is cleared (a fresh `HOME`, no
/// proxy, no `*_API_KEY`): nothing may steer the SDK away from the gateway.
async fn run(sdk: Sdk, scenario: &str, gw: &Gateway, model: &str) -> Value {
    let script = match sdk {
        Sdk::OpenAi => "openai_chat.py",
        Sdk::OpenAiResponses => "openai_responses.py",
        Sdk::Anthropic => "anthropic_messages.py",
    };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/sdk")
        .join(script);
    let home = tempfile::tempdir().expect("home");
    let mut command = tokio::process::Command::new(python());
    command
        .arg(&path)
        .arg(scenario)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("GATEWAY_URL", format!("http://{}", gw.addr()))
        .env("GATEWAY_KEY", KEY)
        .env("MODEL", model)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_TIME, command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} {scenario} ran longer than {SCRIPT_TIME:?}"))
        .expect("the venv's python starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} {scenario} failed ({}):\n{stdout}\n{stderr}\ngateway logs:\n{}",
        output.status,
        gw.logs()
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{script} {scenario} printed no JSON line ({e}): {stdout}"))
}

/// The text of an Anthropic or OpenAI `content`: a string, or its text blocks joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// The text of a Gemini `Content`'s parts.
fn parts_text(content: &Value) -> String {
    let parts = content["parts"].as_array().cloned().unwrap_or_default();
    parts.iter().filter_map(|p| p["text"].as_str()).collect()
}
