//! `--tool-calls`: function calling. Reads an OpenAI chat request's `tools`,
//! `tool_choice` and last message (checked the way a provider checks them)
//! and decides the answer: a call of one of the tools, with placeholder
//! arguments built from its JSON schema, or a text that acknowledges a tool
//! result. The call and the follow-up text are built here for every dialect
//! (`anthropic` and `gemini` read their own requests' tools); the wire shapes
//! of the answer live in `response` and `sse` (OpenAI), `anthropic_reply` and
//! `gemini_reply`.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::request::{fnv1a, invalid_type, text_tokens, FNV_OFFSET};

/// Characters of a tool result quoted in the answer that follows it.
const QUOTE_CHARS: usize = 200;

/// What a chat reply carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The usual reply text (every reply without `--tool-calls`).
    Usual,
    /// A text of its own: the answer after a tool result.
    Text(String),
    /// A call of one of the request's tools.
    Call(ToolCall),
}

/// One function call, as the assistant message's `tool_calls[0]`.
#[derive(Debug, PartialEq, Eq)]
pub struct ToolCall {
    /// A prefix (`call_`, `toolu_`) and 16 hex digits, the same for the same
    /// request.
    pub id: String,
    pub name: String,
    /// The arguments object as a JSON string, the way OpenAI sends it.
    pub arguments: String,
}

impl ToolCall {
    /// Completion tokens of the call: its name and arguments, four bytes a token.
    pub fn tokens(&self) -> u64 {
        text_tokens(&self.name) + text_tokens(&self.arguments)
    }
}

/// The fields function calling looks at; `parse_chat` has checked the rest.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    messages: Vec<Message>,
    tools: Option<Value>,
    tool_choice: Option<Value>,
}

#[derive(Deserialize)]
struct Message {
    role: Option<Value>,
    content: Option<Value>,
}

/// A function tool of the request.
pub struct Function<'a> {
    pub name: &'a str,
    /// Its JSON schema (`parameters`, `input_schema`, `parametersJsonSchema`).
    pub parameters: Option<&'a Value>,
}

/// The answer to a chat request (a body `parse_chat` accepted) under
/// `--tool-calls`: text after a `tool` message; otherwise a call of the tool
/// `tool_choice` picks (the first one unless it names another), or the usual
/// text if there are no tools or `tool_choice` is `"none"`.
pub fn answer(body: &[u8], model: &str) -> Result<Answer, ApiError> {
    let raw: Raw = serde_json::from_slice(body).map_err(|_| ApiError::not_json())?;
    let tools = functions(raw.tools.as_ref())?;
    let chosen = choose(raw.tool_choice.as_ref(), &tools)?;
    if let Some(last) = raw.messages.last() {
        if last.role.as_ref().and_then(Value::as_str) == Some("tool") {
            return Ok(Answer::Text(follow_up(model, last.content.as_ref())));
        }
    }
    Ok(match chosen {
        Some(tool) => Answer::Call(call(tool, raw.messages.len(), "call_")),
        None => Answer::Usual,
    })
}

/// The request's `tools`: each must be `{"type":"function","function":{"name",...}}`.
/// An empty array counts as no tools.
fn functions(tools: Option<&Value>) -> Result<Vec<Function<'_>>, ApiError> {
    match tools {
        None => Ok(Vec::new()),
        Some(Value::Array(tools)) => tools
            .iter()
            .enumerate()
            .map(|(i, tool)| function(i, tool))
            .collect(),
        Some(other) => Err(invalid_type("tools", "an array of objects", other)),
    }
}

fn function(i: usize, tool: &Value) -> Result<Function<'_>, ApiError> {
    if !tool.is_object() {
        return Err(invalid_type("tools", "an array of objects", tool));
    }
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                format!(
                    "Invalid value for 'tools[{i}].type': '{other}'. \
                     The mock-provider supports only 'function' tools."
                ),
                Some("tools"),
                Some("invalid_value"),
            ))
        }
        None => return Err(missing_in_tools(format!("tools[{i}].type"))),
    }
    let function = tool.get("function");
    let name = function
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| missing_in_tools(format!("tools[{i}].function.name")))?;
    Ok(Function {
        name,
        parameters: function.and_then(|f| f.get("parameters")),
    })
}

fn missing_in_tools(what: String) -> ApiError {
    ApiError::invalid(
        format!("Missing required parameter: '{what}'."),
        Some("tools"),
        Some("missing_required_parameter"),
    )
}

/// The tool `tool_choice` picks: `None` for `"none"` or when there are no
/// tools; the named one for `{"type":"function","function":{"name":...}}`;
/// the first one for `"auto"`, `"required"` or no `tool_choice`.
fn choose<'a>(
    choice: Option<&Value>,
    tools: &'a [Function<'a>],
) -> Result<Option<&'a Function<'a>>, ApiError> {
    let Some(choice) = choice else {
        return Ok(tools.first());
    };
    if tools.is_empty() {
        return Err(ApiError::invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' \
             are specified.",
            Some("tool_choice"),
            None,
        ));
    }
    let bad_value = || {
        ApiError::invalid(
            "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or \
             {\"type\": \"function\", \"function\": {\"name\": ...}}.",
            Some("tool_choice"),
            Some("invalid_value"),
        )
    };
    match choice {
        Value::String(mode) => match mode.as_str() {
            "none" => Ok(None),
            "auto" | "required" => Ok(tools.first()),
            _ => Err(bad_value()),
        },
        Value::Object(choice) => {
            if choice.get("type") != Some(&json!("function")) {
                return Err(bad_value());
            }
            let name = choice
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(bad_value)?;
            match tools.iter().find(|tool| tool.name == name) {
                Some(tool) => Ok(Some(tool)),
                None => Err(ApiError::invalid(
                    format!(
                        "Invalid value for 'tool_choice': no function named '{name}' in 'tools'."
                    ),
                    Some("tool_choice"),
                    Some("invalid_value"),
                )),
            }
        }
        other => Err(invalid_type("tool_choice", "a string or an object", other)),
    }
}

/// The call of `tool`; its id (`prefix` and 16 hex digits) hashes the tool,
/// the arguments and the length of the conversation, so a repeated request
/// gets the same id and the next turn of an agent loop a new one.
pub fn call(tool: &Function, messages: usize, prefix: &str) -> ToolCall {
    let arguments = arguments(tool.parameters);
    let mut seed = fnv1a(FNV_OFFSET, tool.name.as_bytes());
    seed = fnv1a(seed, &[0]);
    seed = fnv1a(seed, arguments.as_bytes());
    seed = fnv1a(seed, &(messages as u64).to_le_bytes());
    ToolCall {
        id: format!("{prefix}{seed:016x}"),
        name: tool.name.to_owned(),
        arguments,
    }
}

/// The arguments object as compact JSON: each `required` property of the
/// `parameters` schema, in `required` order, with a placeholder value.
pub fn arguments(parameters: Option<&Value>) -> String {
    let required = parameters
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array);
    let properties = parameters.and_then(|p| p.get("properties"));
    let mut names: Vec<&str> = Vec::new();
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let fields: Vec<String> = names
        .iter()
        .map(|name| {
            let value = placeholder(properties.and_then(|p| p.get(*name)));
            format!("{}:{value}", Value::from(*name))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// A value of a property's declared type (in any case): `"example"`, `1`,
/// `true`, `[]` or `{}`; its `const` or first `enum` value if it has one; the first non-null
/// branch of an `anyOf`/`oneOf`; `null` if nothing is declared.
fn placeholder(schema: Option<&Value>) -> Value {
    let Some(schema) = schema else {
        return Value::Null;
    };
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.first())
    {
        return first.clone();
    }
    // Gemini's schema subset spells the types in capitals (`STRING`).
    let declared = match schema.get("type") {
        Some(Value::String(kind)) => Some(kind.to_ascii_lowercase()),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| !kind.eq_ignore_ascii_case("null"))
            .map(str::to_ascii_lowercase),
        _ => None,
    };
    match declared.as_deref() {
        Some("string") => json!("example"),
        Some("number" | "integer") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => json!({}),
        Some(_) => Value::Null,
        None => schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
            .and_then(|branches| {
                branches
                    .iter()
                    .find(|branch| branch.get("type") != Some(&json!("null")))
            })
            .map_or(Value::Null, |branch| placeholder(Some(branch))),
    }
}

/// The answer after a tool result: quotes `content` (a string or text
/// parts), cut to `QUOTE_CHARS`. Whitespace is collapsed to single spaces,
/// so the streamed words spell exactly the same text.
pub fn follow_up(model: &str, content: Option<&Value>) -> String {
    let result = match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let result = result.split_whitespace().collect::<Vec<_>>().join(" ");
    let quote = match result.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &result[..cut]),
        None => result,
    };
    let text = format!(
        "Got the tool result: \"{quote}\". This is a mock reply from {model}; \
         a real model would answer from it."
    );
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_to(body: Value) -> Result<Answer, ApiError> {
        answer(body.to_string().as_bytes(), "mock-small")
    }

    fn weather() -> Value {
        json!({"type": "function", "function": {"name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"]}}})
    }

    fn clock() -> Value {
        json!({"type": "function", "function": {"name": "now"}})
    }

    fn user(text: &str) -> Value {
        json!({"role": "user", "content": text})
    }

    fn call_of(answer: Result<Answer, ApiError>) -> ToolCall {
        match answer {
            Ok(Answer::Call(call)) => call,
            other => panic!("expected a call, got {other:?}"),
        }
    }

    #[test]
    fn first_tool_is_called_with_required_arguments() {
        let call = call_of(answer_to(
            json!({"model": "m", "messages": [user("hi")], "tools": [weather(), clock()]}),
        ));
        assert_eq!(call.name, "get_weather");
        assert_eq!(call.arguments, r#"{"city":"example"}"#);
        assert!(call.id.starts_with("call_") && call.id.len() == 21);
    }

    #[test]
    fn ids_are_deterministic_and_change_with_the_conversation() {
        let body = json!({"model": "m", "messages": [user("hi")], "tools": [weather()]});
        let (a, b) = (call_of(answer_to(body.clone())), call_of(answer_to(body)));
        assert_eq!(a.id, b.id);
        let longer = json!({"model": "m", "messages": [user("hi"), user("again")],
                            "tools": [weather()]});
        assert_ne!(call_of(answer_to(longer)).id, a.id);
    }

    #[test]
    fn tool_choice_picks_none_or_a_named_function() {
        let named = json!({"model": "m", "messages": [user("hi")], "tools": [weather(), clock()],
                           "tool_choice": {"type": "function", "function": {"name": "now"}}});
        let call = call_of(answer_to(named));
        assert_eq!((call.name.as_str(), call.arguments.as_str()), ("now", "{}"));
        for mode in ["auto", "required"] {
            let body = json!({"model": "m", "messages": [user("hi")], "tools": [clock()],
                              "tool_choice": mode});
            assert_eq!(call_of(answer_to(body)).name, "now");
        }
        let none = json!({"model": "m", "messages": [user("hi")], "tools": [weather()],
                          "tool_choice": "none"});
        assert_eq!(answer_to(none), Ok(Answer::Usual));
    }

    #[test]
    fn without_tools_the_usual_text_answers() {
        assert_eq!(
            answer_to(json!({"model": "m", "messages": [user("hi")]})),
            Ok(Answer::Usual)
        );
        assert_eq!(
            answer_to(json!({"model": "m", "messages": [user("hi")], "tools": []})),
            Ok(Answer::Usual)
        );
    }

    #[test]
    fn a_tool_result_gets_a_text_quoting_it() {
        let body = json!({"model": "m", "tools": [weather()], "messages": [
            user("weather?"),
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
                "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny,\n 21 °C"}]});
        let Ok(Answer::Text(text)) = answer_to(body) else {
            panic!("expected text");
        };
        assert!(
            text.starts_with("Got the tool result: \"Sunny, 21 °C\"."),
            "{text}"
        );
        assert!(text.contains("mock-small"));

        let long = "é".repeat(500);
        let body = json!({"model": "m", "messages": [
            {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": long}]}]});
        let Ok(Answer::Text(text)) = answer_to(body) else {
            panic!("expected text");
        };
        assert!(text.contains(&format!("\"{}…\"", "é".repeat(QUOTE_CHARS))));
    }

    #[test]
    fn placeholders_follow_the_declared_types() {
        let parameters = json!({"type": "object", "required": ["s", "n", "i", "b", "a", "o",
            "e", "opt", "any", "untyped", "absent", "s"],
            "properties": {"s": {"type": "string"}, "n": {"type": "number"},
                "i": {"type": "integer"}, "b": {"type": "boolean"}, "a": {"type": "array"},
                "o": {"type": "object"}, "e": {"type": "string", "enum": ["c", "f"]},
                "opt": {"type": ["null", "integer"]},
                "any": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
                "untyped": {}}});
        assert_eq!(
            arguments(Some(&parameters)),
            r#"{"s":"example","n":1,"i":1,"b":true,"a":[],"o":{},"e":"c","opt":1,"any":true,"untyped":null,"absent":null}"#
        );
        assert_eq!(arguments(None), "{}");
        let gemini = json!({"type": "OBJECT", "required": ["c", "n"],
            "properties": {"c": {"type": "STRING"}, "n": {"type": ["NULL", "INTEGER"]}}});
        assert_eq!(arguments(Some(&gemini)), r#"{"c":"example","n":1}"#);
        assert_eq!(arguments(Some(&json!({"type": "object"}))), "{}");
        let keys = json!({"required": ["a\"b"], "properties": {"a\"b": {"type": "string"}}});
        assert_eq!(arguments(Some(&keys)), r#"{"a\"b":"example"}"#);
    }

    #[test]
    fn bad_tools_and_tool_choice_get_400() {
        let cases = [
            (json!({"tools": "x"}), "tools"),
            (json!({"tools": [1]}), "tools"),
            (json!({"tools": [{"type": "web_search"}]}), "tools"),
            (
                json!({"tools": [{"type": "function", "function": {}}]}),
                "tools",
            ),
            (json!({"tool_choice": "auto"}), "tool_choice"),
            (
                json!({"tools": [clock()], "tool_choice": "always"}),
                "tool_choice",
            ),
            (json!({"tools": [clock()], "tool_choice": 3}), "tool_choice"),
            (
                json!({"tools": [clock()],
                       "tool_choice": {"type": "function", "function": {"name": "x"}}}),
                "tool_choice",
            ),
        ];
        for (mut body, param) in cases {
            body["model"] = json!("m");
            body["messages"] = json!([user("hi")]);
            let err = answer_to(body.clone()).expect_err("must be rejected");
            assert_eq!(err.status, hyper::StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err.param, Some(param), "{body}");
        }
    }
}
