//! Request side of Anthropic's Messages API (`POST /v1/messages` and
//! `/v1/messages/count_tokens`): validates the body the way Anthropic does
//! (`max_tokens` is required; 400 `invalid_request_error` otherwise),
//! estimates input tokens, and under `--tool-calls` reads `tools`,
//! `tool_choice` and the last user turn to pick the answer: a `tool_use`
//! of a tool, or text quoting a `tool_result`. Also Anthropic's error
//! envelope. The replies' shapes live in `anthropic_reply`.

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ApiError, Cause};
use crate::request::text_tokens;
use crate::tools::{self, Answer, Function};

/// What the body is for: a message, or a count of its input tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Create,
    CountTokens,
}

/// A validated Messages request.
#[derive(Debug, PartialEq, Eq)]
pub struct MessagesRequest {
    pub model: String,
    pub stream: bool,
    pub input_tokens: u64,
    pub answer: Answer,
}

/// The fields the mock looks at; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Raw {
    model: Option<Value>,
    max_tokens: Option<Value>,
    messages: Option<Value>,
    system: Option<Value>,
    stream: Option<Value>,
    tools: Option<Value>,
    tool_choice: Option<Value>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message, None, None)
}

fn required(field: &str) -> ApiError {
    invalid(format!("{field}: Field required"))
}

/// Parses and checks a body; the answer is `Usual` unless `tool_calls`.
/// Counting tokens needs no `max_tokens` and counts the tools too.
pub fn parse(body: &[u8], purpose: Purpose, tool_calls: bool) -> Result<MessagesRequest, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let raw: Raw = match first {
        Some(b'{') => serde_json::from_slice(body).ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("There was an issue with the request body: invalid JSON object."))?;
    let model = match &raw.model {
        Some(Value::String(model)) => model.clone(),
        Some(_) => return Err(invalid("model: Input should be a valid string")),
        None => return Err(required("model")),
    };
    if purpose == Purpose::Create {
        match &raw.max_tokens {
            Some(n) if n.is_u64() => {}
            Some(_) => return Err(invalid("max_tokens: Input should be a valid integer")),
            None => return Err(required("max_tokens")),
        }
    }
    let messages = match &raw.messages {
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(invalid("messages: Input should be a valid list")),
        None => return Err(required("messages")),
    };
    if messages.is_empty() {
        return Err(invalid("messages: at least one message is required"));
    }
    for (i, message) in messages.iter().enumerate() {
        if !message.get("role").is_some_and(Value::is_string) {
            return Err(required(&format!("messages.{i}.role")));
        }
        if message.get("content").is_none() {
            return Err(required(&format!("messages.{i}.content")));
        }
    }
    let stream = match &raw.stream {
        None => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(invalid("stream: Input should be a valid boolean")),
    };
    let tools = functions(raw.tools.as_ref())?;
    let mut input_tokens = 3 + raw.system.as_ref().map_or(0, content_tokens);
    input_tokens += messages
        .iter()
        .map(|m| 4 + m.get("content").map_or(0, content_tokens))
        .sum::<u64>();
    if purpose == Purpose::CountTokens {
        input_tokens += raw
            .tools
            .iter()
            .map(|t| text_tokens(&t.to_string()))
            .sum::<u64>();
    }
    let answer = if tool_calls {
        answer(&model, messages, &tools, raw.tool_choice.as_ref())?
    } else {
        Answer::Usual
    };
    Ok(MessagesRequest {
        model,
        stream,
        input_tokens,
        answer,
    })
}

/// Tokens of a `content` or `system`: a string, or blocks (text, a
/// `tool_result`'s content, a `tool_use`'s input; images and the like count
/// nothing).
fn content_tokens(content: &Value) -> u64 {
    match content {
        Value::String(text) => text_tokens(text),
        Value::Array(blocks) => blocks
            .iter()
            .map(|block| {
                if let Some(text) = block.get("text").and_then(Value::as_str) {
                    text_tokens(text)
                } else if let Some(inner) = block.get("content") {
                    content_tokens(inner)
                } else {
                    block
                        .get("input")
                        .map_or(0, |i| text_tokens(&i.to_string()))
                }
            })
            .sum(),
        _ => 0,
    }
}

/// The request's client tools (`{"name","input_schema",…}`, `type` absent or
/// `"custom"`); server tools (`web_search_…`, `bash_…`) cannot be called by
/// the mock and are passed over.
fn functions(tools: Option<&Value>) -> Result<Vec<Function<'_>>, ApiError> {
    let tools = match tools {
        None => return Ok(Vec::new()),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err(invalid("tools: Input should be a valid list")),
    };
    let mut functions = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let custom = match tool.get("type") {
            None | Some(Value::Null) => true,
            Some(kind) => kind == "custom",
        };
        if !tool.is_object() || !custom {
            continue;
        }
        let name = tool
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| required(&format!("tools.{i}.custom.name")))?;
        let schema = tool
            .get("input_schema")
            .ok_or_else(|| required(&format!("tools.{i}.custom.input_schema")))?;
        functions.push(Function {
            name,
            parameters: Some(schema),
        });
    }
    Ok(functions)
}

/// Text quoting the first `tool_result` of the last turn if it is a user turn
/// carrying one; otherwise a call of the tool `tool_choice` picks (`auto`,
/// `any` or none given: the first; `tool`: the named one; `none`: no call).
fn answer(
    model: &str,
    messages: &[Value],
    tools: &[Function],
    choice: Option<&Value>,
) -> Result<Answer, ApiError> {
    let last = messages.last();
    if last.and_then(|m| m.get("role")) == Some(&json!("user")) {
        let result = last
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
            .and_then(|blocks| {
                blocks
                    .iter()
                    .find(|b| b.get("type") == Some(&json!("tool_result")))
            });
        if let Some(result) = result {
            return Ok(Answer::Text(tools::follow_up(model, result.get("content"))));
        }
    }
    let chosen = match choice {
        None => tools.first(),
        Some(choice) => match choice.get("type").and_then(Value::as_str) {
            Some("auto" | "any") => tools.first(),
            Some("none") => None,
            Some("tool") => {
                let name = choice
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| required("tool_choice.tool.name"))?;
                let tool = tools.iter().find(|tool| tool.name == name);
                Some(tool.ok_or_else(|| {
                    invalid(format!("tool_choice: Tool '{name}' not found in tools"))
                })?)
            }
            _ => {
                return Err(invalid(
                    "tool_choice: Input tag does not match any of the expected tags: \
                     'auto', 'any', 'tool', 'none'",
                ))
            }
        },
    };
    Ok(match chosen {
        Some(tool) => Answer::Call(tools::call(tool, messages.len(), "toolu_")),
        None => Answer::Usual,
    })
}

/// Anthropic's error `type` for a status.
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `{"type":"error","error":{"type","message"}}`, worded as Anthropic words
/// a missing or wrong key and its rate limits.
pub fn error_body(err: &ApiError) -> Vec<u8> {
    let message = match (err.cause, err.status.as_u16()) {
        (Cause::MissingKey, _) => "x-api-key header is required",
        (Cause::WrongKey, _) => "invalid x-api-key",
        (Cause::Injected, 429) => {
            "This request would exceed your organization's rate limit \
             (injected by mock-provider --fail-every)."
        }
        (Cause::Injected, 529) => "Overloaded (injected by mock-provider --fail-every).",
        _ => &err.message,
    };
    let envelope = Envelope {
        kind: "error",
        error: Inner {
            kind: error_type(err.status),
            message,
        },
    };
    // Plain strings only: serialization cannot fail; keep a fallback anyway.
    serde_json::to_vec(&envelope).unwrap_or_else(|_| {
        br#"{"type":"error","error":{"type":"api_error","message":"error"}}"#.to_vec()
    })
}

/// Typed rather than `json!`, to keep Anthropic's key order.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(body: Value) -> Result<MessagesRequest, ApiError> {
        parse(body.to_string().as_bytes(), Purpose::Create, true)
    }

    fn user(content: Value) -> Value {
        json!({"role": "user", "content": content})
    }

    fn weather() -> Value {
        json!({"name": "get_weather", "description": "Weather in a city",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"]}})
    }

    #[test]
    fn a_plain_request_counts_its_tokens() {
        let req = create(
            json!({"model": "claude-x", "max_tokens": 10, "system": "12345678",
                                "messages": [user(json!("1234"))]}),
        )
        .expect("valid");
        assert_eq!(req.model, "claude-x");
        assert!(!req.stream);
        assert_eq!(req.input_tokens, 3 + 2 + 4 + 1);
        assert_eq!(req.answer, Answer::Usual);
    }

    #[test]
    fn what_anthropic_rejects_is_rejected() {
        let cases = [
            (json!([1]), "invalid JSON"),
            (
                json!({"max_tokens": 1, "messages": []}),
                "model: Field required",
            ),
            (
                json!({"model": "m", "messages": [user(json!("x"))]}),
                "max_tokens: Field required",
            ),
            (
                json!({"model": "m", "max_tokens": "x", "messages": []}),
                "max_tokens: Input",
            ),
            (
                json!({"model": "m", "max_tokens": 1}),
                "messages: Field required",
            ),
            (
                json!({"model": "m", "max_tokens": 1, "messages": []}),
                "at least one",
            ),
            (
                json!({"model": "m", "max_tokens": 1, "messages": [{"content": "x"}]}),
                "messages.0.role",
            ),
            (
                json!({"model": "m", "max_tokens": 1, "messages": [user(json!("x"))],
                    "tools": [{"name": "t"}]}),
                "tools.0.custom.input_schema",
            ),
            (
                json!({"model": "m", "max_tokens": 1, "messages": [user(json!("x"))],
                    "tools": [weather()], "tool_choice": {"type": "tool", "name": "nope"}}),
                "'nope' not found",
            ),
        ];
        for (body, wording) in cases {
            let err = create(body.clone()).expect_err("rejected");
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(err.message.contains(wording), "{body}: {}", err.message);
        }
        let count = parse(
            br#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
            Purpose::CountTokens,
            false,
        );
        assert!(count.is_ok(), "count_tokens needs no max_tokens");
    }

    #[test]
    fn tools_get_a_tool_use_and_a_tool_result_gets_text() {
        let body = json!({"model": "m", "max_tokens": 5, "tools": [weather()],
                          "messages": [user(json!("weather?"))]});
        let Answer::Call(call) = create(body).expect("valid").answer else {
            panic!("expected a call");
        };
        assert!(call.id.starts_with("toolu_"), "{}", call.id);
        assert_eq!(
            (call.name.as_str(), call.arguments.as_str()),
            ("get_weather", r#"{"city":"example"}"#)
        );

        let body = json!({"model": "m", "max_tokens": 5, "tools": [weather()], "messages": [
            user(json!("weather?")),
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                "name": "get_weather", "input": {"city": "Paris"}}]},
            user(json!([{"type": "tool_result", "tool_use_id": "toolu_1",
                         "content": [{"type": "text", "text": "Sunny"}]}]))]});
        let Answer::Text(text) = create(body).expect("valid").answer else {
            panic!("expected text");
        };
        assert!(
            text.starts_with("Got the tool result: \"Sunny\"."),
            "{text}"
        );

        let none = json!({"model": "m", "max_tokens": 5, "tools": [weather()],
                          "tool_choice": {"type": "none"}, "messages": [user(json!("x"))]});
        assert_eq!(create(none).expect("valid").answer, Answer::Usual);
        let server_only = json!({"model": "m", "max_tokens": 5, "messages": [user(json!("x"))],
                                 "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
        assert_eq!(create(server_only).expect("valid").answer, Answer::Usual);
    }

    #[test]
    fn errors_use_anthropic_types_and_wording() {
        let body =
            |err: ApiError| -> Value { serde_json::from_slice(&error_body(&err)).expect("json") };
        let v = body(ApiError::injected(
            StatusCode::from_u16(529).expect("status"),
        ));
        assert_eq!(v["type"], "error");
        let raw = error_body(&ApiError::invalid("x", None, None));
        assert_eq!(
            raw,
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"x"}}"#
        );
        assert_eq!(v["error"]["type"], "overloaded_error");
        let v = body(ApiError::injected(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(v["error"]["type"], "rate_limit_error");
        let v = body(ApiError::unauthorized(Cause::WrongKey, "x"));
        assert_eq!(
            v["error"],
            json!({"type": "authentication_error",
                                      "message": "invalid x-api-key"})
        );
        assert_eq!(error_type(StatusCode::NOT_FOUND), "not_found_error");
        assert_eq!(error_type(StatusCode::SERVICE_UNAVAILABLE), "api_error");
    }
}
