use super::parts::MEDIA_OMITTED;
use super::*;
use crate::dialect::anthropic_to_chat;
use crate::dialect::gemini::{split_signature, SIGNATURE_SEPARATOR};
use crate::dialect::test_support::translate_request;

const MODEL: &str = "gemini-3-pro-preview";
/// Thought signatures as Gemini sends them: standard base64 with `+`, `/`
/// and padding, so that the carrier's re-spelling is exercised.
const SIG_A: &str = "CiQBjz1r+/++EjT+/wA+P/vvmQECAwQFBgcICRAREhMUFRYXGA==";
const SIG_B: &str = "EjQKMgE+/Hj//nR0cHM6Ly9nZW1pbmn7/wECAwQFBgcICQ==";

fn opts() -> RequestOptions {
    RequestOptions {
        model: MODEL.into(),
        max_output_tokens: Some(65536),
        stream_usage: false,
        reasoning: true,
    }
}

fn translate(body: &Value) -> Value {
    translate_with(body, &opts()).0
}

fn translate_with(body: &Value, opts: &RequestOptions) -> (Value, Vec<(String, String)>) {
    translate_request(request, body, opts)
}

fn reply(body: &Value) -> Value {
    reply_names(body, &[])
}

fn reply_names(body: &Value, names: &[(String, String)]) -> Value {
    let out = response(
        body.to_string().as_bytes(),
        "my-model",
        names,
        1_700_000_000,
    )
    .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// The weather tool of OpenAI's function calling guide.
fn weather_tool() -> Value {
    json!({ "type": "function", "function": {
        "name": "get_weather",
        "description": "Get current temperature for a given location.",
        "parameters": {
            "type": "object",
            "properties": { "location": { "type": "string", "description": "City and country e.g. Bogotá, Colombia" } },
            "required": ["location"],
            "additionalProperties": false
        },
        "strict": true
    } })
}

#[test]
fn a_plain_request_maps_roles_and_sampling_fields() {
    let body = json!({
        "model": "gpt-4o", "stream": true, "stream_options": { "include_usage": true },
        "messages": [
            { "role": "system", "content": "You are a cat. Your name is Neko." },
            { "role": "developer", "content": [{ "type": "text", "text": "Answer briefly." }] },
            { "role": "user", "content": "Hello there" },
            { "role": "assistant", "content": "Meow.", "reasoning_content": "dropped" },
            { "role": "user", "content": "How are you?" },
            { "role": "user", "content": [{ "type": "text", "text": "Really?" }] }
        ],
        "max_tokens": 100_000, "temperature": 0.7, "top_p": 0.9, "seed": 42,
        "presence_penalty": 0.5, "frequency_penalty": -0.5, "n": 1,
        "stop": ["a", "b", "c", "d", "e", "f"], "user": "u1", "logprobs": true
    });
    assert_eq!(
        translate(&body),
        json!({
            "systemInstruction": { "parts": [
                { "text": "You are a cat. Your name is Neko." }, { "text": "Answer briefly." }
            ] },
            "contents": [
                { "role": "user", "parts": [{ "text": "Hello there" }] },
                { "role": "model", "parts": [{ "text": "Meow." }] },
                { "role": "user", "parts": [{ "text": "How are you?" }, { "text": "Really?" }] }
            ],
            "generationConfig": {
                "maxOutputTokens": 65536, "temperature": 0.7, "topP": 0.9, "seed": 42,
                "presencePenalty": 0.5, "frequencyPenalty": -0.5, "candidateCount": 1,
                "stopSequences": ["a", "b", "c", "d", "e"]
            }
        })
    );
    // Nothing set: no generationConfig at all; `n` above 1 is dropped.
    let bare = json!({ "messages": [{ "role": "user", "content": "hi" }], "n": 3 });
    assert_eq!(
        translate(&bare),
        json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] })
    );
}

#[test]
fn tools_and_tool_choice_become_declarations_and_calling_config() {
    let body = |choice: Value| {
        json!({ "messages": [{ "role": "user", "content": "Weather in Paris?" }],
                "tools": [weather_tool(), { "type": "custom", "custom": { "name": "x" } }],
                "tool_choice": choice })
    };
    let out = translate(&body(json!("auto")));
    assert_eq!(
        out["tools"],
        json!([{ "functionDeclarations": [{
            "name": "get_weather",
            "description": "Get current temperature for a given location.",
            "parametersJsonSchema": {
                "type": "object",
                "properties": { "location": { "type": "string", "description": "City and country e.g. Bogotá, Colombia" } },
                "required": ["location"],
                "additionalProperties": false
            }
        }] }])
    );
    let mode = |choice| translate(&body(choice))["toolConfig"]["functionCallingConfig"].clone();
    assert_eq!(
        out["toolConfig"]["functionCallingConfig"],
        json!({ "mode": "AUTO" })
    );
    assert_eq!(mode(json!("none")), json!({ "mode": "NONE" }));
    assert_eq!(mode(json!("required")), json!({ "mode": "ANY" }));
    assert_eq!(
        mode(json!({ "type": "function", "function": { "name": "get_weather" } })),
        json!({ "mode": "ANY", "allowedFunctionNames": ["get_weather"] })
    );
    // No function tools: neither tools nor a choice among none.
    let none = json!({ "messages": [{ "role": "user", "content": "hi" }], "tools": [],
                       "tool_choice": "auto" });
    let out = translate(&none);
    assert!(out.get("tools").is_none() && out.get("toolConfig").is_none());
}

#[test]
fn a_claude_code_schema_goes_as_json_schema_without_its_meta_keyword() {
    let body = json!({ "messages": [{ "role": "user", "content": "ls" }], "tools": [{
        "type": "function", "function": { "name": "Bash", "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": { "command": { "type": "string" }, "timeout": { "type": "number" } },
            "required": ["command"], "additionalProperties": false
        } } }, { "type": "function", "function": { "name": "NoArgs" } }] });
    let declarations = translate(&body)["tools"][0]["functionDeclarations"].clone();
    let schema = &declarations[0]["parametersJsonSchema"];
    assert!(schema.get("$schema").is_none());
    assert_eq!(schema["additionalProperties"], false);
    assert!(declarations[0].get("parameters").is_none());
    assert_eq!(
        declarations[1],
        json!({ "name": "NoArgs" }),
        "no parameters: left unset"
    );
}

#[test]
fn long_or_odd_tool_names_are_rewritten_and_restored_in_the_reply() {
    let long = "mcp__a_server_with_a_rather_long_name__and_a_tool_whose_name_goes_on_and_on";
    let body = json!({
        "messages": [
            { "role": "user", "content": "go" },
            { "role": "assistant", "tool_calls": [{ "id": "call_1", "type": "function",
              "function": { "name": long, "arguments": "{}" } }] },
            { "role": "tool", "tool_call_id": "call_1", "content": "done" }
        ],
        "tools": [{ "type": "function", "function": { "name": long } }],
        "tool_choice": { "type": "function", "function": { "name": long } }
    });
    let (out, names) = translate_with(&body, &opts());
    let short = out["tools"][0]["functionDeclarations"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(short.len(), 64);
    assert_eq!(names, vec![(short.clone(), long.to_string())]);
    assert_eq!(
        out["contents"][1]["parts"][0]["functionCall"]["name"],
        short
    );
    assert_eq!(
        out["contents"][2]["parts"][0]["functionResponse"]["name"],
        short
    );
    assert_eq!(
        out["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"][0],
        short
    );
    let gemini = json!({ "candidates": [{ "content": { "role": "model", "parts": [
        { "functionCall": { "name": short, "args": {} } }] }, "finishReason": "STOP" }] });
    let chat = reply_names(&gemini, &names);
    assert_eq!(
        chat["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        long
    );
}

#[test]
fn tool_history_becomes_function_calls_and_one_user_content_of_responses() {
    let first = join(SIG_A);
    let body = json!({
        "messages": [
            { "role": "user", "content": "Weather in Paris and London?" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": first, "type": "function",
                  "function": { "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" } },
                { "id": "call_2", "type": "function",
                  "function": { "name": "get_weather", "arguments": "{\"location\":\"London\"}" } }
            ] },
            { "role": "tool", "tool_call_id": first, "content": "{\"temperature\":14,\"unit\":\"C\"}" },
            { "role": "tool", "tool_call_id": "call_2", "content": [{ "type": "text", "text": "9 degrees" }] }
        ],
        "tools": [weather_tool()]
    });
    assert_eq!(
        translate(&body)["contents"],
        json!([
            { "role": "user", "parts": [{ "text": "Weather in Paris and London?" }] },
            { "role": "model", "parts": [
                { "functionCall": { "name": "get_weather", "args": { "location": "Paris" } },
                  "thoughtSignature": SIG_A },
                { "functionCall": { "name": "get_weather", "args": { "location": "London" } } }
            ] },
            { "role": "user", "parts": [
                { "functionResponse": { "name": "get_weather",
                  "response": { "temperature": 14, "unit": "C" } } },
                { "functionResponse": { "name": "get_weather",
                  "response": { "output": "9 degrees" } } }
            ] }
        ])
    );
}

fn join(signature: &str) -> String {
    crate::dialect::gemini::join_signature("call_0_abc", signature)
}

/// Google's sequential example: check_flight, then book_taxi, in one turn;
/// every step's call carries its own signature.
#[test]
fn every_step_of_the_current_turn_keeps_or_gets_a_signature() {
    let call = |id: &str, name: &str, args: &str| {
        json!({ "role": "assistant", "tool_calls": [{ "id": id, "type": "function",
                "function": { "name": name, "arguments": args } }] })
    };
    let result =
        |id: &str, content: &str| json!({ "role": "tool", "tool_call_id": id, "content": content });
    let a = crate::dialect::gemini::join_signature("call_a", SIG_A);
    let b = crate::dialect::gemini::join_signature("call_b", SIG_B);
    let body = json!({ "messages": [
        { "role": "user", "content": "earlier question" },
        call("old_1", "lookup", "{}"),
        result("old_1", "old answer"),
        { "role": "assistant", "content": "earlier answer" },
        { "role": "user", "content": "Check flight AA100 and book a taxi if delayed" },
        call(&a, "check_flight", "{\"flight\":\"AA100\"}"),
        result(&a, "{\"status\":\"delayed\"}"),
        call(&b, "book_taxi", "{\"time\":\"10 AM\"}"),
        result(&b, "{\"booking_status\":\"success\"}"),
        call("from_another_model", "check_flight", "{}"),
        result("from_another_model", "x")
    ] });
    let contents = translate(&body)["contents"].clone();
    let signature = |i: usize| contents[i]["parts"][0]["thoughtSignature"].clone();
    assert_eq!(
        signature(1),
        Value::Null,
        "an older turn is not validated: as it was"
    );
    assert_eq!(signature(5), SIG_A);
    assert_eq!(signature(7), SIG_B);
    assert_eq!(
        signature(9),
        SKIP_SIGNATURE,
        "a step with no signature gets the skip one"
    );
    assert_eq!(
        contents[4]["parts"][0]["text"],
        "Check flight AA100 and book a taxi if delayed"
    );
}

#[test]
fn gemini_s_own_openai_carrier_is_read_and_wins() {
    let body = json!({ "messages": [
        { "role": "user", "content": "go" },
        { "role": "assistant", "tool_calls": [{ "id": join(SIG_B), "type": "function",
          "function": { "name": "f", "arguments": "not json" },
          "extra_content": { "google": { "thought_signature": SIG_A } } }] },
        { "role": "tool", "tool_call_id": join(SIG_B), "content": "ok" }
    ] });
    let part = translate(&body)["contents"][1]["parts"][0].clone();
    assert_eq!(part["thoughtSignature"], SIG_A);
    assert_eq!(
        part["functionCall"]["args"],
        json!({}),
        "arguments not JSON: {{}}"
    );
}

#[test]
fn a_result_for_an_unknown_call_becomes_user_text() {
    let body = json!({ "messages": [
        { "role": "user", "content": "go" },
        { "role": "tool", "tool_call_id": "call_lost", "content": "42" }
    ] });
    assert_eq!(
        translate(&body)["contents"],
        json!([{ "role": "user", "parts": [
            { "text": "go" }, { "text": "[result of tool call call_lost]\n42" }
        ] }])
    );
}

#[test]
fn images_audio_and_files_become_inline_or_file_data() {
    let body = json!({ "messages": [{ "role": "user", "content": [
        { "type": "text", "text": "What is in these?" },
        { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
        { "type": "image_url", "image_url": { "url": "https://upload.wikimedia.org/a/b/Gfp-wisconsin.jpg?x=1", "detail": "high" } },
        { "type": "image_url", "image_url": { "url": "https://example.com/cat.webp" } },
        { "type": "input_audio", "input_audio": { "data": "UklGRg==", "format": "wav" } },
        { "type": "file", "file": { "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf" } },
        { "type": "file", "file": { "file_id": "file-abc" } },
        { "type": "refusal", "refusal": "dropped" }
    ] }] });
    assert_eq!(
        translate(&body)["contents"][0]["parts"],
        json!([
            { "text": "What is in these?" },
            { "inlineData": { "mimeType": "image/png", "data": "iVBORw0KGgo=" } },
            { "fileData": { "mimeType": "image/jpeg", "fileUri": "https://upload.wikimedia.org/a/b/Gfp-wisconsin.jpg?x=1" } },
            { "fileData": { "mimeType": "image/webp", "fileUri": "https://example.com/cat.webp" } },
            { "inlineData": { "mimeType": "audio/wav", "data": "UklGRg==" } },
            { "inlineData": { "mimeType": "application/pdf", "data": "JVBERi0=" } },
            { "text": MEDIA_OMITTED }
        ])
    );
}

#[test]
fn response_formats_and_reasoning_effort_fill_generation_config() {
    let body = json!({ "messages": [{ "role": "user", "content": "hi" }],
        "response_format": { "type": "json_schema", "json_schema": { "name": "r", "strict": true,
            "schema": { "$schema": "x", "type": "object", "properties": { "a": { "type": "string" } } } } },
        "reasoning_effort": "high", "max_completion_tokens": 500, "max_tokens": 9 });
    assert_eq!(
        translate(&body)["generationConfig"],
        json!({
            "maxOutputTokens": 500,
            "responseMimeType": "application/json",
            "responseJsonSchema": { "type": "object", "properties": { "a": { "type": "string" } } },
            "thinkingConfig": { "includeThoughts": true, "thinkingLevel": "high" }
        })
    );
    let mut older = opts();
    older.model = "gemini-2.5-flash".into();
    let (out, _) = translate_with(&body, &older);
    assert_eq!(
        out["generationConfig"]["thinkingConfig"],
        json!({ "includeThoughts": true, "thinkingBudget": 24576 })
    );
    let mut plain = opts();
    plain.reasoning = false;
    let (out, _) = translate_with(&body, &plain);
    assert!(out["generationConfig"].get("thinkingConfig").is_none());
    let json_object = json!({ "messages": [{ "role": "user", "content": "hi" }],
                              "response_format": { "type": "json_object" } });
    assert_eq!(
        translate(&json_object)["generationConfig"],
        json!({ "responseMimeType": "application/json" })
    );
}

#[test]
fn bad_requests_are_the_client_s_fault() {
    let err = |body: &[u8]| request(body, &opts()).unwrap_err();
    assert!(matches!(err(b"{"), TranslateError::NotJson(_)));
    assert_eq!(err(b"[]"), TranslateError::NotObject);
    assert_eq!(err(b"{}"), TranslateError::NoMessages);
    assert_eq!(err(br#"{"messages":[]}"#), TranslateError::NoMessages);
    let bad = |message: Value| {
        let body = json!({ "messages": [{ "role": "user", "content": "x" }, message] });
        match err(body.to_string().as_bytes()) {
            TranslateError::BadMessage { index: 1, problem } => problem,
            other => panic!("{other:?}"),
        }
    };
    bad(json!({ "role": "robot", "content": "x" }));
    bad(json!({ "content": "x" }));
    bad(json!({ "role": "user", "content": 5 }));
    bad(json!({ "role": "user" }));
    bad(json!({ "role": "tool", "content": "x" }));
    bad(json!({ "role": "assistant", "tool_calls": {} }));
    bad(json!({ "role": "assistant", "tool_calls": [{ "id": "c", "function": {} }] }));
    assert_eq!(
        err(br#"{"messages":[{"role":"user","content":7}]}"#).status(),
        400
    );
}

// The reply.

/// The text generation example of Google's API reference.
#[test]
fn a_text_reply_becomes_a_chat_completion() {
    let gemini = json!({
        "candidates": [{
            "content": { "parts": [{ "text": "Once upon a time, " }, { "text": "in a land far away..." }],
                         "role": "model" },
            "finishReason": "STOP", "avgLogprobs": -0.26, "index": 0
        }],
        "usageMetadata": {
            "promptTokenCount": 8, "candidatesTokenCount": 421, "totalTokenCount": 429,
            "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 8 }],
            "candidatesTokensDetails": [{ "modality": "TEXT", "tokenCount": 421 }]
        },
        "modelVersion": "gemini-2.0-flash",
        "responseId": "mAitaLmkHPPlz7IPvtfUqQ4"
    });
    assert_eq!(
        reply(&gemini),
        json!({
            "id": "chatcmpl-mAitaLmkHPPlz7IPvtfUqQ4",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "my-model",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": "Once upon a time, in a land far away..." },
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 8, "completion_tokens": 421, "total_tokens": 429,
                "prompt_tokens_details": { "cached_tokens": 0 },
                "completion_tokens_details": { "reasoning_tokens": 0 }
            }
        })
    );
}

/// The function calling example of Google's guide (schedule_meeting).
#[test]
fn a_function_call_reply_becomes_tool_calls() {
    let gemini = json!({
        "candidates": [{
            "content": { "role": "model", "parts": [{
                "functionCall": { "name": "schedule_meeting", "args": {
                    "attendees": ["Bob", "Alice"], "date": "2025-03-27", "time": "10:00",
                    "topic": "Q3 planning" } },
                "thoughtSignature": SIG_A
            }] },
            "finishReason": "STOP", "index": 0
        }],
        "usageMetadata": { "promptTokenCount": 111, "candidatesTokenCount": 40,
                           "thoughtsTokenCount": 60, "totalTokenCount": 211 }
    });
    let chat = reply(&gemini);
    let choice = &chat["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "Gemini said STOP");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "schedule_meeting");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["attendees"], json!(["Bob", "Alice"]));
    let id = call["id"].as_str().unwrap();
    assert!(
        id.starts_with("call_") && id.contains(SIGNATURE_SEPARATOR),
        "{id}"
    );
    assert_eq!(split_signature(id).1.as_deref(), Some(SIG_A));
    assert_eq!(call["extra_content"]["google"]["thought_signature"], SIG_A);
    assert_eq!(chat["usage"]["completion_tokens"], 100);
    assert_eq!(chat["usage"]["total_tokens"], 211);
    assert_eq!(
        chat["usage"]["completion_tokens_details"]["reasoning_tokens"],
        60
    );
}

#[test]
fn parallel_calls_get_distinct_ids_and_only_the_first_a_signature() {
    let gemini = json!({ "candidates": [{ "content": { "role": "model", "parts": [
        { "text": "Checking both." },
        { "functionCall": { "name": "get_weather", "args": { "location": "Paris" } }, "thoughtSignature": SIG_A },
        { "functionCall": { "name": "get_weather", "args": { "location": "London" } } }
    ] }, "finishReason": "STOP" }] });
    let chat = reply(&gemini);
    let message = &chat["choices"][0]["message"];
    assert_eq!(message["content"], "Checking both.");
    let calls = message["tool_calls"].as_array().unwrap();
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(split_signature(calls[1]["id"].as_str().unwrap()).1, None);
    assert!(calls[1].get("extra_content").is_none());
}

#[test]
fn thoughts_become_reasoning_content() {
    let gemini = json!({ "candidates": [{ "content": { "role": "model", "parts": [
        { "text": "**Weighing the options**\nThe user wants...", "thought": true },
        { "text": "Paris.", "thoughtSignature": SIG_B }
    ] }, "finishReason": "STOP" }],
    "usageMetadata": { "promptTokenCount": 10, "candidatesTokenCount": 2, "thoughtsTokenCount": 50,
                       "cachedContentTokenCount": 4, "totalTokenCount": 62 } });
    let chat = reply(&gemini);
    let message = &chat["choices"][0]["message"];
    assert_eq!(message["content"], "Paris.");
    assert_eq!(
        message["reasoning_content"],
        "**Weighing the options**\nThe user wants..."
    );
    assert_eq!(
        chat["usage"],
        json!({ "prompt_tokens": 10, "completion_tokens": 52, "total_tokens": 62,
                "prompt_tokens_details": { "cached_tokens": 4 },
                "completion_tokens_details": { "reasoning_tokens": 50 } })
    );
}

#[test]
fn blocked_prompts_and_filtered_answers_are_content_filter() {
    let blocked = json!({ "promptFeedback": { "blockReason": "SAFETY", "safetyRatings": [
        { "category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH" }] },
        "usageMetadata": { "promptTokenCount": 8, "totalTokenCount": 8 } });
    let chat = reply(&blocked);
    assert_eq!(chat["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(chat["choices"][0]["message"]["content"], "");
    assert_eq!(chat["usage"]["prompt_tokens"], 8);
    let finish = |reason: &str| {
        let gemini = json!({ "candidates": [{ "content": { "role": "model", "parts": [{ "text": "x" }] },
                                              "finishReason": reason }] });
        reply(&gemini)["choices"][0]["finish_reason"].clone()
    };
    assert_eq!(finish("SAFETY"), "content_filter");
    assert_eq!(finish("MAX_TOKENS"), "length");
    // A candidate without content (filtered before any text) is still a reply.
    let empty = json!({ "candidates": [{ "finishReason": "RECITATION", "index": 0 }] });
    assert_eq!(reply(&empty)["choices"][0]["message"]["content"], "");
}

#[test]
fn what_is_not_a_gemini_reply_is_the_upstream_s_fault() {
    let bad = |body: &[u8]| response(body, "m", &[], 0).unwrap_err();
    for body in [
        &b"nope"[..],
        b"[]",
        b"{}",
        br#"{"error":{"code":500}}"#,
        br#"{"choices":[]}"#,
    ] {
        let err = bad(body);
        assert!(matches!(err, TranslateError::BadReply(_)), "{err:?}");
        assert_eq!(err.status(), 502);
    }
}

// Signatures through whole conversations.

fn gemini_call_reply() -> Value {
    json!({ "candidates": [{ "content": { "role": "model", "parts": [
        { "functionCall": { "name": "get_weather", "args": { "location": "Paris" } }, "thoughtSignature": SIG_A },
        { "functionCall": { "name": "get_weather", "args": { "location": "London" } } }
    ] }, "finishReason": "STOP" }],
    "usageMetadata": { "promptTokenCount": 20, "candidatesTokenCount": 10, "totalTokenCount": 30 } })
}

#[test]
fn a_signature_survives_an_openai_shaped_history() {
    let chat = reply(&gemini_call_reply());
    let assistant = chat["choices"][0]["message"].clone();
    // A client that keeps only what OpenAI defines: no extra_content.
    let mut stripped = assistant.clone();
    for call in stripped["tool_calls"].as_array_mut().unwrap() {
        call.as_object_mut().unwrap().remove("extra_content");
    }
    for history in [assistant, stripped] {
        let ids: Vec<String> = history["tool_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        let body = json!({ "messages": [
            { "role": "user", "content": "Weather in Paris and London?" },
            history,
            { "role": "tool", "tool_call_id": ids[0], "content": "14C" },
            { "role": "tool", "tool_call_id": ids[1], "content": "9C" }
        ], "tools": [weather_tool()] });
        let contents = translate(&body)["contents"].clone();
        assert_eq!(
            contents[1]["parts"][0]["thoughtSignature"], SIG_A,
            "exactly as received"
        );
        assert!(contents[1]["parts"][1].get("thoughtSignature").is_none());
        let responses = contents[2]["parts"].as_array().unwrap();
        assert_eq!(responses.len(), 2);
        assert!(responses
            .iter()
            .all(|r| r["functionResponse"]["name"] == "get_weather"));
    }
}

#[test]
fn a_signature_survives_an_anthropic_shaped_history() {
    // Gemini → chat completion → Anthropic message, as Claude Code sees it.
    let chat = reply(&gemini_call_reply());
    let message =
        anthropic_to_chat::response(chat.to_string().as_bytes(), "claude-x", &[]).unwrap();
    let message: Value = serde_json::from_slice(&message).unwrap();
    let uses: Vec<Value> = message["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .cloned()
        .collect();
    assert_eq!(uses.len(), 2);
    assert_eq!(message["stop_reason"], "tool_use");
    let first = uses[0]["id"].as_str().unwrap();
    assert_eq!(
        split_signature(first).1.as_deref(),
        Some(SIG_A),
        "tool_id kept the carrier"
    );
    // Claude Code's next request: the history with the results.
    let anthropic = json!({
        "model": "claude-x", "max_tokens": 32000,
        "messages": [
            { "role": "user", "content": "Weather in Paris and London?" },
            { "role": "assistant", "content": message["content"] },
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": uses[0]["id"], "content": "14C" },
                { "type": "tool_result", "tool_use_id": uses[1]["id"], "content": [{ "type": "text", "text": "9C" }] }
            ] }
        ],
        "tools": [{ "name": "get_weather", "input_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": { "location": { "type": "string" } }, "additionalProperties": false } }]
    });
    let chat_opts = RequestOptions {
        model: MODEL.into(),
        max_output_tokens: None,
        stream_usage: false,
        reasoning: false,
    };
    let chat_req =
        anthropic_to_chat::request(anthropic.to_string().as_bytes(), &chat_opts).unwrap();
    let gemini_req = request(&chat_req.body, &opts()).unwrap();
    let gemini_req: Value = serde_json::from_slice(&gemini_req.body).unwrap();
    let contents = &gemini_req["contents"];
    assert_eq!(contents[1]["role"], "model");
    assert_eq!(contents[1]["parts"][0]["thoughtSignature"], SIG_A);
    assert_eq!(
        contents[1]["parts"][0]["functionCall"]["args"],
        json!({ "location": "Paris" })
    );
    assert!(contents[1]["parts"][1].get("thoughtSignature").is_none());
    assert_eq!(
        contents[2]["parts"][1]["functionResponse"],
        json!({ "name": "get_weather", "response": { "output": "9C" } })
    );
    assert_eq!(gemini_req["generationConfig"]["maxOutputTokens"], 32000);
}
