//! Server-sent events: `data: {...}\n\n` framing and the lazy sequence of
//! `chat.completion.chunk` (text or tool call deltas) / streamed
//! `text_completion` events, ending with the optional usage chunk and
//! `data: [DONE]`.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::response::{reply_text, reply_tokens, Usage, SYSTEM_FINGERPRINT};
use crate::tools::Answer;

pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// Frames one JSON payload as an SSE event.
pub fn event(json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(json.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(json);
    out.put_slice(b"\n\n");
    out.freeze()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chat,
    Completion,
}

/// The events of one streamed reply, produced one at a time.
///
/// `chunks` events carry the reply: for chat, a role delta, `chunks - 2`
/// content deltas and a `finish_reason` chunk; for completions, `chunks - 1`
/// text deltas and a `finish_reason` chunk. The content deltas are the reply's
/// words, cycled if more are asked for. Then the usage chunk (if requested)
/// and `[DONE]`. A chat stream can carry another `Answer` instead (see
/// `answer`).
pub struct EventStream {
    kind: Kind,
    id: String,
    created: u64,
    model: String,
    script: Script,
    chunks: usize,
    include_usage: bool,
    prompt_tokens: u64,
    completion_tokens: u64,
    next: usize,
}

/// What the deltas between the first and the last reply event carry.
enum Script {
    /// The usual reply's words, one a delta, cycled.
    Reply(Vec<String>),
    /// A text of its own, in pieces of whole words that spell it exactly.
    Text(Vec<String>),
    /// A tool call: the first delta names it, the others carry pieces of its
    /// arguments string.
    Call {
        id: String,
        name: String,
        pieces: Vec<String>,
    },
}

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: Vec<ChatChoice<'a>>,
    /// Absent unless `include_usage`; then `null` on all but the last chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// `Some(None)` is an explicit `null` (a tool call's first delta).
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<()>>,
}

/// `id`, `type` and `name` come in the first delta of a call only.
#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct TextChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<TextChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

impl EventStream {
    /// `chunks` must be at least 3 (the CLI enforces it); smaller is raised.
    pub fn new(
        kind: Kind,
        id: String,
        created: u64,
        model: String,
        chunks: usize,
        include_usage: bool,
        prompt_tokens: u64,
    ) -> Self {
        let words = reply_text(&model)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let mut stream = EventStream {
            kind,
            id,
            created,
            model,
            script: Script::Reply(words),
            chunks: chunks.max(3),
            include_usage,
            prompt_tokens,
            completion_tokens: 0,
            next: 0,
        };
        stream.completion_tokens = stream.content_deltas() as u64;
        stream
    }

    /// A chat stream of `answer` instead of the usual reply: a text in at
    /// most `chunks - 2` deltas of whole words, or a tool call whose
    /// arguments come in at most `chunks - 2` pieces (fewer when the text has
    /// fewer words, or the arguments fewer characters). Usage counts what the
    /// non-streamed reply counts.
    pub fn answer(mut self, answer: Answer) -> Self {
        let most = self.chunks - 2;
        match answer {
            Answer::Usual => {}
            Answer::Text(text) => {
                self.completion_tokens = reply_tokens(&text);
                self.script = Script::Text(word_pieces(&text, most));
            }
            Answer::Call(call) => {
                self.completion_tokens = call.tokens();
                self.script = Script::Call {
                    pieces: char_pieces(&call.arguments, most),
                    id: call.id,
                    name: call.name,
                };
            }
        }
        if let Script::Text(pieces) | Script::Call { pieces, .. } = &self.script {
            self.chunks = pieces.len() + 2;
        }
        self
    }

    /// Number of content (or text) deltas in the stream.
    pub fn content_deltas(&self) -> usize {
        match self.kind {
            Kind::Chat => self.chunks - 2,
            Kind::Completion => self.chunks - 1,
        }
    }

    fn total(&self) -> usize {
        self.chunks + usize::from(self.include_usage) + 1
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.total()
    }

    /// Whether `--chunk-delay-ms` applies before the next event: only
    /// between the `chunks` reply events, not before the usage chunk or
    /// `[DONE]`.
    pub fn paced_before_next(&self) -> bool {
        self.next > 0 && self.next < self.chunks
    }

    /// The text of content delta `n`: a word, space-prefixed after the first.
    fn word(&self, n: usize) -> String {
        let Script::Reply(words) = &self.script else {
            return String::new();
        };
        let word = words.get(n % words.len().max(1)).map_or("", String::as_str);
        if n == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        }
    }

    fn usage(&self, last: bool) -> Option<Option<Usage>> {
        let usage = Usage::new(
            self.prompt_tokens,
            self.completion_tokens,
            self.kind == Kind::Chat,
        );
        self.include_usage.then_some(last.then_some(usage))
    }

    fn chat_event(&self, n: usize) -> serde_json::Result<Vec<u8>> {
        let mut choice = ChatChoice {
            index: 0,
            delta: Delta::default(),
            logprobs: None,
            finish_reason: None,
        };
        let word;
        let choices = if n == 0 {
            choice.delta = self.first_delta();
            vec![choice]
        } else if n < self.chunks - 1 {
            match &self.script {
                Script::Reply(_) => {
                    word = self.word(n - 1);
                    choice.delta.content = Some(Some(&word));
                }
                Script::Text(pieces) => choice.delta.content = Some(Some(piece(pieces, n - 1))),
                Script::Call { pieces, .. } => {
                    choice.delta.tool_calls = Some([ToolCallDelta {
                        index: 0,
                        id: None,
                        kind: None,
                        function: FunctionDelta {
                            name: None,
                            arguments: piece(pieces, n - 1),
                        },
                    }]);
                }
            }
            vec![choice]
        } else if n == self.chunks - 1 {
            choice.finish_reason = Some(match self.script {
                Script::Call { .. } => "tool_calls",
                Script::Reply(_) | Script::Text(_) => "stop",
            });
            vec![choice]
        } else {
            Vec::new()
        };
        serde_json::to_vec(&ChatChunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            service_tier: "default",
            system_fingerprint: SYSTEM_FINGERPRINT,
            choices,
            usage: self.usage(n >= self.chunks),
        })
    }

    /// The role delta; for a tool call also the call's id, type and name.
    fn first_delta(&self) -> Delta<'_> {
        let mut delta = Delta {
            role: Some("assistant"),
            content: Some(Some("")),
            tool_calls: None,
            refusal: Some(None),
        };
        if let Script::Call { id, name, .. } = &self.script {
            delta.content = Some(None);
            delta.tool_calls = Some([ToolCallDelta {
                index: 0,
                id: Some(id),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(name),
                    arguments: "",
                },
            }]);
        }
        delta
    }

    fn text_event(&self, n: usize) -> serde_json::Result<Vec<u8>> {
        let text;
        let choices = if n < self.chunks {
            let last = n == self.chunks - 1;
            text = if last { String::new() } else { self.word(n) };
            vec![TextChoice {
                text: &text,
                index: 0,
                logprobs: None,
                finish_reason: last.then_some("stop"),
            }]
        } else {
            Vec::new()
        };
        serde_json::to_vec(&TextChunk {
            id: &self.id,
            object: "text_completion",
            created: self.created,
            model: &self.model,
            system_fingerprint: SYSTEM_FINGERPRINT,
            choices,
            usage: self.usage(n >= self.chunks),
        })
    }
}

/// The usual reply's words as `n` deltas, cycled if more are asked for
/// (what the OpenAI chat stream carries between its role and stop chunks;
/// the Anthropic and Gemini streams carry the same).
pub fn reply_pieces(model: &str, n: usize) -> Vec<String> {
    let text = reply_text(model);
    let words: Vec<&str> = text.split_whitespace().collect();
    (0..n)
        .map(|i| {
            let word = words.get(i % words.len().max(1)).copied().unwrap_or("");
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

fn piece(pieces: &[String], n: usize) -> &str {
    pieces.get(n).map_or("", String::as_str)
}

/// `text`'s words in at most `most` pieces, as even as they go (one word a
/// piece when there are fewer words); every piece but the first starts with a
/// space, so the pieces spell a single-spaced text exactly.
pub fn word_pieces(text: &str, most: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let n = words.len().min(most).max(1);
    (0..n)
        .map(|i| {
            let group = words[i * words.len() / n..(i + 1) * words.len() / n].join(" ");
            if i == 0 {
                group
            } else {
                format!(" {group}")
            }
        })
        .collect()
}

/// `text` cut into at most `most` pieces of as even a number of characters
/// as they go (one character a piece when it is shorter).
pub fn char_pieces(text: &str, most: usize) -> Vec<String> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(at, _)| at)
        .chain([text.len()])
        .collect();
    let chars = bounds.len() - 1;
    let n = chars.min(most).max(1);
    (0..n)
        .map(|i| text[bounds[i * chars / n]..bounds[(i + 1) * chars / n]].to_owned())
        .collect()
}

impl Iterator for EventStream {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let n = self.next;
        if n >= self.total() {
            return None;
        }
        self.next += 1;
        if n == self.total() - 1 {
            return Some(Bytes::from_static(DONE));
        }
        let json = match self.kind {
            Kind::Chat => self.chat_event(n),
            Kind::Completion => self.text_event(n),
        };
        // These structs always serialize; if one ever failed, end the stream
        // without `[DONE]` as a provider dropping the connection would.
        match json {
            Ok(json) => Some(event(&json)),
            Err(_) => {
                self.next = self.total();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn payloads(stream: EventStream) -> Vec<Value> {
        let events: Vec<Bytes> = stream.collect();
        let (last, rest) = events.split_last().expect("events");
        assert_eq!(&last[..], DONE);
        rest.iter()
            .map(|e| {
                let text = std::str::from_utf8(e).expect("utf8");
                let json = text.strip_prefix("data: ").expect("prefix");
                let json = json.strip_suffix("\n\n").expect("blank line");
                assert!(!json.contains('\n'), "one line per event");
                serde_json::from_str(json).expect("json")
            })
            .collect()
    }

    fn chat(chunks: usize, include_usage: bool) -> EventStream {
        EventStream::new(
            Kind::Chat,
            "chatcmpl-x".into(),
            1,
            "mock-small".into(),
            chunks,
            include_usage,
            9,
        )
    }

    #[test]
    fn event_framing() {
        assert_eq!(&event(br#"{"a":1}"#)[..], b"data: {\"a\":1}\n\n");
    }

    #[test]
    fn chat_stream_spells_the_reply_and_ends_with_stop() {
        let events = payloads(chat(20, false));
        assert_eq!(events.len(), 20);
        assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
        assert!(events
            .iter()
            .all(|e| e["object"] == "chat.completion.chunk"));
        assert!(events.iter().all(|e| e.get("usage").is_none()));
        let text: String = events[1..19]
            .iter()
            .map(|e| {
                e["choices"][0]["delta"]["content"]
                    .as_str()
                    .expect("content")
            })
            .collect();
        assert_eq!(text, reply_text("mock-small"));
        assert_eq!(events[19]["choices"][0]["finish_reason"], "stop");
        assert_eq!(events[19]["choices"][0]["delta"], serde_json::json!({}));
    }

    #[test]
    fn include_usage_adds_a_final_usage_chunk() {
        let events = payloads(chat(5, true));
        assert_eq!(events.len(), 6);
        assert!(events[..5].iter().all(|e| e["usage"].is_null()));
        assert_eq!(events[5]["choices"], serde_json::json!([]));
        assert_eq!(events[5]["usage"]["completion_tokens"], 3);
        assert_eq!(events[5]["usage"]["total_tokens"], 12);
    }

    #[test]
    fn completion_stream_uses_text_deltas() {
        let stream = EventStream::new(
            Kind::Completion,
            "cmpl-x".into(),
            1,
            "m".into(),
            4,
            false,
            1,
        );
        let events = payloads(stream);
        assert_eq!(events.len(), 4);
        assert_eq!(events[0]["object"], "text_completion");
        assert_eq!(events[0]["choices"][0]["text"], "Hello!");
        assert_eq!(events[1]["choices"][0]["text"], " This");
        assert_eq!(events[3]["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn a_tool_call_streams_its_header_then_argument_pieces() {
        let call = crate::tools::ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"example"}"#.into(),
        };
        let events = payloads(chat(5, true).answer(Answer::Call(call)));
        // header, 3 argument pieces, finish_reason, usage
        assert_eq!(events.len(), 6);
        assert_eq!(
            events[0]["choices"][0]["delta"],
            serde_json::json!({"role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": ""}}]})
        );
        let arguments: String = events[1..4]
            .iter()
            .map(|e| {
                let call = &e["choices"][0]["delta"]["tool_calls"][0];
                assert_eq!(call["index"], 0);
                assert!(call.get("id").is_none() && call["function"].get("name").is_none());
                call["function"]["arguments"].as_str().expect("arguments")
            })
            .collect();
        assert_eq!(arguments, r#"{"city":"example"}"#);
        assert_eq!(events[4]["choices"][0]["delta"], serde_json::json!({}));
        assert_eq!(events[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(events[5]["usage"]["completion_tokens"], 8);
    }

    #[test]
    fn short_arguments_and_texts_take_fewer_deltas() {
        let call = crate::tools::ToolCall {
            id: "call_1".into(),
            name: "now".into(),
            arguments: "{}".into(),
        };
        let events = payloads(chat(20, false).answer(Answer::Call(call)));
        assert_eq!(events.len(), 4);
        let text = "Got it: \"ok\" from m.";
        let events = payloads(chat(20, false).answer(Answer::Text(text.into())));
        assert_eq!(events.len(), 2 + 5);
        let spelled: String = events[1..6]
            .iter()
            .map(|e| e["choices"][0]["delta"]["content"].as_str().expect("text"))
            .collect();
        assert_eq!(spelled, text);
        assert_eq!(events[6]["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn pieces_split_evenly_on_boundaries() {
        assert_eq!(word_pieces("a b c d e", 2), vec!["a b", " c d e"]);
        assert_eq!(word_pieces("a b", 5), vec!["a", " b"]);
        assert_eq!(word_pieces("", 5), vec![""]);
        assert_eq!(char_pieces("héllo", 2), vec!["hé", "llo"]);
        assert_eq!(char_pieces("", 3), vec![""]);
    }

    #[test]
    fn reply_pieces_spell_the_reply_and_cycle() {
        assert_eq!(reply_pieces("m", 18).concat(), reply_text("m"));
        let more = reply_pieces("m", 20);
        assert_eq!(more[18], " Hello!");
    }

    #[test]
    fn pacing_applies_only_between_reply_chunks() {
        let mut stream = chat(3, true);
        let mut paced = Vec::new();
        while !stream.is_done() {
            paced.push(stream.paced_before_next());
            stream.next();
        }
        // role, content, stop, usage, [DONE]
        assert_eq!(paced, vec![false, true, true, false, false]);
    }
}
