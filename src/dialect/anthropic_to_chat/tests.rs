use super::*;
use crate::dialect::test_support::{options, translate_request};

const LONG: &str = "mcp__claude_ai_Atlassian_Confluence__getConfluencePageDescendantsWithContent";

fn opts() -> RequestOptions {
    options("upstream-model")
}

fn translate_with(req: Value, opts: &RequestOptions) -> (Value, Vec<(String, String)>) {
    translate_request(request, &req, opts)
}

fn translate(req: Value) -> Value {
    translate_with(req, &opts()).0
}

/// The request's `messages` for a conversation of `messages`.
fn chat_messages(messages: Value) -> Value {
    translate(json!({ "model": "m", "max_tokens": 10, "messages": messages }))["messages"].take()
}

fn reply(completion: Value, tool_names: &[(String, String)]) -> Value {
    let out = response(
        completion.to_string().as_bytes(),
        "claude-sonnet-4-6",
        tool_names,
    )
    .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Claude Code's first request (measured shape, trimmed): billing line,
/// cached system blocks, a mid-conversation system message, deferred and
/// server tools, adaptive thinking, betas-only fields.
#[test]
fn a_claude_code_request_becomes_a_chat_request() {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": { "command": { "type": "string" } },
        "required": ["command"],
        "additionalProperties": false
    });
    let req = json!({
        "model": "claude-opus-5-5",
        "max_tokens": 128000,
        "stream": true,
        "system": [
            { "type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332.0b8; cc_entrypoint=sdk-cli;" },
            { "type": "text", "text": "You are Claude Code.", "cache_control": { "type": "ephemeral" } },
            { "type": "text", "text": "Be brief.", "cache_control": { "type": "ephemeral", "ttl": "1h" } }
        ],
        "messages": [
            { "role": "user", "content": [
                { "type": "text", "text": "<system-reminder>ctx</system-reminder>" },
                { "type": "text", "text": "say hi", "cache_control": { "type": "ephemeral" } }
            ] },
            { "role": "system", "content": [
                { "type": "text", "text": "env: linux", "cache_control": { "type": "ephemeral" } }
            ] }
        ],
        "tools": [
            { "name": "Bash", "description": "Run a command", "input_schema": schema },
            { "name": "DeferredToolPlaceholder", "defer_loading": true,
              "input_schema": { "type": "object" } },
            { "name": LONG, "input_schema": { "type": "object", "properties": {} } },
            { "type": "web_search_20250305", "name": "web_search", "max_uses": 5 }
        ],
        "thinking": { "type": "adaptive", "display": "omitted" },
        "output_config": { "effort": "medium" },
        "context_management": { "edits": [{ "type": "clear_thinking_20251015", "keep": "all" }] },
        "metadata": { "user_id": "{\"device_id\":\"0123456789abcdef0123456789abcdef\",\"session_id\":\"9b2c\"}" },
        "top_k": 5,
        "service_tier": "auto"
    });
    let limited = RequestOptions {
        max_output_tokens: Some(16384),
        ..opts()
    };
    let (chat, tool_names) = translate_with(req, &limited);
    let short = short_tool_name(LONG);
    let mut bash_parameters = schema;
    bash_parameters.as_object_mut().unwrap().remove("$schema");
    assert_eq!(
        chat,
        json!({
            "model": "upstream-model",
            "max_tokens": 16384,
            "stream": true,
            "stream_options": { "include_usage": true },
            "reasoning_effort": "medium",
            "messages": [
                { "role": "system", "content": "You are Claude Code.\nBe brief." },
                { "role": "user", "content": "<system-reminder>ctx</system-reminder>\nsay hi" },
                { "role": "user", "content": "<system-reminder>\nenv: linux\n</system-reminder>" }
            ],
            "tools": [
                { "type": "function", "function": {
                    "name": "Bash", "description": "Run a command", "parameters": bash_parameters } },
                { "type": "function", "function": {
                    "name": "DeferredToolPlaceholder", "parameters": { "type": "object" } } },
                { "type": "function", "function": {
                    "name": short, "parameters": { "type": "object", "properties": {} } } }
            ]
        })
    );
    assert_eq!(tool_names, vec![(short, LONG.to_string())]);
}

#[test]
fn the_billing_line_goes_and_other_system_text_stays_byte_for_byte() {
    let system = |system: Value| {
        translate(json!({ "max_tokens": 1, "system": system, "messages": [] }))["messages"].take()
    };
    assert_eq!(
        system(json!(
            "x-anthropic-billing-header: cc_version=1; cch=ab12;\nYou help."
        )),
        json!([{ "role": "system", "content": "You help." }])
    );
    assert_eq!(
        system(json!("  keep\r\nthis  \n")),
        json!([{ "role": "system", "content": "  keep\r\nthis  \n" }])
    );
    assert_eq!(system(json!([])), json!([]));
    assert_eq!(system(json!("")), json!([]));
}

/// Claude Code's tool loop: the assistant's text and call, then the
/// result (with `cache_control`) and more user text in one turn.
#[test]
fn a_tool_round_trip_becomes_tool_calls_and_tool_messages() {
    let (chat, tool_names) = translate_with(
        json!({ "max_tokens": 10, "messages": [
            { "role": "user", "content": "list files" },
            { "role": "assistant", "content": [
                { "type": "thinking", "thinking": "hmm", "signature": "sig" },
                { "type": "text", "text": "Running ls." },
                { "type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": { "command": "ls" } },
                { "type": "tool_use", "id": "call.2:x", "name": LONG, "input": {} }
            ] },
            { "role": "user", "content": [
                { "type": "text", "text": "here you go" },
                { "type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.txt",
                  "is_error": false, "cache_control": { "type": "ephemeral" } },
                { "type": "tool_result", "tool_use_id": "call.2:x", "is_error": true, "content": [
                    { "type": "text", "text": "denied" },
                    { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBO" } }
                ] }
            ] }
        ] }),
        &opts(),
    );
    let short = short_tool_name(LONG);
    assert_eq!(
        chat["messages"],
        json!([
            { "role": "user", "content": "list files" },
            { "role": "assistant", "content": "Running ls.", "tool_calls": [
                { "id": "toolu_01A", "type": "function",
                  "function": { "name": "Bash", "arguments": "{\"command\":\"ls\"}" } },
                { "id": "call_2_x", "type": "function",
                  "function": { "name": short, "arguments": "{}" } }
            ] },
            { "role": "tool", "tool_call_id": "toolu_01A", "content": "a.txt" },
            { "role": "tool", "tool_call_id": "call_2_x", "content": format!("Error: denied\n{IMAGE_IN_RESULT}") },
            { "role": "user", "content": "here you go" }
        ])
    );
    assert_eq!(
        tool_names,
        vec![(short, LONG.to_string())],
        "history names map back too"
    );
}

#[test]
fn an_assistant_turn_of_only_tool_calls_has_null_content() {
    let messages = chat_messages(json!([
        { "role": "user", "content": "go" },
        { "role": "assistant", "content": [
            { "type": "redacted_thinking", "data": "opaque" },
            { "type": "tool_use", "id": "t1", "name": "Read", "input": { "path": "a" } }
        ] },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t1" }] },
        { "role": "assistant", "content": [{ "type": "thinking", "thinking": "x", "signature": "s" }] }
    ]));
    assert_eq!(
        messages,
        json!([
            { "role": "user", "content": "go" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "t1", "type": "function",
                "function": { "name": "Read", "arguments": "{\"path\":\"a\"}" } }] },
            { "role": "tool", "tool_call_id": "t1", "content": "" }
        ]),
        "a turn of only thinking is dropped"
    );
}

#[test]
fn orphan_results_become_text_and_system_waits_for_tool_results() {
    let messages = chat_messages(json!([
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "gone", "content": "old" }] },
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "t1", "name": "Bash", "input": {} }] },
        { "role": "system", "content": "tools changed" },
        { "role": "user", "content": [
            { "type": "tool_result", "tool_use_id": "t1", "content": "ok" },
            { "type": "tool_result", "tool_use_id": "t1", "content": "again" }
        ] },
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "t2", "name": "Bash", "input": {} }] }
    ]));
    assert_eq!(
        messages,
        json!([
            { "role": "user", "content": "[result of tool call gone]\nold" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "t1", "type": "function",
                "function": { "name": "Bash", "arguments": "{}" } }] },
            { "role": "tool", "tool_call_id": "t1", "content": "ok" },
            { "role": "user", "content": "<system-reminder>\ntools changed\n</system-reminder>" },
            { "role": "user", "content": "[result of tool call t1]\nagain" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "t2", "type": "function",
                "function": { "name": "Bash", "arguments": "{}" } }] }
        ]),
        "an unanswered call at the end is sent as it is"
    );
}

#[test]
fn consecutive_user_messages_are_one_turn() {
    let messages = chat_messages(json!([
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "t1", "name": "Bash", "input": {} }] },
        { "role": "user", "content": "note" },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t1", "content": "ok" }] }
    ]));
    assert_eq!(
        messages[1],
        json!({ "role": "tool", "tool_call_id": "t1", "content": "ok" })
    );
    assert_eq!(messages[2], json!({ "role": "user", "content": "note" }));
}

#[test]
fn images_become_image_url_parts() {
    let messages = chat_messages(json!([{ "role": "user", "content": [
        { "type": "text", "text": "What is in these?" },
        { "type": "image", "source": { "type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ" } },
        { "type": "image", "source": { "type": "url", "url": "https://example.com/a.png" } },
        { "type": "image", "source": { "type": "file", "file_id": "file_011" } },
        { "type": "document", "source": { "type": "text", "media_type": "text/plain", "data": "doc text" } },
        { "type": "document", "source": { "type": "base64", "media_type": "application/pdf", "data": "JVBE" } }
    ] }]));
    assert_eq!(
        messages,
        json!([{ "role": "user", "content": [
            { "type": "text", "text": "What is in these?" },
            { "type": "image_url", "image_url": { "url": "data:image/jpeg;base64,/9j/4AAQ" } },
            { "type": "image_url", "image_url": { "url": "https://example.com/a.png" } },
            { "type": "text", "text": IMAGE_OMITTED },
            { "type": "text", "text": "doc text" },
            { "type": "text", "text": DOCUMENT_OMITTED }
        ] }])
    );
}

#[test]
fn thinking_becomes_a_reasoning_effort() {
    let effort = |thinking: Value, config: Value| {
        let req = json!({ "max_tokens": 1, "messages": [], "thinking": thinking, "output_config": config });
        translate(req).get("reasoning_effort").cloned()
    };
    let enabled = |budget: u64| {
        effort(
            json!({ "type": "enabled", "budget_tokens": budget }),
            json!({}),
        )
    };
    assert_eq!(
        enabled(31999),
        Some(json!("high")),
        "Claude Code's haiku budget"
    );
    assert_eq!(enabled(10000), Some(json!("high")));
    assert_eq!(enabled(5000), Some(json!("medium")));
    assert_eq!(enabled(2000), Some(json!("low")));
    assert_eq!(
        enabled(1024),
        Some(json!("low")),
        "low is the floor, not minimal"
    );
    let adaptive = json!({ "type": "adaptive" });
    assert_eq!(
        effort(adaptive.clone(), json!({ "effort": "low" })),
        Some(json!("low"))
    );
    assert_eq!(
        effort(adaptive.clone(), json!({ "effort": "max" })),
        Some(json!("high"))
    );
    assert_eq!(
        effort(adaptive, json!({})),
        Some(json!("high")),
        "Anthropic's default effort"
    );
    assert_eq!(
        effort(json!({ "type": "disabled" }), json!({ "effort": "low" })),
        None
    );
    assert_eq!(effort(Value::Null, json!({ "effort": "low" })), None);
}

#[test]
fn a_model_that_does_not_reason_gets_no_reasoning_effort() {
    let plain = RequestOptions {
        reasoning: false,
        ..opts()
    };
    let req = json!({ "max_tokens": 1, "messages": [],
                      "thinking": { "type": "adaptive" }, "output_config": { "effort": "high" } });
    assert_eq!(translate_with(req, &plain).0.get("reasoning_effort"), None);
}

#[test]
fn tool_choice_maps_and_needs_function_tools() {
    let choose = |choice: Value, tools: Value| {
        let chat = translate(
            json!({ "max_tokens": 1, "messages": [], "tools": tools, "tool_choice": choice }),
        );
        (
            chat.get("tool_choice").cloned(),
            chat.get("parallel_tool_calls").cloned(),
        )
    };
    let tools = json!([{ "name": "Bash", "input_schema": { "type": "object" } }, { "name": LONG }]);
    assert_eq!(
        choose(
            json!({ "type": "auto", "disable_parallel_tool_use": true }),
            tools.clone()
        ),
        (Some(json!("auto")), Some(json!(false)))
    );
    assert_eq!(
        choose(json!({ "type": "any" }), tools.clone()),
        (Some(json!("required")), None)
    );
    assert_eq!(
        choose(json!({ "type": "none" }), tools.clone()),
        (Some(json!("none")), None)
    );
    assert_eq!(
        choose(json!({ "type": "tool", "name": LONG }), tools),
        (
            Some(json!({ "type": "function", "function": { "name": short_tool_name(LONG) } })),
            None
        )
    );
    let only_server = json!([{ "type": "web_search_20250305", "name": "web_search" }]);
    assert_eq!(choose(json!({ "type": "any" }), only_server), (None, None));
    let chat =
        translate(json!({ "max_tokens": 1, "messages": [], "tools": [{ "name": "NoSchema" }] }));
    assert_eq!(
        chat["tools"],
        json!([{ "type": "function", "function": {
            "name": "NoSchema", "parameters": { "type": "object", "properties": {} } } }])
    );
}

#[test]
fn max_tokens_is_clamped_to_the_models_limit() {
    let max = |asked: Value, limit: Option<u64>| {
        let opts = RequestOptions {
            max_output_tokens: limit,
            ..opts()
        };
        let req = json!({ "max_tokens": asked, "messages": [] });
        translate_with(req, &opts).0.get("max_tokens").cloned()
    };
    assert_eq!(max(json!(32000), Some(8192)), Some(json!(8192)));
    assert_eq!(max(json!(1024), Some(8192)), Some(json!(1024)));
    assert_eq!(max(json!(32000), None), Some(json!(32000)));
    assert_eq!(max(Value::Null, Some(8192)), Some(json!(8192)));
    assert_eq!(max(Value::Null, None), None);
    assert_eq!(max(json!(0), None), Some(json!(1)));
}

#[test]
fn stream_usage_is_asked_only_for_a_stream_and_only_when_told() {
    let stream = |stream: Value, stream_usage: bool| {
        let opts = RequestOptions {
            stream_usage,
            ..opts()
        };
        let chat = translate_with(
            json!({ "max_tokens": 1, "messages": [], "stream": stream }),
            &opts,
        )
        .0;
        (
            chat.get("stream").cloned(),
            chat.get("stream_options").cloned(),
        )
    };
    assert_eq!(
        stream(json!(true), true),
        (Some(json!(true)), Some(json!({ "include_usage": true })))
    );
    assert_eq!(stream(json!(true), false), (Some(json!(true)), None));
    assert_eq!(stream(json!(false), true), (None, None));
}

#[test]
fn sampling_stop_format_and_user_carry_over() {
    let schema = json!({ "type": "object", "properties": { "answer": { "type": "string" } } });
    let chat = translate(json!({
        "model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{ "role": "user", "content": "hi" }],
        "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stop_sequences": ["\n\nHuman:"],
        "output_config": { "format": { "type": "json_schema", "schema": schema } },
        "metadata": { "user_id": "user-42" }, "container": "c1", "mcp_servers": [], "inference_geo": "us"
    }));
    assert_eq!(
        chat,
        json!({
            "model": "upstream-model", "max_tokens": 100,
            "messages": [{ "role": "user", "content": "hi" }],
            "temperature": 0.2, "top_p": 0.9, "stop": ["\n\nHuman:"],
            "response_format": { "type": "json_schema",
                "json_schema": { "name": "structured_output", "schema": schema } },
            "user": "user-42"
        })
    );
}

#[test]
fn bad_requests_are_refused_with_a_message_for_the_client() {
    let err = |body: &str| request(body.as_bytes(), &opts()).unwrap_err();
    assert!(matches!(
        err("{\"messages\": ["),
        TranslateError::NotJson(_)
    ));
    assert_eq!(err("[]"), TranslateError::NotObject);
    assert_eq!(
        err("{\"model\":\"m\"}").message(),
        "messages: an array of messages is required"
    );
    assert_eq!(err("{\"messages\":{}}"), TranslateError::NoMessages);
    assert_eq!(
        err(r#"{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"x"}]}"#)
            .message(),
        "messages.1: role must be \"user\", \"assistant\" or \"system\""
    );
    assert_eq!(
        err(r#"{"messages":[{"role":"user","content":7}]}"#),
        TranslateError::BadMessage {
            index: 0,
            problem: "content must be a string or an array of content blocks"
        }
    );
    assert_eq!(
        err(r#"{"system":7,"messages":[]}"#),
        TranslateError::BadSystem
    );
    assert_eq!(err("{}").status(), 400);
}

/// OpenAI's documented completion → Anthropic's documented message.
#[test]
fn a_text_completion_becomes_a_message() {
    let message = reply(
        json!({
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion",
            "created": 1741569952, "model": "gpt-4.1-2025-04-14",
            "choices": [{ "index": 0, "finish_reason": "stop", "logprobs": null,
                "message": { "role": "assistant", "content": "Hello! How can I assist you today?",
                             "refusal": null, "annotations": [] } }],
            "usage": { "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 } },
            "service_tier": "default"
        }),
        &[],
    );
    assert_eq!(
        message,
        json!({
            "id": "msg_chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-6",
            "content": [{ "type": "text", "text": "Hello! How can I assist you today?" }],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": { "input_tokens": 19, "output_tokens": 10,
                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 }
        })
    );
}

#[test]
fn tool_calls_become_tool_use_blocks_with_their_names_restored() {
    let short = short_tool_name(LONG);
    let names = vec![(short.clone(), LONG.to_string())];
    let call = |id: &str, name: &str, arguments: &str| json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } });
    let message = reply(
        json!({ "id": "gen.1:2", "choices": [{ "finish_reason": "stop", "message": {
            "role": "assistant", "content": "Let me check.", "reasoning_content": "The user wants ...",
            "tool_calls": [
                call("call_abc", "Bash", "{\"command\":\"ls\"}"),
                call("functions.search:1", &short, ""),
                call("call_bad", "Bash", "{\"command\":"),
                call("call_twice", "Bash", "\"{\\\"command\\\":\\\"pwd\\\"}\"")
            ] } }] }),
        &names,
    );
    assert_eq!(message["id"], "msg_gen_1_2");
    assert_eq!(
        message["stop_reason"], "tool_use",
        "a tool call wins over `stop`"
    );
    assert_eq!(
        message["content"],
        json!([
            { "type": "thinking", "thinking": "The user wants ...", "signature": UNSIGNED_THINKING },
            { "type": "text", "text": "Let me check." },
            { "type": "tool_use", "id": "call_abc", "name": "Bash", "input": { "command": "ls" } },
            { "type": "tool_use", "id": "functions_search_1", "name": LONG, "input": {} },
            { "type": "tool_use", "id": "call_bad", "name": "Bash", "input": {} },
            { "type": "tool_use", "id": "call_twice", "name": "Bash", "input": { "command": "pwd" } }
        ]),
        "reasoning first, as a marked thinking block (as the stream does)"
    );
}

#[test]
fn missing_ids_are_made_unique() {
    let message = reply(
        json!({ "choices": [{ "finish_reason": "tool_calls", "message": { "content": null, "tool_calls": [
            { "type": "function", "function": { "name": "A", "arguments": "{}" } },
            { "id": "", "type": "function", "function": { "name": "B", "arguments": {"x": 1} } }
        ] } }] }),
        &[],
    );
    let id = |v: &Value| v.as_str().unwrap().to_string();
    let (a, b) = (
        id(&message["content"][0]["id"]),
        id(&message["content"][1]["id"]),
    );
    assert!(
        a.starts_with("toolu_") && b.starts_with("toolu_") && a != b,
        "{a} {b}"
    );
    assert_eq!(message["content"][1]["input"], json!({ "x": 1 }));
    assert!(id(&message["id"]).starts_with("msg_") && id(&message["id"]).len() > 4);
}

#[test]
fn length_and_content_filter_map_to_anthropic_stop_reasons() {
    let stop = |finish: &str, message: Value| {
        let message = reply(
            json!({ "id": "x", "choices": [{ "finish_reason": finish, "message": message }] }),
            &[],
        );
        (message["stop_reason"].clone(), message["content"].clone())
    };
    assert_eq!(
        stop("length", json!({ "content": "Once upon a" })),
        (
            json!("max_tokens"),
            json!([{ "type": "text", "text": "Once upon a" }])
        )
    );
    assert_eq!(
        stop(
            "content_filter",
            json!({ "content": null, "refusal": "I can't help with that." })
        ),
        (
            json!("refusal"),
            json!([{ "type": "text", "text": "I can't help with that." }])
        )
    );
    assert_eq!(
        stop("content_filter", json!({ "content": "" })),
        (json!("refusal"), json!([]))
    );
}

#[test]
fn cached_tokens_leave_input_tokens() {
    let message = reply(
        json!({ "id": "x", "choices": [{ "finish_reason": "stop", "message": { "content": "ok" } }],
                "usage": { "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                           "prompt_tokens_details": { "cached_tokens": 1920 } } }),
        &[],
    );
    assert_eq!(
        message["usage"],
        json!({ "input_tokens": 86, "output_tokens": 300,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1920 })
    );
    let no_usage = reply(
        json!({ "id": "x", "choices": [{ "message": { "content": "ok" } }] }),
        &[],
    );
    assert_eq!(no_usage["usage"]["input_tokens"], 0);
    assert_eq!(no_usage["stop_reason"], "end_turn");
}

#[test]
fn a_reply_that_is_not_a_completion_is_a_bad_gateway() {
    let err = |body: &str| response(body.as_bytes(), "m", &[]).unwrap_err();
    assert_eq!(
        err("{\"choices\": []}").message(),
        "the upstream reply is not a chat completion: it has no choices"
    );
    assert_eq!(
        err("[1]").message(),
        "the upstream reply is not a chat completion: not a JSON object"
    );
    assert!(err("data: {}")
        .message()
        .starts_with("the upstream reply is not a chat completion: not JSON: "));
    assert_eq!(err("{\"error\": {\"message\": \"x\"}}").status(), 502);
}
