//! Response side of Anthropic's Messages API: the `message` object (a text
//! or a `tool_use` block) and its stream, `message_start`,
//! `content_block_start`, `ping`, `content_block_delta`s (`text_delta` or
//! `input_json_delta`), `content_block_stop`, `message_delta` (stop reason
//! and usage), `message_stop`, each with its `event:` line.
//!
//! `--chunks N` gives the text N - 2 deltas, the words the OpenAI stream
//! carries between its role and stop chunks, so the two streams compare;
//! `--chunk-delay-ms` comes before each delta and before `message_delta`.

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::frames::{named_event, Frames};
use crate::response::{reply_text, reply_tokens, to_json};
use crate::sse::{char_pieces, reply_pieces, word_pieces};
use crate::tools::{Answer, ToolCall};

/// What a reply to one request shares.
pub struct Turn<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub input_tokens: u64,
}

#[derive(Serialize)]
struct Message<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block<'a>>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<()>,
    usage: Usage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a RawValue,
    },
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_creation: Option<CacheCreation>,
    output_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'static str>,
}

#[derive(Serialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

impl Usage {
    /// The `usage` of a message (`message_start`'s too); `message_delta`'s
    /// carries the counts only.
    fn new(input_tokens: u64, output_tokens: u64, full: bool) -> Self {
        Usage {
            input_tokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            cache_creation: full.then_some(CacheCreation {
                ephemeral_5m_input_tokens: 0,
                ephemeral_1h_input_tokens: 0,
            }),
            output_tokens,
            service_tier: full.then_some("standard"),
        }
    }
}

fn input_of(call: &ToolCall) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(call.arguments.clone())
        .map_err(|e| ApiError::internal(format!("mock-provider built bad tool input: {e}")))
}

fn stop_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::Call(_) => "tool_use",
        Answer::Usual | Answer::Text(_) => "end_turn",
    }
}

/// The non-streamed `message`.
pub fn message(turn: &Turn, answer: &Answer) -> Result<Bytes, ApiError> {
    let usual;
    let input;
    let (block, output_tokens) = match answer {
        Answer::Usual => {
            usual = reply_text(turn.model);
            (Block::Text { text: &usual }, reply_tokens(&usual))
        }
        Answer::Text(text) => (Block::Text { text }, reply_tokens(text)),
        Answer::Call(call) => {
            input = input_of(call)?;
            let block = Block::ToolUse {
                id: &call.id,
                name: &call.name,
                input: &input,
            };
            (block, call.tokens())
        }
    };
    to_json(&Message {
        id: turn.id,
        kind: "message",
        role: "assistant",
        model: turn.model,
        content: vec![block],
        stop_reason: Some(stop_reason(answer)),
        stop_sequence: None,
        usage: Usage::new(turn.input_tokens, output_tokens, true),
    })
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: Block<'a>,
    },
    Ping,
    ContentBlockDelta {
        index: u32,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: Usage,
    },
    MessageStop,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<()>,
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::Ping => "ping",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
        }
    }

    fn framed(&self) -> Result<Bytes, ApiError> {
        Ok(named_event(self.name(), &to_json(self)?))
    }
}

/// The streamed message: `chunks - 2` deltas of the usual reply (its words,
/// cycled if more), of `answer`'s text (whole words, fewer if it is short),
/// or of a tool call's input JSON.
pub fn stream(turn: &Turn, answer: &Answer, chunks: usize) -> Result<Frames, ApiError> {
    let most = chunks.max(3) - 2;
    let empty_input;
    let (start_block, pieces, output_tokens) = match answer {
        Answer::Usual => {
            let pieces = reply_pieces(turn.model, most);
            let tokens = pieces.len() as u64;
            (Block::Text { text: "" }, pieces, tokens)
        }
        Answer::Text(text) => {
            let block = Block::Text { text: "" };
            (block, word_pieces(text, most), reply_tokens(text))
        }
        Answer::Call(call) => {
            empty_input = RawValue::from_string("{}".to_owned())
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let block = Block::ToolUse {
                id: &call.id,
                name: &call.name,
                input: &empty_input,
            };
            (block, char_pieces(&call.arguments, most), call.tokens())
        }
    };
    let mut frames = Frames::default();
    let start = Message {
        id: turn.id,
        kind: "message",
        role: "assistant",
        model: turn.model,
        content: Vec::new(),
        stop_reason: None,
        stop_sequence: None,
        usage: Usage::new(turn.input_tokens, 1, true),
    };
    frames.push(Event::MessageStart { message: start }.framed()?);
    let content_block = start_block;
    frames.push(
        Event::ContentBlockStart {
            index: 0,
            content_block,
        }
        .framed()?,
    );
    frames.push(Event::Ping.framed()?);
    let call = matches!(answer, Answer::Call(_));
    for piece in &pieces {
        let delta = if call {
            Delta::InputJsonDelta {
                partial_json: piece,
            }
        } else {
            Delta::TextDelta { text: piece }
        };
        frames.push_paced(Event::ContentBlockDelta { index: 0, delta }.framed()?);
    }
    frames.push(Event::ContentBlockStop { index: 0 }.framed()?);
    let delta = StopDelta {
        stop_reason: stop_reason(answer),
        stop_sequence: None,
    };
    let usage = Usage::new(turn.input_tokens, output_tokens, false);
    frames.push_paced(Event::MessageDelta { delta, usage }.framed()?);
    frames.push(Event::MessageStop.framed()?);
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const TURN: Turn = Turn {
        id: "msg_1",
        model: "claude-x",
        input_tokens: 7,
    };

    fn call() -> ToolCall {
        ToolCall {
            id: "toolu_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"example","days":1}"#.into(),
        }
    }

    /// (event name, payload) of each event; checks the framing.
    fn events(frames: Frames) -> Vec<(String, Value)> {
        frames
            .map(|event| {
                let text = String::from_utf8(event.to_vec()).expect("utf-8");
                let body = text.strip_suffix("\n\n").expect("blank line");
                let (name, data) = body.split_once('\n').expect("two lines");
                let name = name.strip_prefix("event: ").expect("event:");
                let data: Value = serde_json::from_str(data.strip_prefix("data: ").expect("data:"))
                    .expect("json");
                assert_eq!(data["type"], name);
                (name.to_owned(), data)
            })
            .collect()
    }

    #[test]
    fn a_message_has_anthropics_shape() {
        let v: Value =
            serde_json::from_slice(&message(&TURN, &Answer::Usual).expect("json")).expect("json");
        assert_eq!(v["id"], "msg_1");
        assert_eq!(v["type"], "message");
        assert_eq!(v["content"][0]["type"], "text");
        assert_eq!(v["content"][0]["text"], reply_text("claude-x"));
        assert_eq!(v["stop_reason"], "end_turn");
        assert_eq!(v["stop_sequence"], Value::Null);
        assert_eq!(v["usage"]["input_tokens"], 7);
        assert_eq!(v["usage"]["output_tokens"], 18);
        assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
        assert_eq!(v["usage"]["cache_creation_input_tokens"], 0);
    }

    #[test]
    fn a_tool_use_message_keeps_the_argument_order() {
        let bytes = message(&TURN, &Answer::Call(call())).expect("json");
        let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
        assert!(
            text.contains(r#""input":{"city":"example","days":1}"#),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["content"][0]["type"], "tool_use");
        assert_eq!(v["content"][0]["id"], "toolu_1");
        assert_eq!(v["stop_reason"], "tool_use");
    }

    #[test]
    fn the_stream_has_every_event_in_order() {
        let events = events(stream(&TURN, &Answer::Usual, 20).expect("frames"));
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        let mut expected = vec!["message_start", "content_block_start", "ping"];
        expected.extend(["content_block_delta"; 18]);
        expected.extend(["content_block_stop", "message_delta", "message_stop"]);
        assert_eq!(names, expected);
        let start = &events[0].1["message"];
        assert_eq!(start["content"], json!([]));
        assert_eq!(start["stop_reason"], Value::Null);
        assert_eq!(start["usage"]["input_tokens"], 7);
        assert_eq!(
            events[1].1["content_block"],
            json!({"type": "text", "text": ""})
        );
        let text: String = events[3..21]
            .iter()
            .map(|(_, e)| {
                assert_eq!(e["delta"]["type"], "text_delta");
                e["delta"]["text"].as_str().expect("text")
            })
            .collect();
        assert_eq!(text, reply_text("claude-x"));
        let delta = &events[22].1;
        assert_eq!(
            delta["delta"],
            json!({"stop_reason": "end_turn", "stop_sequence": null})
        );
        assert_eq!(delta["usage"]["output_tokens"], 18);
        assert_eq!(delta["usage"]["input_tokens"], 7);
    }

    #[test]
    fn a_streamed_tool_use_sends_its_input_in_json_pieces() {
        let events = events(stream(&TURN, &Answer::Call(call()), 5).expect("frames"));
        assert_eq!(events.len(), 3 + 3 + 3);
        assert_eq!(
            events[1].1["content_block"],
            json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}})
        );
        let json: String = events[3..6]
            .iter()
            .map(|(_, e)| e["delta"]["partial_json"].as_str().expect("piece"))
            .collect();
        assert_eq!(json, call().arguments);
        assert_eq!(events[7].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn pacing_covers_the_deltas_and_the_stop() {
        let mut frames = stream(&TURN, &Answer::Usual, 4).expect("frames");
        let mut paced = Vec::new();
        while !frames.is_done() {
            paced.push(frames.paced_before_next());
            frames.next();
        }
        assert_eq!(paced, [false, false, false, true, true, false, true, false]);
    }
}
