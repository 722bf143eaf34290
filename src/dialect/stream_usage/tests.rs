use super::*;
use crate::dialect::test_support::OPENAI_STREAM_WITH_USAGE;
use serde_json::json;

fn usage(prompt: u64, completion: u64, total: u64, cached: u64) -> Option<Usage> {
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        cached_tokens: cached,
    })
}

fn read(pieces: &[&[u8]]) -> Option<Usage> {
    let mut reader = StreamUsage::default();
    for piece in pieces {
        reader.push(piece);
        assert!(reader.line.len() <= 2 * LINE_LIMIT, "bounded");
    }
    reader.usage()
}

/// The usage of `stream` whole, one byte at a time, and in every two-way
/// split: all the same.
fn read_every_way(stream: &[u8]) -> Option<Usage> {
    let whole = read(&[stream]);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(read(&bytes), whole, "one byte at a time");
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        assert_eq!(read(&[a, b]), whole, "split at {at}");
    }
    whole
}

#[test]
fn openai_reports_its_usage_in_a_last_chunk_and_an_escaped_key_does_not_count() {
    let usage_of = read_every_way(OPENAI_STREAM_WITH_USAGE.as_bytes());
    assert_eq!(usage_of, usage(2006, 12, 2018, 1920));
    // Without the usage chunk, the `"usage"` inside the content is text.
    let (without, _) = OPENAI_STREAM_WITH_USAGE.split_at(
        OPENAI_STREAM_WITH_USAGE.find("data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[]").unwrap(),
    );
    assert_eq!(read_every_way(without.as_bytes()), None);
}

const ANTHROPIC_START: &str = "event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": \"claude-opus-4-6\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 25, \"cache_creation_input_tokens\": 0, \"cache_read_input_tokens\": 2048, \"output_tokens\": 1}}}\n\nevent: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n";
const ANTHROPIC_DELTA: &str = "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hello, \\\"usage\\\": {\\\"output_tokens\\\": 999}\"}}\n\n";
const ANTHROPIC_END: &str = "event: content_block_stop\ndata: {\"type\": \"content_block_stop\", \"index\": 0}\n\nevent: message_delta\ndata: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\n\nevent: message_stop\ndata: {\"type\": \"message_stop\"}\n\n";

#[test]
fn anthropic_input_from_message_start_and_output_from_message_delta() {
    let stream = format!("{ANTHROPIC_START}{ANTHROPIC_DELTA}{ANTHROPIC_END}");
    assert_eq!(
        read_every_way(stream.as_bytes()),
        usage(2073, 15, 2088, 2048)
    );
}

#[test]
fn a_long_pass_through_stream_keeps_message_start_counts() {
    let mut stream = String::from(ANTHROPIC_START);
    for _ in 0..5000 {
        stream.push_str(ANTHROPIC_DELTA);
    }
    stream.push_str(ANTHROPIC_END);
    assert!(stream.len() > 500_000);
    let expected = usage(2073, 15, 2088, 2048);
    assert_eq!(read(&[stream.as_bytes()]), expected);
    let pieces: Vec<&[u8]> = stream.as_bytes().chunks(1000).collect();
    assert_eq!(read(&pieces), expected);
    // Before `message_delta`, the output so far is `message_start`'s.
    let cut = stream.len() - ANTHROPIC_END.len();
    assert_eq!(
        read(&[&stream.as_bytes()[..cut]]),
        usage(2073, 1, 2074, 2048)
    );
}

/// A Responses `response.completed` event whose output is `text`.
fn responses_completed(text: &str) -> String {
    let event = json!({
        "type": "response.completed",
        "sequence_number": 42,
        "response": {
            "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
            "object": "response",
            "status": "completed",
            "output": [{
                "type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                "content": [{ "type": "output_text", "text": text, "annotations": [] }]
            }],
            "tools": [{ "type": "function", "name": "record", "parameters": {
                "type": "object", "properties": { "usage": { "type": "object" } } } }],
            "usage": {
                "input_tokens": 2006, "input_tokens_details": { "cached_tokens": 1920 },
                "output_tokens": 30000, "output_tokens_details": { "reasoning_tokens": 0 },
                "total_tokens": 32006
            },
            "user": null,
            "metadata": {}
        }
    });
    format!("event: response.completed\ndata: {event}\n\n")
}

#[test]
fn a_responses_completed_event_of_100_kib_is_read_in_bounded_memory() {
    let created = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_67cc\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[],\"usage\":null}}\n\n";
    let text = "A \"usage\": {\"input_tokens\": 1} in the answer. ".repeat(2200);
    let stream = format!("{created}{}", responses_completed(&text));
    assert!(stream.len() > 100 * 1024);
    let expected = usage(2006, 30000, 32006, 1920);
    assert_eq!(read(&[stream.as_bytes()]), expected);
    for size in [1, 7, 1000, 4096, 5000, 65536] {
        let pieces: Vec<&[u8]> = stream.as_bytes().chunks(size).collect();
        assert_eq!(read(&pieces), expected, "pieces of {size}");
    }
    // The same event with `response.incomplete`'s name reads the same.
    let incomplete = stream.replace("response.completed", "response.incomplete");
    assert_eq!(read(&[incomplete.as_bytes()]), expected);
}

#[test]
fn gemini_reports_on_every_chunk_the_last_winning_with_crlf_framing() {
    let stream = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"log\", \"args\": {\"usage\": {\"prompt_tokens\": 5}}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 20,\"totalTokenCount\": 50,\"cachedContentTokenCount\": 4,\"thoughtsTokenCount\": 22},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
    );
    assert_eq!(read_every_way(stream.as_bytes()), usage(8, 42, 50, 4));
}

#[test]
fn cumulative_usage_on_every_chunk_and_groqs_x_groq_usage() {
    let vllm = concat!(
        "data: {\"id\":\"cmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":1,\"total_tokens\":8}}\n\n",
        "data: {\"id\":\"cmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"!\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}\n\n",
        "data: [DONE]\n\n",
    );
    assert_eq!(read_every_way(vllm.as_bytes()), usage(7, 2, 9, 0));
    let groq = "data: {\"id\":\"chatcmpl-e7eb\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"req_01jt0xby4ffanamrs6m40mv0fy\",\"usage\":{\"queue_time\":0.0391495,\"prompt_tokens\":45,\"prompt_time\":0.002,\"completion_tokens\":3,\"completion_time\":0.002,\"total_tokens\":48,\"total_time\":0.004}}}\n\ndata: [DONE]\n\n";
    assert_eq!(read_every_way(groq.as_bytes()), usage(45, 3, 48, 0));
}

#[test]
fn only_data_lines_count_and_a_last_line_without_its_newline_does() {
    let comment = ": {\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":5}}\nevent: x\n\n";
    assert_eq!(read_every_way(comment.as_bytes()), None);
    let unterminated =
        "data: {\"choices\":[],\"usage\" : {\"prompt_tokens\":1,\"completion_tokens\":2}}";
    assert_eq!(read_every_way(unterminated.as_bytes()), usage(1, 2, 3, 0));
    let truncated = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion";
    assert_eq!(read(&[truncated.as_bytes()]), None);
}

#[test]
fn keys_are_told_from_text_even_in_a_long_line() {
    // Escaped quotes everywhere but the last, real key.
    let text = "{\\\"usage\\\":{\\\"prompt_tokens\\\":999}} ".repeat(400);
    let line = format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{text}\"}}}}],\"usage\":{{\"prompt_tokens\":3,\"completion_tokens\":4}}}}\n\n");
    assert!(line.len() > 3 * LINE_LIMIT);
    let pieces: Vec<&[u8]> = line.as_bytes().chunks(100).collect();
    assert_eq!(read(&pieces), usage(3, 4, 7, 0));
    let only_text = format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n");
    assert_eq!(read(&[only_text.as_bytes()]), None);
}
