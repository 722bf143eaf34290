use super::*;
use crate::dialect::test_support::{OPENAI_STREAM_WITH_USAGE, OPENAI_USAGE_EVENT};

fn filter(pieces: &[&[u8]]) -> (Vec<u8>, Option<Usage>) {
    let mut filter = UsageChunkFilter::default();
    let mut out = Vec::new();
    for piece in pieces {
        filter.push(piece, &mut out);
    }
    filter.finish(&mut out);
    (out, filter.usage())
}

/// The stream's events (each with its blank line) and where each ends.
fn event_ends(stream: &str, blank: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut from = 0;
    while let Some(i) = stream[from..].find(blank) {
        from += i + blank.len();
        ends.push(from);
    }
    ends
}

/// `stream` through the filter one byte at a time and in every two-way
/// split: the output is the stream without its usage event, and every
/// complete event is out as soon as its last byte went in.
fn check_every_split(stream: &str, usage_event: &str, blank: &str) {
    let expected = stream.replace(usage_event, "");
    assert_eq!(expected.len(), stream.len() - usage_event.len());
    let usage_at = stream.find(usage_event).unwrap();
    let (whole, usage) = filter(&[stream.as_bytes()]);
    assert_eq!(String::from_utf8(whole).unwrap(), expected);
    assert_eq!(
        usage.map(|u| (u.prompt_tokens, u.cached_tokens)),
        Some((2006, 1920))
    );
    let bytes: Vec<&[u8]> = stream.as_bytes().chunks(1).collect();
    assert_eq!(filter(&bytes), (expected.clone().into_bytes(), usage));
    let ends = event_ends(stream, blank);
    for at in 0..=stream.len() {
        let (a, b) = stream.as_bytes().split_at(at);
        let mut f = UsageChunkFilter::default();
        let mut out = Vec::new();
        f.push(a, &mut out);
        // Everything complete so far is out, minus the usage event.
        let complete = ends.iter().copied().filter(|&e| e <= at).max().unwrap_or(0);
        let mut sent = stream[..complete].to_string();
        if complete > usage_at {
            sent = sent.replace(usage_event, "");
        }
        assert_eq!(String::from_utf8_lossy(&out), sent, "first part up to {at}");
        f.push(b, &mut out);
        f.finish(&mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected, "split at {at}");
        assert_eq!(f.usage(), usage, "split at {at}");
    }
}

#[test]
fn the_usage_event_alone_is_taken_out_in_every_split() {
    check_every_split(OPENAI_STREAM_WITH_USAGE, OPENAI_USAGE_EVENT, "\n\n");
}

#[test]
fn crlf_framing_too() {
    let stream = OPENAI_STREAM_WITH_USAGE.replace('\n', "\r\n");
    let event = OPENAI_USAGE_EVENT.replace('\n', "\r\n");
    check_every_split(&stream, &event, "\r\n\r\n");
}

#[test]
fn usage_beside_a_choice_is_read_but_kept() {
    // DeepSeek's last chunk: the finish reason and the usage together.
    let stream = "data: {\"id\":\"339eade8\",\"object\":\"chat.completion.chunk\",\"created\":1743968719,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":11,\"total_tokens\":22,\"prompt_tokens_details\":{\"cached_tokens\":0},\"prompt_cache_hit_tokens\":0,\"prompt_cache_miss_tokens\":11}}\n\ndata: [DONE]\n\n";
    let (out, usage) = filter(&[stream.as_bytes()]);
    assert_eq!(out, stream.as_bytes());
    assert_eq!(usage.map(|u| u.total_tokens), Some(22));
}

#[test]
fn only_a_usage_object_without_choices_makes_a_usage_event() {
    let kept = [
        "data: [DONE]\n\n",
        "data: {\"choices\":[],\"usage\":null}\n\n",
        "data: {\"choices\":[{\"index\":0}],\"usage\":{\"prompt_tokens\":1}}\n\n",
        "data: {\"choices\":[],\"note\":\"\\\"usage\\\":{}\"}\n\n",
        "data: not json \"usage\":{}\n\n",
        ": {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n",
    ];
    for event in kept {
        assert_eq!(filter(&[event.as_bytes()]).0, event.as_bytes(), "{event}");
    }
    let removed = [
        "data: {\"choices\": [ ], \"usage\": {\"prompt_tokens\":1}}\n\n",
        "data:{\"usage\":{\"prompt_tokens\":1}}\r\n\r\n",
        "event: chunk\ndata: {\"choices\":[],\ndata: \"usage\":{\"prompt_tokens\":1}}\n\n",
    ];
    for event in removed {
        assert_eq!(filter(&[event.as_bytes()]).0, b"", "{event}");
    }
}

#[test]
fn what_is_held_at_the_end_goes_out_unless_it_is_the_usage_event() {
    let (out, _) = filter(&[b"data: {\"choices\":[{\"index\":0}]}", b"\n"]);
    assert_eq!(out, b"data: {\"choices\":[{\"index\":0}]}\n");
    let unterminated = OPENAI_USAGE_EVENT.trim_end();
    let (out, usage) = filter(&[
        b"data: {\"choices\":[{\"index\":0}]}\n\n",
        unterminated.as_bytes(),
    ]);
    assert_eq!(out, b"data: {\"choices\":[{\"index\":0}]}\n\n");
    assert_eq!(usage.map(|u| u.completion_tokens), Some(12));
}

#[test]
fn a_large_event_goes_through_as_it_comes() {
    let big = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}}}}],\"usage\":null}}\n\n",
        "x".repeat(3 * MAX_HELD)
    );
    let stream = format!("{big}{OPENAI_USAGE_EVENT}data: [DONE]\n\n");
    let mut f = UsageChunkFilter::default();
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = stream.as_bytes().chunks(1000).collect();
    for piece in &pieces[..20] {
        f.push(piece, &mut out);
    }
    assert_eq!(f.held.len(), 0, "not held once past the limit");
    assert_eq!(out.len(), 20_000, "sent as it came");
    let (out, usage) = filter(&pieces);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{big}data: [DONE]\n\n")
    );
    assert_eq!(usage.map(|u| u.prompt_tokens), Some(2006));
}

fn added(body: &str) -> String {
    String::from_utf8(with_include_usage(body.as_bytes()).expect("an object")).unwrap()
}

#[test]
fn include_usage_is_added_as_the_bodys_last_member() {
    assert_eq!(
        added(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"say \"stream_options\""}],"stream":true}"#
        ),
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"say \"stream_options\""}],"stream":true,"stream_options":{"include_usage":true}}"#
    );
    assert_eq!(
        added("{\n  \"model\": \"m\",\n  \"stream\": true\n}\n"),
        "{\n  \"model\": \"m\",\n  \"stream\": true\n,\"stream_options\":{\"include_usage\":true}}\n"
    );
    assert_eq!(
        added(" { } "),
        r#" { "stream_options":{"include_usage":true}} "#
    );
}

#[test]
fn existing_stream_options_keep_their_other_fields() {
    assert_eq!(
        added(r#"{"model":"m","stream_options":{"continuous_usage_stats":true},"stream":true}"#),
        r#"{"model":"m","stream_options":{"include_usage":true,"continuous_usage_stats":true},"stream":true}"#
    );
    assert_eq!(
        added(r#"{"model":"m","stream_options": { "include_usage" : false, "x": 1 }}"#),
        r#"{"model":"m","stream_options": { "include_usage" : true, "x": 1 }}"#
    );
    assert_eq!(
        added(r#"{"stream_options":{"include_usage":null}}"#),
        r#"{"stream_options":{"include_usage":true}}"#
    );
    assert_eq!(
        added(r#"{"stream_options":{ },"model":"m"}"#),
        r#"{"stream_options":{"include_usage":true },"model":"m"}"#
    );
    assert_eq!(
        added(r#"{"model":"m","stream_options":null}"#),
        r#"{"model":"m","stream_options":{"include_usage":true}}"#
    );
    let asked = r#"{"model":"m","stream_options":{"include_usage":true}}"#;
    assert_eq!(added(asked), asked);
}

#[test]
fn bodies_that_are_not_objects_get_none() {
    for body in [
        "",
        "[1,2]",
        "\"x\"",
        "not json",
        "{\"model\":",
        r#"{"stream_options":1,"stream_options":2}"#,
    ] {
        assert_eq!(with_include_usage(body.as_bytes()), None, "{body}");
    }
    // Whatever was spliced in, the result is the same JSON plus the option.
    let body = r#"{"model":"m","messages":[],"stream_options":{"x":[1,{"y":null}]}}"#;
    let value: serde_json::Value = serde_json::from_str(&added(body)).unwrap();
    assert_eq!(
        value["stream_options"],
        serde_json::json!({"include_usage": true, "x": [1, {"y": null}]})
    );
    assert_eq!(value["messages"], serde_json::json!([]));
}
