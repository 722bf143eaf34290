use super::*;
use crate::dialect::anthropic::MAX_TOOL_NAME;
use crate::dialect::test_support::{options, translate_request};

const LONG: &str = "mcp__claude_ai_Atlassian_Confluence__getConfluencePageDescendantsWithContent";

fn opts() -> RequestOptions {
    options("claude-sonnet-4-6")
}

fn translate_with(req: Value, opts: &RequestOptions) -> (Value, Vec<(String, String)>) {
    translate_request(request, &req, opts)
}

fn translate(req: Value) -> Value {
    translate_with(req, &opts()).0
}

fn error(req: Value) -> TranslateError {
    request(req.to_string().as_bytes(), &opts()).unwrap_err()
}

/// The Anthropic `messages` for a conversation of chat `messages`.
fn turns(messages: Value) -> Value {
    translate(json!({ "model": "gpt-4o", "messages": messages }))["messages"].take()
}

fn reply(message: Value, tool_names: &[(String, String)]) -> Value {
    let out = response(
        message.to_string().as_bytes(),
        "gpt-4o",
        tool_names,
        1_700_000_000,
    )
    .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// OpenAI's function-calling example (chat completions reference).
#[test]
fn the_openai_function_calling_example_becomes_an_anthropic_request() {
    let req = json!({
        "model": "gpt-4.1",
        "messages": [
            { "role": "system", "content": "You are a helpful assistant." },
            { "role": "user", "content": "What's the weather like in Boston today?" }
        ],
        "tools": [{
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": { "type": "string", "description": "The city and state, e.g. San Francisco, CA" },
                        "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] }
                    },
                    "required": ["location"]
                }
            }
        }],
        "tool_choice": "auto",
        "n": 1, "logprobs": false, "presence_penalty": 0.5, "frequency_penalty": 0.1, "seed": 7,
        "logit_bias": { "50256": -100 }, "stream_options": { "include_usage": true },
        "store": true, "metadata": { "k": "v" }, "service_tier": "auto"
    });
    let expected = json!({
        "model": "claude-sonnet-4-6",
        "max_tokens": 4096,
        "system": [{ "type": "text", "text": "You are a helpful assistant." }],
        "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "What's the weather like in Boston today?" }
        ] }],
        "tools": [{
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "input_schema": {
                "type": "object",
                "properties": {
                    "location": { "type": "string", "description": "The city and state, e.g. San Francisco, CA" },
                    "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] }
                },
                "required": ["location"]
            }
        }],
        "tool_choice": { "type": "auto" }
    });
    assert_eq!(translate(req), expected);
}

#[test]
fn a_tool_loop_keeps_ids_paired_and_results_first_in_the_user_turn() {
    let messages = json!([
        { "role": "developer", "content": [{ "type": "text", "text": "Be terse." }] },
        { "role": "user", "content": "Weather in Paris and Oslo?" },
        { "role": "assistant", "content": "Checking.", "reasoning_content": "The user wants…",
          "tool_calls": [
            { "id": "call:1", "type": "function",
              "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } },
            { "id": "call_2", "type": "function",
              "function": { "name": "get_weather", "arguments": "not json" } }
        ] },
        { "role": "tool", "tool_call_id": "call:1", "content": "18C" },
        { "role": "system", "content": "Answer in French." },
        { "role": "tool", "tool_call_id": "call_2", "content": [{ "type": "text", "text": "3C" }] },
        { "role": "user", "content": "And tomorrow?" }
    ]);
    let out = translate(json!({ "model": "gpt-4o", "messages": messages }));
    assert_eq!(
        out["system"],
        json!([{ "type": "text", "text": "Be terse." }, { "type": "text", "text": "Answer in French." }])
    );
    assert_eq!(
        out["messages"],
        json!([
            { "role": "user", "content": [{ "type": "text", "text": "Weather in Paris and Oslo?" }] },
            { "role": "assistant", "content": [
                { "type": "text", "text": "Checking." },
                { "type": "tool_use", "id": "call_1", "name": "get_weather", "input": { "city": "Paris" } },
                { "type": "tool_use", "id": "call_2", "name": "get_weather", "input": {} }
            ] },
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "call_1", "content": "18C" },
                { "type": "tool_result", "tool_use_id": "call_2",
                  "content": [{ "type": "text", "text": "3C" }] },
                { "type": "text", "text": "And tomorrow?" }
            ] }
        ])
    );
}

#[test]
fn a_result_answering_no_call_becomes_user_text() {
    let out = turns(json!([
        { "role": "user", "content": "hi" },
        { "role": "assistant", "content": "hello" },
        { "role": "tool", "tool_call_id": "call_9", "content": "late" },
        { "role": "assistant", "content": null,
          "tool_calls": [{ "id": "call_1", "type": "function",
                           "function": { "name": "f", "arguments": "" } }] },
        { "role": "tool", "tool_call_id": "call_1", "content": "ok" },
        { "role": "tool", "tool_call_id": "call_1", "content": "twice" }
    ]));
    assert_eq!(
        out,
        json!([
            { "role": "user", "content": [{ "type": "text", "text": "hi" }] },
            { "role": "assistant", "content": [{ "type": "text", "text": "hello" }] },
            { "role": "user", "content": [{ "type": "text", "text": "[result of tool call call_9]\nlate" }] },
            { "role": "assistant", "content": [
                { "type": "tool_use", "id": "call_1", "name": "f", "input": {} }
            ] },
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "call_1", "content": "ok" },
                { "type": "text", "text": "[result of tool call call_1]\ntwice" }
            ] }
        ])
    );
}

#[test]
fn legacy_function_calls_pair_by_position() {
    let out = translate(json!({
        "model": "gpt-3.5-turbo",
        "messages": [
            { "role": "user", "content": "time?" },
            { "role": "assistant", "content": null,
              "function_call": { "name": "now", "arguments": "{}" } },
            { "role": "function", "name": "now", "content": "12:00" },
            { "role": "function", "name": "now", "content": "again" }
        ],
        "functions": [{ "name": "now", "parameters": { "type": "object", "properties": {} } }],
        "function_call": { "name": "now" }
    }));
    assert_eq!(
        out["messages"][1]["content"],
        json!([{ "type": "tool_use", "id": "toolu_function_1", "name": "now", "input": {} }])
    );
    assert_eq!(
        out["messages"][2]["content"],
        json!([
            { "type": "tool_result", "tool_use_id": "toolu_function_1", "content": "12:00" },
            { "type": "text", "text": "[result of function now]\nagain" }
        ])
    );
    assert_eq!(
        out["tools"],
        json!([{ "name": "now", "input_schema": { "type": "object", "properties": {} } }])
    );
    assert_eq!(out["tool_choice"], json!({ "type": "tool", "name": "now" }));
}

#[test]
fn images_and_files_become_anthropic_sources() {
    let out = turns(json!([{ "role": "user", "content": [
        { "type": "text", "text": "What is in these?", "cache_control": { "type": "ephemeral" } },
        { "type": "image_url", "image_url": { "url": "data:image/jpg;base64,/9j/4AAQ", "detail": "high" } },
        { "type": "image_url", "image_url": { "url": "https://upload.wikimedia.org/a.jpg" } },
        { "type": "file", "file": { "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x" } },
        { "type": "text", "text": "  " },
        { "type": "future_part", "x": 1 }
    ] }]));
    assert_eq!(
        out[0]["content"],
        json!([
            { "type": "text", "text": "What is in these?", "cache_control": { "type": "ephemeral" } },
            { "type": "image", "source": { "type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ" } },
            { "type": "image", "source": { "type": "url", "url": "https://upload.wikimedia.org/a.jpg" } },
            { "type": "document", "title": "a.pdf",
              "source": { "type": "base64", "media_type": "application/pdf", "data": "JVBERi0x" } }
        ])
    );
}

#[test]
fn what_anthropic_cannot_take_is_a_clear_400() {
    let user = |content: Value| json!({ "model": "m", "messages": [{ "role": "user", "content": content }] });
    let problem = |req: Value| match error(req) {
        TranslateError::BadMessage { problem, .. } => problem,
        other => panic!("unexpected {other:?}"),
    };
    let svg = json!([{ "type": "image_url", "image_url": { "url": "data:image/svg+xml;base64,PHN2Zz4=" } }]);
    assert!(problem(user(svg)).contains("JPEG, PNG, GIF and WebP"));
    let ftp = json!([{ "type": "image_url", "image_url": { "url": "ftp://h/a.png" } }]);
    assert!(problem(user(ftp)).contains("http(s)"));
    let audio =
        json!([{ "type": "input_audio", "input_audio": { "data": "AA==", "format": "wav" } }]);
    assert!(problem(user(audio)).contains("audio"));
    let file_id = json!([{ "type": "file", "file": { "file_id": "file-abc" } }]);
    assert!(problem(user(file_id)).contains("file id"));
    assert!(problem(user(json!(42))).contains("content"));

    let err = error(json!({ "model": "m", "messages": [
        { "role": "user", "content": "hi" },
        { "role": "tool", "content": "x" }
    ] }));
    assert_eq!(
        err.message(),
        "messages.1: a tool message needs its tool_call_id"
    );
    assert_eq!(err.status(), 400);
    let err = error(json!({ "model": "m", "messages": [{ "role": "critic", "content": "x" }] }));
    assert!(err.message().starts_with("messages.0: role must be"));
    let err = error(
        json!({ "model": "m", "messages": [{ "role": "system", "content": [
        { "type": "image_url", "image_url": { "url": "https://h/a.png" } }] }] }),
    );
    assert!(err.message().contains("text only"));

    assert!(matches!(
        error(json!({ "model": "m" })),
        TranslateError::NoMessages
    ));
    let only_system = json!({ "model": "m", "messages": [{ "role": "system", "content": "x" }] });
    assert!(matches!(error(only_system), TranslateError::NoMessages));
    assert!(matches!(
        request(b"[1]", &opts()),
        Err(TranslateError::NotObject)
    ));
    assert!(matches!(
        request(b"{\"model\":", &opts()),
        Err(TranslateError::NotJson(_))
    ));
}

#[test]
fn blank_messages_vanish_and_a_prefill_loses_trailing_whitespace() {
    let out = turns(json!([
        { "role": "user", "content": "a" },
        { "role": "assistant", "content": "" },
        { "role": "user", "content": "b" },
        { "role": "assistant", "content": [{ "type": "text", "text": "{\"answer\": " }] }
    ]));
    assert_eq!(
        out,
        json!([
            { "role": "user", "content": [{ "type": "text", "text": "a" }, { "type": "text", "text": "b" }] },
            { "role": "assistant", "content": [{ "type": "text", "text": "{\"answer\":" }] }
        ])
    );
}

#[test]
fn long_tool_names_are_shortened_and_returned() {
    let long_tool = json!({ "type": "function", "function": { "name": LONG } });
    let (out, names) = translate_with(
        json!({
            "model": "m",
            "messages": [
                { "role": "user", "content": "go" },
                { "role": "assistant", "tool_calls": [{ "id": "c1", "type": "function",
                    "function": { "name": LONG, "arguments": "{}" } }] },
                { "role": "tool", "tool_call_id": "c1", "content": "done" }
            ],
            "tools": [long_tool, { "type": "web_search_preview" }],
            "tool_choice": { "type": "function", "function": { "name": LONG } },
            "parallel_tool_calls": false
        }),
        &opts(),
    );
    let short = short_tool_name(LONG);
    assert_eq!(short.len(), MAX_TOOL_NAME);
    assert_eq!(names, vec![(short.clone(), LONG.to_string())]);
    assert_eq!(
        out["tools"],
        json!([{ "name": short, "input_schema": { "type": "object", "properties": {} } }]),
        "a tool without parameters still has an object schema; hosted tools are left out"
    );
    assert_eq!(out["messages"][1]["content"][0]["name"], json!(short));
    assert_eq!(
        out["tool_choice"],
        json!({ "type": "tool", "name": short, "disable_parallel_tool_use": true })
    );
}

#[test]
fn tool_choice_follows_the_mapping_table() {
    let with_choice = |choice: Value, parallel: Value| {
        let tool = json!({ "type": "function", "function": { "name": "f", "parameters": { "type": "object" } } });
        let mut req = json!({ "model": "m", "messages": [{ "role": "user", "content": "x" }],
                              "tools": [tool], "tool_choice": choice });
        if !parallel.is_null() {
            req["parallel_tool_calls"] = parallel;
        }
        translate(req)["tool_choice"].take()
    };
    assert_eq!(
        with_choice(json!("auto"), Value::Null),
        json!({ "type": "auto" })
    );
    assert_eq!(
        with_choice(json!("none"), json!(false)),
        json!({ "type": "none" })
    );
    assert_eq!(
        with_choice(json!("required"), json!(false)),
        json!({ "type": "any", "disable_parallel_tool_use": true })
    );
    assert_eq!(
        with_choice(Value::Null, json!(false)),
        json!({ "type": "auto", "disable_parallel_tool_use": true })
    );
    assert_eq!(with_choice(Value::Null, json!(true)), Value::Null);
    // Without tools there is no choice to make.
    let out = translate(
        json!({ "model": "m", "messages": [{ "role": "user", "content": "x" }],
                                "tool_choice": "required" }),
    );
    assert!(out.get("tool_choice").is_none());
}

fn generation_of(extra: Value, opts: &RequestOptions) -> Value {
    let mut req = json!({ "model": "m", "messages": [{ "role": "user", "content": "x" }] });
    for (key, value) in extra.as_object().unwrap() {
        req[key] = value.clone();
    }
    let mut out = translate_with(req, opts).0;
    out.as_object_mut().unwrap().remove("messages");
    out.as_object_mut().unwrap().remove("model");
    out
}

#[test]
fn max_tokens_is_always_sent_and_clamped() {
    let limited = RequestOptions {
        max_output_tokens: Some(8192),
        ..opts()
    };
    let max = |extra: Value, opts: &RequestOptions| generation_of(extra, opts)["max_tokens"].take();
    assert_eq!(max(json!({}), &opts()), 4096);
    assert_eq!(max(json!({}), &limited), 8192);
    assert_eq!(max(json!({ "max_tokens": 100000 }), &limited), 8192);
    assert_eq!(
        max(
            json!({ "max_tokens": 100, "max_completion_tokens": 300 }),
            &limited
        ),
        300
    );
    assert_eq!(max(json!({ "max_tokens": 0 }), &opts()), 1);
}

#[test]
fn reasoning_effort_becomes_a_thinking_budget_that_fits() {
    let limited = |n| RequestOptions {
        max_output_tokens: Some(n),
        ..opts()
    };
    let high =
        json!({ "reasoning_effort": "high", "max_tokens": 1000, "temperature": 0.2, "top_p": 0.5 });
    assert_eq!(
        generation_of(high.clone(), &opts()),
        json!({ "max_tokens": 25576, "thinking": { "type": "enabled", "budget_tokens": 24576 } }),
        "max_tokens grows by the budget; sampling Anthropic refuses with thinking is dropped"
    );
    assert_eq!(
        generation_of(high.clone(), &limited(8192)),
        json!({ "max_tokens": 8192, "thinking": { "type": "enabled", "budget_tokens": 4096 } }),
        "within the limit, the budget shrinks"
    );
    assert_eq!(
        generation_of(high.clone(), &limited(1500)),
        json!({ "max_tokens": 1000, "temperature": 0.2 }),
        "no room for 1024 tokens of thinking: none"
    );
    let not_reasoning = RequestOptions {
        reasoning: false,
        ..opts()
    };
    assert_eq!(
        generation_of(json!({ "reasoning_effort": "low" }), &not_reasoning),
        json!({ "max_tokens": 4096 })
    );
    assert_eq!(
        generation_of(
            json!({ "reasoning_effort": "medium", "max_completion_tokens": 20000,
                              "temperature": 1, "top_p": 0.97 }),
            &opts()
        ),
        json!({ "max_tokens": 20000, "temperature": 1.0,
                "thinking": { "type": "enabled", "budget_tokens": 8192 } })
    );
    assert_eq!(
        generation_of(
            json!({ "reasoning_effort": "minimal", "top_p": 0.97 }),
            &opts()
        ),
        json!({ "max_tokens": 4096, "top_p": 0.97,
                "thinking": { "type": "enabled", "budget_tokens": 1024 } })
    );
    // A forced tool wins over thinking (Anthropic refuses the pair).
    let forced = json!({ "reasoning_effort": "high", "tool_choice": "required",
                         "tools": [{ "type": "function", "function": { "name": "f" } }] });
    assert!(generation_of(forced, &opts()).get("thinking").is_none());
}

#[test]
fn sampling_stop_format_user_and_stream_are_mapped() {
    let out = generation_of(
        json!({
            "temperature": 1.7, "top_p": 0.3, "stop": "\n\n", "stream": true,
            "user": "user-1234",
            "response_format": { "type": "json_schema", "json_schema": {
                "name": "answer", "strict": true,
                "schema": { "type": "object", "properties": { "a": { "type": "string" } },
                            "required": ["a"], "additionalProperties": false } } }
        }),
        &opts(),
    );
    assert_eq!(
        out,
        json!({
            "max_tokens": 4096, "temperature": 1.0, "stop_sequences": ["\n\n"], "stream": true,
            "metadata": { "user_id": "user-1234" },
            "output_config": { "format": { "type": "json_schema", "schema": {
                "type": "object", "properties": { "a": { "type": "string" } },
                "required": ["a"], "additionalProperties": false } } }
        })
    );
    let out = generation_of(
        json!({ "top_p": 0.3, "stop": ["END", "", 7], "stream": false,
                "response_format": { "type": "json_object" }, "user": "u".repeat(300) }),
        &opts(),
    );
    assert_eq!(
        out,
        json!({ "max_tokens": 4096, "top_p": 0.3, "stop_sequences": ["END"] })
    );
}

/// Anthropic's tool-use example reply (tool use docs).
#[test]
fn the_anthropic_tool_use_reply_becomes_a_chat_completion() {
    let message = json!({
        "id": "msg_01Aq9w938a90dw8q",
        "type": "message",
        "model": "claude-opus-4-1-20250805",
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "role": "assistant",
        "content": [
            { "type": "text", "text": "I'll check the current weather in San Francisco for you." },
            { "type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
              "input": { "location": "San Francisco, CA", "unit": "celsius" } }
        ],
        "usage": { "input_tokens": 472, "output_tokens": 89,
                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 }
    });
    let expected = json!({
        "id": "chatcmpl-msg_01Aq9w938a90dw8q",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "I'll check the current weather in San Francisco for you.",
                "refusal": null,
                "tool_calls": [{
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "type": "function",
                    "function": { "name": "get_weather",
                                  "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}" }
                }]
            },
            "logprobs": null,
            "finish_reason": "tool_calls"
        }],
        "usage": { "prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561,
                   "prompt_tokens_details": { "cached_tokens": 0 } }
    });
    assert_eq!(reply(message, &[]), expected);
}

#[test]
fn thinking_citations_and_cache_usage_come_through() {
    let message = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "content": [
            { "type": "thinking", "thinking": "Let me think.", "signature": "EqQB…" },
            { "type": "redacted_thinking", "data": "EmwK…" },
            { "type": "text", "text": "Paris is the capital" },
            { "type": "text", "text": " of France.", "citations": [{ "type": "char_location" }] },
            { "type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {} }
        ],
        "stop_reason": "max_tokens",
        "usage": { "input_tokens": 10, "output_tokens": 20,
                   "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000 }
    });
    let out = reply(message, &[]);
    let choice = &out["choices"][0];
    assert_eq!(
        choice["message"]["content"],
        "Paris is the capital of France."
    );
    assert_eq!(choice["message"]["reasoning_content"], "Let me think.");
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(
        out["usage"],
        json!({ "prompt_tokens": 1110, "completion_tokens": 20, "total_tokens": 1130,
                "prompt_tokens_details": { "cached_tokens": 1000, "cache_write_tokens": 100 } })
    );
}

#[test]
fn a_reply_restores_tool_names_and_reports_a_forgotten_tool_turn() {
    let short = short_tool_name(LONG);
    let message = json!({
        "id": "msg_2", "type": "message", "role": "assistant", "content": [
            { "type": "tool_use", "id": "toolu_1", "name": short, "input": {} }
        ],
        "stop_reason": "end_turn", "usage": { "input_tokens": 1, "output_tokens": 1 }
    });
    let out = reply(message, &[(short.clone(), LONG.to_string())]);
    let choice = &out["choices"][0];
    assert_eq!(choice["message"]["tool_calls"][0]["function"]["name"], LONG);
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(choice["finish_reason"], "tool_calls");
    let refusal = json!({ "type": "message", "content": [], "stop_reason": "refusal" });
    assert_eq!(
        reply(refusal, &[])["choices"][0]["finish_reason"],
        "content_filter"
    );
}

#[test]
fn a_reply_that_is_not_an_anthropic_message_is_a_bad_reply() {
    let bad = |body: &[u8]| match response(body, "m", &[], 0) {
        Err(e @ TranslateError::BadReply(_)) => {
            assert_eq!(e.status(), 502);
            e.message()
        }
        other => panic!("unexpected {other:?}"),
    };
    assert!(bad(b"not json").contains("not JSON"));
    assert!(bad(b"[]").contains("not a JSON object"));
    let error = json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } });
    assert!(bad(error.to_string().as_bytes()).contains("not an Anthropic message"));
    assert!(bad(b"{\"type\":\"message\"}").contains("no content"));
}
