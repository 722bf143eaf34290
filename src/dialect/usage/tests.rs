use super::*;
use crate::dialect::anthropic::ChatUsage;

fn usage(prompt: u64, completion: u64, total: u64, cached: u64) -> Option<Usage> {
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        cached_tokens: cached,
    })
}

fn whole(body: &str) -> Option<Usage> {
    usage_from_json(body.as_bytes()).expect("JSON")
}

#[test]
fn openai_chat_completions_and_embeddings_count_cached_tokens_inside_the_prompt() {
    // OpenAI's prompt caching guide: 1920 of 2006 prompt tokens cached.
    let chat = r#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"The image shows a wooden boardwalk.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}"#;
    assert_eq!(whole(chat), usage(2006, 300, 2306, 1920));
    let completion = r#"{"id":"cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7","object":"text_completion","created":1589478378,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"\n\nThis is indeed a test","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
    assert_eq!(whole(completion), usage(5, 7, 12, 0));
    let embeddings = r#"{"object":"list","data":[{"object":"embedding","embedding":[0.0023064255,-0.009327292],"index":0}],"model":"text-embedding-ada-002","usage":{"prompt_tokens":8,"total_tokens":8}}"#;
    assert_eq!(whole(embeddings), usage(8, 0, 8, 0));
}

#[test]
fn deepseek_names_its_cache_hits_its_own_way() {
    let both = r#"{"usage":{"prompt_tokens":11,"completion_tokens":11,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":0},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":11}}"#;
    assert_eq!(whole(both), usage(11, 11, 22, 0));
    let hits_only = r#"{"usage":{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}}"#;
    assert_eq!(whole(hits_only), usage(100, 5, 105, 64));
}

#[test]
fn a_responses_reply_counts_input_with_its_cached_part() {
    let reply = r#"{"id":"resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41","object":"response","created_at":1741476777,"status":"completed","model":"gpt-4o-2024-08-06","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"A boardwalk.","annotations":[]}]}],"usage":{"input_tokens":2006,"input_tokens_details":{"cached_tokens":1920},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":2093},"user":null,"metadata":{}}"#;
    assert_eq!(whole(reply), usage(2006, 87, 2093, 1920));
}

#[test]
fn anthropic_input_excludes_the_cache_so_reads_and_writes_are_added() {
    // Anthropic's prompt caching guide: the first call writes the cache,
    // the second reads it.
    let write = r#"{"id":"msg_01","type":"message","role":"assistant","content":[{"type":"text","text":"Pride and Prejudice"}],"model":"claude-sonnet-4-5","stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":21,"cache_creation_input_tokens":188086,"cache_read_input_tokens":0,"output_tokens":393}}"#;
    assert_eq!(whole(write), usage(188107, 393, 188500, 0));
    let read = r#"{"usage":{"input_tokens":21,"cache_creation_input_tokens":0,"cache_read_input_tokens":188086,"output_tokens":393,"service_tier":"standard"}}"#;
    assert_eq!(whole(read), usage(188107, 393, 188500, 188086));
    // An Anthropic-compatible provider that leaves the cache fields out.
    assert_eq!(
        whole(r#"{"usage":{"input_tokens":3,"output_tokens":4}}"#),
        usage(3, 4, 7, 0)
    );
}

#[test]
fn gemini_output_is_candidates_plus_thoughts_and_its_prompt_includes_the_cache() {
    // Gemini's thinking guide.
    let thinking = r#"{"candidates":[{"content":{"parts":[{"text":"..."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":611,"totalTokenCount":1036,"promptTokensDetails":[{"modality":"TEXT","tokenCount":4}],"thoughtsTokenCount":421},"modelVersion":"gemini-2.5-flash"}"#;
    assert_eq!(whole(thinking), usage(4, 1032, 1036, 0));
    // Gemini's context caching guide.
    let cached = r#"{"usageMetadata":{"promptTokenCount":696219,"cachedContentTokenCount":696190,"candidatesTokenCount":214,"totalTokenCount":696433}}"#;
    assert_eq!(whole(cached), usage(696219, 214, 696433, 696190));
}

#[test]
fn odd_and_absent_usage_reports_nothing() {
    assert_eq!(whole(r#"{"usage":null}"#), None);
    assert_eq!(whole(r#"{"usage":{}}"#), None);
    assert_eq!(whole(r#"{"usage":"many"}"#), None);
    assert_eq!(whole(r#"{"id":"x"}"#), None);
    assert_eq!(whole("[1,2]"), None);
    assert_eq!(usage_from_json(b"<html>"), Err(NotJson));
    // A count that is not a whole number is left out, not fatal.
    assert_eq!(
        whole(r#"{"usage":{"prompt_tokens":7,"completion_tokens":2.5,"total_tokens":"9"}}"#),
        usage(7, 0, 7, 0)
    );
    assert_eq!(whole(r#"{"usage":{"total_tokens":9}}"#), None);
}

#[test]
fn totals_are_never_less_than_their_parts_and_cached_never_more_than_the_prompt() {
    // xAI: reasoning in the total, not in the completion.
    let xai = r#"{"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":40,"completion_tokens_details":{"reasoning_tokens":25}}}"#;
    assert_eq!(whole(xai), usage(10, 5, 40, 0));
    let short = r#"{"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":99}}}"#;
    assert_eq!(whole(short), usage(10, 5, 15, 10));
}

#[test]
fn counts_merge_field_by_field_the_last_value_winning() {
    let mut counts = Counts::read(&serde_json::json!({
        "input_tokens": 25, "cache_read_input_tokens": 100, "output_tokens": 1 }));
    counts.merge(&Counts::read(&serde_json::json!({ "output_tokens": 57 })));
    assert_eq!(counts.usage(), usage(125, 57, 182, 100));
    counts.merge(&Counts::read(&serde_json::json!("not an object")));
    assert_eq!(counts.usage(), usage(125, 57, 182, 100));
}

#[test]
fn a_translated_reply_keeps_the_providers_cached_count() {
    let from_anthropic = ChatUsage::from_anthropic(&serde_json::json!({
        "input_tokens": 21, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 188086, "output_tokens": 393 }));
    assert_eq!(
        Usage::from(from_anthropic),
        usage(188107, 393, 188500, 188086).unwrap()
    );
    let from_chat = ChatUsage::from_json(&serde_json::json!({
        "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
        "prompt_tokens_details": { "cached_tokens": 1920 } }));
    assert_eq!(
        Usage::from(from_chat),
        usage(2006, 300, 2306, 1920).unwrap()
    );
}
