//! Thinking blocks the gateway signed with [`UNSIGNED_THINKING`], taken out
//! of an Anthropic request before it reaches a real Anthropic upstream.
//! They come from turns another provider answered (its reasoning, shown to
//! an Anthropic client as thinking); Anthropic checks every signature and
//! refuses the request over one it did not make.
//!
//! Choices:
//! - The pass-through path must stay nearly free: without the marker's bytes
//!   in the body nothing is parsed. A client would have to escape the
//!   marker's plain ASCII characters in its JSON to hide it; none does.
//! - An assistant message left with no content is dropped: Anthropic
//!   refuses empty content and empty text blocks, and joins the user turns
//!   on either side of the gap into one, as it joins any consecutive turns
//!   of one role.
//! - When the blocks come out of the assistant turn still in progress (the
//!   assistant messages after the last user message that is more than tool
//!   results), the request's `thinking` is removed too: with thinking on,
//!   Anthropic requires that turn to start with a (signed) thinking block,
//!   and its own error message advises turning thinking off.

use super::anthropic::UNSIGNED_THINKING;
use super::translate::parse_object;
use serde_json::Value;

/// The body without the gateway's unsigned thinking blocks; `None` when it
/// has none (or is not a JSON object with messages: not ours to fix), and
/// then it goes upstream unchanged.
pub fn strip_unsigned_thinking(body: &[u8]) -> Option<Vec<u8>> {
    // A JSON body is UTF-8; `str::contains` is std's vectorised substring
    // search, so the common case costs one fast scan.
    if !std::str::from_utf8(body).ok()?.contains(UNSIGNED_THINKING) {
        return None;
    }
    let mut req = parse_object(body).ok()?;
    let Some(Value::Array(messages)) = req.get_mut("messages") else {
        return None;
    };
    let turn_start = current_turn_start(messages);
    let mut in_current_turn = false;
    let mut stripped = false;
    for (index, message) in messages.iter_mut().enumerate() {
        if strip_message(message) {
            stripped = true;
            in_current_turn |= index >= turn_start;
        }
    }
    if !stripped {
        // The marker was only quoted in some text.
        return None;
    }
    messages.retain(|message| !is_empty_assistant(message));
    if in_current_turn {
        req.remove("thinking");
    }
    serde_json::to_vec(&Value::Object(req)).ok()
}

fn is_assistant(message: &Value) -> bool {
    message.get("role").and_then(Value::as_str) == Some("assistant")
}

/// Removes the marked thinking blocks of an assistant message; whether it
/// had any.
fn strip_message(message: &mut Value) -> bool {
    if !is_assistant(message) {
        return false;
    }
    let Some(Value::Array(content)) = message.get_mut("content") else {
        return false;
    };
    let before = content.len();
    content.retain(|block| !is_unsigned_thinking(block));
    content.len() != before
}

fn is_unsigned_thinking(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("thinking")
        && block.get("signature").and_then(Value::as_str) == Some(UNSIGNED_THINKING)
}

fn is_empty_assistant(message: &Value) -> bool {
    is_assistant(message) && message["content"].as_array().is_some_and(Vec::is_empty)
}

/// Where the assistant turn in progress starts: after the last user
/// message that says something besides tool results.
fn current_turn_start(messages: &[Value]) -> usize {
    let opens_turn = |message: &Value| {
        message.get("role").and_then(Value::as_str) == Some("user")
            && match message.get("content") {
                Some(Value::Array(blocks)) => blocks
                    .iter()
                    .any(|b| b.get("type").and_then(Value::as_str) != Some("tool_result")),
                _ => true,
            }
    };
    messages
        .iter()
        .rposition(opens_turn)
        .map_or(0, |last| last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strip(req: &Value) -> Option<Value> {
        let out = strip_unsigned_thinking(req.to_string().as_bytes())?;
        Some(serde_json::from_slice(&out).expect("json"))
    }

    fn unsigned(text: &str) -> Value {
        json!({ "type": "thinking", "thinking": text, "signature": UNSIGNED_THINKING })
    }

    #[test]
    fn without_the_marker_the_body_is_untouched_and_unparsed() {
        let body = br#"{"model":"claude","messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(strip_unsigned_thinking(body), None);
        // Not even JSON: no parse was attempted.
        assert_eq!(strip_unsigned_thinking(b"\xff\xfe not json"), None);
        let quoted = json!({ "messages": [{ "role": "user",
            "content": format!("what is {UNSIGNED_THINKING}?") }] });
        assert_eq!(strip(&quoted), None, "the marker only quoted in text");
        assert_eq!(strip_unsigned_thinking(UNSIGNED_THINKING.as_bytes()), None);
    }

    #[test]
    fn marked_blocks_go_signed_ones_stay_and_empty_messages_are_dropped() {
        let signed = json!({ "type": "thinking", "thinking": "real", "signature": "EqQB" });
        let req = json!({
            "model": "claude-sonnet-4-6",
            "max_tokens": 20000,
            "thinking": { "type": "enabled", "budget_tokens": 8000 },
            "messages": [
                { "role": "user", "content": "a" },
                { "role": "assistant", "content": [unsigned("other"), { "type": "text", "text": "A" }] },
                { "role": "user", "content": "b" },
                { "role": "assistant", "content": [unsigned("only thinking")] },
                { "role": "user", "content": "c" },
                { "role": "assistant", "content": [signed.clone(), { "type": "text", "text": "C" }] },
                { "role": "user", "content": "d" }
            ]
        });
        let out = strip(&req).expect("stripped");
        assert_eq!(
            out["messages"],
            json!([
                { "role": "user", "content": "a" },
                { "role": "assistant", "content": [{ "type": "text", "text": "A" }] },
                { "role": "user", "content": "b" },
                { "role": "user", "content": "c" },
                { "role": "assistant", "content": [signed, { "type": "text", "text": "C" }] },
                { "role": "user", "content": "d" }
            ])
        );
        assert_eq!(
            out["thinking"], req["thinking"],
            "earlier turns: thinking stays on"
        );
        assert_eq!(out["max_tokens"], 20000);
    }

    #[test]
    fn stripping_the_turn_in_progress_turns_thinking_off() {
        let req = json!({
            "model": "claude-sonnet-4-6",
            "max_tokens": 20000,
            "thinking": { "type": "enabled", "budget_tokens": 8000 },
            "messages": [
                { "role": "user", "content": [{ "type": "text", "text": "list files" }] },
                { "role": "assistant", "content": [
                    unsigned("I should run ls"),
                    { "type": "tool_use", "id": "toolu_1", "name": "Bash", "input": { "command": "ls" } }
                ] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt" }
                ] }
            ]
        });
        let out = strip(&req).expect("stripped");
        assert!(out.get("thinking").is_none());
        assert_eq!(
            out["messages"][1]["content"],
            json!([{ "type": "tool_use", "id": "toolu_1", "name": "Bash", "input": { "command": "ls" } }])
        );
    }
}
