use super::*;
use crate::dialect::anthropic::tool_id;

#[test]
fn finish_reasons_follow_the_table_and_a_function_call_wins() {
    assert_eq!(finish_reason(Some("STOP"), false), "stop");
    assert_eq!(finish_reason(Some("STOP"), true), "tool_calls");
    assert_eq!(finish_reason(Some("MAX_TOKENS"), false), "length");
    assert_eq!(finish_reason(Some("MAX_TOKENS"), true), "tool_calls");
    for filtered in [
        "SAFETY",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "RECITATION",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    ] {
        assert_eq!(
            finish_reason(Some(filtered), false),
            "content_filter",
            "{filtered}"
        );
    }
    for other in [
        "OTHER",
        "LANGUAGE",
        "FINISH_REASON_UNSPECIFIED",
        "MALFORMED_FUNCTION_CALL",
        "IMAGE_OTHER",
        "NO_IMAGE",
    ] {
        assert_eq!(finish_reason(Some(other), false), "stop", "{other}");
    }
    assert_eq!(finish_reason(None, false), "stop");
}

#[test]
fn usage_counts_thoughts_as_output_and_cached_tokens_inside_the_prompt() {
    // The shape of `usageMetadata` in Google's thinking example.
    let metadata = json!({
        "promptTokenCount": 1200, "candidatesTokenCount": 80, "thoughtsTokenCount": 320,
        "cachedContentTokenCount": 1000, "totalTokenCount": 1600,
        "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 1200 }]
    });
    let usage = GeminiUsage::from_metadata(&metadata);
    assert_eq!(
        usage.chat,
        ChatUsage {
            prompt: 1200,
            completion: 400,
            cached: 1000,
            cache_write: 0
        }
    );
    assert_eq!(usage.reasoning, 320);
    let chat = usage.to_chat();
    assert_eq!(chat["total_tokens"], 1600, "Gemini's own total");
    assert_eq!(chat["prompt_tokens_details"]["cached_tokens"], 1000);
    assert_eq!(chat["completion_tokens_details"]["reasoning_tokens"], 320);
    // Anthropic's view keeps the cache apart from the input.
    assert_eq!(usage.chat.to_anthropic()["input_tokens"], 200);
    // Nothing reported: zeros.
    assert_eq!(
        GeminiUsage::from_metadata(&json!({})),
        GeminiUsage::default()
    );
    // Google's own tools' input is input.
    let tools = json!({ "promptTokenCount": 10, "toolUsePromptTokenCount": 5,
                        "candidatesTokenCount": 1, "totalTokenCount": 16 });
    assert_eq!(
        GeminiUsage::from_metadata(&tools).to_chat()["total_tokens"],
        16
    );
}

const QUOTA: &str = r#"{
  "error": {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
      { "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{ "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                         "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" }] },
      { "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{ "description": "Learn more", "url": "https://ai.google.dev/gemini-api/docs/rate-limits" }] },
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s" }
    ]
  }
}"#;

#[test]
fn error_bodies_give_their_status_message_and_retry_delay() {
    assert_eq!(
        error_summary(QUOTA.as_bytes()),
        Some((
            "RESOURCE_EXHAUSTED".to_string(),
            "You exceeded your current quota, please check your plan and billing details."
                .to_string()
        ))
    );
    assert_eq!(retry_delay(QUOTA.as_bytes()), Some(Duration::from_secs(12)));
    let wrapped = format!("[{QUOTA}]");
    assert_eq!(
        retry_delay(wrapped.as_bytes()),
        Some(Duration::from_secs(12))
    );
    assert_eq!(
        error_summary(wrapped.as_bytes()).map(|s| s.0),
        Some("RESOURCE_EXHAUSTED".into())
    );
    let bad_key = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#;
    assert_eq!(
        error_summary(bad_key).map(|s| s.0),
        Some("INVALID_ARGUMENT".into())
    );
    assert_eq!(retry_delay(bad_key), None);
    let no_status = br#"{"error":{"code":503,"message":"The model is overloaded."}}"#;
    assert_eq!(
        error_summary(no_status),
        Some(("503".into(), "The model is overloaded.".into()))
    );
    assert_eq!(openai_error_type("RESOURCE_EXHAUSTED"), "rate_limit_error");
    assert_eq!(
        openai_error_type("INVALID_ARGUMENT"),
        "invalid_request_error"
    );
    assert_eq!(openai_error_type("UNAVAILABLE"), "api_error");
}

#[test]
fn retry_delays_parse_fractions_and_refuse_odd_input() {
    let delay = |d: &str| {
        let body = json!({ "error": { "code": 429, "details": [
            { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": d }
        ] } });
        retry_delay(body.to_string().as_bytes())
    };
    assert_eq!(delay("0.5s"), Some(Duration::from_millis(500)));
    assert_eq!(delay("1.234s"), Some(Duration::from_millis(1234)));
    assert_eq!(delay("0.000000001s"), Some(Duration::from_nanos(1)));
    assert_eq!(delay("53s"), Some(Duration::from_secs(53)));
    for odd in [
        "",
        "s",
        "12",
        "-1s",
        "1.s5",
        "1.0000000001s",
        "abc",
        ".5s",
        "1e3s",
        "99999999999999999999s",
    ] {
        assert_eq!(delay(odd), None, "{odd:?}");
    }
    for body in [
        &b""[..],
        b"null",
        b"[]",
        b"[1]",
        b"{\"error\":\"x\"}",
        b"\xff\xfe",
        b"{\"error\":{\"details\":{}}}",
    ] {
        assert_eq!(retry_delay(body), None);
        let _ = error_summary(body);
    }
    let huge = vec![b' '; MAX_ERROR_BODY + 1];
    assert_eq!(error_summary(&huge), None);
}

#[test]
fn tool_names_fit_gemini_and_distinct_names_stay_apart() {
    assert_eq!(tool_name("get_weather"), "get_weather");
    assert_eq!(
        tool_name("mcp__github__create_issue"),
        "mcp__github__create_issue"
    );
    assert_eq!(tool_name("ns.tool:v1-2"), "ns.tool:v1-2");
    let spaced = tool_name("get weather");
    assert!(spaced.starts_with("get_weather_"), "{spaced}");
    assert_ne!(spaced, tool_name("get_weather"));
    assert!(tool_name("1tool").starts_with("_1tool_"));
    let long = "mcp__some_server_with_a_long_name__and_a_tool_whose_name_goes_on_and_on";
    let short = tool_name(long);
    assert_eq!(short.len(), MAX_TOOL_NAME);
    assert_eq!(short, tool_name(long), "stable");
    assert_ne!(tool_name(&format!("{long}_2")), short);
    assert!(tool_name("ünïcode").is_ascii());
    assert!(tool_name("").starts_with('_'));
}

#[test]
fn schemas_go_unchanged_but_for_their_meta_keyword() {
    // A Claude Code tool schema, as it sends it.
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": { "command": { "type": "string" }, "timeout": { "type": ["number", "null"] } },
        "required": ["command"],
        "additionalProperties": false
    });
    let sent = parameters_schema(&schema).unwrap();
    assert!(sent.get("$schema").is_none());
    assert_eq!(sent["additionalProperties"], false);
    assert_eq!(sent["properties"], schema["properties"]);
    assert_eq!(parameters_schema(&json!("x")), None);
}

#[test]
fn signatures_ride_in_ids_and_come_back_exactly() {
    for signature in [
        "CiQBjz1rX+/a9Q==",
        "Ei0KKw/+",
        "AAAA",
        "Zm9vYg==",
        "Zm9vYmE=",
    ] {
        let id = join_signature("call_1_abc", signature);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{id}"
        );
        assert_eq!(tool_id(&id), id, "an Anthropic tool_use id keeps it");
        assert_eq!(
            split_signature(&id),
            ("call_1_abc", Some(signature.to_string()))
        );
    }
    // Padding left out upstream is restored: the same bytes.
    assert_eq!(
        split_signature(&join_signature("c", "Zm9vYg")).1.as_deref(),
        Some("Zm9vYg==")
    );
    assert_eq!(split_signature("call_plain"), ("call_plain", None));
    assert_eq!(split_signature("toolu_01A"), ("toolu_01A", None));
    assert_eq!(split_signature("x__thought__"), ("x__thought__", None));
    assert_eq!(join_signature("x", "not base64!"), "x");
    // LiteLLM's form, with the standard alphabet in the id.
    assert_eq!(
        split_signature("call_9__thought__ab+/cd=="),
        ("call_9", Some("ab+/cd==".into()))
    );
}

#[test]
fn a_bad_key_is_told_apart_from_a_bad_request() {
    // As Google answers a request with an invalid key.
    let bad_key = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}"#;
    assert!(key_invalid(bad_key));
    let bad_request = br#"{"error":{"code":400,"message":"* GenerateContentRequest.contents: contents is not specified","status":"INVALID_ARGUMENT"}}"#;
    assert!(!key_invalid(bad_request));
    assert!(!key_invalid(b"not json"));
}
