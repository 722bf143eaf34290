//! Request side of Gemini's API (`POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent`, `:countTokens`): validates `contents` the way
//! Google does, estimates prompt tokens, and under `--tool-calls` reads
//! `tools[].functionDeclarations`, `toolConfig` and the last content to pick
//! the answer: a `functionCall`, or text quoting a `functionResponse` (and
//! refuses a function call sent back without its `thoughtSignature`). Also
//! Gemini's error envelope, `{"error":{"code","message","status"}}`. The
//! replies' shapes live in `gemini_reply`.

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ApiError, Cause};
use crate::request::text_tokens;
use crate::tools::{self, Answer, Function};

/// A validated `GenerateContentRequest`.
#[derive(Debug, PartialEq, Eq)]
pub struct ContentRequest {
    pub prompt_tokens: u64,
    pub answer: Answer,
}

/// The fields the mock looks at (REST JSON is camelCase).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    contents: Option<Value>,
    system_instruction: Option<Value>,
    tools: Option<Value>,
    tool_config: Option<Value>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message, None, None)
}

/// Parses and checks a body for `model`; the answer is `Usual` unless
/// `tool_calls`.
pub fn parse(body: &[u8], model: &str, tool_calls: bool) -> Result<ContentRequest, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let raw: Raw = match first {
        Some(b'{') => serde_json::from_slice(body).ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("Invalid JSON payload received. Expected an object."))?;
    let contents = match &raw.contents {
        Some(Value::Array(contents)) if !contents.is_empty() => contents,
        Some(Value::Array(_)) | None => {
            return Err(invalid(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ))
        }
        Some(_) => return Err(invalid("Invalid value at 'contents': expected a list.")),
    };
    for (i, content) in contents.iter().enumerate() {
        let parts = content.get("parts").and_then(Value::as_array);
        if parts.is_none_or(Vec::is_empty) {
            return Err(invalid(format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            )));
        }
    }
    let prompt_tokens = contents
        .iter()
        .chain(raw.system_instruction.as_ref())
        .map(content_tokens)
        .sum::<u64>()
        .max(1);
    let functions = functions(raw.tools.as_ref())?;
    let answer = if tool_calls {
        check_signatures(contents)?;
        answer(model, contents, &functions, raw.tool_config.as_ref())?
    } else {
        Answer::Usual
    };
    Ok(ContentRequest {
        prompt_tokens,
        answer,
    })
}

/// Tokens of one `Content`'s parts: text, and the JSON of function calls and
/// responses (images and files count nothing).
fn content_tokens(content: &Value) -> u64 {
    let parts = content.get("parts").and_then(Value::as_array);
    parts
        .into_iter()
        .flatten()
        .map(|part| {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                text_tokens(text)
            } else if let Some(call) = part.get("functionCall").or(part.get("functionResponse")) {
                text_tokens(&call.to_string())
            } else {
                0
            }
        })
        .sum()
}

/// Every `functionDeclarations` entry of every tool, in order (other tools,
/// `googleSearch` and the like, declare no functions).
fn functions(tools: Option<&Value>) -> Result<Vec<Function<'_>>, ApiError> {
    let mut functions = Vec::new();
    let tools = tools.and_then(Value::as_array).into_iter().flatten();
    for (i, tool) in tools.enumerate() {
        let declarations = tool.get("functionDeclarations").and_then(Value::as_array);
        for (j, declaration) in declarations.into_iter().flatten().enumerate() {
            let name = declaration
                .get("name")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    invalid(format!(
                        "* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: \
                         Name cannot be empty.\n"
                    ))
                })?;
            let parameters = declaration
                .get("parameters")
                .or(declaration.get("parametersJsonSchema"));
            functions.push(Function { name, parameters });
        }
    }
    Ok(functions)
}

fn parts(content: &Value) -> impl Iterator<Item = &Value> {
    content
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Under `--tool-calls` the mock signs its calls, and like Gemini 3 it then
/// refuses (400) a current turn (the contents after the last user text) with
/// a model step whose first `functionCall` part lost its `thoughtSignature`:
/// a gateway that drops signatures fails against the mock as against Google.
/// Any non-empty signature passes, Google's skip sentinel too.
fn check_signatures(contents: &[Value]) -> Result<(), ApiError> {
    let user_text = |c: &&Value| {
        c.get("role") == Some(&json!("user")) && parts(c).any(|p| p.get("text").is_some())
    };
    let turn_start = contents
        .iter()
        .rposition(|c| user_text(&c))
        .map_or(0, |i| i + 1);
    for (i, content) in contents.iter().enumerate().skip(turn_start) {
        if content.get("role") != Some(&json!("model")) {
            continue;
        }
        let Some(part) = parts(content).find(|p| p.get("functionCall").is_some()) else {
            continue;
        };
        let signature = part.get("thoughtSignature").and_then(Value::as_str);
        if signature.is_none_or(str::is_empty) {
            let name = part["functionCall"].get("name").and_then(Value::as_str);
            return Err(invalid(format!(
                "Function call is missing a thought_signature in functionCall parts. This is \
                 required for tools to work correctly, and missing thought_signature may lead \
                 to degraded model performance. Additional data, function call \
                 `default_api:{}` , position {}. Please refer to \
                 https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                name.unwrap_or(""),
                i + 1
            )));
        }
    }
    Ok(())
}

/// Text quoting the first `functionResponse.response` of the last content;
/// otherwise a call of the first function (of the first one
/// `allowedFunctionNames` allows), or none with mode `NONE`.
fn answer(
    model: &str,
    contents: &[Value],
    functions: &[Function],
    config: Option<&Value>,
) -> Result<Answer, ApiError> {
    let last_parts = contents
        .last()
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array);
    let response = last_parts
        .into_iter()
        .flatten()
        .find_map(|part| part.get("functionResponse"));
    if let Some(response) = response {
        let quoted = Value::String(response.get("response").unwrap_or(&Value::Null).to_string());
        return Ok(Answer::Text(tools::follow_up(model, Some(&quoted))));
    }
    let calling = config.and_then(|c| c.get("functionCallingConfig"));
    if calling.and_then(|c| c.get("mode")) == Some(&json!("NONE")) {
        return Ok(Answer::Usual);
    }
    let allowed: Vec<&str> = calling
        .and_then(|c| c.get("allowedFunctionNames"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let chosen = if allowed.is_empty() {
        functions.first()
    } else {
        let found = functions.iter().find(|f| allowed.contains(&f.name));
        Some(found.ok_or_else(|| {
            invalid("* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: \
                     names must be declared in tools.\n")
        })?)
    };
    Ok(match chosen {
        Some(function) => Answer::Call(tools::call(function, contents.len(), "")),
        None => Answer::Usual,
    })
}

/// The `google.rpc.Code` name Google sends with a status.
pub fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 | 405 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

/// The status and `{"error":{"code","message","status","details"?}}`, as
/// Google answers: no key is 403 `PERMISSION_DENIED`; a wrong key is 400
/// `INVALID_ARGUMENT` with reason `API_KEY_INVALID` (not 401); a rate limit
/// is 429 `RESOURCE_EXHAUSTED` whose `RetryInfo` says when to retry.
pub fn error_body(err: &ApiError) -> (StatusCode, Vec<u8>) {
    let (status, message, details) = match err.cause {
        Cause::MissingKey => (
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
            None,
        ),
        Cause::WrongKey => (
            StatusCode::BAD_REQUEST,
            "API key not valid. Please pass a valid API key.",
            Some(json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}}])),
        ),
        Cause::Injected if err.status == StatusCode::TOO_MANY_REQUESTS => (
            err.status,
            "Resource has been exhausted (e.g. check quota). \
             (injected by mock-provider --fail-every)",
            Some(json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": "1s"}])),
        ),
        Cause::Injected if err.status.is_server_error() => (
            err.status,
            "The model is overloaded. Please try again later. \
             (injected by mock-provider --fail-every)",
            None,
        ),
        Cause::Injected | Cause::NotFound | Cause::Plain => {
            (err.status, err.message.as_str(), None)
        }
    };
    let envelope = Envelope {
        error: Inner {
            code: status.as_u16(),
            message,
            status: status_name(status),
            details,
        },
    };
    // Plain data only: serialization cannot fail; keep a fallback anyway.
    let body = serde_json::to_vec(&envelope).unwrap_or_else(|_| {
        br#"{"error":{"code":500,"message":"error","status":"INTERNAL"}}"#.to_vec()
    });
    (status, body)
}

/// Typed rather than `json!`, to keep Google's key order.
#[derive(Serialize)]
struct Envelope<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: u16,
    message: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Value {
        json!({"role": "user", "parts": [{"text": text}]})
    }

    fn weather() -> Value {
        json!({"functionDeclarations": [{"name": "get_weather",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}},
                           "required": ["city"]}}]})
    }

    fn parse_json(body: Value) -> Result<ContentRequest, ApiError> {
        parse(body.to_string().as_bytes(), "gemini-x", true)
    }

    #[test]
    fn contents_are_counted_and_required() {
        let req = parse_json(json!({"contents": [user("12345678")],
            "systemInstruction": {"parts": [{"text": "1234"}]}}))
        .expect("valid");
        assert_eq!(req.prompt_tokens, 3);
        assert_eq!(req.answer, Answer::Usual);
        for body in [
            json!({}),
            json!({"contents": []}),
            json!({"contents": [{"role": "user"}]}),
        ] {
            let err = parse_json(body.clone()).expect_err("rejected");
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(err.message.contains("contents"), "{}", err.message);
        }
        assert!(parse(b"[]", "m", false).is_err());
    }

    #[test]
    fn declarations_get_a_call_and_a_function_response_gets_text() {
        let body =
            json!({"contents": [user("weather?")], "tools": [{"googleSearch": {}}, weather()]});
        let Answer::Call(call) = parse_json(body).expect("valid").answer else {
            panic!("expected a call");
        };
        assert_eq!(
            (call.name.as_str(), call.arguments.as_str()),
            ("get_weather", r#"{"city":"example"}"#)
        );

        let body = json!({"contents": [user("weather?"),
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}},
                                         "thoughtSignature": "c2ln"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                "response": {"result": "Sunny"}}}]}], "tools": [weather()]});
        let Answer::Text(text) = parse_json(body).expect("valid").answer else {
            panic!("expected text");
        };
        assert!(text.contains(r#""{"result":"Sunny"}""#), "{text}");

        let none = json!({"contents": [user("x")], "tools": [weather()],
                          "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}});
        assert_eq!(parse_json(none).expect("valid").answer, Answer::Usual);
        let unsigned = json!({"contents": [user("weather?"),
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                "response": {"result": "Sunny"}}}]}]});
        let err = parse_json(unsigned.clone()).expect_err("unsigned call");
        assert!(
            err.message.contains("missing a thought_signature"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("default_api:get_weather` , position 2"),
            "{}",
            err.message
        );
        assert!(
            parse(unsigned.to_string().as_bytes(), "m", false).is_ok(),
            "only with the flag"
        );
        let mut earlier = unsigned.clone();
        earlier["contents"]
            .as_array_mut()
            .expect("contents")
            .push(json!({"role": "model",
            "parts": [{"text": "Sunny."}]}));
        earlier["contents"]
            .as_array_mut()
            .expect("contents")
            .push(user("and tomorrow?"));
        assert!(
            parse_json(earlier).is_ok(),
            "a past turn needs no signature"
        );
        let unnamed = json!({"contents": [user("x")], "tools": [{"functionDeclarations": [{}]}]});
        assert!(parse_json(unnamed).is_err());
    }

    #[test]
    fn errors_use_google_statuses() {
        let body = |err: ApiError| -> (StatusCode, Value) {
            let (status, bytes) = error_body(&err);
            (status, serde_json::from_slice(&bytes).expect("json"))
        };
        let (status, v) = body(ApiError::injected(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(v["error"]["code"], 429);
        assert_eq!(v["error"]["details"][0]["retryDelay"], "1s");
        let (status, v) = body(ApiError::unauthorized(Cause::MissingKey, "x"));
        assert_eq!(
            (status, &v["error"]["status"]),
            (StatusCode::FORBIDDEN, &json!("PERMISSION_DENIED"))
        );
        let (status, v) = body(ApiError::unauthorized(Cause::WrongKey, "x"));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");
        let (_, v) = body(ApiError::injected(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(v["error"]["status"], "UNAVAILABLE");
    }
}
