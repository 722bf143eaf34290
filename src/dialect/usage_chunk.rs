//! OpenAI's usage-only chunk, asked for and taken out again: a client of
//! an OpenAI-format stream that did not ask for usage gets none, yet the
//! gateway needs the count. So the upstream request is sent with
//! `stream_options.include_usage` set ([`with_include_usage`]), and the
//! event the provider then adds before `[DONE]` —
//! `data: {…,"choices":[],"usage":{…}}` — is read and removed from what
//! the client receives ([`UsageChunkFilter`]), every other byte going
//! through unchanged. A chunk that carries usage beside a choice (some
//! providers put it on the finish chunk) is read, not removed.
//!
//! Must not be used on a stream whose client asked for usage, nor for a
//! provider that was not asked (what it sends unasked is the client's).
//! Pure: bytes in, bytes out.

use super::stream_usage::{names_usage_object, StreamUsage};
use super::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The largest event held to be looked at: a usage-only chunk is a few
/// hundred bytes, so a larger event is not one and goes on as it comes.
const MAX_HELD: usize = 16 * 1024;

/// The state of the line being read, across pushes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Nothing yet: a line end now is a blank line, which ends an event.
    #[default]
    Empty,
    /// A lone `\r` so far (a `\r\n` line end may follow).
    Cr,
    Text,
}

/// A stream's bytes, minus its usage-only event, and the usage it reported.
#[derive(Debug, Default)]
pub struct UsageChunkFilter {
    /// The bytes of the event not yet complete.
    held: Vec<u8>,
    line: Line,
    /// The current event grew past [`MAX_HELD`]: its bytes go straight on.
    passing: bool,
    usage: StreamUsage,
}

impl UsageChunkFilter {
    /// Appends to `out` the bytes of `chunk` (any split) that complete or
    /// belong to events the client gets; only an incomplete last event is
    /// held back until its end arrives.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.usage.push(chunk);
        let mut start = 0;
        let mut at = 0;
        while let Some(i) = memchr::memchr(b'\n', &chunk[at..]) {
            let end = at + i;
            let blank = matches!(
                (self.line, &chunk[at..end]),
                (Line::Empty, [] | [b'\r']) | (Line::Cr, [])
            );
            self.line = Line::Empty;
            at = end + 1;
            if blank {
                self.event(&chunk[start..at], out);
                start = at;
            }
        }
        let rest = &chunk[at..];
        self.line = match (self.line, rest) {
            (line, []) => line,
            (Line::Empty, [b'\r']) => Line::Cr,
            _ => Line::Text,
        };
        self.hold(&chunk[start..], out);
    }

    /// The stream ended: what is held goes out, unless it is the usage
    /// event with its blank line missing.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.held);
        if self.passing || !is_usage_only(&held) {
            out.extend_from_slice(&held);
        }
        self.passing = false;
        self.line = Line::Empty;
    }

    /// The usage the stream reported, from whichever event.
    pub fn usage(&self) -> Option<Usage> {
        self.usage.usage()
    }

    /// The last part of a complete event (its start may be held).
    fn event(&mut self, tail: &[u8], out: &mut Vec<u8>) {
        if self.passing {
            self.passing = false;
            out.extend_from_slice(tail);
            return;
        }
        if self.held.is_empty() {
            if !is_usage_only(tail) {
                out.extend_from_slice(tail);
            }
            return;
        }
        self.held.extend_from_slice(tail);
        let event = std::mem::take(&mut self.held);
        if !is_usage_only(&event) {
            out.extend_from_slice(&event);
        }
    }

    /// The start of an event not yet complete: held, unless too large to
    /// be the usage event.
    fn hold(&mut self, part: &[u8], out: &mut Vec<u8>) {
        if self.passing {
            out.extend_from_slice(part);
            return;
        }
        self.held.extend_from_slice(part);
        if self.held.len() > MAX_HELD {
            out.append(&mut self.held);
            self.passing = true;
        }
    }
}

/// Whether `event` is a usage-only chunk: its data a JSON object with a
/// `usage` object and no choices (`choices: []`, or none at all).
fn is_usage_only(event: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Chunk<'a> {
        #[serde(borrow, default)]
        choices: Option<&'a RawValue>,
        #[serde(borrow, default)]
        usage: Option<&'a RawValue>,
    }
    if event.len() > MAX_HELD || !names_usage_object(event) {
        return false;
    }
    let Some(data) = event_data(event) else {
        return false;
    };
    let Ok(chunk) = serde_json::from_slice::<Chunk<'_>>(&data) else {
        return false;
    };
    let no_choices = chunk.choices.is_none_or(|c| {
        serde_json::from_str::<Vec<serde::de::IgnoredAny>>(c.get()).is_ok_and(|c| c.is_empty())
    });
    no_choices && chunk.usage.is_some_and(|u| u.get().starts_with('{'))
}

/// The data of an SSE event: its `data:` lines (the space after the colon
/// optional) joined by `\n`; `None` without any.
fn event_data(event: &[u8]) -> Option<Vec<u8>> {
    let mut data: Option<Vec<u8>> = None;
    for line in event.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(value) = line.strip_prefix(b"data:") else {
            continue;
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        match &mut data {
            Some(joined) => {
                joined.push(b'\n');
                joined.extend_from_slice(value);
            }
            None => data = Some(value.to_vec()),
        }
    }
    data
}

/// A chat completions request body with `stream_options.include_usage`
/// set to `true`, every other byte as the client sent it: the option is
/// spliced in (other `stream_options` fields kept), not the body
/// re-serialised. `None` when the body is not a JSON object (or one serde
/// refuses, with a duplicate `stream_options`).
pub fn with_include_usage(body: &[u8]) -> Option<Vec<u8>> {
    #[derive(Deserialize)]
    struct Request<'a> {
        #[serde(borrow, default, deserialize_with = "present")]
        stream_options: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct StreamOptions<'a> {
        #[serde(borrow, default, deserialize_with = "present")]
        include_usage: Option<&'a RawValue>,
    }
    const OPTIONS: &[u8] = b"{\"include_usage\":true}";
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let request: Request<'_> = serde_json::from_slice(body).ok()?;
    let Some(options) = request.stream_options else {
        // Added as the body's last member.
        let close = body.iter().rposition(|&b| b == b'}')?;
        let empty = body[..close]
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace())
            == Some(&b'{');
        let member: &[u8] = if empty { b"" } else { b"," };
        return Some(splice(
            body,
            close..close,
            &[member, b"\"stream_options\":", OPTIONS],
        ));
    };
    let span = span_in(body, options);
    let Ok(parsed) = serde_json::from_str::<StreamOptions<'_>>(options.get()) else {
        // `null`, or not an object: replaced whole.
        return Some(splice(body, span, &[OPTIONS]));
    };
    match parsed.include_usage {
        Some(value) if value.get() == "true" => Some(body.to_vec()),
        Some(value) => Some(splice(body, span_in(body, value), &[b"true"])),
        None => {
            // Added as the object's first member.
            let open = span.start + 1;
            let empty = options.get()[1..].trim_start().starts_with('}');
            let member: &[u8] = if empty { b"" } else { b"," };
            Some(splice(
                body,
                open..open,
                &[b"\"include_usage\":true", member],
            ))
        }
    }
}

/// A field's raw value, `null` included (serde reads `null` as absent).
fn present<'de, D>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Where a raw value borrowed from `body` sits in it.
fn span_in(body: &[u8], value: &RawValue) -> std::ops::Range<usize> {
    let start = value.get().as_ptr() as usize - body.as_ptr() as usize;
    start..start + value.get().len()
}

/// `body` with `range` replaced by `parts`.
fn splice(body: &[u8], range: std::ops::Range<usize>, parts: &[&[u8]]) -> Vec<u8> {
    let added: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(body.len() + added);
    out.extend_from_slice(&body[..range.start]);
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&body[range.end..]);
    out
}

#[cfg(test)]
mod tests;
