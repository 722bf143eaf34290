//! `--tool-calls` end to end: the real mock-provider binary on a free port,
//! driven over plain HTTP/1.1 sockets the way an agent loop drives a
//! provider: a request with `tools` gets a call, the `tool` result gets text.

// Test code: a failed expectation should panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use common::Mock;

const CHAT: &str = "/v1/chat/completions";

impl Mock {
    fn tool_calls() -> Mock {
        Mock::start(&["--tool-calls"])
    }

    /// POSTs `body` to the chat endpoint: (status, body bytes, de-chunked).
    fn post(&self, body: &Value) -> (u16, Vec<u8>) {
        let body = body.to_string();
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            stream,
            "POST {CHAT} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read the response");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of head");
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let rest = raw[split + 4..].to_vec();
        let status = head[9..12].parse().expect("status");
        if head.contains("transfer-encoding: chunked") {
            (status, dechunk(&rest))
        } else {
            (status, rest)
        }
    }

    fn json(&self, body: &Value) -> Value {
        let (status, bytes) = self.post(body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).expect("a JSON body")
    }

    /// The JSON payloads of a streamed reply, after checking it ends in `[DONE]`.
    fn events(&self, body: &Value) -> Vec<Value> {
        let (status, bytes) = self.post(body);
        assert_eq!(status, 200);
        let text = String::from_utf8(bytes).expect("utf-8");
        let events: Vec<&str> = text.split_terminator("\n\n").collect();
        let (done, rest) = events.split_last().expect("events");
        assert_eq!(*done, "data: [DONE]");
        rest.iter()
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect("data:")).expect("json"))
            .collect()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = std::str::from_utf8(&body[..line_end]).expect("hex");
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            return out;
        }
        let data = line_end + 2;
        out.extend_from_slice(&body[data..data + size]);
        body = &body[data + size + 2..];
    }
}

fn weather() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"},
                           "days": {"type": "integer"}},
            "required": ["city"]}}})
}

fn book() -> Value {
    json!({"type": "function", "function": {
        "name": "book_table",
        "description": "Books a restaurant table",
        "parameters": {"type": "object",
            "properties": {"name": {"type": "string"}, "seats": {"type": "integer"},
                           "price": {"type": "number"}, "terrace": {"type": "boolean"},
                           "dishes": {"type": "array", "items": {"type": "string"}},
                           "contact": {"type": "object"}, "note": {"type": "string"}},
            "required": ["name", "seats", "price", "terrace", "dishes", "contact"]}}})
}

fn ask(tools: Value) -> Value {
    json!({"model": "mock-small", "tools": tools,
           "messages": [{"role": "user", "content": "What's the weather in Paris?"}]})
}

fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    body
}

#[test]
fn a_request_with_tools_gets_a_call_of_the_first_one() {
    let mock = Mock::tool_calls();
    let reply = mock.json(&ask(json!([weather(), book()])));
    assert_eq!(reply["object"], "chat.completion");
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let message = &choice["message"];
    assert_eq!(message["role"], "assistant");
    assert_eq!(
        message.get("content"),
        Some(&Value::Null),
        "present and null"
    );
    let calls = message["tool_calls"].as_array().expect("tool_calls");
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let id = call["id"].as_str().expect("id");
    assert!(id.starts_with("call_") && id.len() > 5, "{id}");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"example"}"#);
    let keys: Vec<&str> = call
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(reply["usage"]["completion_tokens"].as_u64().expect("usage") > 0);

    // Deterministic: the same request gets the same call.
    let again = mock.json(&ask(json!([weather(), book()])));
    assert_eq!(again["choices"][0]["message"], *message);
}

#[test]
fn every_required_argument_gets_a_placeholder_of_its_type() {
    let mock = Mock::tool_calls();
    let reply = mock.json(&ask(json!([book()])));
    let arguments = reply["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .expect("a JSON string");
    let arguments: Value = serde_json::from_str(arguments).expect("arguments are JSON");
    assert_eq!(
        arguments,
        json!({"name": "example", "seats": 1, "price": 1, "terrace": true,
               "dishes": [], "contact": {}})
    );

    let no_parameters = json!([{"type": "function", "function": {"name": "now"}}]);
    let reply = mock.json(&ask(no_parameters));
    let call = &reply["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "now");
    assert_eq!(call["function"]["arguments"], "{}");
}

#[test]
fn tool_choice_picks_the_named_function_or_none() {
    let mock = Mock::tool_calls();
    let mut body = ask(json!([weather(), book()]));
    body["tool_choice"] = json!({"type": "function", "function": {"name": "book_table"}});
    let reply = mock.json(&body);
    let call = &reply["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "book_table");

    body["tool_choice"] = json!("none");
    let reply = mock.json(&body);
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert!(reply["choices"][0]["message"].get("tool_calls").is_none());
    let text = reply["choices"][0]["message"]["content"]
        .as_str()
        .expect("text");
    assert!(text.starts_with("Hello! This is a mock reply from mock-small."));

    body["tool_choice"] = json!({"type": "function", "function": {"name": "missing"}});
    let (status, bytes) = mock.post(&body);
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["param"], "tool_choice");
}

#[test]
fn the_tool_result_gets_a_text_answer_quoting_it() {
    let mock = Mock::tool_calls();
    let mut body = ask(json!([weather()]));
    let reply = mock.json(&body);
    let message = reply["choices"][0]["message"].clone();
    let id = message["tool_calls"][0]["id"].clone();
    let messages = body["messages"].as_array_mut().expect("messages");
    messages.push(message);
    messages.push(json!({"role": "tool", "tool_call_id": id,
                         "content": "{\"temperature\": 21, \"sky\": \"clear\"}"}));

    let reply = mock.json(&body);
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["message"].get("tool_calls").is_none());
    let text = choice["message"]["content"].as_str().expect("text");
    assert!(
        text.contains(r#""{"temperature": 21, "sky": "clear"}""#),
        "{text}"
    );
    assert!(text.contains("tool result"), "{text}");

    // Long results are cut to about 200 characters.
    let messages = body["messages"].as_array_mut().expect("messages");
    let last = messages.len() - 1;
    messages[last]["content"] = json!("x".repeat(5000));
    let reply = mock.json(&body);
    let text = reply["choices"][0]["message"]["content"]
        .as_str()
        .expect("text");
    assert!(text.contains(&format!("{}…", "x".repeat(200))), "{text}");
    assert!(text.len() < 400, "{text}");
}

#[test]
fn a_streamed_call_reassembles_to_the_non_streamed_one() {
    let mock = Mock::tool_calls();
    let body = ask(json!([book(), weather()]));
    let whole = mock.json(&body);
    let events = mock.events(&streamed(body));

    // Header, argument pieces, finish_reason, usage.
    assert!(events.len() >= 4, "{events:#?}");
    let first = &events[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert_eq!(first.get("content"), Some(&Value::Null), "present and null");
    let header = &first["tool_calls"][0];
    assert_eq!(header["index"], 0);
    assert_eq!(header["function"]["arguments"], "");

    let (finish, usage) = (&events[events.len() - 2], &events[events.len() - 1]);
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], whole["usage"]);

    let pieces = &events[1..events.len() - 2];
    assert!(!pieces.is_empty());
    let mut arguments = String::new();
    for event in pieces {
        assert!(event["choices"][0]["finish_reason"].is_null());
        let delta = &event["choices"][0]["delta"];
        let keys: Vec<&String> = delta.as_object().expect("delta").keys().collect();
        assert_eq!(keys, ["tool_calls"]);
        let call = &delta["tool_calls"][0];
        assert_eq!(call["index"], 0);
        arguments.push_str(call["function"]["arguments"].as_str().expect("piece"));
    }
    let reassembled = json!({
        "role": "assistant",
        "content": null,
        "tool_calls": [{"id": header["id"], "type": header["type"],
                        "function": {"name": header["function"]["name"], "arguments": arguments}}],
    });
    let mut expected = whole["choices"][0]["message"].clone();
    let expected_map = expected.as_object_mut().expect("message");
    expected_map.remove("refusal");
    expected_map.remove("annotations");
    assert_eq!(reassembled, expected);
}

#[test]
fn a_streamed_follow_up_spells_the_non_streamed_text() {
    let mock = Mock::start(&["--tool-calls", "--chunks", "4"]);
    let body = json!({"model": "mock-small", "tools": [weather()], "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny,\n  21 °C"}]});
    let whole = mock.json(&body);
    let events = mock.events(&streamed(body));
    assert_eq!(events.len(), 4 + 1, "{events:#?}");
    let text: String = events[1..3]
        .iter()
        .map(|e| e["choices"][0]["delta"]["content"].as_str().expect("text"))
        .collect();
    assert_eq!(text, whole["choices"][0]["message"]["content"]);
    assert_eq!(events[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(events[4]["usage"], whole["usage"]);
}

#[test]
fn without_the_flag_tools_change_nothing() {
    let mock = Mock::start(&[]);
    let mut body = ask(json!([weather()]));
    body["tool_choice"] = json!("bogus");
    let reply = mock.json(&body);
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert!(reply["choices"][0]["message"]["content"].is_string());
    assert!(reply["choices"][0]["message"].get("tool_calls").is_none());
}

#[test]
fn the_usual_validation_still_applies_with_the_flag() {
    let mock = Mock::tool_calls();
    let (status, bytes) = mock.post(&json!({"model": "m", "messages": [], "tools": [weather()]}));
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(error["error"]["param"], "messages");
    let (status, bytes) = mock.post(&json!({"model": "m", "tools": "x",
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(error["error"]["param"], "tools");
}
