//! Token usage as the provider reports it: the `usage` object of a whole
//! JSON reply, or of the last SSE event that carries one (OpenAI sends it in
//! a final chunk when the client asks for `stream_options.include_usage`).
//! Anthropic's `input_tokens`/`output_tokens` names are read too.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: u64,
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

#[derive(Deserialize)]
struct WithUsage {
    #[serde(default)]
    usage: Option<Usage>,
    /// A Responses stream's final event carries it one level down
    /// (`response.completed`: `{"response": {"usage": ...}}`).
    #[serde(default)]
    response: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(default)]
    usage: Option<Usage>,
}

/// A reply body that is not JSON at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

/// Whether `body` is JSON, and its usage if it reports one. One parse: the
/// rest of the object is skipped, not built.
pub fn usage_from_json(body: &[u8]) -> Result<Option<Usage>, NotJson> {
    match serde_json::from_slice::<WithUsage>(body) {
        Ok(w) => Ok((w.usage)
            .or_else(|| w.response.and_then(|r| r.usage))
            .map(Usage::totalled)),
        // Valid JSON that is not an object (or has an odd `usage`) is
        // still a JSON reply; it just reports nothing we can count.
        Err(_) => serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map(|_| None)
            .map_err(|_| NotJson),
    }
}

impl From<super::anthropic::ChatUsage> for Usage {
    /// OpenAI's counts of a translated reply, whatever the provider said.
    fn from(u: super::anthropic::ChatUsage) -> Self {
        Self {
            prompt_tokens: u.prompt,
            completion_tokens: u.completion,
            total_tokens: u.prompt + u.completion,
        }
    }
}

impl Usage {
    fn totalled(self) -> Self {
        let total = if self.total_tokens == 0 {
            self.prompt_tokens + self.completion_tokens
        } else {
            self.total_tokens
        };
        Self {
            total_tokens: total,
            ..self
        }
    }
}

/// The first `"id":"resp_…"` in `buf`.
fn find_response_id(buf: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"id\":\"resp_";
    let at = buf.windows(KEY.len()).position(|w| w == KEY)? + KEY.len() - "resp_".len();
    let rest = &buf[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    let id = std::str::from_utf8(&rest[..end]).ok()?;
    (id.len() <= 256).then(|| id.to_string())
}

/// The last few KiB of an SSE stream: where the usage event sits, and whose
/// last bytes tell whether an event was left half-written.
#[derive(Default)]
pub struct StreamTail {
    buf: Vec<u8>,
    /// A Responses stream: its response id is looked for until found, so
    /// that an event of ours can name the same response.
    responses: bool,
    response_id: Option<String>,
}

const KEEP: usize = 4096;

impl StreamTail {
    /// For a Responses stream (see [`StreamTail::response_id`]).
    pub fn for_responses() -> Self {
        Self {
            responses: true,
            ..Self::default()
        }
    }

    /// The id of the Response a Responses stream is about, from its first
    /// event that names it (`response.created`).
    pub fn response_id(&self) -> Option<&str> {
        self.response_id.as_deref()
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.keep(chunk);
        if self.responses && self.response_id.is_none() {
            self.response_id = find_response_id(&self.buf);
        }
    }

    fn keep(&mut self, chunk: &[u8]) {
        if chunk.len() >= KEEP {
            self.buf.clear();
            self.buf.extend_from_slice(&chunk[chunk.len() - KEEP..]);
            return;
        }
        if self.buf.len() + chunk.len() > 2 * KEEP {
            let cut = self.buf.len() + chunk.len() - KEEP;
            self.buf.drain(..cut.min(self.buf.len()));
        }
        self.buf.extend_from_slice(chunk);
    }

    /// What must precede an event of ours so that a half-written event
    /// before it is closed first.
    pub fn separator(&self) -> &'static [u8] {
        match self.buf.as_slice() {
            [] | [.., b'\n', b'\n'] => b"",
            [.., b'\n'] => b"\n",
            _ => b"\n\n",
        }
    }

    /// The `sequence_number` an event added after the stream's last one
    /// should carry (Responses streams number their events), 0 if none
    /// was seen.
    pub fn next_sequence_number(&self) -> u64 {
        const KEY: &[u8] = b"\"sequence_number\":";
        let Some(at) = (self.buf.windows(KEY.len())).rposition(|w| w == KEY) else {
            return 0;
        };
        let digits = self.buf[at + KEY.len()..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_digit())
            .fold(0u64, |n, d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
        digits.saturating_add(1)
    }

    /// The usage of the last `data:` event that reports one.
    pub fn usage(&self) -> Option<Usage> {
        let text = std::str::from_utf8(&self.buf).ok().or_else(|| {
            // The cut may have split a UTF-8 character: start after it.
            let start = self.buf.iter().position(|&b| b == b'\n')?;
            std::str::from_utf8(&self.buf[start..]).ok()
        })?;
        text.lines()
            .rev()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim_start)
            .filter(|data| data.starts_with('{') && data.contains("\"usage\""))
            .find_map(|data| usage_from_json(data.as_bytes()).ok().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_responses_stream_tells_its_usage_and_its_next_sequence_number() {
        let mut tail = StreamTail::for_responses();
        assert_eq!(tail.next_sequence_number(), 0);
        tail.push(b"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_abc\",\"object\":\"response\"}}\n\n");
        assert_eq!(tail.response_id(), Some("resp_abc"));
        tail.push(b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":7,\"delta\":\"x\"}\n\n");
        assert_eq!(tail.next_sequence_number(), 8);
        tail.push(b"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\": 8,\"response\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":3,\"total_tokens\":12}}}\n\n");
        assert_eq!(tail.next_sequence_number(), 9);
        let usage = tail.usage().expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (9, 3));
    }

    #[test]
    fn usage_from_whole_replies() {
        let chat = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
        assert_eq!(
            usage_from_json(chat),
            Ok(Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 5,
                total_tokens: 17
            }))
        );
        let emb = br#"{"object":"list","data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        assert_eq!(usage_from_json(emb).unwrap().unwrap().total_tokens, 8);
        let anthropic = br#"{"usage":{"input_tokens":3,"output_tokens":4}}"#;
        assert_eq!(usage_from_json(anthropic).unwrap().unwrap().total_tokens, 7);
        assert_eq!(usage_from_json(br#"{"usage":null}"#), Ok(None));
        assert_eq!(usage_from_json(b"[1,2]"), Ok(None));
        assert_eq!(usage_from_json(b"<html>"), Err(NotJson));
    }

    #[test]
    fn separator_closes_a_partial_event() {
        let mut t = StreamTail::default();
        assert_eq!(t.separator(), b"");
        t.push(b"data: {}\n\n");
        assert_eq!(t.separator(), b"");
        t.push(b"data: {\"par");
        assert_eq!(t.separator(), b"\n\n");
        t.push(b"tial\"}\n");
        assert_eq!(t.separator(), b"\n");
        t.push(b"\n");
        assert_eq!(t.separator(), b"");
    }

    #[test]
    fn usage_from_the_end_of_a_stream() {
        let mut tail = StreamTail::default();
        tail.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"usage\"}}],\"usage\":null}\n\n");
        for _ in 0..500 {
            tail.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n");
        }
        assert_eq!(tail.usage(), None);
        tail.push(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":20,\"total_tokens\":29}}\n\ndata: [DONE]\n\n");
        assert_eq!(tail.usage().map(|u| u.total_tokens), Some(29));
        let mut split = StreamTail::default();
        split.push(b"data: {\"choices\":[],\"usa");
        split.push(b"ge\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n");
        assert_eq!(split.usage().map(|u| u.total_tokens), Some(3));
    }
}
