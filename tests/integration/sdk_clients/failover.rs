//! Failover seen through the SDKs: an overloaded Anthropic instance (529), or an OpenAI
//! one serving the Responses API natively (503), gives way to the next candidate, of the
//! same dialect or another, with the full body replayed (translated where the dialect
//! changes); the client only sees the success and `x-modelgate-attempts: 2`.

use super::{gateway, instance, posts, run, Sdk, Upstream};
use crate::support::{Behaviour, MockUpstream};

const REPLY: &str = "Hello from the provider behind modelgate.";

/// Anthropic's 529 `overloaded_error` fails over like a 503: the second Anthropic
/// instance answers and the SDK never sees the first.
#[tokio::test]
async fn sdk_anthropic_529_fails_over_to_a_second_anthropic_instance() {
    let overloaded = MockUpstream::start(Behaviour::status(529).gets_ok());
    let healthy = MockUpstream::start(Behaviour::ok().content(REPLY));
    let gw = gateway(
        &[
            instance("a1", Upstream::Anthropic, &overloaded, 1, &["claude-x"]),
            instance("a2", Upstream::Anthropic, &healthy, 2, &["claude-x"]),
        ],
        "",
    )
    .await;
    let out = run(Sdk::Anthropic, "attempts", &gw, "claude-x").await;
    assert_eq!(out["text"], REPLY, "{out}");
    assert_eq!(out["headers"]["x-modelgate-attempts"], "2", "{out}");
    assert_eq!(out["headers"]["x-modelgate-provider"], "a2", "{out}");
    assert_eq!(posts(&overloaded).len(), 1);
    let replayed = posts(&healthy);
    assert_eq!(replayed.len(), 1);
    Upstream::Anthropic.assert_auth(&replayed[0], 2);
    assert_eq!(
        replayed[0].body,
        posts(&overloaded)[0].body,
        "the same body replayed"
    );
}

/// An alias whose first target is an overloaded Anthropic instance and second `other`:
/// the SDK call succeeds on the second attempt, the body translated for `other`.
async fn failover_across_dialects(sdk: Sdk, other: Upstream) {
    let overloaded = MockUpstream::start(Behaviour::status(529).gets_ok());
    let fallback = MockUpstream::start(Behaviour::ok().content(REPLY));
    let alias = format!(
        "models:\n  - name: smart\n    targets: [ {{ provider: a1, model: claude-x }}, \
         {{ provider: f1, model: {} }} ]\n",
        other.model()
    );
    let gw = gateway(
        &[
            instance("a1", Upstream::Anthropic, &overloaded, 1, &["claude-x"]),
            instance("f1", other, &fallback, 2, &[other.model()]),
        ],
        &alias,
    )
    .await;
    let out = run(sdk, "attempts", &gw, "smart").await;
    assert_eq!(out["text"], REPLY, "{out}");
    assert_eq!(out["headers"]["x-modelgate-attempts"], "2", "{out}");
    assert_eq!(out["headers"]["x-modelgate-provider"], "f1", "{out}");
    let first = posts(&overloaded);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].path, "/v1/messages");
    assert_eq!(first[0].json()["model"], "claude-x");
    let second = posts(&fallback);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].path, other.path(other.model(), false));
    other.assert_auth(&second[0], 2);
}

#[tokio::test]
async fn sdk_anthropic_fails_over_from_an_overloaded_anthropic_to_gemini() {
    failover_across_dialects(Sdk::Anthropic, Upstream::Gemini).await;
}

#[tokio::test]
async fn sdk_openai_fails_over_from_an_overloaded_anthropic_to_openai() {
    failover_across_dialects(Sdk::OpenAi, Upstream::OpenAi).await;
}

/// A native OpenAI instance answering 503 gives way to a chat provider: the body is
/// translated for the second attempt, and the SDK only sees the success and
/// `x-modelgate-attempts: 2`.
#[tokio::test]
async fn sdk_responses_fails_over_from_a_503_openai_to_a_chat_provider() {
    let down = MockUpstream::start(Behaviour::status(503).gets_ok());
    let healthy = MockUpstream::start(Behaviour::ok().content(REPLY));
    let gw = gateway(
        &[
            instance("o1", Upstream::Responses, &down, 1, &["gpt-x"]),
            instance("c2", Upstream::OpenAi, &healthy, 2, &["gpt-x"]),
        ],
        "",
    )
    .await;
    let out = run(Sdk::OpenAiResponses, "attempts", &gw, "gpt-x").await;
    assert_eq!(out["text"], REPLY, "{out}");
    assert_eq!(out["headers"]["x-modelgate-attempts"], "2", "{out}");
    assert_eq!(out["headers"]["x-modelgate-provider"], "c2", "{out}");
    let first = posts(&down);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].path, "/v1/responses");
    let second = posts(&healthy);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].path, "/v1/chat/completions");
    Upstream::OpenAi.assert_auth(&second[0], 2);
    let body = second[0].json();
    assert_eq!(body["messages"][0]["role"], "user", "{body}");
}
