//! OpenAI's Responses API (`POST .../responses`) as the mock upstream speaks it: request
//! validation, the `response` object (one `message` item with an `output_text` part, or
//! one `function_call` item), its stream of named events each with a `sequence_number`,
//! and the error envelope (OpenAI's, as for chat). Only what a native Responses provider
//! (`type: openai`, `azure`) is asked: the gateway passes the client's body through.
//! Pure functions, no I/O.

use super::answer::{self, Answer, Event, Said, Usage};
use super::openai;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// A request the endpoint would accept: a JSON object with a string `model` (`input` may
/// be absent: OpenAI then answers from `instructions` or a stored prompt).
pub(super) struct ParsedRequest {
    pub model: String,
    /// `"stream": true`: the answer is the event stream.
    pub stream: bool,
}

/// Parses the body like the provider: `Err` carries the 400 error message.
pub(super) fn parse_request(body: &[u8]) -> Result<ParsedRequest, String> {
    let parsed = openai::parse_request(body)?;
    Ok(ParsedRequest {
        stream: parsed.json.get("stream").and_then(Value::as_bool) == Some(true),
        model: parsed.model,
    })
}

/// The same envelope as chat completions: `{"error": {"message", "type", "param", "code"}}`.
pub(super) fn error_envelope(status: u16, message: &str) -> Value {
    openai::error_envelope(status, message)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `input_tokens` includes the cached ones, as chat's `prompt_tokens` does.
fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt,
        "input_tokens_details": { "cached_tokens": usage.cached() },
        "output_tokens": usage.completion,
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": usage.total(),
    })
}

/// The ids of one reply, fixed before its first event: a stream names its response and
/// its item in every event, and the final object must name them alike.
struct Ids {
    response: String,
    item: String,
    /// A function call's `call_id` (the id its output is paired by).
    call: String,
    created: u64,
}

impl Ids {
    fn new(said: &Said) -> Ids {
        let item = match said {
            Said::Text(_) => format!("msg_mock{}", answer::serial()),
            Said::ToolCall { .. } => format!("fc_mock{}", answer::serial()),
        };
        Ids {
            response: format!("resp_mock{}", answer::serial()),
            item,
            call: format!("call_mock{}", answer::serial()),
            created: now_secs(),
        }
    }
}

fn output_text(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [], "logprobs": [] })
}

/// The one output item: a `message` with the text (`None`: in progress, no parts yet),
/// or a `function_call` (in progress: no arguments yet).
fn item(said: &Said, ids: &Ids, done: bool) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    match said {
        Said::Text(pieces) => {
            let content = match done {
                true => json!([output_text(&pieces.concat())]),
                false => json!([]),
            };
            json!({ "type": "message", "id": ids.item, "status": status, "role": "assistant",
                    "content": content })
        }
        Said::ToolCall { name, args } => {
            let arguments = if done {
                args.to_string()
            } else {
                String::new()
            };
            json!({ "type": "function_call", "id": ids.item, "call_id": ids.call,
                    "name": name, "arguments": arguments, "status": status })
        }
    }
}

/// The `response` object; an in-progress one has no output and no usage yet.
fn response_object(answer: &Answer, ids: &Ids, done: bool) -> Value {
    let (status, output, usage) = match done {
        true => (
            "completed",
            json!([item(&answer.said, ids, true)]),
            usage_json(&answer.usage),
        ),
        false => ("in_progress", json!([]), Value::Null),
    };
    json!({
        "id": ids.response,
        "object": "response",
        "created_at": ids.created,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": answer.model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": { "effort": null, "summary": null },
        "store": true,
        "temperature": 1.0,
        "text": { "format": { "type": "text" } },
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": {},
    })
}

/// The whole reply: a completed `response` with its one output item and the usage.
pub(super) fn response(answer: &Answer) -> Value {
    response_object(answer, &Ids::new(&answer.said), true)
}

/// The event stream, each event named by its `type` and numbered from 0:
/// `response.created`, `response.in_progress`, `response.output_item.added`, then for
/// text `response.content_part.added`, one `response.output_text.delta` per piece,
/// `response.output_text.done`, `response.content_part.done`; for a function call its
/// arguments in `response.function_call_arguments.delta` fragments and `.done`; then
/// `response.output_item.done` and `response.completed` with the usage. The deltas are
/// the content events `cut_after(k)` counts.
pub(super) fn stream(answer: &Answer) -> Vec<Event> {
    let ids = Ids::new(&answer.said);
    let lifecycle = |done| json!({ "response": response_object(answer, &ids, done) });
    let mut events = vec![
        ("response.created", lifecycle(false)),
        ("response.in_progress", lifecycle(false)),
        (
            "response.output_item.added",
            json!({ "item": item(&answer.said, &ids, false) }),
        ),
    ];
    match &answer.said {
        Said::Text(pieces) => events.extend(text_events(pieces, &ids.item)),
        Said::ToolCall { name, args } => events.extend(call_events(name, args, &ids.item)),
    }
    events.push((
        "response.output_item.done",
        json!({ "item": item(&answer.said, &ids, true) }),
    ));
    events.push(("response.completed", lifecycle(true)));
    let numbered = events.into_iter().enumerate();
    numbered
        .map(|(sequence, (name, mut data))| {
            // Every event but the lifecycle ones is about the one output item.
            if data.get("response").is_none() {
                data["output_index"] = json!(0);
            }
            data["type"] = json!(name);
            data["sequence_number"] = json!(sequence);
            let event = Event::named(name, data.to_string());
            match name.ends_with(".delta") {
                true => event.content(),
                false => event,
            }
        })
        .collect()
}

/// The events of a message item's one `output_text` part, between its `added` and `done`.
fn text_events(pieces: &[String], item_id: &str) -> Vec<(&'static str, Value)> {
    let part = json!({ "item_id": item_id, "content_index": 0 });
    let text = pieces.concat();
    let mut events = vec![(
        "response.content_part.added",
        with(&part, "part", output_text("")),
    )];
    events.extend(pieces.iter().map(|piece| {
        let delta = with(&part, "delta", json!(piece));
        (
            "response.output_text.delta",
            with(&delta, "logprobs", json!([])),
        )
    }));
    let done = with(&part, "text", json!(text));
    events.push((
        "response.output_text.done",
        with(&done, "logprobs", json!([])),
    ));
    events.push((
        "response.content_part.done",
        with(&part, "part", output_text(&text)),
    ));
    events
}

/// The events of a function call item: its arguments in fragments, then whole.
fn call_events(name: &str, args: &Value, item_id: &str) -> Vec<(&'static str, Value)> {
    let call = json!({ "item_id": item_id });
    let mut events: Vec<_> = (answer::argument_fragments(args).into_iter())
        .map(|f| {
            (
                "response.function_call_arguments.delta",
                with(&call, "delta", json!(f)),
            )
        })
        .collect();
    let done = with(&call, "arguments", json!(args.to_string()));
    events.push((
        "response.function_call_arguments.done",
        with(&done, "name", json!(name)),
    ));
    events
}

/// `base` with one more field.
fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut object = base.clone();
    object[key] = value;
    object
}
