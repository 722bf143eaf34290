use super::*;
use crate::dialect::test_support::{random_split, Rng};
use serde_json::json;

const MODEL: &str = "claude-sonnet-4-6";

fn chunk(delta: Value) -> Value {
    json!({ "id": "chatcmpl-abc", "object": "chat.completion.chunk", "model": "gpt-4o",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": null }] })
}

fn finish(reason: &str) -> Value {
    json!({ "id": "chatcmpl-abc", "object": "chat.completion.chunk", "model": "gpt-4o",
            "choices": [{ "index": 0, "delta": {}, "finish_reason": reason }] })
}

fn usage(prompt: u64, completion: u64, cached: u64) -> Value {
    json!({ "id": "chatcmpl-abc", "object": "chat.completion.chunk", "model": "gpt-4o",
            "choices": [], "usage": { "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": { "cached_tokens": cached } } })
}

fn tool(index: u64, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
    let mut function = json!({ "arguments": args });
    if let Some(name) = name {
        function["name"] = json!(name);
    }
    let mut call = json!({ "index": index, "type": "function", "function": function });
    if let Some(id) = id {
        call["id"] = json!(id);
    }
    chunk(json!({ "tool_calls": [call] }))
}

/// An upstream SSE body: each chunk as `data: …`, then `[DONE]`.
fn sse(chunks: &[Value]) -> Vec<u8> {
    let mut body = Vec::new();
    for chunk in chunks {
        body.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
    }
    body.extend_from_slice(b"data: [DONE]\n\n");
    body
}

fn translate_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut stream = ChatToAnthropicStream::new(MODEL.into(), Vec::new());
    let mut out = Vec::new();
    for piece in pieces {
        stream.feed(piece, &mut out);
    }
    stream.finish(&mut out);
    out
}

fn translate(body: &[u8]) -> Vec<u8> {
    translate_pieces([body])
}

/// The events of an Anthropic stream, checked against the rules every
/// client relies on.
fn events(out: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(out).expect("utf-8");
    assert!(text.ends_with("\n\n"), "framed: {text}");
    let events: Vec<(String, Value)> = text
        .trim_end_matches("\n\n")
        .split("\n\n")
        .map(|frame| {
            let (name, data) = frame.split_once('\n').expect("two lines");
            let name = name.strip_prefix("event: ").expect("event line");
            let data = data.strip_prefix("data: ").expect("data line");
            let data: Value = serde_json::from_str(data).expect("json");
            assert_eq!(data["type"], name, "event name matches type");
            (name.to_string(), data)
        })
        .collect();
    check_order(&events);
    events
}

fn check_order(events: &[(String, Value)]) {
    let mut next_index = 0;
    let mut open: Option<(u64, String)> = None;
    for (at, (name, data)) in events.iter().enumerate() {
        let last = at + 1 == events.len();
        let index = data["index"].as_u64();
        match name.as_str() {
            "message_start" => assert_eq!(at, 0, "message_start first"),
            "content_block_start" => {
                assert!(open.is_none(), "one block open at a time");
                assert_eq!(index, Some(next_index), "indices increase");
                next_index += 1;
                let kind = data["content_block"]["type"].as_str().expect("type");
                open = Some((next_index - 1, kind.to_string()));
            }
            "content_block_delta" => {
                let (open_index, kind) = open.clone().expect("delta for a started block");
                assert_eq!(index, Some(open_index), "delta for the open block");
                let delta = data["delta"]["type"].as_str().expect("delta type");
                let fits = match kind.as_str() {
                    "text" => delta == "text_delta",
                    "thinking" => ["thinking_delta", "signature_delta"].contains(&delta),
                    _ => delta == "input_json_delta",
                };
                assert!(fits, "{delta} in a {kind} block");
            }
            "content_block_stop" => {
                let (open_index, kind) = open.take().expect("stop for a started block");
                assert_eq!(index, Some(open_index));
                if kind == "thinking" {
                    assert_eq!(events[at - 1].1["delta"]["type"], "signature_delta");
                }
            }
            "message_delta" => {
                assert!(open.is_none(), "blocks closed before message_delta");
                assert_eq!(events[at + 1].0, "message_stop");
            }
            "message_stop" | "error" => assert!(last, "{name} is last"),
            other => panic!("unexpected event {other}"),
        }
    }
}

/// The content blocks a client would assemble from the events.
fn content(events: &[(String, Value)]) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    let mut json = String::new();
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                blocks.push(data["content_block"].clone());
                json.clear();
            }
            "content_block_delta" => {
                let block = blocks.last_mut().expect("block");
                let delta = &data["delta"];
                for (from, to) in [("text", "text"), ("thinking", "thinking")] {
                    if let Some(more) = delta[from].as_str() {
                        let so_far = block[to].as_str().unwrap_or_default().to_string();
                        block[to] = json!(so_far + more);
                    }
                }
                if let Some(signature) = delta["signature"].as_str() {
                    block["signature"] = json!(signature);
                }
                json.push_str(delta["partial_json"].as_str().unwrap_or_default());
            }
            "content_block_stop" if !json.is_empty() => {
                let block = blocks.last_mut().expect("block");
                block["input"] = serde_json::from_str(&json).expect("json");
            }
            _ => {}
        }
    }
    Value::Array(blocks)
}

fn message_delta(events: &[(String, Value)]) -> &Value {
    let found = events.iter().find(|(name, _)| name == "message_delta");
    &found.expect("message_delta").1
}

fn text_stream() -> Vec<u8> {
    sse(&[
        chunk(json!({ "role": "assistant", "content": "" })),
        chunk(json!({ "content": "Hello" })),
        chunk(json!({ "content": " wörld ✓" })),
        finish("stop"),
        usage(12, 2, 0),
    ])
}

#[test]
fn a_text_stream_becomes_anthropic_events_byte_for_byte() {
    let usage_zero = r#"{"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"input_tokens":0,"output_tokens":0}"#;
    let expected = format!(
        "event: message_start\n\
         data: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_chatcmpl-abc\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{MODEL}\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{usage_zero}}}}}\n\n\
         event: content_block_start\n\
         data: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
         event: content_block_delta\n\
         data: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"Hello\"}}}}\n\n\
         event: content_block_delta\n\
         data: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\" wörld ✓\"}}}}\n\n\
         event: content_block_stop\n\
         data: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n\
         event: message_delta\n\
         data: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"input_tokens\":12,\"output_tokens\":2}}}}\n\n\
         event: message_stop\n\
         data: {{\"type\":\"message_stop\"}}\n\n"
    );
    let out = translate(&text_stream());
    assert_eq!(String::from_utf8_lossy(&out), expected);
    events(&out);
}

fn tool_stream() -> Vec<u8> {
    sse(&[
        chunk(json!({ "role": "assistant", "content": null })),
        tool(0, Some("call_1"), Some("Bash"), ""),
        tool(0, None, None, "{\"comm"),
        tool(0, None, None, "and\": \"ec"),
        tool(0, None, None, "ho hi\"}"),
        finish("tool_calls"),
        usage(50, 9, 0),
    ])
}

#[test]
fn a_tool_call_streams_its_arguments_in_its_own_block() {
    let out = translate(&tool_stream());
    let events = events(&out);
    assert_eq!(
        content(&events),
        json!([{ "type": "tool_use", "id": "call_1", "name": "Bash",
                 "input": { "command": "echo hi" } }])
    );
    let deltas = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .count();
    assert_eq!(deltas, 3, "arguments stream as they come");
    assert_eq!(message_delta(&events)["delta"]["stop_reason"], "tool_use");
}

fn args_first_stream() -> Vec<u8> {
    sse(&[
        chunk(json!({ "content": "Let me look." })),
        tool(0, None, None, "{\"path\":"),
        tool(0, None, None, " \"/tmp\"}"),
        tool(0, Some("call:9"), Some("Read"), ""),
        finish("stop"),
        usage(5, 5, 0),
    ])
}

#[test]
fn arguments_before_the_name_are_held_until_the_block_can_start() {
    let out = translate(&args_first_stream());
    let events = events(&out);
    assert_eq!(
        content(&events),
        json!([{ "type": "text", "text": "Let me look." },
               { "type": "tool_use", "id": "call_9", "name": "Read", "input": { "path": "/tmp" } }])
    );
    // The upstream said `stop` on a tool turn: the client must still run it.
    assert_eq!(message_delta(&events)["delta"]["stop_reason"], "tool_use");
}

fn parallel_stream() -> Vec<u8> {
    sse(&[
        tool(0, Some("call_a"), Some("Read"), "{\"path\":"),
        tool(0, None, None, "\"a\"}"),
        tool(1, Some("call_b"), Some("Read"), ""),
        tool(1, None, None, "{\"path\":\"b\"}"),
        finish("tool_calls"),
    ])
}

fn interleaved_stream() -> Vec<u8> {
    sse(&[
        tool(0, Some("call_a"), Some("Read"), "{\"path\":"),
        tool(1, Some("call_b"), Some("Write"), "{\"path\":"),
        tool(1, None, None, "\"b\"}"),
        tool(0, None, None, "\"a\"}"),
        tool(2, Some("call_a"), Some("Read"), "{}"),
        finish("tool_calls"),
    ])
}

#[test]
fn parallel_tool_calls_get_sequential_blocks_even_when_interleaved() {
    let expected = json!([
        { "type": "tool_use", "id": "call_a", "name": "Read", "input": { "path": "a" } },
        { "type": "tool_use", "id": "call_b", "name": "Read", "input": { "path": "b" } },
    ]);
    assert_eq!(content(&events(&translate(&parallel_stream()))), expected);

    let out = translate(&interleaved_stream());
    let events = events(&out);
    assert_eq!(
        content(&events),
        json!([
            { "type": "tool_use", "id": "call_a", "name": "Read", "input": { "path": "a" } },
            { "type": "tool_use", "id": "call_b", "name": "Write", "input": { "path": "b" } },
            // A repeated upstream id is made unique within the message.
            { "type": "tool_use", "id": "call_a_2", "name": "Read", "input": {} },
        ])
    );
}

#[test]
fn odd_tool_calls_still_make_valid_blocks() {
    let mut last = finish("tool_calls");
    last["x_groq"] = json!({ "usage": { "prompt_tokens": 4, "completion_tokens": 2 } });
    let body = sse(&[
        // No id and no arguments at all.
        tool(0, None, Some("ListAgents"), ""),
        // Never named: nothing can be started for it.
        tool(1, Some("call_lost"), None, "{\"x\":1}"),
        last,
    ]);
    let mut stream = ChatToAnthropicStream::new(MODEL.into(), Vec::new());
    let mut out = Vec::new();
    stream.feed(&body, &mut out);
    let events = events(&out);
    assert_eq!(
        content(&events),
        json!([{ "type": "tool_use", "id": "toolu_chatcmpl-abc_0", "name": "ListAgents",
                 "input": {} }])
    );
    assert_eq!(
        message_delta(&events)["usage"]["input_tokens"],
        4,
        "Groq's usage"
    );
    assert_eq!(
        stream.stop_reason(),
        Some("tool_use"),
        "ended before [DONE]"
    );
}

fn reasoning_stream() -> Vec<u8> {
    sse(&[
        chunk(json!({ "role": "assistant", "reasoning_content": "Think", "content": "" })),
        chunk(json!({ "reasoning_content": "ing…", "reasoning": "ing…" })),
        chunk(json!({ "content": "Answer" })),
        finish("stop"),
        usage(3, 4, 0),
    ])
}

#[test]
fn reasoning_becomes_a_signed_thinking_block_closed_before_the_text() {
    let out = translate(&reasoning_stream());
    let events = events(&out);
    assert_eq!(
        content(&events),
        json!([{ "type": "thinking", "thinking": "Thinking…", "signature": UNSIGNED_THINKING },
               { "type": "text", "text": "Answer" }])
    );
}

fn combined_stream() -> Vec<u8> {
    // A provider faking a stream: everything in one chunk.
    let mut all = chunk(
        json!({ "role": "assistant", "content": "Done.", "tool_calls": [
        { "index": 0, "id": "call_x", "type": "function",
          "function": { "name": "Bash", "arguments": "{\"command\":\"ls\"}" } }] }),
    );
    all["choices"][0]["finish_reason"] = json!("tool_calls");
    all["usage"] = json!({ "prompt_tokens": 7, "completion_tokens": 3 });
    sse(&[all])
}

#[test]
fn a_chunk_with_content_and_finish_is_content_then_finish() {
    let out = translate(&combined_stream());
    let events = events(&out);
    assert_eq!(
        content(&events),
        json!([{ "type": "text", "text": "Done." },
               { "type": "tool_use", "id": "call_x", "name": "Bash", "input": { "command": "ls" } }])
    );
    let end = message_delta(&events);
    assert_eq!(end["delta"]["stop_reason"], "tool_use");
    assert_eq!(end["usage"]["output_tokens"], 3);
    let start = &events[0].1["message"]["usage"];
    assert_eq!(
        start["input_tokens"], 7,
        "known prompt tokens in message_start"
    );
}

#[test]
fn cached_tokens_move_out_of_input_tokens() {
    let body = sse(&[
        chunk(json!({ "content": "x" })),
        finish("length"),
        usage(1000, 50, 800),
    ]);
    let mut stream = ChatToAnthropicStream::new(MODEL.into(), Vec::new());
    let mut out = Vec::new();
    stream.feed(&body, &mut out);
    stream.finish(&mut out);
    let end = message_delta(&events(&out)).clone();
    assert_eq!(end["delta"]["stop_reason"], "max_tokens");
    assert_eq!(
        end["usage"],
        json!({ "input_tokens": 200, "output_tokens": 50,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 800 })
    );
    let usage = stream.usage().expect("usage");
    assert_eq!(
        (usage.prompt, usage.completion, usage.cached),
        (1000, 50, 800)
    );
    assert_eq!(stream.stop_reason(), Some("max_tokens"));
}

fn crlf_stream() -> Vec<u8> {
    let mut body = b": keep-alive comment\r\n\r\n".to_vec();
    for chunk in [
        chunk(json!({ "content": "a" })),
        chunk(json!({ "content": "b" })),
    ] {
        body.extend_from_slice(format!("data:{chunk}\r\n\r\n").as_bytes());
    }
    body.extend_from_slice(
        format!("data: {}\r\n\r\ndata: [DONE]\r\n\r\n", finish("stop")).as_bytes(),
    );
    body
}

#[test]
fn crlf_framing_comments_and_data_without_a_space_are_read() {
    let out = translate(&crlf_stream());
    let events = events(&out);
    assert_eq!(content(&events), json!([{ "type": "text", "text": "ab" }]));
    assert_eq!(message_delta(&events)["delta"]["stop_reason"], "end_turn");
}

#[test]
fn a_shortened_tool_name_is_restored() {
    let long = format!("mcp__server__{}", "x".repeat(80));
    let short = crate::dialect::anthropic::short_tool_name(&long);
    let body = sse(&[
        tool(0, Some("call_1"), Some(&short), "{}"),
        finish("tool_calls"),
    ]);
    let mut stream = ChatToAnthropicStream::new(MODEL.into(), vec![(short.clone(), long.clone())]);
    let mut out = Vec::new();
    stream.feed(&body, &mut out);
    stream.finish(&mut out);
    let blocks = content(&events(&out));
    assert_eq!(blocks[0]["name"], json!(long));
}

fn garbage_stream() -> Vec<u8> {
    let mut body = b"hello there\n\ndata: not json\n\nid: 7\nretry: 10\n\n".to_vec();
    body.extend_from_slice(&sse(&[chunk(json!({ "content": "ok" })), finish("stop")]));
    body
}

#[test]
fn garbage_lines_and_non_json_data_are_skipped() {
    let out = translate(&garbage_stream());
    assert_eq!(
        content(&events(&out)),
        json!([{ "type": "text", "text": "ok" }])
    );
}

#[test]
fn without_done_the_stream_ends_at_eof_even_mid_event() {
    // No `[DONE]`, and the last event lacks its blank line.
    let body = format!(
        "data: {}\n\ndata: {}",
        chunk(json!({ "content": "hi" })),
        finish("stop")
    );
    let out = translate(body.as_bytes());
    let events = events(&out);
    assert_eq!(content(&events), json!([{ "type": "text", "text": "hi" }]));
    assert_eq!(events.last().expect("event").0, "message_stop");
    let zeros = json!({ "input_tokens": 0, "output_tokens": 0,
                        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 });
    assert_eq!(
        message_delta(&events)["usage"],
        zeros,
        "no usage: zeros, all present"
    );
}

#[test]
fn finish_is_written_once_and_an_empty_stream_is_still_a_message() {
    let mut stream = ChatToAnthropicStream::new(MODEL.into(), Vec::new());
    let mut out = Vec::new();
    stream.finish(&mut out);
    let once = out.clone();
    stream.finish(&mut out);
    stream.feed(&text_stream(), &mut out);
    stream.fail("late", &mut out);
    assert_eq!(out, once, "nothing after the end");
    let events = events(&out);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
    assert!(events[0].1["message"]["id"]
        .as_str()
        .expect("id")
        .starts_with("msg_"));
}

#[test]
fn fail_mid_stream_writes_one_anthropic_error_and_nothing_else() {
    let body = sse(&[chunk(json!({ "content": "par" }))]);
    let body = &body[..body.len() - b"data: [DONE]\n\n".len()];
    let mut stream = ChatToAnthropicStream::new(MODEL.into(), Vec::new());
    let mut out = Vec::new();
    stream.feed(body, &mut out);
    stream.fail("upstream reset", &mut out);
    stream.fail("again", &mut out);
    stream.finish(&mut out);
    let events = events(&out);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        events[3].1,
        json!({ "type": "error", "error": { "type": "api_error", "message": "upstream reset" } })
    );
    assert_eq!(stream.stop_reason(), None);
}

#[test]
fn an_upstream_error_event_becomes_an_anthropic_error() {
    let error = json!({ "error": { "message": "Rate limit reached", "type": "rate_limit_exceeded",
                                   "code": "429" } });
    let body = format!(
        "data: {}\n\ndata: {error}\n\n",
        chunk(json!({ "content": "a" }))
    );
    let translated = events(&translate(body.as_bytes()));
    assert_eq!(
        translated.last().expect("event").1,
        json!({ "type": "error", "error": { "type": "rate_limit_error",
                                            "message": "Rate limit reached" } })
    );
    let named = b"event: error\ndata: {\"message\":\"boom\"}\n\n";
    let translated = events(&translate(named));
    assert_eq!(
        translated[0].1["error"],
        json!({ "type": "api_error", "message": "boom" })
    );
}

#[test]
fn an_oversized_event_is_an_error_whatever_the_split() {
    let mut body = format!("data: {}\n\n", chunk(json!({ "content": "a" }))).into_bytes();
    body.extend_from_slice(b"data: \"");
    body.extend(std::iter::repeat_n(b'x', MAX_EVENT));
    let whole = translate(&body);
    let split = translate_pieces(body.chunks(64 * 1024));
    assert_eq!(whole, split);
    let events = events(&whole);
    let last = &events.last().expect("event").1;
    assert_eq!(last["error"]["type"], "api_error");
    assert!(last["error"]["message"]
        .as_str()
        .expect("message")
        .contains("larger"));
}

fn all_streams() -> [Vec<u8>; 9] {
    [
        text_stream(),
        tool_stream(),
        args_first_stream(),
        parallel_stream(),
        interleaved_stream(),
        reasoning_stream(),
        combined_stream(),
        crlf_stream(),
        garbage_stream(),
    ]
}

#[test]
fn every_split_of_every_stream_gives_the_same_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for body in &all_streams() {
        let whole = translate(body);
        events(&whole);
        assert_eq!(translate_pieces(body.chunks(1)), whole, "byte by byte");
        for _ in 0..50 {
            let pieces = random_split(body, &mut rng);
            assert_eq!(translate_pieces(pieces), whole, "random split");
        }
    }
}

#[test]
fn any_mix_of_upstream_events_keeps_the_anthropic_rules() {
    let events_of_all: Vec<Vec<u8>> = all_streams()
        .iter()
        .flat_map(|body| {
            let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
            let frames: Vec<Vec<u8>> = text.split("\n\n").map(|f| f.as_bytes().to_vec()).collect();
            frames
        })
        .filter(|frame| !frame.is_empty() && !frame.ends_with(b"[DONE]"))
        .collect();
    let mut rng = Rng(7);
    for _ in 0..500 {
        // A fixed first chunk: the message id is the upstream's, not fresh.
        let mut body = format!("data: {}\n\n", chunk(json!({ "role": "assistant" }))).into_bytes();
        for _ in 0..rng.below(16) {
            body.extend_from_slice(&events_of_all[rng.below(events_of_all.len())]);
            body.extend_from_slice(b"\n\n");
        }
        let out = translate(&body);
        events(&out);
        assert_eq!(translate_pieces(body.chunks(1 + rng.below(7))), out);
    }
}
