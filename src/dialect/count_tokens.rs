//! `POST /v1/messages/count_tokens` when no Anthropic upstream can count
//! exactly: an estimate from the request itself. Anthropic's own count is
//! exact and is used whenever an `anthropic` candidate answers; other
//! providers have no such endpoint for Anthropic's format (Gemini counts,
//! but its tokens are not Claude's either). Clients use the number to
//! decide when to compact a conversation, so it errs on the high side.
//!
//! The estimate: every string in `system`, `messages` and `tools` (keys
//! included, image and document data excluded) at one token per three
//! bytes, plus a few tokens of framing per message and per tool, plus a
//! flat 1,600 per image (Anthropic's documented cost of an image of about
//! 1.15 megapixels, the largest it takes without resizing).

use serde_json::Value;

const BYTES_PER_TOKEN: u64 = 3;
const PER_MESSAGE: u64 = 4;
const PER_IMAGE: u64 = 1_600;

/// The estimated input tokens of a Messages request, or `None` when the
/// body is not a JSON object.
pub fn estimate(body: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let mut count = Count::default();
    for key in ["system", "messages", "tools"] {
        if let Some(v) = object.get(key) {
            count.walk(v);
        }
    }
    let messages = (object.get("messages").and_then(Value::as_array)).map_or(0, Vec::len);
    let tools = (object.get("tools").and_then(Value::as_array)).map_or(0, Vec::len);
    let framing = PER_MESSAGE * (messages + tools) as u64;
    Some(count.bytes.div_ceil(BYTES_PER_TOKEN) + framing + count.images * PER_IMAGE)
}

#[derive(Default)]
struct Count {
    bytes: u64,
    images: u64,
}

impl Count {
    fn walk(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.bytes += s.len() as u64,
            Value::Number(_) | Value::Bool(_) => self.bytes += 1,
            Value::Null => {}
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("image") {
                    self.images += 1;
                    return;
                }
                for (k, v) in map {
                    // Binary payloads are not text the model reads.
                    if k == "data" && map.get("media_type").is_some() {
                        continue;
                    }
                    self.bytes += k.len() as u64;
                    self.walk(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_text_messages_tools_and_images() {
        let small = br#"{"model":"m","messages":[{"role":"user","content":"Hello, world"}]}"#;
        let n = estimate(small).expect("object");
        assert!((5..=20).contains(&n), "{n}");
        let long = format!(
            r#"{{"model":"m","system":"{}","messages":[{{"role":"user","content":"hi"}}]}}"#,
            "word ".repeat(3000)
        );
        let n = estimate(long.as_bytes()).expect("object");
        assert!((4000..=6000).contains(&n), "{n}");
        let image = br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}]}]}"#;
        let n = estimate(image).expect("object");
        assert!((PER_IMAGE..PER_IMAGE + 40).contains(&n), "{n}");
        assert_eq!(estimate(b"[1]"), None);
        assert_eq!(estimate(b"nope"), None);
    }
}
