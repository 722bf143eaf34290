//! The output items' lifecycles as Responses events: opening an item,
//! streaming into the open one, closing it with its `.done` events, and
//! the framing of each event (`event:` line, `type`, `sequence_number`).

use super::ChatToResponsesStream;
use crate::dialect::responses::{self, item_id, Status};
use serde_json::{json, Value};

/// `response.output_text.delta`.
#[derive(serde::Serialize)]
struct TextDelta<'a> {
    content_index: u32,
    delta: &'a str,
    item_id: &'a str,
    logprobs: [u8; 0],
    output_index: usize,
    sequence_number: u64,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The output item currently open, with its place (`output_index`) and id.
pub(super) enum Open {
    Text {
        index: usize,
        item: String,
        text: String,
    },
    Reasoning {
        index: usize,
        item: String,
        text: String,
    },
    Tool {
        call: usize,
        index: usize,
        item: String,
        call_id: String,
        name: String,
    },
}

impl ChatToResponsesStream {
    pub(super) fn text(&mut self, delta: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Text { .. })) {
            // Closed first: the open item takes its place in the output.
            self.close_open(Status::Completed, out);
            let index = self.output.len();
            let item = item_id("msg", self.response_id(), index);
            let open = Open::Text {
                index,
                item,
                text: String::new(),
            };
            self.open_item(open, out);
        }
        let Some(Open::Text { index, item, text }) = &mut self.open else {
            return;
        };
        text.push_str(delta);
        // The most frequent event, written from a typed struct: its fields
        // in the order a map of them would have (alphabetical), so the
        // bytes are those of every other event's writer.
        let event = TextDelta {
            content_index: 0,
            delta,
            item_id: item,
            logprobs: [],
            output_index: *index,
            sequence_number: self.sequence,
            kind: "response.output_text.delta",
        };
        self.sequence += 1;
        out.extend_from_slice(b"event: response.output_text.delta\ndata: ");
        if serde_json::to_writer(&mut *out, &event).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"\n\n");
    }

    pub(super) fn reasoning(&mut self, delta: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            // Closed first: the open item takes its place in the output.
            self.close_open(Status::Completed, out);
            let index = self.output.len();
            let item = item_id("rs", self.response_id(), index);
            let open = Open::Reasoning {
                index,
                item,
                text: String::new(),
            };
            self.open_item(open, out);
        }
        let Some(Open::Reasoning { index, item, text }) = &mut self.open else {
            return;
        };
        text.push_str(delta);
        let fields = json!({ "item_id": item, "output_index": index, "summary_index": 0,
                             "delta": delta });
        self.emit("response.reasoning_summary_text.delta", fields, out);
    }

    /// Writes the held arguments of the open call.
    pub(super) fn send_held(&mut self, call: usize, out: &mut Vec<u8>) {
        let Some(Open::Tool { index, item, .. }) = &self.open else {
            return;
        };
        let held = std::mem::take(&mut self.calls[call].held);
        if held.is_empty() {
            return;
        }
        let fields = json!({ "item_id": item, "output_index": index, "delta": held });
        self.emit("response.function_call_arguments.delta", fields, out);
        self.calls[call].sent.push_str(&held);
    }

    /// Opens `open` (the open item closed before, so that `open`'s index is
    /// the output's length): `output_item.added` with the item empty, and
    /// the first part of a message or a summary.
    pub(super) fn open_item(&mut self, open: Open, out: &mut Vec<u8>) {
        let (index, item, part) = match &open {
            Open::Text { index, item, .. } => {
                let mut message = responses::message_item(item, "", "in_progress");
                message["content"] = json!([]);
                let part = json!({ "item_id": item, "output_index": index, "content_index": 0,
                                   "part": responses::output_text("") });
                (index, message, Some(("response.content_part.added", part)))
            }
            Open::Reasoning { index, item, .. } => {
                let part = json!({ "item_id": item, "output_index": index, "summary_index": 0,
                                   "part": responses::summary_text("") });
                let added = responses::reasoning_item(item, "");
                (
                    index,
                    added,
                    Some(("response.reasoning_summary_part.added", part)),
                )
            }
            Open::Tool {
                index,
                item,
                call_id,
                name,
                ..
            } => {
                let added = responses::function_call_item(item, call_id, name, "", "in_progress");
                (index, added, None)
            }
        };
        let added = json!({ "output_index": index, "item": item });
        self.emit("response.output_item.added", added, out);
        if let Some((kind, part)) = part {
            self.emit(kind, part, out);
        }
        self.open = Some(open);
    }

    /// Closes the open item: its `.done` events, then `output_item.done`
    /// with the whole item, which joins the output. A message cut short is
    /// marked `incomplete` (`status`), as OpenAI marks it.
    pub(super) fn close_open(&mut self, status: Status, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let (index, done) = match open {
            Open::Text { index, item, text } => {
                let at = json!({ "item_id": item, "output_index": index, "content_index": 0 });
                let mut done = at.clone();
                done["text"] = text.as_str().into();
                done["logprobs"] = json!([]);
                self.emit("response.output_text.done", done, out);
                let mut part = at;
                part["part"] = responses::output_text(&text);
                self.emit("response.content_part.done", part, out);
                (index, responses::message_item(&item, &text, status.name()))
            }
            Open::Reasoning { index, item, text } => {
                let at = json!({ "item_id": item, "output_index": index, "summary_index": 0 });
                let mut done = at.clone();
                done["text"] = text.as_str().into();
                self.emit("response.reasoning_summary_text.done", done, out);
                let mut part = at;
                part["part"] = responses::summary_text(&text);
                self.emit("response.reasoning_summary_part.done", part, out);
                (index, responses::reasoning_item(&item, &text))
            }
            Open::Tool {
                call,
                index,
                item,
                call_id,
                name,
            } => {
                let mut arguments = std::mem::take(&mut self.calls[call].sent);
                // A call with no arguments at all still has an object.
                if arguments.trim().is_empty() {
                    let delta = json!({ "item_id": item, "output_index": index, "delta": "{}" });
                    self.emit("response.function_call_arguments.delta", delta, out);
                    arguments = "{}".into();
                }
                let done = json!({ "item_id": item, "output_index": index,
                                   "arguments": arguments, "name": name });
                self.emit("response.function_call_arguments.done", done, out);
                let item =
                    responses::function_call_item(&item, &call_id, &name, &arguments, "completed");
                (index, item)
            }
        };
        let fields = json!({ "output_index": index, "item": done });
        self.emit("response.output_item.done", fields, out);
        self.output.push(done);
    }

    /// One event: `event: <type>` and its data, `type` and
    /// `sequence_number` added to `fields`.
    pub(super) fn emit(&mut self, kind: &str, mut fields: Value, out: &mut Vec<u8>) {
        if let Some(object) = fields.as_object_mut() {
            object.insert("type".into(), kind.into());
            object.insert("sequence_number".into(), self.sequence.into());
        }
        self.sequence += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        // Straight into the output: no intermediate String.
        if serde_json::to_writer(&mut *out, &fields).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"\n\n");
    }
}
