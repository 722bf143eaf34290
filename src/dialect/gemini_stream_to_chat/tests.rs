use super::*;
use crate::dialect::gemini::split_signature;
use crate::dialect::sse::MAX_EVENT;

const MODEL: &str = "my-model";
const CREATED: u64 = 1_700_000_000;
const SIG: &str = "CiQBjz1r+/++EjT+/wA+P/vvmQECAwQFBgcICRAREhMUFRYXGA==";

fn text_event(text: &str) -> Value {
    json!({ "candidates": [{ "content": { "parts": [{ "text": text }], "role": "model" }, "index": 0 }],
            "usageMetadata": { "promptTokenCount": 11, "totalTokenCount": 11 },
            "modelVersion": "gemini-2.0-flash", "responseId": "r1" })
}

/// The streaming example of Google's API reference, in three events.
fn golden() -> Vec<Value> {
    vec![
        text_event("The"),
        text_event(" sky appears blue because of Rayleigh"),
        json!({ "candidates": [{ "content": { "parts": [{ "text": " scattering." }], "role": "model" },
                                 "finishReason": "STOP", "index": 0 }],
                "usageMetadata": { "promptTokenCount": 11, "candidatesTokenCount": 200,
                                   "totalTokenCount": 211,
                                   "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 11 }] },
                "modelVersion": "gemini-2.0-flash", "responseId": "r1" }),
    ]
}

/// An upstream `alt=sse` body: data-only frames, no end marker.
fn sse(events: &[Value], line_end: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for event in events {
        body.extend_from_slice(format!("data: {event}{line_end}{line_end}").as_bytes());
    }
    body
}

fn stream(include_usage: bool) -> GeminiToChatStream {
    GeminiToChatStream::new(MODEL.into(), Vec::new(), include_usage, CREATED)
}

fn run<'a>(mut s: GeminiToChatStream, pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        s.feed(piece, &mut out);
    }
    s.finish(&mut out);
    out
}

/// One frame of the client's stream.
#[derive(Debug, PartialEq)]
enum Frame {
    Chunk(Value),
    Done,
    Error(Value),
}

/// The frames of an OpenAI stream, checked against what clients rely on:
/// every frame whole, the role first, one id, nothing after the finish
/// chunk but the usage chunk, `[DONE]` or an error event last.
fn read_frames(out: &[u8]) -> Vec<Frame> {
    let text = std::str::from_utf8(out).expect("utf-8");
    assert!(text.ends_with("\n\n"), "framed: {text:?}");
    let frames: Vec<Frame> = text
        .trim_end_matches("\n\n")
        .split("\n\n")
        .map(|frame| {
            if let Some(data) = frame.strip_prefix("event: error\ndata: ") {
                return Frame::Error(serde_json::from_str(data).expect("json"));
            }
            let data = frame.strip_prefix("data: ").expect("data line");
            if data == "[DONE]" {
                return Frame::Done;
            }
            Frame::Chunk(serde_json::from_str(data).expect("json"))
        })
        .collect();
    check(&frames);
    frames
}

fn check(frames: &[Frame]) {
    let last = frames.len() - 1;
    assert!(
        matches!(frames[last], Frame::Done | Frame::Error(_)),
        "ends: {frames:?}"
    );
    let chunks: Vec<&Value> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Chunk(c) => Some(c),
            _ => None,
        })
        .collect();
    for (i, frame) in frames.iter().enumerate() {
        if i < last {
            assert!(
                matches!(frame, Frame::Chunk(_)),
                "only the last frame ends: {frames:?}"
            );
        }
    }
    let Some(first) = chunks.first() else { return };
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let mut finished = false;
    for chunk in &chunks {
        assert_eq!(chunk["id"], first["id"]);
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], MODEL);
        assert_eq!(chunk["created"], CREATED);
        let choices = chunk["choices"].as_array().expect("choices");
        if choices.is_empty() {
            assert!(
                chunk["usage"].is_object(),
                "a chunk without choices is the usage"
            );
            continue;
        }
        assert!(!finished, "nothing but usage after the finish chunk");
        finished = !choices[0]["finish_reason"].is_null();
    }
    if matches!(frames[last], Frame::Done) {
        assert!(finished, "a finish chunk before [DONE]");
    }
}

fn chunks(frames: &[Frame]) -> Vec<&Value> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Chunk(c) if !c["choices"].as_array().unwrap().is_empty() => Some(c),
            _ => None,
        })
        .collect()
}

fn joined(frames: &[Frame], key: &str) -> String {
    chunks(frames)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"][key].as_str())
        .collect()
}

fn finish_of(frames: &[Frame]) -> Value {
    chunks(frames)
        .iter()
        .map(|c| c["choices"][0]["finish_reason"].clone())
        .find(|r| !r.is_null())
        .unwrap_or(Value::Null)
}

#[test]
fn google_s_streaming_example_becomes_openai_chunks() {
    let out = run(stream(true), [&sse(&golden(), "\n")[..]]);
    let frames = read_frames(&out);
    assert_eq!(
        joined(&frames, "content"),
        "The sky appears blue because of Rayleigh scattering."
    );
    assert_eq!(finish_of(&frames), "stop");
    let first = chunks(&frames)[0];
    assert_eq!(first["id"], "chatcmpl-r1");
    assert_eq!(
        first["choices"][0],
        json!({ "index": 0, "delta": { "role": "assistant", "content": "" }, "logprobs": null, "finish_reason": null })
    );
    let usage_frame = &frames[frames.len() - 2];
    assert_eq!(
        *usage_frame,
        Frame::Chunk(
            json!({ "id": "chatcmpl-r1", "object": "chat.completion.chunk", "created": CREATED,
            "model": MODEL, "choices": [], "usage": {
                "prompt_tokens": 11, "completion_tokens": 200, "total_tokens": 211,
                "prompt_tokens_details": { "cached_tokens": 0 },
                "completion_tokens_details": { "reasoning_tokens": 0 } } })
        )
    );
}

#[test]
fn usage_is_exact_and_its_chunk_only_when_asked() {
    let mut s = stream(false);
    let mut out = Vec::new();
    s.feed(&sse(&golden(), "\n"), &mut out);
    s.finish(&mut out);
    assert_eq!(
        s.usage(),
        Some(ChatUsage {
            prompt: 11,
            completion: 200,
            cached: 0,
            cache_write: 0
        })
    );
    let frames = read_frames(&out);
    assert!(chunks(&frames).len() == frames.len() - 1, "no usage chunk");
    assert_eq!(stream(true).usage(), None);
}

#[test]
fn any_split_and_crlf_framing_give_the_same_stream() {
    let lf = sse(&golden(), "\n");
    let crlf = sse(&golden(), "\r\n");
    let whole = run(stream(true), [&lf[..]]);
    let text = |out: &[u8]| {
        let frames = read_frames(out);
        (joined(&frames, "content"), finish_of(&frames), frames.len())
    };
    assert_eq!(text(&run(stream(true), [&crlf[..]])), text(&whole));
    assert_eq!(
        text(&run(stream(true), crlf.chunks(1))),
        text(&whole),
        "one byte at a time"
    );
    // An event cut in the middle of its JSON, and between `\r` and `\n`.
    let cut = crlf.iter().position(|&b| b == b'\r').unwrap() + 1;
    assert_eq!(
        text(&run(
            stream(true),
            [&crlf[..30], &crlf[30..cut], &crlf[cut..]]
        )),
        text(&whole)
    );
    // The last event without its blank line still counts at end of body.
    let unterminated = &lf[..lf.len() - 2];
    assert_eq!(
        finish_of(&read_frames(&run(stream(true), [unterminated]))),
        "stop"
    );
}

#[test]
fn thoughts_text_and_function_calls_come_out_in_order() {
    let events = vec![
        json!({ "candidates": [{ "content": { "role": "model", "parts": [
            { "text": "**Planning**\nI should check the weather.", "thought": true }] } }] }),
        json!({ "candidates": [{ "content": { "role": "model", "parts": [
            { "text": "Let me check." },
            { "functionCall": { "name": "get_wx_3f2a", "args": { "location": "Paris" } }, "thoughtSignature": SIG },
            { "functionCall": { "name": "get_wx_3f2a", "args": { "location": "London" } } }
        ] }, "finishReason": "STOP" }],
        "usageMetadata": { "promptTokenCount": 30, "candidatesTokenCount": 20, "thoughtsTokenCount": 70,
                           "cachedContentTokenCount": 10, "totalTokenCount": 120 } }),
    ];
    let names = vec![("get_wx_3f2a".to_string(), "get weather".to_string())];
    let mut s = GeminiToChatStream::new(MODEL.into(), names, true, CREATED);
    let mut out = Vec::new();
    s.feed(&sse(&events, "\r\n"), &mut out);
    s.finish(&mut out);
    let frames = read_frames(&out);
    assert_eq!(
        joined(&frames, "reasoning_content"),
        "**Planning**\nI should check the weather."
    );
    assert_eq!(joined(&frames, "content"), "Let me check.");
    assert_eq!(finish_of(&frames), "tool_calls", "Gemini said STOP");
    let calls: Vec<Value> = chunks(&frames)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[1]["index"], 1);
    assert_eq!(calls[0]["function"]["name"], "get weather");
    assert_eq!(
        calls[0]["function"]["arguments"],
        "{\"location\":\"Paris\"}"
    );
    assert_eq!(
        split_signature(calls[0]["id"].as_str().unwrap())
            .1
            .as_deref(),
        Some(SIG)
    );
    assert_eq!(
        calls[0]["extra_content"]["google"]["thought_signature"],
        SIG
    );
    assert_eq!(split_signature(calls[1]["id"].as_str().unwrap()).1, None);
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(
        s.usage(),
        Some(ChatUsage {
            prompt: 30,
            completion: 90,
            cached: 10,
            cache_write: 0
        })
    );
    let usage = match &frames[frames.len() - 2] {
        Frame::Chunk(c) => c["usage"].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 70);
    assert_eq!(usage["total_tokens"], 120);
}

#[test]
fn a_body_that_ends_without_a_finish_reason_still_finishes() {
    let out = run(stream(false), [&sse(&golden()[..2], "\n")[..]]);
    let frames = read_frames(&out);
    assert_eq!(finish_of(&frames), "stop");
    assert_eq!(frames.last(), Some(&Frame::Done));
    // Nothing at all: still a well-formed, empty answer.
    assert_eq!(finish_of(&read_frames(&run(stream(true), []))), "stop");
}

#[test]
fn filters_and_limits_set_the_finish_reason() {
    let blocked = json!({ "promptFeedback": { "blockReason": "PROHIBITED_CONTENT" },
                          "usageMetadata": { "promptTokenCount": 7, "totalTokenCount": 7 } });
    let frames = read_frames(&run(stream(false), [&sse(&[blocked], "\n")[..]]));
    assert_eq!(finish_of(&frames), "content_filter");
    let limited = json!({ "candidates": [{ "content": { "parts": [{ "text": "cut" }] }, "finishReason": "MAX_TOKENS" }] });
    let frames = read_frames(&run(stream(false), [&sse(&[limited], "\n")[..]]));
    assert_eq!(finish_of(&frames), "length");
    // Parts after the finish are dropped.
    let late = vec![golden()[2].clone(), text_event("late")];
    let frames = read_frames(&run(stream(false), [&sse(&late, "\n")[..]]));
    assert_eq!(joined(&frames, "content"), " scattering.");
}

#[test]
fn an_error_in_the_stream_becomes_an_openai_error_event_and_ends_it() {
    let error = json!({ "error": { "code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                                   "status": "RESOURCE_EXHAUSTED" } });
    let body = sse(&[golden()[0].clone(), error, golden()[1].clone()], "\r\n");
    let mut s = stream(true);
    let mut out = Vec::new();
    s.feed(&body, &mut out);
    s.finish(&mut out);
    s.fail("again", &mut out);
    let frames = read_frames(&out);
    assert_eq!(
        frames.last(),
        Some(&Frame::Error(json!({ "error": {
            "message": "Resource has been exhausted (e.g. check quota).",
            "type": "rate_limit_error", "code": "resource_exhausted", "param": null } })))
    );
    assert_eq!(joined(&frames, "content"), "The");
}

#[test]
fn fail_writes_one_error_event_and_nothing_follows() {
    let mut s = stream(true);
    let mut out = Vec::new();
    s.feed(&sse(&golden()[..1], "\n"), &mut out);
    s.fail("the upstream connection failed mid-stream", &mut out);
    s.feed(&sse(&golden()[1..], "\n"), &mut out);
    s.finish(&mut out);
    let frames = read_frames(&out);
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(
        frames[2],
        Frame::Error(
            json!({ "error": { "message": "the upstream connection failed mid-stream",
                                         "type": "api_error", "code": null, "param": null } })
        )
    );
    // After finish, fail writes nothing.
    let mut s = stream(false);
    let mut out = Vec::new();
    s.finish(&mut out);
    let len = out.len();
    s.fail("late", &mut out);
    assert_eq!(out.len(), len);
}

#[test]
fn an_endless_event_is_refused() {
    let mut s = stream(false);
    let mut out = Vec::new();
    let big = vec![b'x'; 64 * 1024];
    s.feed(b"data: ", &mut out);
    for _ in 0..=(MAX_EVENT / big.len()) {
        s.feed(&big, &mut out);
    }
    s.finish(&mut out);
    let frames = read_frames(&out);
    assert!(matches!(frames.last(), Some(Frame::Error(_))));
}

/// A small deterministic generator: the same cases on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

fn random_event(rng: &mut Lcg, texts: &mut String, calls: &mut usize) -> Value {
    match rng.next(6) {
        0 => {
            *calls += 1;
            json!({ "candidates": [{ "content": { "parts": [{ "functionCall": {
                "name": "f", "args": { "n": rng.next(100) } }, "thoughtSignature": SIG }] } }] })
        }
        1 => {
            json!({ "candidates": [{ "content": { "parts": [{ "text": "hmm", "thought": true }] } }] })
        }
        2 => {
            json!({ "usageMetadata": { "promptTokenCount": 5, "candidatesTokenCount": rng.next(50) } })
        }
        _ => {
            let text = ["a", "ß", "日本", " ", "\"q\"", "\\n"][rng.next(6)];
            texts.push_str(text);
            text_event(text)
        }
    }
}

#[test]
fn random_event_sequences_in_random_splits_stay_well_formed() {
    let mut rng = Lcg(7);
    for case in 0..300 {
        let (mut texts, mut calls) = (String::new(), 0);
        let mut events: Vec<Value> = (0..rng.next(8))
            .map(|_| random_event(&mut rng, &mut texts, &mut calls))
            .collect();
        if rng.next(2) == 0 {
            events.push(json!({ "candidates": [{ "finishReason": "STOP" }] }));
        }
        let body = sse(&events, ["\n", "\r\n"][rng.next(2)]);
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let len = 1 + rng.next(40);
            pieces.push(&body[at..(at + len).min(body.len())]);
            at += len;
        }
        let frames = read_frames(&run(stream(case % 2 == 0), pieces));
        assert_eq!(joined(&frames, "content"), texts, "case {case}");
        let expected = if calls > 0 { "tool_calls" } else { "stop" };
        assert_eq!(finish_of(&frames), expected, "case {case}");
    }
}

#[test]
fn garbage_never_panics_and_always_ends_the_stream() {
    let mut rng = Lcg(11);
    let alphabet: &[u8] = b"data: {}[]\"\r\n:error event candidates parts text x\xff\x00";
    for _ in 0..300 {
        let body: Vec<u8> = (0..rng.next(300))
            .map(|_| alphabet[rng.next(alphabet.len())])
            .collect();
        let pieces: Vec<&[u8]> = body.chunks(1 + rng.next(16)).collect();
        let out = run(stream(true), pieces);
        let text = String::from_utf8(out).expect("utf-8 out");
        assert!(
            text.ends_with("data: [DONE]\n\n") || text.contains("event: error\n"),
            "{text:?}"
        );
    }
}

#[test]
fn a_streamed_signature_reaches_an_anthropic_client_in_its_tool_use_id() {
    use crate::dialect::chat_stream_to_anthropic::ChatToAnthropicStream;
    let events = vec![
        json!({ "candidates": [{ "content": { "role": "model", "parts": [
        { "functionCall": { "name": "Bash", "args": { "command": "ls" } }, "thoughtSignature": SIG }
    ] }, "finishReason": "STOP" }], "usageMetadata": { "promptTokenCount": 9, "candidatesTokenCount": 3 } }),
    ];
    let chat = run(stream(true), [&sse(&events, "\r\n")[..]]);
    let mut anthropic = ChatToAnthropicStream::new("claude-x".into(), Vec::new());
    let mut out = Vec::new();
    for byte in chat.chunks(7) {
        anthropic.feed(byte, &mut out);
    }
    anthropic.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    let start = text
        .split("\n\n")
        .filter_map(|frame| frame.split_once("data: ").map(|(_, d)| d))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .find(|event| event["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    let id = start["content_block"]["id"].as_str().unwrap();
    assert_eq!(split_signature(id).1.as_deref(), Some(SIG));
    assert_eq!(anthropic.stop_reason(), Some("tool_use"));
}
