use super::*;
use crate::dialect::translate::StreamTranslator;
use serde_json::json;

const MODEL: &str = "gpt-5-codex";

fn chunk(delta: Value) -> Value {
    json!({ "id": "chatcmpl-abc", "object": "chat.completion.chunk", "model": "llama",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": null }] })
}

fn finish(reason: &str) -> Value {
    json!({ "id": "chatcmpl-abc", "object": "chat.completion.chunk", "model": "llama",
            "choices": [{ "index": 0, "delta": {}, "finish_reason": reason }] })
}

fn usage(prompt: u64, completion: u64, cached: u64) -> Value {
    json!({ "id": "chatcmpl-abc", "object": "chat.completion.chunk", "model": "llama",
            "choices": [], "usage": { "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": { "cached_tokens": cached },
            "completion_tokens_details": { "reasoning_tokens": 3 } } })
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
    let mut stream = ChatToResponsesStream::new(MODEL.into(), Vec::new(), 1_700_000_000);
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

const TERMINAL: [&str; 3] = [
    "response.completed",
    "response.incomplete",
    "response.failed",
];

/// The events of a Responses stream, checked against the rules clients
/// rely on: framing, `type` = event name, `sequence_number` 0, 1, 2…, one
/// terminal event and last, items opened and closed one at a time with
/// deltas only for the open one, and a final Response whose output is
/// exactly the items that were done.
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
    let mut open: Option<(u64, String, String)> = None;
    let mut done_items: Vec<Value> = Vec::new();
    for (at, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], at, "sequence numbers count from 0");
        let last = at + 1 == events.len();
        assert_eq!(
            TERMINAL.contains(&name.as_str()),
            last,
            "{name} at {at} of {}",
            events.len()
        );
        let index = data["output_index"].as_u64();
        let item_id = data["item_id"].as_str().map(str::to_string);
        match name.as_str() {
            "response.created" => assert_eq!(at, 0),
            "response.in_progress" => assert_eq!(at, 1),
            "response.output_item.added" => {
                assert!(open.is_none(), "one item open at a time");
                assert_eq!(index, Some(done_items.len() as u64), "indices increase");
                let item = &data["item"];
                assert_ne!(item["status"], "completed");
                let kind = item["type"].as_str().expect("type").to_string();
                open = Some((
                    done_items.len() as u64,
                    item["id"].as_str().expect("id").into(),
                    kind,
                ));
            }
            "response.output_item.done" => {
                let (open_index, id, kind) = open.take().expect("done for an added item");
                assert_eq!(index, Some(open_index));
                assert_eq!(data["item"]["id"], id.as_str());
                assert_eq!(data["item"]["type"], kind.as_str());
                done_items.push(data["item"].clone());
            }
            "response.failed" => {
                assert_eq!(data["response"]["status"], "failed");
                assert!(data["response"]["error"]["message"].is_string());
                assert_eq!(data["response"]["output"], Value::Array(done_items.clone()));
            }
            "response.completed" | "response.incomplete" => {
                assert!(open.is_none(), "items closed before the end");
                assert_eq!(data["response"]["output"], Value::Array(done_items.clone()));
                let status = name.trim_start_matches("response.");
                assert_eq!(data["response"]["status"], status);
            }
            _ => {
                let (open_index, id, kind) = open.clone().expect("an event for an open item");
                assert_eq!(index, Some(open_index), "{name} for the open item");
                assert_eq!(item_id.as_deref(), Some(id.as_str()));
                let fits = match kind.as_str() {
                    "message" => name.contains("output_text") || name.contains("content_part"),
                    "reasoning" => name.contains("reasoning_summary"),
                    _ => name.contains("function_call_arguments"),
                };
                assert!(fits, "{name} in a {kind} item");
            }
        }
    }
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

/// The last event's Response.
fn final_response(events: &[(String, Value)]) -> &Value {
    &events.last().expect("an event").1["response"]
}

fn text_stream() -> Vec<u8> {
    sse(&[
        chunk(json!({ "role": "assistant", "content": "" })),
        chunk(json!({ "content": "Hi" })),
        chunk(json!({ "content": " wörld ✓" })),
        finish("stop"),
        usage(12, 2, 4),
    ])
}

#[test]
fn a_text_stream_becomes_the_documented_event_sequence() {
    let out = translate(&text_stream());
    let events = events(&out);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let created = &events[0].1["response"];
    assert_eq!(created["id"], "resp_chatcmpl-abc");
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["model"], MODEL);
    assert_eq!(created["created_at"], 1_700_000_000);
    assert_eq!(created["output"], json!([]));
    let item = "msg_chatcmpl-abc_0";
    assert_eq!(
        events[2].1,
        json!({ "type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                "item": { "id": item, "type": "message", "status": "in_progress",
                          "role": "assistant", "content": [] } })
    );
    assert_eq!(
        events[3].1,
        json!({ "type": "response.content_part.added", "sequence_number": 3, "item_id": item,
                "output_index": 0, "content_index": 0,
                "part": { "type": "output_text", "text": "", "annotations": [], "logprobs": [] } })
    );
    assert_eq!(
        events[4].1,
        json!({ "type": "response.output_text.delta", "sequence_number": 4, "item_id": item,
                "output_index": 0, "content_index": 0, "delta": "Hi", "logprobs": [] })
    );
    assert_eq!(events[6].1["text"], "Hi wörld ✓");
    assert_eq!(events[7].1["part"]["text"], "Hi wörld ✓");
    let message = json!({ "id": item, "type": "message", "status": "completed", "role": "assistant",
        "content": [{ "type": "output_text", "text": "Hi wörld ✓", "annotations": [], "logprobs": [] }] });
    assert_eq!(events[8].1["item"], message);
    let response = final_response(&events);
    assert_eq!(response["output"], json!([message]));
    assert_eq!(
        response["usage"],
        json!({ "input_tokens": 12, "input_tokens_details": { "cached_tokens": 4, "cache_write_tokens": 0 },
                "output_tokens": 2, "output_tokens_details": { "reasoning_tokens": 3 },
                "total_tokens": 14 })
    );
    assert_eq!(response["incomplete_details"], Value::Null);
}

fn tool_stream() -> Vec<u8> {
    sse(&[
        chunk(json!({ "role": "assistant", "content": null })),
        tool(0, Some("call_1"), Some("exec_command"), ""),
        tool(0, None, None, "{\"cm"),
        tool(0, None, None, "d\": \"ls\"}"),
        finish("tool_calls"),
        usage(50, 9, 0),
    ])
}

#[test]
fn a_tool_call_streams_its_arguments_in_a_function_call_item() {
    let out = translate(&tool_stream());
    let events = events(&out);
    assert_eq!(
        names(&events)[2..],
        [
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let item = "fc_chatcmpl-abc_0";
    assert_eq!(
        events[2].1["item"],
        json!({ "id": item, "type": "function_call", "status": "in_progress", "arguments": "",
                "call_id": "call_1", "name": "exec_command" })
    );
    assert_eq!(
        events[5].1,
        json!({ "type": "response.function_call_arguments.done", "sequence_number": 5,
                "item_id": item, "output_index": 0, "arguments": "{\"cmd\": \"ls\"}",
                "name": "exec_command" })
    );
    let call = json!({ "id": item, "type": "function_call", "status": "completed",
        "arguments": "{\"cmd\": \"ls\"}", "call_id": "call_1", "name": "exec_command" });
    assert_eq!(events[6].1["item"], call);
    assert_eq!(final_response(&events)["output"], json!([call]));
    assert_eq!(final_response(&events)["status"], "completed");
}

/// The `(call_id, name, arguments)` of every function call in the end.
fn calls(events: &[(String, Value)]) -> Vec<(String, String, String)> {
    let output = final_response(events)["output"]
        .as_array()
        .expect("output")
        .clone();
    output
        .iter()
        .filter(|item| item["type"] == "function_call")
        .map(|item| {
            let field = |k: &str| item[k].as_str().expect("string").to_string();
            (field("call_id"), field("name"), field("arguments"))
        })
        .collect()
}

fn args_first_stream() -> Vec<u8> {
    sse(&[
        chunk(json!({ "content": "Let me look." })),
        tool(0, None, None, "{\"path\":"),
        tool(0, None, None, " \"/tmp\"}"),
        tool(0, Some("call:9"), Some("read"), ""),
        finish("stop"),
        usage(5, 5, 0),
    ])
}

fn interleaved_stream() -> Vec<u8> {
    sse(&[
        tool(0, Some("call_a"), Some("read"), "{\"path\":"),
        tool(1, Some("call_b"), Some("write"), "{\"path\":"),
        tool(1, None, None, "\"b\"}"),
        tool(0, None, None, "\"a\"}"),
        tool(2, Some("call_a"), Some("read"), ""),
        // Never named: nothing can be made of it.
        tool(3, Some("call_lost"), None, "{\"x\":1}"),
        finish("tool_calls"),
    ])
}

#[test]
fn held_interleaved_and_odd_calls_still_come_out_whole() {
    let first = events(&translate(&args_first_stream()));
    let output = &final_response(&first)["output"];
    assert_eq!(output[0]["content"][0]["text"], "Let me look.");
    let call =
        |id: &str, name: &str, args: &str| (id.to_string(), name.to_string(), args.to_string());
    assert_eq!(
        calls(&first),
        [call("call:9", "read", "{\"path\": \"/tmp\"}")]
    );

    let interleaved = events(&translate(&interleaved_stream()));
    assert_eq!(
        calls(&interleaved),
        [
            call("call_a", "read", "{\"path\":\"a\"}"),
            call("call_b", "write", "{\"path\":\"b\"}"),
            // A repeated upstream id is made unique; no arguments are `{}`.
            call("call_chatcmpl-abc_2", "read", "{}"),
        ]
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
fn reasoning_streams_as_a_summary_before_the_message() {
    let events = events(&translate(&reasoning_stream()));
    assert_eq!(
        names(&events)[2..9],
        [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
        ]
    );
    assert_eq!(
        events[4].1,
        json!({ "type": "response.reasoning_summary_text.delta", "sequence_number": 4,
                "item_id": "rs_chatcmpl-abc_0", "output_index": 0, "summary_index": 0,
                "delta": "Think" })
    );
    let output = &final_response(&events)["output"];
    assert_eq!(
        output[0],
        json!({ "id": "rs_chatcmpl-abc_0", "type": "reasoning",
                "summary": [{ "type": "summary_text", "text": "Thinking…" }] })
    );
    assert_eq!(output[1]["content"][0]["text"], "Answer");
    assert_eq!(output[1]["id"], "msg_chatcmpl-abc_1");
}

fn length_stream() -> Vec<u8> {
    // A provider faking a stream: everything in one chunk.
    let mut all = chunk(json!({ "role": "assistant", "content": "Once upon a" }));
    all["choices"][0]["finish_reason"] = json!("length");
    all["usage"] = json!({ "prompt_tokens": 7, "completion_tokens": 3 });
    sse(&[all])
}

#[test]
fn a_cut_answer_ends_with_response_incomplete() {
    let events = events(&translate(&length_stream()));
    let (name, data) = events.last().expect("event");
    assert_eq!(name, "response.incomplete");
    assert_eq!(
        data["response"]["incomplete_details"],
        json!({ "reason": "max_output_tokens" })
    );
    assert_eq!(data["response"]["output"][0]["status"], "incomplete");
    assert_eq!(data["response"]["usage"]["output_tokens"], 3);
}

#[test]
fn usage_is_exact_and_a_stream_without_it_has_none() {
    let mut stream = ChatToResponsesStream::new(MODEL.into(), Vec::new(), 0);
    let mut out = Vec::new();
    stream.feed(
        &sse(&[
            chunk(json!({ "content": "x" })),
            finish("stop"),
            usage(1000, 50, 800),
        ]),
        &mut out,
    );
    let usage = stream.usage().expect("usage");
    assert_eq!(
        (usage.prompt, usage.completion, usage.cached),
        (1000, 50, 800)
    );
    // Finish and usage both known: the stream ended before `[DONE]`.
    assert_eq!(events(&out).last().expect("event").0, "response.completed");

    let out = translate(
        format!(
            "data: {}\n\ndata: {}",
            chunk(json!({ "content": "hi" })),
            finish("stop")
        )
        .as_bytes(),
    );
    let events = events(&out);
    assert_eq!(
        final_response(&events)["usage"],
        Value::Null,
        "unknown, not zero"
    );
    assert_eq!(
        final_response(&events)["output"][0]["content"][0]["text"],
        "hi"
    );
}

#[test]
fn a_shortened_tool_name_is_restored() {
    let long = format!("mcp__server__{}", "x".repeat(80));
    let short = crate::dialect::anthropic::short_tool_name(&long);
    let body = sse(&[
        tool(0, Some("call_1"), Some(&short), "{}"),
        finish("tool_calls"),
    ]);
    let mut stream = ChatToResponsesStream::new(MODEL.into(), vec![(short, long.clone())], 0);
    let mut out = Vec::new();
    stream.feed(&body, &mut out);
    stream.finish(&mut out);
    let events = events(&out);
    assert_eq!(events[2].1["item"]["name"], json!(long));
    assert_eq!(calls(&events)[0].1, long);
}

#[test]
fn an_empty_stream_is_still_a_completed_response_and_finish_is_once() {
    let mut stream = ChatToResponsesStream::new(MODEL.into(), Vec::new(), 0);
    let mut out = Vec::new();
    stream.finish(&mut out);
    let once = out.clone();
    stream.finish(&mut out);
    stream.feed(&text_stream(), &mut out);
    stream.fail("late", &mut out);
    assert_eq!(out, once, "nothing after the end");
    let events = events(&out);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.completed"
        ]
    );
    assert!(events[0].1["response"]["id"]
        .as_str()
        .expect("id")
        .starts_with("resp_"));
}

#[test]
fn fail_mid_stream_writes_one_response_failed_and_nothing_else() {
    let body = sse(&[chunk(json!({ "content": "par" }))]);
    let body = &body[..body.len() - b"data: [DONE]\n\n".len()];
    let mut stream = ChatToResponsesStream::new(MODEL.into(), Vec::new(), 0);
    let mut out = Vec::new();
    stream.feed(body, &mut out);
    stream.fail("upstream reset", &mut out);
    stream.fail("again", &mut out);
    stream.finish(&mut out);
    let events = events(&out);
    let (name, data) = events.last().expect("event");
    assert_eq!(name, "response.failed");
    assert_eq!(
        data["response"]["error"],
        json!({ "code": "server_error", "message": "upstream reset" })
    );
    assert_eq!(
        events.len(),
        6,
        "created, in_progress, added, part, delta, failed"
    );
    assert_eq!(stream.usage(), None);
}

#[test]
fn upstream_errors_become_response_failed_with_a_code_clients_act_on() {
    let error = json!({ "error": { "message": "Rate limit reached. Please try again in 2s.",
                                   "type": "rate_limit_exceeded", "code": "429" } });
    let body = format!(
        "data: {}\n\ndata: {error}\n\n",
        chunk(json!({ "content": "a" }))
    );
    let failed = events(&translate(body.as_bytes()));
    assert_eq!(
        final_response(&failed)["error"],
        json!({ "code": "rate_limit_exceeded", "message": "Rate limit reached. Please try again in 2s." })
    );
    let named =
        b"event: error\ndata: {\"message\":\"too long\",\"code\":\"context_length_exceeded\"}\n\n";
    let events = events(&translate(named));
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    assert_eq!(
        final_response(&events)["error"]["code"],
        "context_length_exceeded"
    );
}

#[test]
fn an_oversized_event_fails_the_response_whatever_the_split() {
    let mut body = format!("data: {}\n\n", chunk(json!({ "content": "a" }))).into_bytes();
    body.extend_from_slice(b"data: \"");
    body.extend(std::iter::repeat_n(b'x', MAX_EVENT));
    let whole = translate(&body);
    assert_eq!(translate_pieces(body.chunks(64 * 1024)), whole);
    let events = events(&whole);
    let error = &final_response(&events)["error"];
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("larger"),
        "{error}"
    );
}

fn crlf_stream() -> Vec<u8> {
    let mut body = b": keep-alive\r\n\r\nhello there\r\n\r\ndata: not json\r\n\r\n".to_vec();
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
fn crlf_comments_and_garbage_are_read_or_skipped() {
    let events = events(&translate(&crlf_stream()));
    assert_eq!(
        final_response(&events)["output"][0]["content"][0]["text"],
        "ab"
    );
}

/// A tiny seeded PRNG (xorshift64): random splits without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn all_streams() -> [Vec<u8>; 7] {
    [
        text_stream(),
        tool_stream(),
        args_first_stream(),
        interleaved_stream(),
        reasoning_stream(),
        length_stream(),
        crlf_stream(),
    ]
}

#[test]
fn every_split_of_every_stream_gives_the_same_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for body in &all_streams() {
        let whole = translate(body);
        events(&whole);
        assert_eq!(translate_pieces(body.chunks(1)), whole, "byte by byte");
        for at in 0..=body.len() {
            let (a, b) = body.split_at(at);
            assert_eq!(translate_pieces([a, b]), whole, "split at {at}");
        }
        for _ in 0..50 {
            let mut pieces = Vec::new();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let (piece, tail) = rest.split_at(1 + rng.below(rest.len().min(40)));
                pieces.push(piece);
                rest = tail;
            }
            assert_eq!(translate_pieces(pieces), whole, "random split");
        }
    }
}

#[test]
fn any_mix_of_upstream_events_keeps_the_responses_rules() {
    let mut frames: Vec<Vec<u8>> = all_streams()
        .iter()
        .flat_map(|body| {
            let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
            let frames: Vec<Vec<u8>> = text.split("\n\n").map(|f| f.as_bytes().to_vec()).collect();
            frames
        })
        .filter(|frame| !frame.is_empty() && !frame.ends_with(b"[DONE]"))
        .collect();
    frames.push(b"event: error\ndata: {\"message\":\"boom\"}".to_vec());
    frames.push(format!("data: {}", tool(5, None, Some("late"), "{\"a\":")).into_bytes());
    let mut rng = Rng(7);
    for round in 0..500 {
        let mut body = Vec::new();
        for _ in 0..rng.below(16) {
            body.extend_from_slice(&frames[rng.below(frames.len())]);
            body.extend_from_slice(b"\n\n");
        }
        let mut stream = ChatToResponsesStream::new(MODEL.into(), Vec::new(), 0);
        let mut out = Vec::new();
        for piece in body.chunks(1 + rng.below(7)) {
            stream.feed(piece, &mut out);
        }
        // Some rounds break off: the upstream failed mid-stream.
        if round % 5 == 0 {
            stream.fail("cut", &mut out);
        }
        stream.finish(&mut out);
        let seen = events(&out);
        let terminal = seen
            .iter()
            .filter(|(n, _)| TERMINAL.contains(&n.as_str()))
            .count();
        assert_eq!(terminal, 1, "exactly one terminal event");
        if round % 5 != 0 {
            // The same events whatever the split (ids may be fresh ones).
            let again = translate(&body);
            assert_eq!(names(&events(&again)), names(&seen));
        }
    }
}

#[test]
fn an_anthropic_stream_chained_through_chat_reaches_a_responses_client() {
    use crate::dialect::anthropic_stream_to_chat::AnthropicToChatStream;
    let upstream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"exec_command\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"cmd\\\":\\\"ls\\\"}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":7}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let mut first = AnthropicToChatStream::new(MODEL.into(), Vec::new(), true, 0);
    let mut second = ChatToResponsesStream::new(MODEL.into(), Vec::new(), 0);
    let (mut between, mut out) = (Vec::new(), Vec::new());
    for byte in upstream.as_bytes() {
        between.clear();
        StreamTranslator::feed(&mut first, std::slice::from_ref(byte), &mut between);
        second.feed(&between, &mut out);
    }
    between.clear();
    StreamTranslator::finish(&mut first, &mut between);
    second.feed(&between, &mut out);
    second.finish(&mut out);
    let events = events(&out);
    assert_eq!(
        calls(&events),
        [(
            "toolu_1".into(),
            "exec_command".into(),
            "{\"cmd\":\"ls\"}".into()
        )]
    );
    let usage = &final_response(&events)["usage"];
    assert_eq!(
        (
            usage["input_tokens"].as_u64(),
            usage["output_tokens"].as_u64()
        ),
        (Some(10), Some(7))
    );
}

#[test]
fn text_chunks_read_the_quick_way_give_the_same_events_as_the_general_way() {
    let stream = |extra: &str| {
        let mut t = ChatToResponsesStream::new("m".into(), Vec::new(), 7);
        let mut out = Vec::new();
        for (i, piece) in ["Hel", "", "lo", " world"].iter().enumerate() {
            let chunk = format!(
                "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"{piece}\"{extra}}},\"finish_reason\":null}}]}}\n\n"
            );
            t.feed(chunk.as_bytes(), &mut out);
            assert!(!t.done, "chunk {i}");
        }
        t.feed(b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\ndata: [DONE]\n\n", &mut out);
        t.finish(&mut out);
        String::from_utf8(out).expect("utf8")
    };
    // `"tool_calls": null` means nothing, but sends the chunk the general way.
    let quick = stream("");
    let general = stream(",\"tool_calls\":null");
    assert_eq!(quick, general);
    assert!(quick.contains("response.completed"));
}
