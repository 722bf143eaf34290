use super::*;
use crate::dialect::anthropic::short_tool_name;
use crate::dialect::sse::MAX_EVENT;
use crate::dialect::test_support::{random_split, Rng};
use serde_json::json;

const MODEL: &str = "gpt-4o";
const CREATED: u64 = 1_700_000_000;

/// Anthropic's basic streaming example (streaming docs), spaces and all.
const TEXT_STREAM: &str = r#"event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1-20250805", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

"#;

/// The streaming docs' tool use example, trimmed to fewer text deltas.
const TOOL_STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-opus-4-1-20250805","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", let's check the weather for San Francisco, CA:"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" Francisc"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"o,"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" CA\""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":", "}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"unit\": \"fah"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"renheit\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

"#;

/// The streaming docs' extended thinking example (no usage at all).
const THINKING_STREAM: &str = r#"event: message_start
data: {"type": "message_start", "message": {"id": "msg_01...", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1-20250805", "stop_reason": null, "stop_sequence": null}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me solve this step by step:\n\n1. First break down 27 * 453"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "\n2. 453 = 400 + 50 + 3"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: content_block_start
data: {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "27 * 453 = 12,231"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 1}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}}

event: message_stop
data: {"type": "message_stop"}

"#;

/// The streaming docs' web search example, its results trimmed: server
/// tool blocks and citations are skipped, the cumulative usage of
/// `message_delta` wins.
const SERVER_TOOL_STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_01G...","type":"message","role":"assistant","model":"claude-opus-4-1-20250805","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":2679,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I'll check"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","name":"web_search","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"weather NYC today\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1 }

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","content":[{"type":"web_search_result","title":"Weather","url":"https://world-weather.info/","encrypted_content":"Ev0DCioIAxgCIiQ3NmU4ZmI4OC1k...","page_age":null}]}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","url":"https://world-weather.info/"}}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":" Sunny, 22C."}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10682,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":510,"server_tool_use":{"web_search_requests":1}}}

event: message_stop
data: {"type":"message_stop"}

"#;

/// Two tool calls after a text block; the second streams no input; cache
/// counts in `message_start`; an event type Anthropic may add later.
const PARALLEL_STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_par","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Both."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"read","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\":\"a\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: future_event
data: {"type":"future_event","what":"ever"}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"list","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":50}}

event: message_stop
data: {"type":"message_stop"}

"#;

const ALL_STREAMS: [&str; 5] = [
    TEXT_STREAM,
    TOOL_STREAM,
    THINKING_STREAM,
    SERVER_TOOL_STREAM,
    PARALLEL_STREAM,
];

fn stream(include_usage: bool) -> AnthropicToChatStream {
    AnthropicToChatStream::new(MODEL.into(), Vec::new(), include_usage, CREATED)
}

fn translate_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut stream = stream(true);
    let mut out = Vec::new();
    for piece in pieces {
        stream.feed(piece, &mut out);
    }
    stream.finish(&mut out);
    out
}

fn translate(body: &str) -> Vec<u8> {
    translate_pieces([body.as_bytes()])
}

/// How a translated stream ended.
#[derive(Debug, PartialEq)]
enum End {
    Done,
    Error(Value),
}

/// The chunks of an OpenAI stream, checked against the rules its clients
/// rely on: `data:` JSON chunks of one completion, the role first, tool
/// call indices 0, 1, 2… each introduced with its id and name, one finish
/// reason, a usage chunk only after it, then `[DONE]` or an error event,
/// last.
fn read(out: &[u8]) -> (Vec<Value>, End) {
    let text = std::str::from_utf8(out).expect("utf-8");
    assert!(text.ends_with("\n\n"), "framed: {text}");
    let frames: Vec<&str> = text.trim_end_matches("\n\n").split("\n\n").collect();
    let (last, frames) = frames.split_last().expect("a frame");
    let end = match last.strip_prefix("event: error\ndata: ") {
        Some(error) => End::Error(serde_json::from_str(error).expect("error json")),
        None => {
            assert_eq!(*last, "data: [DONE]", "[DONE] or an error last");
            End::Done
        }
    };
    let chunks: Vec<Value> = frames
        .iter()
        .map(|frame| {
            let data = frame.strip_prefix("data: ").expect("data line");
            assert!(!data.contains('\n'), "one line per chunk");
            serde_json::from_str(data).expect("chunk json")
        })
        .collect();
    check_rules(&chunks);
    (chunks, end)
}

fn check_rules(chunks: &[Value]) {
    let (mut tools, mut finished, mut usage_seen) = (0, false, false);
    for (at, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], MODEL);
        assert_eq!(chunk["created"], CREATED);
        assert_eq!(chunk["id"], chunks[0]["id"], "one id");
        assert!(!usage_seen, "the usage chunk is the last chunk");
        let choices = chunk["choices"].as_array().expect("choices");
        if choices.is_empty() {
            assert!(finished, "usage after the finish reason");
            assert!(chunk["usage"].is_object());
            usage_seen = true;
            continue;
        }
        let choice = &choices[0];
        assert_eq!(choice["index"], 0);
        let delta = &choice["delta"];
        assert_eq!(
            at == 0,
            delta.get("role").is_some(),
            "role in the first chunk only"
        );
        assert!(!finished, "nothing after the finish reason but usage");
        finished = !choice["finish_reason"].is_null();
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().expect("index");
            if index == tools {
                assert!(call["id"].is_string() && call["function"]["name"].is_string());
                assert_eq!(call["type"], "function");
                tools += 1;
            } else {
                assert!(index < tools, "a call is introduced before its arguments");
                assert!(call.get("id").is_none());
            }
        }
    }
}

/// What a client assembles: content, reasoning, tool calls (id, name,
/// arguments), finish reason, usage.
struct Assembled {
    content: String,
    reasoning: String,
    calls: Vec<(String, String, String)>,
    finish: Value,
    usage: Value,
}

fn assemble(chunks: &[Value]) -> Assembled {
    let mut got = Assembled {
        content: String::new(),
        reasoning: String::new(),
        calls: Vec::new(),
        finish: Value::Null,
        usage: Value::Null,
    };
    for chunk in chunks {
        if let Some(usage) = chunk.get("usage") {
            got.usage = usage.clone();
        }
        let Some(choice) = chunk["choices"].get(0) else {
            continue;
        };
        let delta = &choice["delta"];
        got.content += delta["content"].as_str().unwrap_or_default();
        got.reasoning += delta["reasoning_content"].as_str().unwrap_or_default();
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let function = &call["function"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            match call["id"].as_str() {
                Some(id) => got.calls.push((
                    id.into(),
                    text(&function["name"]),
                    text(&function["arguments"]),
                )),
                None => {
                    got.calls[call["index"].as_u64().unwrap() as usize].2 +=
                        &text(&function["arguments"])
                }
            }
        }
        if !choice["finish_reason"].is_null() {
            got.finish = choice["finish_reason"].clone();
        }
    }
    got
}

#[test]
fn the_basic_streaming_example_becomes_openai_chunks_byte_for_byte() {
    let head = format!(
        r#"{{"id":"chatcmpl-msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","object":"chat.completion.chunk","created":{CREATED},"model":"{MODEL}","choices":"#
    );
    let expected = [
        format!(r#"data: {head}[{{"index":0,"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}]}}"#),
        format!(r#"data: {head}[{{"index":0,"delta":{{"content":"Hello"}},"logprobs":null,"finish_reason":null}}]}}"#),
        format!(r#"data: {head}[{{"index":0,"delta":{{"content":"!"}},"logprobs":null,"finish_reason":null}}]}}"#),
        format!(r#"data: {head}[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"stop"}}]}}"#),
        format!(r#"data: {head}[],"usage":{{"completion_tokens":15,"prompt_tokens":25,"prompt_tokens_details":{{"cached_tokens":0}},"total_tokens":40}}}}"#),
        "data: [DONE]".to_string(),
    ]
    .join("\n\n")
        + "\n\n";
    assert_eq!(String::from_utf8_lossy(&translate(TEXT_STREAM)), expected);
}

#[test]
fn the_tool_use_example_streams_one_call_with_its_arguments() {
    let (chunks, end) = read(&translate(TOOL_STREAM));
    assert_eq!(end, End::Done);
    let got = assemble(&chunks);
    assert_eq!(
        got.content,
        "Okay, let's check the weather for San Francisco, CA:"
    );
    assert_eq!(
        got.calls,
        [(
            "toolu_01T1x1fJ34qAmk2tNTrN7Up6".to_string(),
            "get_weather".to_string(),
            r#"{"location": "San Francisco, CA", "unit": "fahrenheit"}"#.to_string()
        )]
    );
    assert_eq!(got.finish, "tool_calls");
    let start = &chunks[3]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(
        *start,
        json!({ "index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                "function": { "name": "get_weather", "arguments": "" } })
    );
}

#[test]
fn thinking_becomes_reasoning_content_and_signatures_are_dropped() {
    let (chunks, _) = read(&translate(THINKING_STREAM));
    let got = assemble(&chunks);
    assert_eq!(
        got.reasoning,
        "Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3"
    );
    assert_eq!(got.content, "27 * 453 = 12,231");
    assert_eq!(got.finish, "stop");
    assert!(!String::from_utf8_lossy(&translate(THINKING_STREAM)).contains("EqQB"));
    // No usage reported upstream: the client still gets a usage chunk.
    assert_eq!(got.usage["total_tokens"], 0);
}

#[test]
fn server_tools_and_citations_are_skipped_and_the_last_usage_wins() {
    let mut stream = stream(true);
    let mut out = Vec::new();
    stream.feed(SERVER_TOOL_STREAM.as_bytes(), &mut out);
    let (chunks, end) = read(&out);
    assert_eq!(
        end,
        End::Done,
        "message_stop ends the stream without finish()"
    );
    let got = assemble(&chunks);
    assert_eq!(got.content, "I'll check Sunny, 22C.");
    assert!(
        got.calls.is_empty(),
        "a server tool is not the client's to run"
    );
    assert_eq!(got.finish, "stop");
    assert_eq!(got.usage["prompt_tokens"], 10682);
    assert_eq!(got.usage["completion_tokens"], 510);
}

#[test]
fn parallel_calls_are_numbered_from_zero_and_cache_tokens_count_exactly() {
    let mut stream = stream(true);
    let mut out = Vec::new();
    stream.feed(PARALLEL_STREAM.as_bytes(), &mut out);
    stream.finish(&mut out);
    let got = assemble(&read(&out).0);
    assert_eq!(got.content, "Both.", "text in the block start counts");
    assert_eq!(
        got.calls,
        [
            ("toolu_a".into(), "read".into(), r#"{"path":"a"}"#.into()),
            ("toolu_b".into(), "list".into(), "{}".into()),
        ]
    );
    assert_eq!(
        got.usage,
        json!({ "prompt_tokens": 1110, "completion_tokens": 50, "total_tokens": 1160,
                "prompt_tokens_details": { "cached_tokens": 1000, "cache_write_tokens": 100 } })
    );
    assert_eq!(
        stream.usage(),
        Some(ChatUsage {
            prompt: 1110,
            completion: 50,
            cached: 1000,
            cache_write: 100
        })
    );
}

#[test]
fn without_include_usage_there_is_no_usage_chunk_but_usage_is_known() {
    let mut stream = stream(false);
    let mut out = Vec::new();
    assert_eq!(stream.usage(), None, "nothing reported yet");
    stream.feed(TEXT_STREAM.as_bytes(), &mut out);
    let (chunks, _) = read(&out);
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(
        stream.usage(),
        Some(ChatUsage {
            prompt: 25,
            completion: 15,
            cached: 0,
            cache_write: 0
        })
    );
}

#[test]
fn shortened_tool_names_are_restored() {
    let long = format!("mcp__server__{}", "x".repeat(80));
    let short = short_tool_name(&long);
    let body = PARALLEL_STREAM.replace("\"read\"", &format!("\"{short}\""));
    let mut stream =
        AnthropicToChatStream::new(MODEL.into(), vec![(short, long.clone())], false, CREATED);
    let mut out = Vec::new();
    stream.feed(body.as_bytes(), &mut out);
    assert_eq!(assemble(&read(&out).0).calls[0].1, long);
}

#[test]
fn an_upstream_error_event_ends_the_stream_with_an_openai_error() {
    let cut = TEXT_STREAM.find("event: content_block_stop").unwrap();
    let body = format!(
        "{}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}}}\n\n{}",
        &TEXT_STREAM[..cut],
        &TEXT_STREAM[cut..]
    );
    let mut stream = stream(true);
    let mut out = Vec::new();
    stream.feed(body.as_bytes(), &mut out);
    let once = out.clone();
    stream.feed(TEXT_STREAM.as_bytes(), &mut out);
    stream.finish(&mut out);
    stream.fail("again", &mut out);
    assert_eq!(out, once, "nothing after the error");
    let (chunks, end) = read(&out);
    assert_eq!(assemble(&chunks).content, "Hello!");
    assert_eq!(
        end,
        End::Error(
            json!({ "error": { "message": "Overloaded", "type": "overloaded_error",
                                      "code": null, "param": null } })
        )
    );
    // Data-only error, and an error whose data is not JSON.
    let (_, end) = read(&translate(
        "data: {\"type\":\"error\",\"error\":{\"message\":\"boom\"}}\n\n",
    ));
    assert_eq!(
        end,
        End::Error(
            json!({ "error": { "message": "boom", "type": "upstream_error",
                                                  "code": null, "param": null } })
        )
    );
    let (_, end) = read(&translate("event: error\ndata: upstream fell over\n\n"));
    assert_eq!(
        end,
        End::Error(json!({ "error": { "message": "upstream fell over",
                                                  "type": "upstream_error", "code": null, "param": null } }))
    );
}

#[test]
fn finish_without_message_stop_closes_the_stream_properly() {
    let cut = TOOL_STREAM
        .find("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}")
        .unwrap();
    let (chunks, end) = read(&translate(&TOOL_STREAM[..cut]));
    assert_eq!(end, End::Done);
    let got = assemble(&chunks);
    assert_eq!(got.finish, "tool_calls");
    assert_eq!(got.usage["prompt_tokens"], 472);

    // After message_delta the finish reason is not written twice.
    let cut = TEXT_STREAM.find("event: message_stop").unwrap();
    let (chunks, _) = read(&translate(&TEXT_STREAM[..cut]));
    let finishes = chunks
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .count();
    assert_eq!(finishes, 1);

    // An empty body is still a complete (empty) answer.
    let (chunks, end) = read(&translate(""));
    assert_eq!((chunks.len(), end), (3, End::Done), "role, finish, usage");
    assert!(chunks[0]["id"].as_str().unwrap().starts_with("chatcmpl-"));
}

#[test]
fn fail_writes_one_error_and_nothing_else() {
    let mut stream = stream(true);
    let mut out = Vec::new();
    stream.feed(&TEXT_STREAM.as_bytes()[..400], &mut out);
    stream.fail("upstream reset", &mut out);
    stream.fail("again", &mut out);
    stream.finish(&mut out);
    let (_, end) = read(&out);
    assert_eq!(
        end,
        End::Error(
            json!({ "error": { "message": "upstream reset", "type": "upstream_error",
                                      "code": null, "param": null } })
        )
    );
    // finish first: fail after it writes nothing.
    let mut stream = stream_done();
    let mut out = Vec::new();
    stream.fail("late", &mut out);
    assert!(out.is_empty());
}

fn stream_done() -> AnthropicToChatStream {
    let mut stream = stream(false);
    stream.finish(&mut Vec::new());
    stream
}

#[test]
fn an_oversized_event_is_an_error_whatever_the_split() {
    let ping = TEXT_STREAM.find("event: ping").unwrap();
    let mut body = TEXT_STREAM.as_bytes()[..ping].to_vec();
    body.extend_from_slice(b"data: \"");
    body.extend(std::iter::repeat_n(b'x', MAX_EVENT));
    let whole = translate_pieces([&body[..]]);
    assert_eq!(translate_pieces(body.chunks(64 * 1024)), whole);
    let End::Error(error) = read(&whole).1 else {
        panic!("an error event");
    };
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("larger"));
}

#[test]
fn crlf_framing_and_missing_spaces_read_the_same() {
    for body in ALL_STREAMS {
        let crlf = body.replace('\n', "\r\n");
        assert_eq!(translate(&crlf), translate(body));
        let tight = body.replace("data: ", "data:").replace("event: ", "event:");
        assert_eq!(translate(&tight), translate(body));
    }
}

#[test]
fn every_split_point_gives_the_same_bytes() {
    for body in ALL_STREAMS {
        let body = body.as_bytes();
        let whole = translate_pieces([body]);
        for at in 0..=body.len() {
            let (a, b) = body.split_at(at);
            assert_eq!(translate_pieces([a, b]), whole, "split at {at}");
        }
        assert_eq!(translate_pieces(body.chunks(1)), whole, "byte by byte");
    }
}

#[test]
fn any_mix_of_upstream_events_gives_a_well_formed_stream() {
    let mut pool: Vec<String> = ALL_STREAMS
        .iter()
        .flat_map(|body| {
            body.split("\n\n")
                .filter(|f| !f.is_empty())
                .map(str::to_string)
        })
        .collect();
    pool.extend(
        [
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}",
            "data: not json",
            ": comment",
            "data: {\"type\":\"content_block_delta\",\"index\":9,\"delta\":{\"type\":\"text_delta\",\"text\":\"orphan\"}}",
            "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"\",\"name\":\"t\",\"input\":{\"a\":1}}}",
            "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":\"many\"}}",
        ]
        .map(str::to_string),
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1000 {
        // A fixed first event: the chunk id is the upstream's, not fresh.
        let mut body = pool[0].clone() + "\n\n";
        for _ in 0..rng.below(24) {
            body += &pool[rng.below(pool.len())];
            body += if rng.below(4) == 0 {
                "\r\n\r\n"
            } else {
                "\n\n"
            };
        }
        let whole = translate(&body);
        read(&whole);
        let split = translate_pieces(random_split(body.as_bytes(), &mut rng));
        assert_eq!(
            String::from_utf8_lossy(&split),
            String::from_utf8_lossy(&whole)
        );
    }
}
