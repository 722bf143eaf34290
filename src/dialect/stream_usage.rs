//! The usage of a whole SSE stream of any dialect, read as its bytes go
//! by: every `data:` line's `"usage":` (or Gemini's `"usageMetadata":`)
//! object, wherever it is nested (a Responses `response.completed` has it
//! under `response`, Anthropic's `message_start` under `message`, Groq's
//! finish chunk under `x_groq`), merged field by field, the last value of
//! each field winning: Anthropic's `message_start` gives the input and
//! cache counts and `message_delta` the cumulative output; OpenAI sends
//! one final chunk, vLLM a cumulative usage on every chunk, Gemini a
//! `usageMetadata` on every chunk.
//!
//! Memory stays bounded whatever the stream: at most a few KiB of the
//! current line are kept. A longer line (a Responses `response.completed`
//! carries the whole output) is read as it passes: a usage object whose
//! end has arrived is read at once, one still arriving is kept from its
//! key on (the object is small), and of the rest only a short tail, where
//! a key may have begun. Pure: it does not change the bytes.

use super::usage::{Counts, Usage};
use serde_json::value::RawValue;

/// The usage-key search, built once (building a finder per search cost
/// more than the search).
static USAGE_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"usage"));

/// The most of the current line held at once: complete lines up to this
/// are read whole.
const LINE_LIMIT: usize = 4096;
/// What is kept of a long line in which no usage object has begun: room
/// for a key cut in two, and the bytes before it that tell it is a key.
const TAIL: usize = 64;

/// The usage reported by a stream, fed every chunk of it.
#[derive(Debug, Default)]
pub struct StreamUsage {
    /// The current line, or what is still needed of it.
    line: Vec<u8>,
    /// The current line is not a `data:` line: skipped to its end.
    skip: bool,
    /// The front of the current line was dropped (it is a `data:` line).
    cut: bool,
    /// The last byte before `line` that is not whitespace, once cut.
    before: Option<u8>,
    /// What the dropped part of the current line reported.
    pending: Counts,
    /// What every complete line reported.
    counts: Counts,
}

impl StreamUsage {
    /// Takes the next bytes of the stream, split anywhere. A line that
    /// arrives whole is read where it is, and only if it names a usage key
    /// at all; only the unfinished line at the end is copied.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            let head = &bytes[..end];
            if self.line.is_empty() && !(self.skip || self.cut) {
                if let Some(counts) = whole_line_counts(head) {
                    self.counts.merge(&counts);
                }
            } else {
                self.take(head);
                let line = self.line_counts();
                self.counts.merge(&line);
                self.line.clear();
                (self.skip, self.cut, self.before) = (false, false, None);
                self.pending = Counts::default();
            }
            bytes = &bytes[end + 1..];
        }
        self.take(bytes);
    }

    /// The usage reported so far, the line still arriving included.
    pub fn usage(&self) -> Option<Usage> {
        let mut counts = self.counts;
        counts.merge(&self.line_counts());
        counts.usage()
    }

    /// Adds part of the current line, reading it as it grows too long.
    fn take(&mut self, part: &[u8]) {
        for piece in part.chunks(LINE_LIMIT) {
            if self.skip {
                return;
            }
            self.line.extend_from_slice(piece);
            if !self.cut && self.line.len() >= DATA.len() && !self.line.starts_with(DATA) {
                self.skip = true;
                self.line.clear();
                return;
            }
            if self.line.len() > LINE_LIMIT {
                self.shrink();
            }
        }
    }

    /// Reads the usage objects complete in the line and drops all but
    /// the one still arriving (or a short tail).
    fn shrink(&mut self) {
        let mut keep = None;
        for key in usage_keys(&self.line, self.before) {
            match key.value.map(|at| read_value(&self.line[at..])) {
                Some(Ok(counts)) => self.pending.merge(&counts),
                Some(Err(Unread::NotJson)) => {}
                Some(Err(Unread::Incomplete)) | None => {
                    keep.get_or_insert(key.start);
                }
            }
        }
        let tail = self.line.len().saturating_sub(TAIL);
        // An object this long is not a usage object: not worth keeping.
        let keep = keep.filter(|&at| self.line.len() - at <= LINE_LIMIT / 2);
        let keep = keep.unwrap_or(tail).min(tail);
        let dropped = &self.line[..keep];
        if let Some(&b) = dropped.iter().rev().find(|b| !b.is_ascii_whitespace()) {
            self.before = Some(b);
        }
        self.line.drain(..keep);
        self.cut = true;
    }

    /// What the current line reports, as if it ended here.
    fn line_counts(&self) -> Counts {
        let mut counts = self.pending;
        if self.skip || !(self.cut || self.line.starts_with(DATA)) {
            return counts;
        }
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        for key in usage_keys(line, self.before) {
            if let Some(Ok(c)) = key.value.map(|at| read_value(&line[at..])) {
                counts.merge(&c);
            }
        }
        counts
    }
}

const DATA: &[u8] = b"data:";

/// Whether `bytes` hold a `"usage"` (or `"usageMetadata"`) key whose
/// value is an object: only such a key can report anything, and the look
/// is cheap beside a parse (OpenAI puts `"usage":null` on every chunk of a
/// stream that asked for usage; only the last one has an object).
pub(super) fn names_usage_object(bytes: &[u8]) -> bool {
    USAGE_KEY.find_iter(bytes).any(|at| {
        let rest = &bytes[at + 1..];
        let rest = (rest.strip_prefix(b"usage\""))
            .or_else(|| rest.strip_prefix(b"usageMetadata\""))
            .unwrap_or_default();
        let mut after = rest.iter().filter(|b| !b.is_ascii_whitespace());
        after.next() == Some(&b':') && after.next() == Some(&b'{')
    })
}

/// What a line that arrived whole reports: `None`, cheaply, unless it is
/// a `data:` line that names a usage key.
fn whole_line_counts(line: &[u8]) -> Option<Counts> {
    if !line.starts_with(DATA) {
        return None;
    }
    if !names_usage_object(line) {
        return None;
    }
    let mut counts = Counts::default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    for key in usage_keys(line, None) {
        if let Some(Ok(c)) = key.value.map(|at| read_value(&line[at..])) {
            counts.merge(&c);
        }
    }
    Some(counts)
}

/// A usage key found in a line.
struct Key {
    /// Where its opening quote is.
    start: usize,
    /// Where its value starts; `None` when the bytes end before its colon.
    value: Option<usize>,
}

/// The `"usage":` and `"usageMetadata":` keys of `buf`. A key is a quote
/// that follows `{` or `,` (whitespace between): inside a JSON string a
/// quote is escaped, so `\"usage\":` in a message is not taken for one.
/// `before` is the last byte before `buf` that is not whitespace.
fn usage_keys(buf: &[u8], before: Option<u8>) -> impl Iterator<Item = Key> + '_ {
    const NAME: &[u8] = b"\"usage";
    const METADATA: &[u8] = b"Metadata\"";
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let at = from + USAGE_KEY.find(buf.get(from..)?)?;
        from = at + 1;
        let prior = buf[..at].iter().rev().find(|b| !b.is_ascii_whitespace());
        if !matches!(prior.copied().or(before), Some(b'{' | b',')) {
            continue;
        }
        let rest = &buf[at + NAME.len()..];
        let name_end = if rest.starts_with(b"\"") {
            1
        } else if rest.starts_with(METADATA) {
            METADATA.len()
        } else if METADATA.starts_with(rest) {
            // Cut off within the name.
            return Some(Key {
                start: at,
                value: None,
            });
        } else {
            continue;
        };
        let after = &rest[name_end..];
        let value = match after.iter().position(|b| !b.is_ascii_whitespace()) {
            None => None,
            Some(i) if after[i] == b':' => Some(buf.len() - after.len() + i + 1),
            Some(_) => continue,
        };
        return Some(Key { start: at, value });
    })
}

/// Why nothing was read at a key.
enum Unread {
    /// The value has not all arrived.
    Incomplete,
    NotJson,
}

/// The usage object at the start of `bytes` (what follows it ignored).
/// Anything but an object reports nothing, and is not parsed: OpenAI puts
/// `"usage":null` on every chunk of a stream that asked for usage.
fn read_value(bytes: &[u8]) -> Result<Counts, Unread> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(Unread::Incomplete),
        Some(b'{') => {}
        Some(_) => return Err(Unread::NotJson),
    }
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<&RawValue>();
    match values.next() {
        Some(Ok(value)) => Counts::parse(value.get().as_bytes()).ok_or(Unread::NotJson),
        Some(Err(e)) if e.is_eof() => Err(Unread::Incomplete),
        None => Err(Unread::Incomplete),
        Some(Err(_)) => Err(Unread::NotJson),
    }
}

#[cfg(test)]
mod tests;
