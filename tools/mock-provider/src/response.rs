//! Response side of the OpenAI wire format: the non-streaming JSON documents
//! (`chat.completion`, with text or a tool call; `text_completion`), the
//! shared `usage` object, the deterministic reply text every dialect answers
//! with, and the JSON response helpers.

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::body::MockBody;
use crate::error::ApiError;
use crate::tools::{Answer, ToolCall};

pub const SYSTEM_FINGERPRINT: &str = "fp_mock";

/// What every generated reply shares.
pub struct Reply<'a> {
    pub id: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub prompt_tokens: u64,
}

/// The reply text: deterministic, names the model, 18 words for a model
/// name without spaces (so the default 20-chunk stream spells it exactly).
pub fn reply_text(model: &str) -> String {
    format!(
        "Hello! This is a mock reply from {model}. \
         No real model was called; the gateway round trip works."
    )
}

/// Completion tokens of a reply: one per word.
pub fn reply_tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

#[derive(Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Serialize)]
pub struct PromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Serialize)]
pub struct CompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

impl Usage {
    /// Chat usage carries the token detail objects; legacy completions do not.
    pub fn new(prompt_tokens: u64, completion_tokens: u64, chat: bool) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: chat.then_some(PromptDetails {
                cached_tokens: 0,
                audio_tokens: 0,
            }),
            completion_tokens_details: chat.then_some(CompletionDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            }),
        }
    }
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChatChoice<'a>; 1],
    usage: Usage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    /// `null` when the message is a tool call.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallJson<'a>; 1]>,
    refusal: Option<()>,
    annotations: [(); 0],
}

#[derive(Serialize)]
struct ToolCallJson<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionJson<'a>,
}

#[derive(Serialize)]
struct FunctionJson<'a> {
    name: &'a str,
    arguments: &'a str,
}

impl<'a> Message<'a> {
    fn text(content: &'a str) -> Self {
        Message {
            role: "assistant",
            content: Some(content),
            tool_calls: None,
            refusal: None,
            annotations: [],
        }
    }

    fn tool_call(call: &'a ToolCall) -> Self {
        Message {
            role: "assistant",
            content: None,
            tool_calls: Some([ToolCallJson {
                id: &call.id,
                kind: "function",
                function: FunctionJson {
                    name: &call.name,
                    arguments: &call.arguments,
                },
            }]),
            refusal: None,
            annotations: [],
        }
    }
}

#[derive(Serialize)]
struct TextCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: [TextChoice<'a>; 1],
    usage: Usage,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

pub fn to_json<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("mock-provider could not encode JSON: {e}")))
}

pub fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<MockBody> {
    let mut response = Response::new(MockBody::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `chat.completion`: the usual text, `answer`'s text, or its tool call
/// (`finish_reason: "tool_calls"`).
pub fn chat_completion(reply: &Reply, answer: &Answer) -> Result<Bytes, ApiError> {
    let usual;
    let (message, finish_reason, completion_tokens) = match answer {
        Answer::Usual => {
            usual = reply_text(reply.model);
            (Message::text(&usual), "stop", reply_tokens(&usual))
        }
        Answer::Text(text) => (Message::text(text), "stop", reply_tokens(text)),
        Answer::Call(call) => (Message::tool_call(call), "tool_calls", call.tokens()),
    };
    to_json(&ChatCompletion {
        id: reply.id,
        object: "chat.completion",
        created: reply.created,
        model: reply.model,
        choices: [ChatChoice {
            index: 0,
            message,
            logprobs: None,
            finish_reason,
        }],
        usage: Usage::new(reply.prompt_tokens, completion_tokens, true),
        service_tier: "default",
        system_fingerprint: SYSTEM_FINGERPRINT,
    })
}

pub fn text_completion(reply: &Reply) -> Result<Bytes, ApiError> {
    let text = reply_text(reply.model);
    to_json(&TextCompletion {
        id: reply.id,
        object: "text_completion",
        created: reply.created,
        model: reply.model,
        system_fingerprint: SYSTEM_FINGERPRINT,
        choices: [TextChoice {
            text: &text,
            index: 0,
            logprobs: None,
            finish_reason: "stop",
        }],
        usage: Usage::new(reply.prompt_tokens, reply_tokens(&text), false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn reply() -> Reply<'static> {
        Reply {
            id: "chatcmpl-test",
            created: 1,
            model: "mock-small",
            prompt_tokens: 10,
        }
    }

    #[test]
    fn chat_completion_has_the_openai_shape() {
        let bytes = chat_completion(&reply(), &Answer::Usual).expect("json");
        assert!((450..800).contains(&bytes.len()), "{} bytes", bytes.len());
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "mock-small");
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        let content = v["choices"][0]["message"]["content"]
            .as_str()
            .expect("string");
        assert!(content.contains("mock-small"));
        assert_eq!(content.split_whitespace().count(), 18);
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["completion_tokens"], 18);
        assert_eq!(v["usage"]["total_tokens"], 28);
    }

    #[test]
    fn a_tool_call_has_null_content_and_finish_reason_tool_calls() {
        let call = ToolCall {
            id: "call_0123456789abcdef".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"example"}"#.into(),
        };
        let bytes = chat_completion(&reply(), &Answer::Call(call)).expect("json");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            v["choices"][0]["message"],
            serde_json::json!({"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_0123456789abcdef", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"example\"}"}}],
                "refusal": null, "annotations": []})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        // "get_weather" is 3 tokens, the 18-byte arguments 5.
        assert_eq!(v["usage"]["completion_tokens"], 8);

        let text = Answer::Text("Got it.".into());
        let v: Value =
            serde_json::from_slice(&chat_completion(&reply(), &text).expect("json")).expect("json");
        assert_eq!(v["choices"][0]["message"]["content"], "Got it.");
        assert!(v["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(v["usage"]["completion_tokens"], 2);
    }

    #[test]
    fn text_completion_has_text_and_plain_usage() {
        let v: Value =
            serde_json::from_slice(&text_completion(&reply()).expect("json")).expect("json");
        assert_eq!(v["object"], "text_completion");
        assert!(v["choices"][0]["text"].as_str().is_some());
        assert!(v["usage"].get("prompt_tokens_details").is_none());
    }
}
