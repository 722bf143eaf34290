use super::*;
use crate::dialect::anthropic::MAX_TOOL_NAME;

fn opts() -> RequestOptions {
    RequestOptions {
        model: "llama-3.3-70b".into(),
        max_output_tokens: None,
        stream_usage: true,
        reasoning: false,
    }
}

fn translate_with(body: Value, opts: &RequestOptions) -> Value {
    let translated = request(body.to_string().as_bytes(), opts).expect("translates");
    serde_json::from_slice(&translated.body).expect("json")
}

fn translate(body: Value) -> Value {
    translate_with(body, &opts())
}

fn error(body: Value) -> TranslateError {
    request(body.to_string().as_bytes(), &opts()).expect_err("refused")
}

#[test]
fn a_string_input_with_instructions_is_a_system_and_a_user_message() {
    // OpenAI's first Responses example, with instructions.
    let chat = translate(json!({
        "model": "gpt-4.1",
        "instructions": "Talk like a pirate.",
        "input": "Tell me a three sentence bedtime story about a unicorn."
    }));
    assert_eq!(
        chat,
        json!({
            "model": "llama-3.3-70b",
            "messages": [
                { "role": "system", "content": "Talk like a pirate." },
                { "role": "user", "content": "Tell me a three sentence bedtime story about a unicorn." },
            ],
        })
    );
}

fn weather_tool() -> Value {
    json!({
        "type": "function",
        "name": "get_weather",
        "description": "Get current temperature for a given location.",
        "parameters": {
            "type": "object",
            "properties": { "location": { "type": "string",
                "description": "City and country e.g. Bogotá, Colombia" } },
            "required": ["location"],
            "additionalProperties": false
        },
        "strict": true
    })
}

#[test]
fn function_calling_from_the_docs_round_trips_through_chat() {
    // OpenAI's function-calling guide: the model's call and the app's
    // output are sent back as input items.
    let chat = translate(json!({
        "model": "gpt-4.1",
        "input": [
            { "role": "user", "content": "What's the weather like in Paris today?" },
            { "type": "function_call", "id": "fc_12345xyz", "call_id": "call_12345xyz",
              "name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}" },
            { "type": "function_call_output", "call_id": "call_12345xyz", "output": "14" }
        ],
        "tools": [weather_tool()],
    }));
    assert_eq!(
        chat["messages"],
        json!([
            { "role": "user", "content": "What's the weather like in Paris today?" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_12345xyz", "type": "function",
                  "function": { "name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}" } }
            ] },
            { "role": "tool", "tool_call_id": "call_12345xyz", "content": "14" },
        ])
    );
    assert_eq!(
        chat["tools"],
        json!([{ "type": "function", "function": {
            "name": "get_weather",
            "description": "Get current temperature for a given location.",
            "parameters": weather_tool()["parameters"],
            "strict": true,
        } }])
    );
}

/// What Codex sends on its second turn (measured shape): instructions, a
/// developer message, user messages, reasoning, a preamble, two parallel
/// calls and their outputs; flat function tools and a custom tool.
fn codex_request() -> Value {
    json!({
        "model": "gpt-5-codex",
        "instructions": "You are Codex, based on GPT-5.",
        "input": [
            { "type": "message", "role": "developer",
              "content": [{ "type": "input_text", "text": "<permissions instructions>sandbox</permissions instructions>" }] },
            { "type": "message", "role": "user",
              "content": [{ "type": "input_text", "text": "# AGENTS.md instructions" }] },
            { "type": "message", "role": "user",
              "content": [{ "type": "input_text", "text": "<environment_context>cwd</environment_context>" }] },
            { "type": "message", "role": "user",
              "content": [{ "type": "input_text", "text": "list the files" }] },
            { "type": "reasoning", "summary": [{ "type": "summary_text", "text": "Thinking" }],
              "content": null, "encrypted_content": "gAAAAAB..." },
            { "type": "message", "role": "assistant",
              "content": [{ "type": "output_text", "text": "Listing." }] },
            { "type": "function_call", "name": "exec_command",
              "arguments": "{\"cmd\":\"ls\"}", "call_id": "call_a" },
            { "type": "function_call", "name": "exec_command",
              "arguments": "{\"cmd\":\"pwd\"}", "call_id": "call_b" },
            { "type": "function_call_output", "call_id": "call_a", "output": "a.txt\nb.txt" },
            { "type": "function_call_output", "call_id": "call_b",
              "output": [{ "type": "input_text", "text": "/work" }] },
        ],
        "tools": [
            { "type": "function", "name": "exec_command", "description": "Runs a command",
              "strict": false, "parameters": { "type": "object",
                "properties": { "cmd": { "type": "string" } }, "required": ["cmd"],
                "additionalProperties": false } },
            { "type": "function", "name": "apply_patch", "description": "Edit files",
              "strict": false, "parameters": { "type": "object",
                "properties": { "input": { "type": "string" } }, "required": ["input"] } },
            { "type": "custom", "name": "apply_patch_freeform", "description": "Edit",
              "format": { "type": "grammar", "syntax": "lark", "definition": "start: x" } },
            { "type": "web_search" },
            { "type": "local_shell" },
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": { "effort": "medium", "summary": "auto" },
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a9b2-session",
        "text": { "verbosity": "low" },
    })
}

#[test]
fn a_codex_request_becomes_a_plain_chat_conversation() {
    let chat = translate(codex_request());
    assert_eq!(
        chat["messages"],
        json!([
            { "role": "system", "content":
              "You are Codex, based on GPT-5.\n\n<permissions instructions>sandbox</permissions instructions>" },
            { "role": "user", "content": "# AGENTS.md instructions" },
            { "role": "user", "content": "<environment_context>cwd</environment_context>" },
            { "role": "user", "content": "list the files" },
            { "role": "assistant", "content": "Listing.", "tool_calls": [
                { "id": "call_a", "type": "function",
                  "function": { "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}" } },
                { "id": "call_b", "type": "function",
                  "function": { "name": "exec_command", "arguments": "{\"cmd\":\"pwd\"}" } },
            ] },
            { "role": "tool", "tool_call_id": "call_a", "content": "a.txt\nb.txt" },
            { "role": "tool", "tool_call_id": "call_b", "content": "/work" },
        ])
    );
    let names: Vec<&str> = (chat["tools"].as_array().expect("tools").iter())
        .map(|t| t["function"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["exec_command", "apply_patch"], "functions only");
    assert_eq!(
        chat["tools"][0]["function"].get("strict"),
        None,
        "strict: false dropped"
    );
    assert_eq!(chat["tool_choice"], "auto");
    assert_eq!(chat["parallel_tool_calls"], true);
    assert_eq!(chat["stream"], true);
    assert_eq!(chat["stream_options"], json!({ "include_usage": true }));
    for dropped in [
        "store",
        "include",
        "prompt_cache_key",
        "reasoning",
        "reasoning_effort",
        "text",
        "instructions",
        "input",
        "response_format",
    ] {
        assert_eq!(chat.get(dropped), None, "{dropped}");
    }
    // For a model that reasons, the effort goes through.
    let reasoning = RequestOptions {
        reasoning: true,
        ..opts()
    };
    assert_eq!(
        translate_with(codex_request(), &reasoning)["reasoning_effort"],
        "medium"
    );
}

#[test]
fn stored_state_is_refused_with_a_400_that_says_why() {
    for (field, value) in [
        ("previous_response_id", json!("resp_123")),
        ("conversation", json!({ "id": "conv_123" })),
        ("conversation", json!("conv_123")),
        ("prompt", json!({ "id": "pmpt_123" })),
    ] {
        let mut body = json!({ "model": "m", "input": "hi" });
        body[field] = value;
        let e = error(body);
        assert_eq!(e, TranslateError::Stateless(field));
        assert_eq!(e.status(), 400);
        assert!(
            e.message().contains("whole conversation"),
            "{}",
            e.message()
        );
    }
    // Null or empty: nothing asked.
    let chat = translate(json!({ "model": "m", "input": "hi",
                                 "previous_response_id": null, "conversation": "" }));
    assert_eq!(chat["messages"].as_array().map(Vec::len), Some(1));
    let e = error(json!({ "model": "m", "input": [{ "type": "item_reference", "id": "msg_1" }] }));
    assert!(
        matches!(e, TranslateError::BadItem { index: 0, .. }),
        "{e:?}"
    );
    assert_eq!(e.status(), 400);
}

#[test]
fn malformed_requests_are_400s_naming_the_item() {
    assert_eq!(error(json!([1])), TranslateError::NotObject);
    assert!(matches!(
        request(b"{", &opts()),
        Err(TranslateError::NotJson(_))
    ));
    assert_eq!(error(json!({ "model": "m" })), TranslateError::NoInput);
    assert_eq!(
        error(json!({ "model": "m", "input": 3 })),
        TranslateError::NoInput
    );
    let e = error(json!({ "model": "m", "input": ["hi", { "role": "robot", "content": "x" }] }));
    // A bare string is not an item: skipped; the robot is at index 1.
    assert_eq!(
        e,
        TranslateError::BadItem {
            index: 1,
            problem: "role must be user, assistant, system or developer"
        }
    );
    assert_eq!(
        e.message(),
        "input.1: role must be user, assistant, system or developer"
    );
    let e = error(json!({ "model": "m", "input": [{ "type": "function_call", "name": "f" }] }));
    assert_eq!(
        e.message(),
        "input.0: a tool call needs a call_id and a name"
    );
    let e = error(json!({ "model": "m", "input": [{ "role": "user", "content": 5 }] }));
    assert!(matches!(e, TranslateError::BadItem { index: 0, .. }));
}

#[test]
fn images_files_and_refusals_in_message_content() {
    let chat = translate(json!({ "model": "m", "input": [
        { "role": "user", "content": [
            { "type": "input_text", "text": "What is in these?" },
            { "type": "input_image", "image_url": "https://example.com/cat.png", "detail": "high" },
            { "type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=" },
            { "type": "input_image", "file_id": "file-abc" },
            { "type": "input_file", "file_id": "file-pdf" },
        ] },
        { "role": "assistant", "content": [{ "type": "refusal", "refusal": "I can't." }] },
    ] }));
    assert_eq!(
        chat["messages"],
        json!([
            { "role": "user", "content": [
                { "type": "text", "text": "What is in these?" },
                { "type": "image_url", "image_url": { "url": "https://example.com/cat.png", "detail": "high" } },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
                { "type": "text", "text": input::IMAGE_OMITTED },
                { "type": "text", "text": input::FILE_OMITTED },
            ] },
            { "role": "assistant", "content": "I can't." },
        ])
    );
}

#[test]
fn late_system_messages_and_orphan_outputs_keep_the_tool_pairing_valid() {
    let chat = translate(json!({ "model": "m", "input": [
        { "role": "user", "content": "go" },
        { "type": "function_call", "call_id": "c1", "name": "f", "arguments": "" },
        { "role": "developer", "content": "Approvals are now off." },
        { "type": "function_call_output", "call_id": "zzz", "output": "stray" },
        { "type": "function_call_output", "call_id": "c1", "output": null },
        { "type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch" },
        { "type": "custom_tool_call_output", "call_id": "c2", "output": "Done" },
        { "role": "system", "content": "Be brief." },
        { "type": "local_shell_call", "call_id": "c3", "action": {} },
    ] }));
    assert_eq!(
        chat["messages"],
        json!([
            { "role": "user", "content": "go" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "c1", "type": "function", "function": { "name": "f", "arguments": "{}" } } ] },
            { "role": "tool", "tool_call_id": "c1", "content": "" },
            { "role": "user", "content": "<system-reminder>\nApprovals are now off.\n</system-reminder>" },
            { "role": "user", "content": "[result of tool call zzz]\nstray" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "c2", "type": "function", "function": { "name": "apply_patch",
                  "arguments": "{\"input\":\"*** Begin Patch\"}" } } ] },
            { "role": "tool", "tool_call_id": "c2", "content": "Done" },
            { "role": "user", "content": "<system-reminder>\nBe brief.\n</system-reminder>" },
        ])
    );
}

#[test]
fn tools_namespaces_and_tool_choice() {
    let long = format!("mcp__server__{}", "x".repeat(80));
    let body = json!({ "model": "m", "input": [
            { "type": "function_call", "call_id": "c", "name": long, "arguments": "{}" },
            { "type": "function_call_output", "call_id": "c", "output": "ok" } ],
        "tools": [
            { "type": "function", "name": "a", "parameters": null },
            { "type": "namespace", "name": "crm", "description": "CRM", "tools": [
                { "type": "function", "name": "lookup", "description": "Find",
                  "parameters": { "type": "object", "properties": {} } },
                { "type": "function", "name": "a" },
                { "type": "custom", "name": "free" } ] },
            { "type": "function", "name": long },
            { "type": "mcp", "server_label": "x" } ],
        "tool_choice": { "type": "function", "name": long },
        "parallel_tool_calls": false });
    let translated = request(body.to_string().as_bytes(), &opts()).expect("translates");
    let chat: Value = serde_json::from_slice(&translated.body).expect("json");
    let short = crate::dialect::anthropic::short_tool_name(&long);
    assert_eq!(short.len(), MAX_TOOL_NAME);
    assert_eq!(translated.tool_names, vec![(short.clone(), long.clone())]);
    assert_eq!(
        chat["tools"],
        json!([
            { "type": "function", "function": { "name": "a",
              "parameters": { "type": "object", "properties": {} } } },
            { "type": "function", "function": { "name": "lookup", "description": "Find",
              "parameters": { "type": "object", "properties": {} } } },
            { "type": "function", "function": { "name": short,
              "parameters": { "type": "object", "properties": {} } } },
        ])
    );
    assert_eq!(
        chat["tool_choice"],
        json!({ "type": "function", "function": { "name": short } })
    );
    assert_eq!(
        chat["messages"][0]["tool_calls"][0]["function"]["name"],
        json!(short)
    );
    assert_eq!(chat["parallel_tool_calls"], false);

    for (choice, expected) in [
        (json!("none"), json!("none")),
        (json!("required"), json!("required")),
        (
            json!({ "type": "allowed_tools", "mode": "required", "tools": [] }),
            json!("required"),
        ),
    ] {
        let chat = translate(
            json!({ "model": "m", "input": "x", "tools": [weather_tool()],
                                     "tool_choice": choice }),
        );
        assert_eq!(chat["tool_choice"], expected);
    }
    // A hosted tool's choice goes with the tool; no tools, no choice.
    let chat = translate(
        json!({ "model": "m", "input": "x", "tools": [weather_tool()],
                                 "tool_choice": { "type": "web_search_preview" } }),
    );
    assert_eq!(chat.get("tool_choice"), None);
    let chat = translate(
        json!({ "model": "m", "input": "x", "tools": [{ "type": "web_search" }],
                                 "tool_choice": "required", "parallel_tool_calls": true }),
    );
    assert_eq!((chat.get("tools"), chat.get("tool_choice")), (None, None));
    assert_eq!(chat.get("parallel_tool_calls"), None);
}

#[test]
fn sampling_limits_format_and_user() {
    let limited = RequestOptions {
        max_output_tokens: Some(8192),
        stream_usage: false,
        ..opts()
    };
    let body = json!({ "model": "m", "input": "x", "max_output_tokens": 100000,
        "temperature": 0.2, "top_p": 0.9, "user": "", "safety_identifier": "u-42",
        "stream": true, "metadata": { "a": "b" }, "truncation": "auto", "service_tier": "flex",
        "background": false, "max_tool_calls": 3, "top_logprobs": 2,
        "text": { "format": { "type": "json_schema", "name": "event", "strict": true,
            "schema": { "type": "object", "properties": { "name": { "type": "string" } } } } } });
    let chat = translate_with(body, &limited);
    assert_eq!(chat["max_tokens"], 8192, "clamped");
    assert_eq!(chat["temperature"], 0.2);
    assert_eq!(chat["top_p"], 0.9);
    assert_eq!(chat["user"], "u-42");
    assert_eq!(chat["stream"], true);
    assert_eq!(chat.get("stream_options"), None, "not asked for");
    assert_eq!(
        chat["response_format"],
        json!({ "type": "json_schema", "json_schema": { "name": "event", "strict": true,
            "schema": { "type": "object", "properties": { "name": { "type": "string" } } } } })
    );
    for dropped in [
        "metadata",
        "truncation",
        "service_tier",
        "background",
        "max_tool_calls",
        "top_logprobs",
        "safety_identifier",
    ] {
        assert_eq!(chat.get(dropped), None, "{dropped}");
    }
    let chat = translate_with(
        json!({ "model": "m", "input": "x", "max_output_tokens": 50 }),
        &limited,
    );
    assert_eq!(chat["max_tokens"], 50);
    let chat = translate_with(json!({ "model": "m", "input": "x" }), &limited);
    assert_eq!(chat["max_tokens"], 8192, "the limit when none was asked");
    let chat = translate(
        json!({ "model": "m", "input": "x", "text": { "format": { "type": "json_object" } } }),
    );
    assert_eq!(chat["response_format"], json!({ "type": "json_object" }));
    assert_eq!(chat.get("max_tokens"), None);
    let chat =
        translate(json!({ "model": "m", "input": "x", "text": { "format": { "type": "text" } } }));
    assert_eq!(chat.get("response_format"), None);
}

fn completion(message: Value, finish: &str) -> Vec<u8> {
    json!({
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }],
        "usage": { "prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
            "prompt_tokens_details": { "cached_tokens": 1024, "audio_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 12, "audio_tokens": 0 } }
    })
    .to_string()
    .into_bytes()
}

fn reply(body: &[u8]) -> Value {
    let out = response(body, "gpt-5-codex", &[], 1741570283).expect("translates");
    serde_json::from_slice(&out).expect("json")
}

#[test]
fn a_text_completion_becomes_a_completed_response() {
    let body = completion(
        json!({ "role": "assistant", "content": "The image shows a wooden boardwalk.", "refusal": null }),
        "stop",
    );
    let response = reply(&body);
    let id = "resp_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG";
    assert_eq!(response["id"], id);
    assert_eq!(response["object"], "response");
    assert_eq!(response["created_at"], 1741570283);
    assert_eq!(response["model"], "gpt-5-codex");
    assert_eq!(response["status"], "completed");
    assert_eq!(response["incomplete_details"], Value::Null);
    assert_eq!(response["error"], Value::Null);
    assert_eq!(
        response["output"],
        json!([{ "id": "msg_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG_0", "type": "message",
                 "status": "completed", "role": "assistant",
                 "content": [{ "type": "output_text", "text": "The image shows a wooden boardwalk.",
                               "annotations": [], "logprobs": [] }] }])
    );
    assert_eq!(
        response["usage"],
        json!({ "input_tokens": 1117,
                "input_tokens_details": { "cached_tokens": 1024, "cache_write_tokens": 0 },
                "output_tokens": 46, "output_tokens_details": { "reasoning_tokens": 12 },
                "total_tokens": 1163 })
    );
    for required in [
        "parallel_tool_calls",
        "tool_choice",
        "tools",
        "metadata",
        "text",
    ] {
        assert!(response.get(required).is_some(), "{required}");
    }
}

#[test]
fn reasoning_and_tool_calls_become_items_in_order() {
    let body = completion(
        json!({ "role": "assistant", "content": null, "reasoning_content": "User wants weather.",
                "tool_calls": [
                    { "id": "call_1", "type": "function",
                      "function": { "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" } },
                    { "type": "function", "function": { "name": "short_x", "arguments": "" } },
                    { "type": "function", "function": { "arguments": "{}" } } ] }),
        "tool_calls",
    );
    let names = vec![("short_x".to_string(), "a_long_original_name".to_string())];
    let out = response(&body, "m", &names, 1).expect("translates");
    let response: Value = serde_json::from_slice(&out).expect("json");
    let tail = "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG";
    assert_eq!(
        response["output"],
        json!([
            { "id": format!("rs_{tail}_0"), "type": "reasoning",
              "summary": [{ "type": "summary_text", "text": "User wants weather." }] },
            { "id": format!("fc_{tail}_1"), "type": "function_call", "status": "completed",
              "call_id": "call_1", "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" },
            { "id": format!("fc_{tail}_2"), "type": "function_call", "status": "completed",
              "call_id": format!("call_{tail}_2"), "name": "a_long_original_name", "arguments": "{}" },
        ])
    );
    assert_eq!(response["status"], "completed");
}

#[test]
fn length_and_content_filter_leave_the_response_incomplete() {
    for (finish, reason) in [
        ("length", "max_output_tokens"),
        ("content_filter", "content_filter"),
    ] {
        let response = reply(&completion(
            json!({ "role": "assistant", "content": "Once upon" }),
            finish,
        ));
        assert_eq!(response["status"], "incomplete");
        assert_eq!(response["incomplete_details"], json!({ "reason": reason }));
        assert_eq!(response["output"][0]["status"], "incomplete");
    }
    let refused = reply(&completion(
        json!({ "role": "assistant", "content": null, "refusal": "I can't help with that." }),
        "stop",
    ));
    assert_eq!(
        refused["output"][0]["content"][0]["text"],
        "I can't help with that."
    );
}

#[test]
fn a_reply_that_is_not_a_completion_is_a_bad_reply() {
    for body in [&b"nope"[..], b"[]", b"{\"choices\":[]}", b"{}"] {
        let e = response(body, "m", &[], 0).expect_err("bad");
        assert!(matches!(e, TranslateError::BadReply(_)), "{e:?}");
        assert_eq!(e.status(), 502);
    }
    // No usage, no content: still a valid, empty Response.
    let empty = reply(
        &json!({ "choices": [{ "message": {}, "finish_reason": "stop" }] })
            .to_string()
            .into_bytes(),
    );
    assert_eq!(empty["output"], json!([]));
    assert!(empty["id"].as_str().expect("id").starts_with("resp_"));
    assert_eq!(empty["usage"]["total_tokens"], 0);
}

#[test]
fn a_codex_turn_chains_on_to_anthropic_and_gemini() {
    let opts = RequestOptions {
        reasoning: true,
        ..opts()
    };
    let chat = request(codex_request().to_string().as_bytes(), &opts).expect("chat");
    let anthropic =
        crate::dialect::chat_to_anthropic::request(&chat.body, &opts).expect("anthropic");
    let anthropic: Value = serde_json::from_slice(&anthropic.body).expect("json");
    assert!(anthropic["system"].to_string().contains("You are Codex"));
    let roles: Vec<&str> = (anthropic["messages"].as_array().expect("messages").iter())
        .map(|m| m["role"].as_str().expect("role"))
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "user"],
        "merged turns, tool results as user"
    );
    assert_eq!(anthropic["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(
        anthropic["messages"][2]["content"][0]["tool_use_id"],
        "call_a"
    );

    let gemini = crate::dialect::chat_to_gemini::request(&chat.body, &opts).expect("gemini");
    let gemini: Value = serde_json::from_slice(&gemini.body).expect("json");
    assert!(gemini["systemInstruction"]
        .to_string()
        .contains("You are Codex"));
    let response = &gemini["contents"]
        .as_array()
        .expect("contents")
        .last()
        .expect("last")["parts"];
    assert_eq!(response[0]["functionResponse"]["name"], "exec_command");
}
